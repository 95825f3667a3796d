"""Session sandboxes of the local runtime: one isolated Linux sandbox per AgentBay session.

What a session gets (isolated mode):

- its own copy-on-write view of the host's root filesystem (overlayfs, ``lowerdir=/``),
  mounted in the host at ``<data_dir>/sessions/<id>/root`` so the runtime can move files in
  and out directly; writes never reach the host or other sessions, and the runtime's data
  dir is covered by an empty tmpfs inside the session;
- its own PID, mount, UTS (hostname) and IPC namespaces, a fresh ``/proc`` (``/proc/sys``
  read-only), a minimal ``/dev``, a read-only ``/sys``;
- root inside, with Docker's default capabilities minus NET_RAW, no_new_privs;
- cgroup limits (``pids.max``, memory) where a controller is usable;
- its own network namespace: a loopback interface of its own (every port free, so two
  sessions can both listen on 30100), no route to the host's loopback services, the
  runtime or another session. The runtime reaches its ports with
  ``Sandbox.open_port_connection`` (the tool server connects from inside and passes the
  socket back), which is how ``GetLink`` URLs are forwarded. Outbound traffic by policy
  (``egress.NetworkPolicy``): user-mode NAT through a slirp4netns process per sandbox,
  never to 169.254.0.0/16 or the host, or loopback only;

All processes of a session end with it. The package ``inside/`` holds the code that runs
inside sandboxes (standard library only, the one directory bound into sessions); the
modules beside it run on the host.
"""

from __future__ import annotations

from agentbay_local.sandbox.handle import Sandbox
from agentbay_local.sandbox.manager import SandboxManager

__all__ = ["Sandbox", "SandboxManager"]
