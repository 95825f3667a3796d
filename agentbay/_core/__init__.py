"""The SDK's hand-written plumbing, not a public import path.

The sync client's HTTP transport (``transport``), the form encoder (``form``), where failures
become exceptions (``failures``), a decoded answer (``answer``), the tool timeout rule
(``timeouts``), deferred imports (``lazy``), the sync spelling of what sync and async code do
differently (``flavour``; the async one in ``aio``) and the bridge to the local runtime for
``endpoint="local"`` (``embedded``).
"""
