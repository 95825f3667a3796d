"""What a live view URL may control is what its authcode signs: on a runtime that grants
view-only live views (the default), adding ``&input=true&keyboard=true`` to a session's
ResourceUrl, or editing its authcode, is refused; the URL as issued still shows the page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.runtime.e2e.api import Api


def _with_authcode(url: str, authcode: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query["authcode"] = authcode
    return parts._replace(query=urlencode(query)).geturl()


def test_a_view_only_url_cannot_be_made_interactive(api: Api, session_id: str) -> None:
    url = str(api.call("GetMcpResource", SessionId=session_id)["ResourceUrl"])
    assert httpx.get(url, timeout=10).status_code == 200
    input_url = url.replace("/mcp.html?", "/mcp.html/input?")
    click = {"type": "click", "x": 1, "y": 1, "button": "left"}
    for flags in ("&input=true", "&input=true&keyboard=true", "&keyboard=true&input=TRUE"):
        page = httpx.get(url + flags, timeout=10)
        assert page.status_code == 403 and "does not allow" in page.text, (flags, page.text)
        assert httpx.post(input_url + flags, json=click, timeout=10).status_code == 403
    # The grant is signed: claiming more in the authcode breaks its signature.
    authcode = parse_qs(urlsplit(url).query)["authcode"][0]
    expires, nonce, granted, mac = authcode.split(".")
    assert granted == "none"
    for forged in (f"{expires}.{nonce}.keyboard.{mac}", f"{expires}.{nonce}.{mac}"):
        tampered = _with_authcode(url, forged)
        assert httpx.get(tampered, timeout=10).status_code == 403
        assert httpx.get(tampered + "&input=true", timeout=10).status_code == 403
