"""The form codecs on one write_file chunk, against the standard library's, in one run.

``python -m bench.codecs [ROUNDS]``: the ``Args`` field of a 51,200-character chunk of mixed
text (the bench's text, as JSON) encoded by the SDK (``agentbay._core.form.quote_plus_fast``) and
by ``urllib.parse.quote_plus``, and decoded by the runtime
(``agentbay_local.protocol.forms``) and by
``urllib.parse.unquote_plus``; medians of ROUNDS (default 200) calls each, interleaved.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import quote_plus, unquote_plus

from agentbay._core.form import quote_plus_fast
from agentbay_local.protocol.forms import unquote_field
from bench.harness import interleaved, mixed_text, p50

CHUNK = 51200


def main() -> None:
    """Print the median time of each codec and the ratio to the standard library's."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    args = json.dumps(
        {"path": "/tmp/w", "content": mixed_text(CHUNK), "mode": "append"}, ensure_ascii=False
    )
    quoted = quote_plus(args)
    assert quote_plus_fast(args) == quoted and unquote_field(quoted) == args
    encode_ours, encode_std = interleaved(
        [lambda: quote_plus_fast(args), lambda: quote_plus(args)], rounds
    )
    decode_ours, decode_std = interleaved(
        [lambda: unquote_field(quoted), lambda: unquote_plus(quoted)], rounds
    )
    print(f"one {CHUNK:,}-character chunk of mixed text ({len(quoted):,} bytes on the wire):")
    for what, ours, std in (
        ("encode (SDK)", encode_ours, encode_std),
        ("decode (runtime)", decode_ours, decode_std),
    ):
        print(
            f"  {what:18} {p50(ours) * 1000:.3f} ms, standard library {p50(std) * 1000:.3f} ms"
            f" ({p50(std) / p50(ours):.1f}x)"
        )


if __name__ == "__main__":
    main()
