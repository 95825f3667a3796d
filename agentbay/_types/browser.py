"""Browser options and browser-agent data (re-exported from ``agentbay.browser``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

_DEVICES = ("desktop", "mobile")
OperatingSystem = Literal["windows", "macos", "linux", "android", "ios"]
_SYSTEMS = ("windows", "macos", "linux", "android", "ios")


class BrowserViewport:
    """The page viewport."""

    def __init__(self, width: int = 1920, height: int = 1080) -> None:
        self.width = width
        self.height = height

    def to_map(self) -> dict[str, int]:
        """Wire form."""
        return {"width": self.width, "height": self.height}

    def from_map(self, m: dict[str, Any]) -> BrowserViewport:
        """Read the wire form into this object."""
        self.width = int(m.get("width", self.width))
        self.height = int(m.get("height", self.height))
        return self


class BrowserScreen(BrowserViewport):
    """The screen size reported to pages."""

    def from_map(self, m: dict[str, Any]) -> BrowserScreen:
        """Read the wire form into this object."""
        super().from_map(m)
        return self


class BrowserFingerprint:
    """Fingerprint constraints for stealth mode."""

    def __init__(
        self,
        devices: list[Literal["desktop", "mobile"]] | None = None,
        operating_systems: list[OperatingSystem] | None = None,
        locales: list[str] | None = None,
    ) -> None:
        for device in devices or []:
            if device not in _DEVICES:
                raise ValueError(f"Invalid device: {device}. Must be one of {_DEVICES}")
        for system in operating_systems or []:
            if system not in _SYSTEMS:
                raise ValueError(f"Invalid operating system: {system}. Must be one of {_SYSTEMS}")
        self.devices = devices
        self.operating_systems = operating_systems
        self.locales = locales

    def to_map(self) -> dict[str, Any]:
        """Wire form (only the set members)."""
        out: dict[str, Any] = {}
        if self.devices is not None:
            out["devices"] = self.devices
        if self.operating_systems is not None:
            out["operatingSystems"] = self.operating_systems
        if self.locales is not None:
            out["locales"] = self.locales
        return out

    def from_map(self, m: dict[str, Any]) -> BrowserFingerprint:
        """Read the wire form into this object."""
        self.devices = m.get("devices")
        self.operating_systems = m.get("operatingSystems")
        self.locales = m.get("locales")
        return self


class BrowserProxy:
    """A proxy for the session browser: ``custom`` (server, credentials) or ``wuying``."""

    def __init__(
        self,
        proxy_type: Literal["custom", "wuying"],
        server: str | None = None,
        username: str | None = None,
        password: str | None = None,
        strategy: Literal["restricted", "polling"] | None = None,
        pollsize: int = 10,
    ) -> None:
        if proxy_type not in ("custom", "wuying"):
            raise ValueError("proxy_type must be custom or wuying")
        if proxy_type == "custom" and not server:
            raise ValueError("server is required for custom proxy type")
        if proxy_type == "wuying" and strategy not in ("restricted", "polling"):
            raise ValueError("strategy must be restricted or polling for wuying proxy type")
        if proxy_type == "wuying" and strategy == "polling" and pollsize <= 0:
            raise ValueError("pollsize must be greater than 0 for polling strategy")
        self.type = proxy_type
        self.server = server
        self.username = username
        self.password = password
        self.strategy = strategy
        self.pollsize = pollsize

    def to_map(self) -> dict[str, Any]:
        """Wire form."""
        out: dict[str, Any] = {"type": self.type}
        if self.type == "custom":
            out["server"] = self.server
            if self.username:
                out["username"] = self.username
            if self.password:
                out["password"] = self.password
        else:
            out["strategy"] = self.strategy
            if self.strategy == "polling":
                out["pollsize"] = self.pollsize
        return out

    @classmethod
    def from_map(cls, m: dict[str, Any]) -> BrowserProxy:
        """From the wire form."""
        return cls(
            m.get("type", "custom"),
            server=m.get("server"),
            username=m.get("username"),
            password=m.get("password"),
            strategy=m.get("strategy"),
            pollsize=int(m.get("pollsize", 10)),
        )


class BrowserOption:
    """How ``Browser.initialize`` starts the session browser."""

    def __init__(
        self,
        use_stealth: bool = False,
        user_agent: str | None = None,
        viewport: BrowserViewport | None = None,
        screen: BrowserScreen | None = None,
        fingerprint: BrowserFingerprint | None = None,
        solve_captchas: bool = False,
        proxies: list[BrowserProxy] | None = None,
        extension_path: str | None = "/tmp/extensions/",
    ) -> None:
        if proxies is not None:
            if not isinstance(proxies, list):
                raise ValueError("proxies must be a list")
            if len(proxies) > 1:
                raise ValueError("proxies list length must be limited to 1")
        if not isinstance(extension_path, str) or not extension_path.strip():
            raise ValueError("extension_path must be a non-empty string")
        self.use_stealth = use_stealth
        self.user_agent = user_agent
        self.viewport = viewport
        self.screen = screen
        self.fingerprint = fingerprint
        self.solve_captchas = solve_captchas
        self.proxies = proxies
        self.extension_path = extension_path

    def to_map(self) -> dict[str, Any]:
        """The ``BrowserOption`` wire object (members left None are omitted)."""
        out: dict[str, Any] = {"useStealth": self.use_stealth}
        if self.user_agent is not None:
            out["userAgent"] = self.user_agent
        if self.viewport is not None:
            out["viewport"] = self.viewport.to_map()
        if self.screen is not None:
            out["screen"] = self.screen.to_map()
        if self.fingerprint is not None:
            out["fingerprint"] = self.fingerprint.to_map()
        out["solveCaptchas"] = self.solve_captchas
        if self.proxies is not None:
            out["proxies"] = [proxy.to_map() for proxy in self.proxies]
        out["extensionPath"] = self.extension_path
        return out

    def from_map(self, m: dict[str, Any]) -> BrowserOption:
        """Read the wire form into this object."""
        self.use_stealth = bool(m.get("useStealth", False))
        self.user_agent = m.get("userAgent")
        self.viewport = BrowserViewport().from_map(m["viewport"]) if m.get("viewport") else None
        self.screen = BrowserScreen().from_map(m["screen"]) if m.get("screen") else None
        self.fingerprint = (
            BrowserFingerprint().from_map(m["fingerprint"]) if m.get("fingerprint") else None
        )
        self.solve_captchas = bool(m.get("solveCaptchas", False))
        proxies = m.get("proxies")
        self.proxies = [BrowserProxy.from_map(p) for p in proxies] if proxies else None
        self.extension_path = m.get("extensionPath", "/tmp/extensions/")
        return self


class ActOptions:
    """An action for ``BrowserAgent.act``."""

    def __init__(
        self,
        action: str,
        timeoutMS: int | None = None,
        iframes: bool | None = None,
        dom_settle_timeout_ms: int | None = None,
        variables: dict[str, str] | None = None,
        use_vision: bool | None = None,
    ) -> None:
        self.action = action
        self.timeoutMS = timeoutMS
        self.iframes = iframes
        self.dom_settle_timeout_ms = dom_settle_timeout_ms
        self.variables = variables
        self.use_vision = use_vision


@dataclass
class ActResult:
    """What ``act`` did."""

    success: bool
    message: str


class ObserveOptions:
    """An instruction for ``BrowserAgent.observe``."""

    def __init__(
        self,
        instruction: str,
        iframes: bool | None = None,
        dom_settle_timeout_ms: int | None = None,
        use_vision: bool | None = None,
    ) -> None:
        self.instruction = instruction
        self.iframes = iframes
        self.dom_settle_timeout_ms = dom_settle_timeout_ms
        self.use_vision = use_vision


@dataclass
class ObserveResult:
    """An element ``observe`` found and how to act on it."""

    selector: str
    description: str
    method: str
    arguments: dict[str, Any]


class ExtractOptions:
    """An extraction for ``BrowserAgent.extract``: ``schema`` is a pydantic model class."""

    def __init__(
        self,
        instruction: str,
        schema: type[Any],
        use_text_extract: bool | None = None,
        selector: str | None = None,
        iframe: bool | None = None,
        dom_settle_timeout_ms: int | None = None,
        use_vision: bool | None = None,
    ) -> None:
        self.instruction = instruction
        self.schema = schema
        self.use_text_extract = use_text_extract
        self.selector = selector
        self.iframe = iframe
        self.dom_settle_timeout_ms = dom_settle_timeout_ms
        self.use_vision = use_vision
