"""``BrowserOption`` (InitBrowser) read, checked and turned into a Chromium launch plan.

Everything is checked before anything starts: a bad option is the cloud's error envelope
with a clear message, never a half-started browser. The plan is what the in-session tool
``browser_start`` runs (``agentbay_local/sandbox/inside/browser.py``).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from agentbay_local.protocol.envelope import ApiError, invalid

#: Where Debian's ``chromium`` package puts the browser; PATH is searched too.
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
INSTALL_ADVICE = (
    "browser_latest needs Chromium: install Debian's package with "
    "`sudo apt-get install chromium` (other images work without it)"
)
DEFAULT_SIZE = (1920, 1080)  # the documented default of viewport and screen
MOBILE_SIZE = (390, 844)
DEFAULT_EXTENSION_PATH = "/tmp/extensions/"
#: The user-data dir every client sends as PersistentPath (and a BrowserContext syncs).
BROWSER_DATA_PATH = "/tmp/agentbay_browser"

#: Flags of every session browser. It runs as the session's root, so Chromium's own sandbox
#: cannot start (the session sandbox is the isolation); nothing may reach outside hosts on
#: its own (updates, sync, metrics, field trials, safe browsing, QUIC probes).
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-pings",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--disable-dev-shm-usage",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
)

_PLATFORM_TOKENS = {
    "windows": "Windows NT 10.0; Win64; x64",
    "macos": "Macintosh; Intel Mac OS X 10_15_7",
    "linux": "X11; Linux x86_64",
    "android": "Linux; Android 10; K",
    "ios": "iPhone; CPU iPhone OS 17_0 like Mac OS X",
}
_DEVICES = frozenset({"desktop", "mobile"})
_OPERATING_SYSTEMS = frozenset(_PLATFORM_TOKENS)
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_PROXY_SERVER = re.compile(r"^((https?|socks4|socks5)://)?[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")


@dataclass(frozen=True)
class Chromium:
    """A Chromium sessions run: where it is and its major version (for user agents)."""

    path: str
    major: int


#: Where Debian's chromium package puts the browser in an image's root filesystem.
IMAGE_CHROMIUM = "/usr/bin/chromium"


def image_chromium(packages: dict[str, str]) -> Chromium | None:
    """An image's Chromium, from its recorded package versions (None when it has none)."""
    match = re.match(r"(?:\d+:)?(\d+)\.", packages.get("chromium", ""))
    return Chromium(path=IMAGE_CHROMIUM, major=int(match.group(1))) if match else None


@functools.cache
def find_chromium() -> Chromium | None:
    """The installed Chromium, or None (asked once per process)."""
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path is None:
            continue
        try:
            out = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=20, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"(\d+)\.\d+", out)
        if match:
            return Chromium(path=path, major=int(match.group(1)))
    return None


@dataclass
class LaunchPlan:
    """What the session's ``browser_start`` tool runs."""

    binary: str
    user_data_dir: str
    flags: list[str]
    extension_dir: str
    proxy_auth: dict[str, str] | None = None
    #: Options accepted but without effect here (docs/compatibility.md).
    unsupported: list[str] = field(default_factory=list)

    def tool_args(self) -> dict[str, Any]:
        """The arguments of the in-session ``browser_start`` tool."""
        args: dict[str, Any] = {
            "binary": self.binary,
            "user_data_dir": self.user_data_dir,
            "flags": self.flags,
            "extension_dir": self.extension_dir,
        }
        if self.proxy_auth is not None:
            args["proxy_auth"] = self.proxy_auth
        return args


def user_agent(major: int, os_name: str = "linux", *, headless: bool = False) -> str:
    """Chromium's reduced user agent for ``os_name`` (as a real browser sends it)."""
    product = "HeadlessChrome" if headless else "Chrome"
    mobile = " Mobile" if os_name in ("android", "ios") else ""
    return (
        f"Mozilla/5.0 ({_PLATFORM_TOKENS[os_name]}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"{product}/{major}.0.0.0{mobile} Safari/537.36"
    )


