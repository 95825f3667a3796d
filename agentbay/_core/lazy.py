"""Public names a module imports only when they are first read (module-level ``__getattr__``).

``from agentbay import AgentBay`` should not pay for what only a call needs (the result types
and their ``dataclasses``, ``logging``, ``json``, ``typing``, the HTTP layer). The modules on
that path keep such names reachable as attributes through :func:`lazy_attribute`.
"""

from __future__ import annotations

import sys


def lazy_attribute(module: str, exports: dict[str, str], name: str) -> object:
    """``name`` of ``module``: imported from the module ``exports[name]``, then kept in ``module``.

    Raises:
        AttributeError: ``name`` is not one of ``exports``.
    """
    source = exports.get(name)
    if source is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    # __import__ rather than importlib.import_module: importing importlib (and warnings
    # behind it) is a few ms of `import agentbay`.
    __import__(source)
    value = getattr(sys.modules[source], name)
    setattr(sys.modules[module], name, value)
    return value
