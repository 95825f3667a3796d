"""``Browser`` and its data classes."""

from agentbay.browser.browser import (
    ActOptions,
    ActResult,
    Browser,
    BrowserAgent,
    BrowserFingerprint,
    BrowserOption,
    BrowserProxy,
    BrowserScreen,
    BrowserViewport,
    ExtractOptions,
    ObserveOptions,
    ObserveResult,
)

__all__ = [
    "ActOptions",
    "ActResult",
    "Browser",
    "BrowserAgent",
    "BrowserFingerprint",
    "BrowserOption",
    "BrowserProxy",
    "BrowserScreen",
    "BrowserViewport",
    "ExtractOptions",
    "ObserveOptions",
    "ObserveResult",
]
