"""``endpoint="local"``: one embedded local runtime per process, started on first use.

The SDK's one bridge to the runtime package ``agentbay_local``, imported only when that
endpoint is used.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentbay_local.server import EmbeddedRuntime

LOCAL_ENDPOINT = "local"

_lock = threading.Lock()
_runtime: EmbeddedRuntime | None = None


def embedded_runtime() -> EmbeddedRuntime:
    """The process's embedded runtime, started on first call (stopped at interpreter exit).

    Raises:
        RuntimeError: the runtime cannot start here (its message says why).
    """
    global _runtime
    with _lock:
        if _runtime is None:
            try:
                import agentbay_local

                _runtime = agentbay_local.start()
            except ImportError as exc:  # starlette/uvicorn/pyyaml are an optional extra
                raise RuntimeError(
                    "endpoint='local' needs the local runtime: pip install 'agentbay-python[local]'"
                ) from exc
        return _runtime
