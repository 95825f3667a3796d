"""The ``agentbay`` command: ``agentbay local ...`` runs the local runtime (``agentbay_local``),
``agentbay mcp ...`` the MCP server (``agentbay_mcp``).

Each subcommand and what follows it are handed to that package's ``cli`` (installed with the
``local`` and ``mcp`` extras).
"""

from __future__ import annotations

import argparse
import sys

#: The distribution whose version ``--version`` prints.
DISTRIBUTION = "agentbay-python"


def version() -> str:
    """The installed distribution's version (or says it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentbay", description="AgentBay SDK tools.")
    parser.add_argument("--version", action="version", version=f"agentbay {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("local", help="the local AgentBay runtime (serve, image)", add_help=False)
    commands.add_parser("mcp", help="an MCP server driving AgentBay sessions", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agentbay`` console script."""
    args = sys.argv[1:] if argv is None else argv
    options = _parser().parse_args(args[:1])
    if options.command == "local":
        try:
            from agentbay_local import cli as local_cli
        except ImportError as exc:
            print(
                f"agentbay local: the local runtime is not installed ({exc}); "
                "pip install 'agentbay-python[local]'",
                file=sys.stderr,
            )
            return 2
        return local_cli.main(args[1:])
    if options.command == "mcp":
        try:
            from agentbay_mcp import cli as mcp_cli
        except ImportError as exc:
            print(
                f"agentbay mcp: the MCP server is not installed ({exc}); "
                "pip install 'agentbay-python[mcp]'",
                file=sys.stderr,
            )
            return 2
        return mcp_cli.main(args[1:])
    return 2


if __name__ == "__main__":
    sys.exit(main())
