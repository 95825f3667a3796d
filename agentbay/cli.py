"""The ``agentbay`` command: ``agentbay local ...`` runs the local runtime (``agentbay_local``).

The SDK itself has no command of its own yet: ``local`` and what follows it are handed to
``agentbay_local.cli`` (installed with the ``local`` extra).
"""

from __future__ import annotations

import argparse
import sys

#: The distribution whose version ``--version`` prints.
DISTRIBUTION = "agentbay-python"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentbay", description="AgentBay SDK tools.")
    parser.add_argument("--version", action="version", version=f"agentbay {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("local", help="the local AgentBay runtime (serve, image)", add_help=False)
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
    return 2


if __name__ == "__main__":
    sys.exit(main())
