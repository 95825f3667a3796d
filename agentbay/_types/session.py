"""``SessionInfo``: what ``Session.info()`` answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SessionInfo:
    """A session's resource URL and desktop connection data."""

    session_id: str = ""
    resource_url: str = ""
    app_id: str = ""
    auth_code: str = field(default="", repr=False)
    connection_properties: str = ""
    resource_id: str = ""
    resource_type: str = ""
    ticket: str = field(default="", repr=False)
