"""Paging of the list actions (ListSession, ListContexts): the opaque ``NextToken``."""

from __future__ import annotations

import base64

from agentbay_local.protocol.envelope import invalid


def encode_page_token(offset: int) -> str:
    """An opaque NextToken for a list offset."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_page_token(token: str | None) -> int:
    """The offset a NextToken stands for; a token this runtime did not issue is refused."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError):
        raise invalid("NextToken", "not a token this server issued") from None
    if prefix != "o" or offset < 0:
        raise invalid("NextToken", "not a token this server issued")
    return offset
