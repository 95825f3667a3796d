"""Code that runs inside session sandboxes (standard library only).

This directory is the only part of the package bound into sessions (read-only). The tool
server imports it as the top-level package ``inside`` (its parent directory on
``sys.path``); the host imports the same modules as ``agentbay_local.sandbox.inside``.
Relative imports keep both working. Nothing here may import ``agentbay`` or a third-party
package: a session's image only promises a Python standard library.
"""