def parse_option(value: Any) -> dict[str, Any]:
    """The BrowserOption object (the form reader already decoded its JSON; absent: {})."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("BrowserOption", "expected a JSON object")
    return value


def launch_plan(option: dict[str, Any], persistent_path: str, chromium: Chromium) -> LaunchPlan:
    """Check every member of ``option`` and build the launch plan (ApiError when invalid)."""
    if not persistent_path.startswith("/") or "\0" in persistent_path:
        raise invalid("PersistentPath", "expected an absolute path")
    flags = list(BASE_FLAGS)
    stealth = _boolean(option, "useStealth")
    fingerprint = _fingerprint(option.get("fingerprint"))
    os_name = fingerprint.get("os", "linux")
    mobile = fingerprint.get("device") == "mobile" or os_name in ("android", "ios")
    fallback = MOBILE_SIZE if mobile else DEFAULT_SIZE
    width, height = _size(option, "viewport", fallback)
    screen_width, screen_height = _size(option, "screen", fallback)
    flags.append(f"--window-size={width},{height}")
    flags.append(f"--screen-info={{{screen_width}x{screen_height}}}")

    agent = option.get("userAgent")
    if agent is not None:
        if not isinstance(agent, str) or not agent.strip() or any(c in agent for c in "\r\n\0"):
            raise invalid("BrowserOption", "userAgent must be a non-empty single-line string")
        flags.append(f"--user-agent={agent}")
    elif stealth or fingerprint:
        flags.append(f"--user-agent={user_agent(chromium.major, os_name)}")
    if stealth:
        # navigator.webdriver false and no "controlled by automated software" banner.
        flags += ["--disable-blink-features=AutomationControlled", "--disable-infobars"]
    locale = fingerprint.get("locale") or ("en-US" if stealth else None)
    if locale:
        flags += [f"--lang={locale}", f"--accept-lang={locale},{locale.split('-')[0]}"]

    proxy_auth = _proxy(option.get("proxies"), flags)
    extension_dir = option.get("extensionPath", DEFAULT_EXTENSION_PATH)
    if not isinstance(extension_dir, str) or not extension_dir.strip():
        raise invalid("BrowserOption", "extensionPath must be a non-blank path")
    if not extension_dir.startswith("/"):
        raise invalid("BrowserOption", "extensionPath must be an absolute path")
    unsupported = [
        name
        for name in ("solveCaptchas", "enableRecord", "behaviorSimulate")
        if _boolean(option, name)
    ]
    return LaunchPlan(
        binary=chromium.path,
        user_data_dir=persistent_path,
        flags=flags,
        extension_dir=extension_dir,
        proxy_auth=proxy_auth,
        unsupported=unsupported,
    )


def _boolean(option: dict[str, Any], name: str) -> bool:
    value = option.get(name, False)
    if not isinstance(value, bool):
        raise invalid("BrowserOption", f"{name} must be true or false")
    return value


def _size(option: dict[str, Any], name: str, fallback: tuple[int, int]) -> tuple[int, int]:
    value = option.get(name)
    if value is None:
        return fallback
    if not isinstance(value, dict):
        raise invalid("BrowserOption", f"{name} must be an object {{width, height}}")
    sizes = []
    for key, default in zip(("width", "height"), fallback, strict=True):
        number = value.get(key, default)
        if not isinstance(number, int) or isinstance(number, bool) or not 100 <= number <= 10000:
            raise invalid("BrowserOption", f"{name}.{key} must be an integer from 100 to 10000")
        sizes.append(number)
    return sizes[0], sizes[1]


def _choice(value: Any, name: str, allowed: frozenset[str] | None) -> str | None:
    """The first entry of a fingerprint list (checked), or None when absent."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid("BrowserOption", f"fingerprint.{name} must be a list of strings")
    for item in value:
        if allowed is not None and item not in allowed:
            choices = ", ".join(sorted(allowed))
            raise invalid("BrowserOption", f"fingerprint.{name} has {item!r}; use {choices}")
        if allowed is None and not _LOCALE.match(item):
            raise invalid("BrowserOption", f"fingerprint.{name} has {item!r}, not a locale")
    return value[0] if value else None


def _fingerprint(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("BrowserOption", "fingerprint must be an object")
    chosen = {
        "device": _choice(value.get("devices"), "devices", _DEVICES),
        "os": _choice(value.get("operatingSystems"), "operatingSystems", _OPERATING_SYSTEMS),
        "locale": _choice(value.get("locales"), "locales", None),
    }
    return {key: item for key, item in chosen.items() if item is not None}


def _proxy(value: Any, flags: list[str]) -> dict[str, str] | None:
    """Add the proxy flags; answers the credentials Chromium must be given separately."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 1:
        raise invalid("BrowserOption", "proxies must be a list of at most one proxy")
    if not value:
        return None
    proxy = value[0]
    if not isinstance(proxy, dict):
        raise invalid("BrowserOption", "a proxy must be an object")
    kind = proxy.get("type")
    if kind == "wuying":
        raise ApiError(
            400,
            "InvalidParameter.BrowserOption",
            "wuying proxies are an AgentBay cloud service; the local runtime supports only "
            'custom proxies ({"type": "custom", "server": "host:port"}).',
        )
    if kind != "custom":
        raise invalid("BrowserOption", f"proxy type {kind!r} is not custom or wuying")
    server = proxy.get("server")
    if not isinstance(server, str) or not _PROXY_SERVER.match(server):
        raise invalid(
            "BrowserOption", "a custom proxy needs server as host:port or scheme://host:port"
        )
    # Chromium keeps loopback direct (the session's own servers), as it does by default.
    flags.append(f"--proxy-server={server}")
    username, password = proxy.get("username"), proxy.get("password")
    for name, item in (("username", username), ("password", password)):
        if item is not None and not isinstance(item, str):
            raise invalid("BrowserOption", f"proxy {name} must be a string")
    if username or password:
        return {"username": username or "", "password": password or ""}
    return None
