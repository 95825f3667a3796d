"""API keys of the local runtime: generated when none is given, compared in constant time,
read from a file or the environment (never needed on a command line); bad ones are
throttled per client (``throttle.py``)."""

from __future__ import annotations

import hmac
import math
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from agentbay_local.protocol.envelope import ApiError
from agentbay_local.protocol.throttle import FailureThrottle

_PREFIX = "Bearer "


def generate_key() -> str:
    """A fresh random key in the cloud's style (``akm-`` + 32 url-safe characters)."""
    return "akm-" + secrets.token_urlsafe(24)


class ApiKeys:
    """The keys this runtime accepts. Never logged; ``repr`` shows only how many there are."""

    def __init__(self, keys: Iterable[str], throttle: FailureThrottle | None = None) -> None:
        self._keys = tuple(key.encode() for key in keys if key)
        if not self._keys:
            raise ValueError("at least one API key is required")
        self._throttle = throttle or FailureThrottle()

    def __repr__(self) -> str:
        return f"ApiKeys(<{len(self._keys)} key(s)>)"

    def check(self, authorization: str | None, client: str = "") -> None:
        """Accept ``Bearer <key>`` for a known key, else raise the cloud's auth error, or
        its throttling error once ``client`` (a source address) sent too many bad keys."""
        if not authorization:
            self._refuse(
                client, "The api key is missing: send the form field Authorization=Bearer <key>."
            )
        candidate = authorization.removeprefix(_PREFIX).strip().encode()
        # Compare against every key so the time taken does not tell which one nearly matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(candidate, key)
        if not matched:
            self._refuse(client, "The specified api key is not found.")

    def _refuse(self, client: str, message: str) -> NoReturn:
        wait = self._throttle.failed(client)
        if wait:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "Throttling.User",
                "Request was denied due to user flow control: too many requests with a "
                f"missing or wrong api key from {client or 'this client'}; retry in {seconds} s.",
                retry_after_s=seconds,
            )
        raise ApiError(400, "InvalidApiKey.NotFound", message)


class KeyFileError(ValueError):
    """An API key file that cannot be used (missing, empty, readable by others)."""


def read_key_file(path: Path) -> list[str]:
    """The keys in ``path``: one per line; blank lines and ``#`` comments are skipped.

    Raises:
        KeyFileError: the file cannot be read, holds no key, or other users may read it
            (group or world permission bits: a key there is no secret).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read the API key file {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"the API key file {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )
    keys = [line.strip() for line in text.splitlines()]
    keys = [key for key in keys if key and not key.startswith("#")]
    if not keys:
        raise KeyFileError(f"the API key file {path} holds no key (one key per line)")
    return keys


def take_keys_from_environment(name: str) -> list[str]:
    """The comma-separated keys in the variable ``name``, which is then removed: from this
    process's environment (so no child process inherits it) and from the copy the kernel
    shows in ``/proc/<pid>/environ`` (its value is overwritten with NUL bytes there)."""
    value = os.environ.pop(name, "")
    if value:
        _wipe_initial_environment(name)
    return [key.strip() for key in value.split(",") if key.strip()]


def _wipe_initial_environment(name: str) -> None:
    """Overwrite ``name``'s value in the environment block the process started with."""
    import ctypes

    try:
        # Fields 50 and 51 of /proc/self/stat (after the command name in parentheses).
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])
        block = ctypes.string_at(start, end - start)
    except (OSError, ValueError, IndexError):
        return
    prefix = name.encode() + b"="
    offset = 0
    for entry in block.split(b"\0"):
        if entry.startswith(prefix):
            ctypes.memset(start + offset + len(prefix), 0, len(entry) - len(prefix))
        offset += len(entry) + 1
