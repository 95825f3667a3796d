"""Configuration: ``Config`` and how the key, endpoint and timeout are found.

Precedence, highest first: explicit arguments (``api_key``, ``cfg``); the environment
(``AGENTBAY_API_KEY``, ``AGENTBAY_ENDPOINT``, ``AGENTBAY_TIMEOUT_MS``); a ``.env`` file (the
given path, else the nearest one upward from the working directory, read without touching
``os.environ``); the defaults. Unlike 0.9.3, a key that is only in the ``.env`` file is found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pathlib (with urllib.parse and ipaddress) is 8 ms of `import agentbay`
    from pathlib import Path

__all__ = ["DEFAULT_ENDPOINT", "DEFAULT_TIMEOUT_MS", "Config"]

DEFAULT_ENDPOINT = "wuyingai.cn-shanghai.aliyuncs.com"
DEFAULT_TIMEOUT_MS = 60000
BROWSER_DATA_PATH = "/tmp/agentbay_browser"
LOCAL_ENDPOINT = "local"


class Config:
    """Where the API is and how long a request may take.

    Args:
        endpoint: host[:port], a URL, or ``"local"`` for the embedded local runtime.
        timeout_ms: timeout of one request, in milliseconds.
        region_id: accepted for compatibility with the 0.9 docs; not used.
    """

    def __init__(self, endpoint: str, timeout_ms: int, region_id: str | None = None) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.region_id = region_id

    def __repr__(self) -> str:
        return f"Config(endpoint={self.endpoint!r}, timeout_ms={self.timeout_ms})"


def _mask(key: str) -> str:
    return f"{key[:4]}****{key[-4:]}" if len(key) > 12 else "***"


@dataclass(frozen=True)
class Settings:
    """The resolved key, endpoint and timeout (the key is masked in the repr)."""

    api_key: str = field(repr=False)
    endpoint: str
    timeout_ms: int

    def __repr__(self) -> str:
        return (
            f"Settings(api_key={_mask(self.api_key)!r}, endpoint={self.endpoint!r}, "
            f"timeout_ms={self.timeout_ms})"
        )


def find_env_file(start: Path | None = None) -> Path | None:
    """The nearest ``.env`` file from ``start`` (default: the working directory) upward."""
    from pathlib import Path

    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".env"
        if candidate.is_file():
            return candidate
    return None


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a dotenv file (``export`` prefixes and quotes allowed)."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return values
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def resolve_settings(api_key: str | None, cfg: Config | None, env_file: str | None) -> Settings:
    """Resolve the key, endpoint and timeout by the documented precedence.

    Raises:
        ValueError: no API key anywhere (and the endpoint is not ``"local"``).
    """
    from pathlib import Path

    dotenv_path = Path(env_file) if env_file else find_env_file()
    dotenv = read_env_file(dotenv_path) if dotenv_path else {}

    def lookup(name: str) -> str | None:
        return os.environ.get(name) or dotenv.get(name) or None

    if cfg is not None:
        endpoint, timeout_ms = cfg.endpoint, int(cfg.timeout_ms)
    else:
        endpoint = lookup("AGENTBAY_ENDPOINT") or DEFAULT_ENDPOINT
        timeout_text = lookup("AGENTBAY_TIMEOUT_MS")
        try:
            timeout_ms = int(timeout_text) if timeout_text else DEFAULT_TIMEOUT_MS
        except ValueError:
            raise ValueError(
                f"AGENTBAY_TIMEOUT_MS must be an integer, got {timeout_text!r}"
            ) from None
    endpoint = endpoint.strip()
    if endpoint.lower() == LOCAL_ENDPOINT:  # "Local", "LOCAL": nothing else could be meant
        endpoint = LOCAL_ENDPOINT
    key = api_key or lookup("AGENTBAY_API_KEY") or ""
    if not key and endpoint != LOCAL_ENDPOINT:
        raise ValueError(
            "API key is required. Provide it as a parameter or set the AGENTBAY_API_KEY "
            "environment variable"
        )
    if timeout_ms <= 0:
        raise ValueError(f"timeout_ms must be positive, got {timeout_ms}")
    return Settings(api_key=key, endpoint=endpoint, timeout_ms=timeout_ms)


def endpoint_url(endpoint: str) -> str:
    """``host[:port]`` -> ``https://host[:port]``; explicit ``http(s)://`` URLs are kept.

    Raises:
        ValueError: an empty endpoint, another scheme, or one with spaces in it.
    """
    text = endpoint.strip().rstrip("/")
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        return f"{scheme.lower()}://{rest}"
    if sep or not text or any(c.isspace() for c in text):
        raise ValueError(
            f"endpoint {endpoint!r} is not host[:port], an http:// or https:// URL, or "
            f"{LOCAL_ENDPOINT!r} (e.g. 'http://127.0.0.1:8790' for `agentbay local serve`)"
        )
    return f"https://{text}"
