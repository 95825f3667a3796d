"""Command line of the generator: ``python -m generator [--check]``."""

from __future__ import annotations

import argparse
import sys

from generator.pipeline import GenerationError, check, generate


def main(argv: list[str] | None = None) -> int:
    """Regenerate the package code, or with ``--check`` only report drift (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m generator", description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="generate into a temporary directory and fail if the checked-in code differs",
    )
    options = parser.parse_args(argv)
    try:
        if options.check:
            drift = check()
            for line in drift:
                print(line, file=sys.stderr)
            if drift:
                print("generated code is stale: run `make generate`", file=sys.stderr)
                return 1
            print("generated code is fresh")
            return 0
        for line in generate():
            print(line)
        return 0
    except GenerationError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
