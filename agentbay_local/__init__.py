"""The AgentBay local runtime: an AgentBay-compatible server with isolated Linux sessions.

A product of its own beside the SDK (``agentbay``): it uses the SDK only through
``agentbay.contract``, and the SDK reaches it only through ``agentbay.local`` (this module's
public functions under the SDK's name) and the ``endpoint="local"`` bridge.

``start()`` runs one inside this process (what ``endpoint="local"`` uses);
``agentbay local serve`` runs one in the foreground. Both implement ``openapi/agentbay.yaml``
with the cloud's wire format, so the official client works against them unchanged.

User images: ``build_image``, ``list_images`` and ``remove_image`` (from
``agentbay_local.images.user_images``, imported on first use; ``agentbay local image`` runs them).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agentbay_local.data_dir import default_data_dir

if TYPE_CHECKING:
    from agentbay_local.images.user_images import build_image, list_images, remove_image
    from agentbay_local.server import EmbeddedRuntime

__all__ = ["build_image", "default_data_dir", "list_images", "remove_image", "start"]
_IMAGE_FUNCTIONS = frozenset({"build_image", "list_images", "remove_image"})


def __getattr__(name: str) -> object:
    # The image functions pull in the sandbox code: imported when first used, not with
    # every ``agentbay.local`` import.
    if name in _IMAGE_FUNCTIONS:
        from agentbay_local.images import user_images

        return getattr(user_images, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def start(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    api_key: str | None = None,
    isolated: bool = True,
    pool_size: int = 2,
    live_view_control: Literal["none", "mouse", "keyboard"] = "none",
) -> EmbeddedRuntime:
    """Start a runtime in a background thread of this process, on an ephemeral loopback port.

    Args:
        data_dir: state directory; default ``AGENTBAY_LOCAL_DATA_DIR``, else a temporary
            directory removed at exit (contexts then last as long as the process).
        api_key: the key clients must send; generated when omitted.
        isolated: run sessions in namespaces (refuses to start where that is impossible).
        pool_size: sandboxes kept ready for fast session creation.
        live_view_control: what a session's live view (its ResourceUrl page) may control:
            ``"none"`` (view only), ``"mouse"`` (with ``&input=true``) or ``"keyboard"``
            (also with ``&keyboard=true``); the URL's authcode signs it.

    Returns:
        The running runtime: ``endpoint``, ``api_key``, ``stop()``. It also stops, releasing
        every session, when the interpreter exits.
    """
    from agentbay_local.protocol.keys import generate_key
    from agentbay_local.runtime import RuntimeOptions
    from agentbay_local.sandbox import probe
    from agentbay_local.server import start_in_thread

    if isolated:
        problem = probe.isolation_problem()
        if problem:
            raise RuntimeError(
                f"the local runtime cannot isolate sessions here: {problem}. "
                "Pass isolated=False to run without isolation (unsafe)."
            )
        from agentbay_local.images.base_builds import BaseImages

        problem = BaseImages().unbuildable()
        if problem:
            raise RuntimeError(
                f"the local runtime's sessions run on images of their own: {problem}"
            )
    chosen = data_dir or os.environ.get("AGENTBAY_LOCAL_DATA_DIR")
    scratch = chosen is None
    if chosen is None:
        chosen = tempfile.mkdtemp(prefix="agentbay-local-")
    options = RuntimeOptions(
        data_dir=Path(chosen),
        api_keys=[api_key or generate_key()],
        host="127.0.0.1",
        port=0,
        isolated=isolated,
        pool_size=pool_size,
        live_view_control=live_view_control,
    )
    return start_in_thread(options, remove_data_dir=scratch)
