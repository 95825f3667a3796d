"""The fast form codecs give exactly what the standard library gives, on any input.

``agentbay._core.form`` (SDK requests) must match ``urlencode`` byte for byte: the official client's
requests and ours are compared on the wire. ``agentbay_local.protocol.forms`` (the runtime)
must decode every body as ``parse_qsl`` does, malformed ones included, with the same errors.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentbay._core.form import form_body, quote_plus_fast
from agentbay_local.protocol.envelope import ApiError
from agentbay_local.protocol.forms import parse_form, parse_pairs, unquote_field

#: Text with what forms carry: ASCII, accents, CJK, emoji, newlines, and quote_plus's specials.
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("%+=&\r\n \t~-._éü—中😀")),
    )
)
#: Percent-encoded text as anyone may send it: valid, truncated or non-UTF-8 escapes, literals.
ENCODED = st.lists(
    st.one_of(
        st.builds(quote_plus, TEXT),
        st.sampled_from(["%", "%4", "%zz", "%e9", "%E9", "%c3%a9", "%C3", "%ff", "=", "\r\n", "+"]),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=5),
    ),
    max_size=8,
).map("".join)


def outcome(fn, *args):  # type: ignore[no-untyped-def]
    """What ``fn(*args)`` returns, or the type and message of what it raises."""
    try:
        return ("value", fn(*args))
    except (ValueError, UnicodeError) as exc:
        return ("error", type(exc), str(exc))


@settings(max_examples=200)
@given(TEXT)
def test_quote_plus_fast_is_quote_plus(text: str) -> None:
    assert quote_plus_fast(text) == quote_plus(text)
    assert quote_plus_fast(text.encode("utf-8")) == quote_plus(text.encode("utf-8"))
    # Large values take the other path (a replace pass per escaped byte value).
    large = (text + "%é ") * (5000 // (len(text.encode("utf-8")) + 4) + 1)
    assert quote_plus_fast(large) == quote_plus(large)


def test_quote_plus_fast_is_quote_plus_with_every_byte_value() -> None:
    every_byte = bytes(range(256))  # more distinct escapes than replace passes pay off for
    assert quote_plus_fast(every_byte) == quote_plus(every_byte)
    assert quote_plus_fast(every_byte[:128] * 3) == quote_plus(every_byte[:128] * 3)


@given(
    st.dictionaries(st.one_of(TEXT, st.integers()), st.one_of(TEXT, st.integers(), st.booleans()))
)
def test_form_body_is_urlencode(fields: dict[object, object]) -> None:
    assert form_body(fields) == urlencode(fields)


def test_form_body_refuses_lone_surrogates_like_urlencode() -> None:
    for encode in (form_body, urlencode):
        with pytest.raises(UnicodeEncodeError):
            encode({"Args": "a\udc80b"})


@settings(max_examples=200)
@given(ENCODED)
def test_unquote_field_is_unquote_plus(text: str) -> None:
    assert outcome(unquote_field, text) == outcome(unquote_plus, text, "utf-8", "strict")


@settings(max_examples=150)
@given(st.lists(ENCODED, max_size=5).map("&".join))
def test_parse_pairs_is_parse_qsl(body: str) -> None:
    expected = outcome(
        lambda qs: parse_qsl(qs, keep_blank_values=True, strict_parsing=bool(qs), errors="strict"),
        body,
    )
    assert outcome(parse_pairs, body) == expected


def test_a_large_chunk_decodes_on_the_fast_path_to_the_same_text() -> None:
    content = ('Ærøskøbing — café, naïve; 中文 😀 "q" 100% + = &\n' * 1200)[:51200]
    encoded = urlencode({"Args": content, "Name": "write_file"}).encode("ascii")
    assert parse_form(encoded) == {"Args": content, "Name": "write_file"}


def test_malformed_bodies_are_refused_with_the_standard_librarys_reason() -> None:
    for body, reason in ((b"a=%ff", "can't decode byte 0xff"), (b"novalue", "bad query field")):
        with pytest.raises(ApiError) as caught:
            parse_form(body)
        assert caught.value.status == 400 and reason in caught.value.message
