"""``agentbay mcp``: serve MCP over stdio (default) or streamable HTTP (``--http``)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path

import anyio

from agentbay_mcp.options import DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MAX_OUTPUT_CHARS, ServeOptions

#: ``--http`` without a host listens here (loopback).
DEFAULT_HOST = "127.0.0.1"


def _label(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, text
    host = host.strip("[]") or DEFAULT_HOST
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"port out of range: {number}")
    return host, number


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parser() -> argparse.ArgumentParser:
    """The ``agentbay mcp`` argument parser."""
    p = argparse.ArgumentParser(
        prog="agentbay mcp",
        description="Serve an AgentBay session's tools to MCP clients (stdio by default).",
    )
    p.add_argument(
        "--endpoint",
        help="'local' (the embedded runtime), or the API's URL or host; default as the SDK: "
        "AGENTBAY_ENDPOINT, .env, the cloud. The API key is AGENTBAY_API_KEY (or .env).",
    )
    p.add_argument(
        "--http",
        metavar="[HOST:]PORT",
        type=_address,
        help="serve streamable HTTP on HOST:PORT (HOST default 127.0.0.1) instead of stdio",
    )
    p.add_argument(
        "--token-file",
        type=Path,
        help="HTTP: read the bearer token from this file (else AGENTBAY_MCP_TOKEN, "
        "else a new token is printed once to stderr)",
    )
    p.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="HTTP: allow a HOST that is not a loopback address",
    )
    p.add_argument("--image", dest="image_id", help="image of the sessions created on first use")
    p.add_argument(
        "--label",
        action="append",
        type=_label,
        default=[],
        metavar="NAME=VALUE",
        help="label of the sessions created (repeatable)",
    )
    p.add_argument(
        "--session-id", help="attach every client to this existing session (never deleted)"
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep sessions when their client goes away (default: delete them)",
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT_S,
        metavar="SECONDS",
        help="HTTP: a client idle this long is gone and its session deleted "
        f"(default {DEFAULT_IDLE_TIMEOUT_S:.0f})",
    )
    p.add_argument(
        "--max-output-chars",
        type=int,
        default=DEFAULT_MAX_OUTPUT_CHARS,
        help=f"cut longer tool answers, saying so (default {DEFAULT_MAX_OUTPUT_CHARS})",
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="stderr log level",
    )
    return p


def main(argv: list[str]) -> int:
    """Run ``agentbay mcp`` with ``argv`` (the arguments after ``mcp``); the exit status."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="agentbay mcp: %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every URL at INFO: screenshot URLs are signed, and signatures stay out of logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.idle_timeout <= 0 or args.max_output_chars <= 0:
        print(
            "agentbay mcp: --idle-timeout and --max-output-chars must be positive", file=sys.stderr
        )
        return 2
    options = ServeOptions(
        endpoint=args.endpoint,
        image_id=args.image_id,
        labels=dict(args.label),
        session_id=args.session_id,
        keep=args.keep,
        max_output_chars=args.max_output_chars,
        idle_timeout_s=args.idle_timeout,
    )
    if args.http is None:
        from agentbay_mcp.stdio import serve_stdio

        anyio.run(serve_stdio, options)
        return 0
    host, port = args.http
    if not _is_loopback(host) and not args.allow_non_loopback:
        print(
            f"agentbay mcp: {host} is not a loopback address; pass --allow-non-loopback "
            "to serve it (anyone who can reach it and has the token drives your sessions)",
            file=sys.stderr,
        )
        return 2
    from agentbay_mcp.http import serve_http

    return serve_http(options, host, port, args.token_file)
