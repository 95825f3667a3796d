"""The session's desktop: its X server, window manager and keyboard map (stdlib only).

Started on the first desktop tool call (or by the runtime's ``desktop_start`` at creation):
``Xvfb`` at the configured size, then ``openbox``; both are processes of the session, so
they end with it. Each session's display is its own: the server listens neither on TCP
nor on an abstract socket (those live in the network namespace, which sessions may share),
only on ``/tmp/.X11-unix/X<n>`` in the session's private ``/tmp``. ``-displayfd`` lets the
server pick a free number, which matters where ``/tmp`` is the host's (unisolated mode).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import tempfile
import threading
import time

from . import procs, xproto
from . import tool_args as ta

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any, TypeVar

    T = TypeVar("T")

#: Programs a desktop needs, and the Debian packages that provide them.
REQUIRED_PROGRAMS = {"Xvfb": "xvfb", "openbox": "openbox"}
#: How long the X server and the window manager may take to come up.
START_TIMEOUT_S = 15.0
#: The desktop's background colour (a plain blue: screenshots show where windows are).
BACKGROUND_PIXEL = 0x2E5A88
DEFAULT_SCREEN = {"width": 1024, "height": 768, "dpi": 96}
#: Screenshots kept in the session (older ones are deleted, and their URLs answer 404).
KEEP_SCREENSHOTS = 50
_OPENBOX_RC = "/etc/xdg/openbox/rc.xml"
_CHROMIUM_FLAGS_DIR = "/etc/chromium.d"
#: XFree86 vendor keysyms (media keys): their keycodes are free for characters.
_VENDOR_KEYSYMS = (0x1008FF00, 0x1008FFFF)


def missing_programs(env: Mapping[str, str]) -> list[str]:
    """The required programs this session cannot run."""
    return [name for name in REQUIRED_PROGRAMS if procs.which(name, env) is None]


def _let_chromium_run_as_root() -> None:
    """Debian's ``chromium`` launcher refuses root without ``--no-sandbox``; sessions run
    as root, and the session's sandbox is the isolation. Its launcher reads flags from
    ``/etc/chromium.d/``: only an isolated session (PID 1 of its namespace, whose ``/etc``
    is its own copy-on-write layer) gets one more file there, never the host."""
    if os.getpid() != 1 or os.geteuid() != 0 or not os.path.isdir(_CHROMIUM_FLAGS_DIR):
        return
    path = f"{_CHROMIUM_FLAGS_DIR}/agentbay-desktop"
    # No GPU process either: the display has no GLX, Chromium draws in software anyway.
    flags = 'export CHROMIUM_FLAGS="$CHROMIUM_FLAGS --no-sandbox --disable-gpu"\n'
    with contextlib.suppress(OSError), open(path, "w", encoding="utf-8") as handle:
        handle.write(flags)


class Keyboard:
    """The server's keysym -> keycode map, plus spare keycodes bound on demand.

    Characters the layout lacks (``é``, ``日``, ``✓``...) each get a key of their own that
    stays bound: rebinding one scratch keycode per character (as ``xdotool type`` does)
    races with clients that read the new map late and drops or mixes characters. Spare
    keycodes are the unused ones and those of vendor media keys (``XF86Audio...``, which no
    tool presses): about 110 on Xvfb, two characters each (plain and with Shift). The new
    characters of a text are bound in one request (every map change makes the window
    manager grab its keys again). When a text needs more, every binding is recycled at
    once, after a pause that gives the focused client time to read the events typed with
    them (a lagging client can still mistype then: texts of more than ~200 distinct such
    characters are rare).
    """

    #: Pause before recycling: a base plus a share per key event typed since the last one.
    RECYCLE_PAUSE_S = 0.2
    RECYCLE_PAUSE_PER_EVENT_S = 0.004

    def __init__(self, conn: xproto.XConnection) -> None:
        self.min_keycode = conn.min_keycode
        self.per, keysyms = conn.keyboard_mapping()
        self.rows = [keysyms[i : i + self.per] for i in range(0, len(keysyms), self.per)]
        self.codes: dict[int, tuple[int, bool]] = {}  # keysym -> (keycode, needs Shift)
        self.spare: list[int] = []
        self.bound: dict[int, list[int]] = {}  # spare keycode we bound -> its keysyms
        self.half: int | None = None  # a bound keycode whose Shift level is still free
        self.typed = 0  # key events since the last recycling
        self.lock = threading.Lock()
        low, high = _VENDOR_KEYSYMS
        for index, row in enumerate(self.rows):
            keycode = self.min_keycode + index
            if all(not keysym or low <= keysym <= high for keysym in row):
                self.spare.append(keycode)
                continue
            for column, keysym in enumerate(row[:2]):
                if keysym and keysym not in self.codes:
                    self.codes[keysym] = (keycode, column == 1)
        self.spare.reverse()  # hand out high keycodes first

    def resolve(self, conn: xproto.XConnection, keysym: int) -> tuple[int, bool]:
        """``(keycode, needs Shift)`` for a keysym, binding a spare key if needed."""
        self.bind(conn, [keysym], 0)
        return self.codes[keysym]

    def bind(
        self, conn: xproto.XConnection, symbols: list[int], start: int, most: int = 256
    ) -> int:
        """Bind the keysyms of ``symbols[start:end]`` the map lacks, in one request, for the
        longest ``end`` that fits, at most ``most`` symbols (at least one: recycling first
        if need be)."""
        with self.lock:
            changed: set[int] = set()
            end = start
            while end < min(len(symbols), start + most):
                symbol = symbols[end]
                if symbol not in self.codes:
                    if self.half is None and not self.spare:
                        if end > start:
                            break  # type what is bound; the next call recycles
                        self._recycle(conn)
                    changed.add(self._assign(symbol))
                end += 1
            self.typed += end - start
            if changed:
                first, last = min(changed), max(changed)
                rows = self.rows[first - self.min_keycode : last - self.min_keycode + 1]
                conn.change_keyboard_mapping(first, self.per, [k for row in rows for k in row])
            return end

    def _assign(self, keysym: int) -> int:
        if self.half is not None:
            keycode, shifted = self.half, True
            self.half = None
            self.bound[keycode].append(keysym)
        else:
            keycode, shifted = self.spare.pop(), False
            self.half = keycode
            self.bound[keycode] = [keysym]
        pair = self.bound[keycode] * (1 if shifted else 2)
        self.rows[keycode - self.min_keycode] = (pair * 2 + [0] * self.per)[: self.per]
        self.codes[keysym] = (keycode, shifted)
        return keycode

    def _recycle(self, conn: xproto.XConnection) -> None:
        conn.sync()  # the server has delivered every event typed so far...
        # ...and the focused client gets time to read them with the bindings they need.
        time.sleep(self.RECYCLE_PAUSE_S + self.typed * self.RECYCLE_PAUSE_PER_EVENT_S)
        for keycode, symbols in self.bound.items():
            for symbol in symbols:
                del self.codes[symbol]
            self.spare.append(keycode)
        self.bound.clear()
        self.half = None
        self.typed = 0


class Desktop:
    """The X display of one session, started once, restarted if its server died."""

    def __init__(self, reaper: procs.Reaper, env: dict[str, str], screen: Mapping[str, Any]):
        self._reaper = reaper
        self._env = env  # the tool server's session environment: DISPLAY is added to it
        self.width = int(screen.get("width") or DEFAULT_SCREEN["width"])
        self.height = int(screen.get("height") or DEFAULT_SCREEN["height"])
        self.dpi = int(screen.get("dpi") or DEFAULT_SCREEN["dpi"])
        self.number: int | None = None
        self.state_dir = ""
        self.keyboard: Keyboard | None = None
        self.held: list[int] = []  # keycodes press_keys(hold=True) left down
        self.focus_new = True
        self._server_pid: int | None = None
        self._wm_pid: int | None = None
        self._lock = threading.Lock()
        self._atoms: dict[str, int] = {}
        self._screenshots = 0

    # ---- lifecycle ----
    @property
    def running(self) -> bool:
        """Whether the X server was started and is still alive."""
        pid = self._server_pid
        return pid is not None and not self._reaper.has_exited(pid)

    def ensure(self) -> None:
        """Start the display if it is not running (ToolError when it cannot)."""
        if self.running:
            return
        with self._lock:
            if self.running:
                return
            self._start()

    def _start(self) -> None:
        missing = missing_programs(self._env)
        if missing:
            packages = " ".join(REQUIRED_PROGRAMS[name] for name in missing)
            raise ta.ToolError(
                f"The desktop is not available in this session: {', '.join(missing)} "
                f"not installed (on Debian or Ubuntu: apt-get install {packages})"
            )
        self._env.pop("DISPLAY", None)
        self.state_dir = self.state_dir or tempfile.mkdtemp(prefix=".agentbay-desktop-")
        _let_chromium_run_as_root()
        deadline = time.monotonic() + START_TIMEOUT_S
        number = self._start_server(deadline)
        conn = xproto.wait_for_socket(number, deadline)
        with conn:
            conn.set_background(conn.screen.root, BACKGROUND_PIXEL)
            self._atoms.clear()
            self.keyboard = Keyboard(conn)
            self.held.clear()
            self.number = number
            self._env["DISPLAY"] = f":{number}"
            self._start_window_manager()
            check = self.atom(conn, "_NET_SUPPORTING_WM_CHECK")
            while not conn.cardinals(conn.screen.root, check):
                if self._reaper.has_exited(self._wm_pid or 0):
                    raise ta.ToolError(f"The window manager failed to start: {self._log('wm')}")
                if time.monotonic() > deadline:
                    raise ta.ToolError("The window manager did not start in time")
                time.sleep(0.005)

    def _start_server(self, deadline: float) -> int:
        read_end, write_end = os.pipe()
        log = os.open(f"{self.state_dir}/xvfb.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            argv = [
                procs.which("Xvfb", self._env) or "Xvfb",
                "-displayfd", "1",
                "-screen", "0", f"{self.width}x{self.height}x24",
                "-dpi", str(self.dpi),
                "-nolisten", "tcp",
                "-nolisten", "local",  # no abstract socket: it would be shared (see above)
                "-noreset",
                "-extension", "GLX",  # its software renderer is 55 of the server's 70 MB
            ]  # fmt: skip
            self._server_pid = self._reaper.spawn(argv, self._env, write_end, log)
        finally:
            os.close(write_end)
            os.close(log)
        try:
            text = b""
            while not text.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
                    raise ta.ToolError("The X server did not start in time")
                chunk = os.read(read_end, 64)
                if not chunk:
                    raise ta.ToolError(f"The X server failed to start: {self._log('xvfb')}")
                text += chunk
            return int(text)
        finally:
            os.close(read_end)

    def _start_window_manager(self) -> None:
        config = f"{self.state_dir}/openbox-rc.xml"
        self.write_wm_config()
        log = os.open(f"{self.state_dir}/wm.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            argv = [procs.which("openbox", self._env) or "openbox", "--config-file", config]
            self._wm_pid = self._reaper.spawn(argv, self.app_env(), log, log)
        finally:
            os.close(log)

    def write_wm_config(self) -> None:
        """The window manager's configuration: the distribution's, with our focus policy and
        one desktop."""
        try:
            with open(_OPENBOX_RC, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            text = (
                '<openbox_config xmlns="http://openbox.org/3.4/rc"><focus></focus></openbox_config>'
            )
        policy = "yes" if self.focus_new else "no"
        if "<focusNew>" in text:
            start = text.index("<focusNew>")
            end = text.index("</focusNew>", start) + len("</focusNew>")
            text = text[:start] + f"<focusNew>{policy}</focusNew>" + text[end:]
        else:
            text = text.replace("<focus>", f"<focus><focusNew>{policy}</focusNew>", 1)
        # One desktop, as the cloud's: the wheel over the background (openbox's default: the
        # next desktop, with a popup) must change nothing a long_screenshot would stitch.
        text = re.sub(r"<number>\d+</number>", "<number>1</number>", text, count=1)
        text = re.sub(r"<popupTime>\d+</popupTime>", "<popupTime>0</popupTime>", text, count=1)
        with open(f"{self.state_dir}/openbox-rc.xml", "w", encoding="utf-8") as handle:
            handle.write(text)

    def _log(self, name: str) -> str:
        with contextlib.suppress(OSError), open(f"{self.state_dir}/{name}.log", "rb") as handle:
            return handle.read()[-1500:].decode("utf-8", "replace").strip() or "no output"
        return "no output"

    # ---- use ----
    def app_env(self) -> dict[str, str]:
        """The environment programs on the desktop get."""
        env = dict(self._env)
        # GTK apps otherwise wait for an accessibility bus that sessions do not run.
        env.setdefault("NO_AT_BRIDGE", "1")
        return env

    @contextlib.contextmanager
    def connect(self) -> Iterator[xproto.XConnection]:
        """A fresh connection to the running display (started first if needed)."""
        self.ensure()
        assert self.number is not None
        try:
            conn = xproto.XConnection(self.number)
        except xproto.XError as exc:
            raise ta.ToolError(f"The desktop is not reachable: {exc}") from None
        try:
            yield conn
        finally:
            conn.close()

    def run(self, action: Callable[[xproto.XConnection], T]) -> T:
        """``action(connection)``, with X errors turned into tool errors."""
        with self.connect() as conn:
            try:
                return action(conn)
            except xproto.XError as exc:
                raise ta.ToolError(f"Error: the X server refused the request: {exc}") from None

    def atom(self, conn: xproto.XConnection, name: str) -> int:
        """An atom, interned once per X server."""
        value = self._atoms.get(name)
        if value is None:
            value = self._atoms[name] = conn.atom(name)
        return value

    def next_screenshot_path(self) -> str:
        """A new file name for a screenshot (the runtime serves it under a signed URL)."""
        self._screenshots += 1
        with contextlib.suppress(OSError):
            os.unlink(f"{self.state_dir}/screenshot_{self._screenshots - KEEP_SCREENSHOTS}.png")
        return f"{self.state_dir}/screenshot_{self._screenshots}.png"

    def check_point(self, x: int, y: int) -> None:
        """ToolError unless ``(x, y)`` is on the screen."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise ta.ToolError(
                f"Invalid arguments: ({x}, {y}) is outside the screen "
                f"(0..{self.width - 1}, 0..{self.height - 1})"
            )
