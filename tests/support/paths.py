"""Where the checkout is, for tests that read its files (templates, examples, captures)."""

from pathlib import Path

#: The root of this checkout.
REPO = Path(__file__).resolve().parents[2]
