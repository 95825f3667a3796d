"""A small X11 protocol client over the display's Unix socket (stdlib only; runs inside).

The desktop tools talk to the session's own X server directly instead of running
``xdotool``/``xwd``/``xprop`` per call: a request is a few microseconds where a program
start is milliseconds, and the only Debian packages a desktop then needs are the X server
and the window manager. It speaks the core protocol (little-endian, no authentication: the
server is started without an authority file and its socket is only in the session's own
``/tmp``) plus XTEST's ``FakeInput`` for the pointer and keyboard.

One ``XConnection`` serves one thread at a time: requests are answered in order, and
``sync`` turns asynchronous errors of requests without replies into exceptions.
"""

from __future__ import annotations

import socket
import struct
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

#: Where an X server listens for display ``:n`` (no abstract socket, no TCP: see desktop.py).
SOCKET_DIR = "/tmp/.X11-unix"

# Core event codes used with XTEST FakeInput and SendEvent.
KEY_PRESS, KEY_RELEASE, BUTTON_PRESS, BUTTON_RELEASE, MOTION_NOTIFY = 2, 3, 4, 5, 6
CLIENT_MESSAGE = 33
#: SubstructureNotify | SubstructureRedirect: how EWMH requests reach the window manager.
WM_REQUEST_MASK = 0x180000

_ERRORS = {
    1: "BadRequest",
    2: "BadValue",
    3: "BadWindow",
    4: "BadPixmap",
    5: "BadAtom",
    8: "BadMatch",
    9: "BadDrawable",
    10: "BadAccess",
    11: "BadAlloc",
    16: "BadLength",
}


class XError(Exception):
    """An X protocol error (or a refused connection); ``code`` is the X error code."""

    def __init__(self, message: str, code: int = 0, value: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.value = value


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


class Screen:
    """The first screen of a display, as the connection setup describes it."""

    def __init__(self, root: int, width: int, height: int, width_mm: int, depth: int) -> None:
        self.root = root
        self.width = width
        self.height = height
        self.width_mm = width_mm
        self.depth = depth

    @property
    def dpi(self) -> float:
        """Dots per inch horizontally (96 when the server reports no physical size)."""
        return self.width * 25.4 / self.width_mm if self.width_mm else 96.0


class Cursor:
    """The pointer's image (XFIXES GetCursorImage): its position ``x, y``, size, hot spot,
    serial (changes with the image) and premultiplied ARGB pixels, one CARD32 each."""

    __slots__ = ("argb", "height", "serial", "width", "x", "xhot", "y", "yhot")

    def __init__(
        self,
        x: int,
        y: int,
        width: int,
        height: int,
        xhot: int,
        yhot: int,
        serial: int,
        argb: bytes,
    ) -> None:
        self.x, self.y, self.width, self.height = x, y, width, height
        self.xhot, self.yhot, self.serial, self.argb = xhot, yhot, serial, argb


class XConnection:
    """One client connection to display ``:number``."""

    def __init__(self, number: int, timeout_s: float = 5.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(f"{SOCKET_DIR}/X{number}")
            self._setup()
        except OSError as exc:
            self._sock.close()
            raise XError(f"cannot connect to the display :{number}: {exc}") from None
        except XError:
            self._sock.close()
            raise
        self._sequence = 0
        self._extensions: dict[bytes, int] = {}

    def close(self) -> None:
        """Close the connection (the server forgets nothing it was asked to do)."""
        self._sock.close()

    def __enter__(self) -> XConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- wire ----
    def _read(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            count = self._sock.recv_into(view[got:])
            if not count:
                raise XError("the X server closed the connection")
            got += count
        return bytes(buffer)

    def _setup(self) -> None:
        self._sock.sendall(struct.pack("<BxHHHHxx", 0x6C, 11, 0, 0, 0))
        head = self._read(8)
        status, reason_length, _major, _minor, length = struct.unpack("<BBHHH", head)
        body = self._read(length * 4)
        if status != 1:
            reason = body[:reason_length].decode("latin-1", "replace") or "authentication"
            raise XError(f"the X server refused the connection: {reason}")
        vendor_length, self.max_request_units, _screens, formats = struct.unpack_from(
            "<HHBB", body, 16
        )
        self.image_byte_order = body[22]
        self.min_keycode, self.max_keycode = body[26], body[27]
        self.resource_base, self.resource_mask = struct.unpack_from("<II", body, 4)
        offset = 32 + vendor_length + (-vendor_length % 4)
        self.pixmap_formats = {}
        for index in range(formats):
            depth, bits_per_pixel, scanline_pad = struct.unpack_from(
                "<BBB", body, offset + 8 * index
            )
            self.pixmap_formats[depth] = (bits_per_pixel, scanline_pad)
        offset += 8 * formats
        root = struct.unpack_from("<I", body, offset)[0]
        width, height, width_mm = struct.unpack_from("<HHH", body, offset + 20)
        self.screen = Screen(root, width, height, width_mm, body[offset + 38])

    def _send(self, data: bytes) -> int:
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._sock.sendall(data)
        return self._sequence

    def _reply(self, sequence: int) -> bytes:
        """The reply to request ``sequence`` (32-byte header plus extra data)."""
        while True:
            head = self._read(32)
            kind = head[0]
            if kind == 0:
                self._raise(head)
            if kind != 1:
                continue  # an event: none is selected, but SendEvent may echo some
            extra = struct.unpack_from("<I", head, 4)[0] * 4
            data = head + self._read(extra) if extra else head
            if struct.unpack_from("<H", head, 2)[0] == sequence:
                return data

    @staticmethod
    def _raise(head: bytes) -> None:
        code = head[1]
        value = struct.unpack_from("<I", head, 4)[0]
        name = _ERRORS.get(code, f"error {code}")
        raise XError(f"X error {name} (value {value:#x}, request {head[10]})", code, value)

    def _request(self, opcode: int, data: bytes = b"", detail: int = 0) -> int:
        body = _pad(data)
        units = 1 + len(body) // 4
        return self._send(struct.pack("<BBH", opcode, detail, units) + body)

    def sync(self) -> None:
        """Wait until the server has handled every request sent so far (errors raise)."""
        self._reply(self._request(43))  # GetInputFocus

    # ---- atoms and properties ----
    def atom(self, name: str, only_if_exists: bool = False) -> int:
        """The atom for ``name`` (0 if ``only_if_exists`` and it does not exist)."""
        encoded = name.encode("latin-1")
        reply = self._reply(
            self._request(16, struct.pack("<Hxx", len(encoded)) + encoded, int(only_if_exists))
        )
        return struct.unpack_from("<I", reply, 8)[0]  # type: ignore[no-any-return]

    def atom_name(self, atom: int) -> str:
        """The name of an atom."""
        reply = self._reply(self._request(17, struct.pack("<I", atom)))
        length = struct.unpack_from("<H", reply, 8)[0]
        return reply[32 : 32 + length].decode("latin-1")

    def property(self, window: int, prop: int, max_bytes: int = 1 << 20) -> tuple[int, int, bytes]:
        """``(type, format, value)`` of a window property; type 0 when it is not set."""
        reply = self._reply(
            self._request(20, struct.pack("<IIIII", window, prop, 0, 0, max_bytes // 4))
        )
        fmt = reply[1]
        kind, _after, count = struct.unpack_from("<III", reply, 8)
        size = count * (fmt // 8) if fmt else 0
        return kind, fmt, reply[32 : 32 + size]

    def cardinals(self, window: int, prop: int) -> list[int]:
        """A 32-bit property (CARDINAL, WINDOW, ATOM) as a list of integers."""
        _kind, fmt, value = self.property(window, prop)
        if fmt != 32:
            return []
        return list(struct.unpack(f"<{len(value) // 4}I", value))

    def text(self, window: int, prop: int) -> str:
        """An 8-bit text property (UTF8_STRING as UTF-8, STRING as Latin-1)."""
        _kind, fmt, value = self.property(window, prop)
        if fmt != 8:
            return ""
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")

    # ---- windows ----
    def geometry(self, drawable: int) -> tuple[int, int, int, int]:
        """``(x, y, width, height)`` relative to the parent."""
        reply = self._reply(self._request(14, struct.pack("<I", drawable)))
        x, y, width, height = struct.unpack_from("<hhHH", reply, 12)
        return x, y, width, height

    def translate(self, window: int, x: int = 0, y: int = 0) -> tuple[int, int]:
        """Where ``(x, y)`` of ``window`` is on the root window."""
        data = struct.pack("<IIhh", window, self.screen.root, x, y)
        reply = self._reply(self._request(40, data))
        return struct.unpack_from("<hh", reply, 12)

    def children(self, window: int) -> list[int]:
        """The child windows, bottom to top."""
        reply = self._reply(self._request(15, struct.pack("<I", window)))
        count = struct.unpack_from("<H", reply, 16)[0]
        return list(struct.unpack_from(f"<{count}I", reply, 32))

    def map_state(self, window: int) -> int:
        """0 unmapped, 1 unviewable (an ancestor is unmapped), 2 viewable."""
        reply = self._reply(self._request(3, struct.pack("<I", window)))
        return reply[26]

    def pointer(self) -> tuple[int, int]:
        """The pointer's position on the root window."""
        reply = self._reply(self._request(38, struct.pack("<I", self.screen.root)))
        return struct.unpack_from("<hh", reply, 16)

    def send_client_message(self, window: int, message_type: int, data: Sequence[int]) -> None:
        """An EWMH client message about ``window``, sent to the root (the window manager)."""
        words = [*data, 0, 0, 0, 0, 0][:5]
        event = struct.pack("<BBHII5I", CLIENT_MESSAGE, 32, 0, window, message_type, *words)
        self._request(25, struct.pack("<II", self.screen.root, WM_REQUEST_MASK) + event)

    def set_background(self, window: int, pixel: int) -> None:
        """Give a window a solid background colour and repaint it."""
        self._request(2, struct.pack("<III", window, 0x2, pixel))  # CWBackPixel
        self._request(61, struct.pack("<IhhHH", window, 0, 0, 0, 0))  # ClearArea

    # ---- images ----
    def image(self, drawable: int, width: int, height: int) -> tuple[int, bytes]:
        """``(depth, pixels)`` of a ZPixmap GetImage of the whole area, all planes."""
        data = struct.pack("<IhhHHI", drawable, 0, 0, width, height, 0xFFFFFFFF)
        reply = self._reply(self._request(73, data, detail=2))
        return reply[1], reply[32:]

    # ---- keyboard ----
    def keyboard_mapping(self) -> tuple[int, list[int]]:
        """``(keysyms per keycode, keysyms)`` for every keycode from ``min_keycode``."""
        count = self.max_keycode - self.min_keycode + 1
        reply = self._reply(self._request(101, struct.pack("<BBxx", self.min_keycode, count)))
        per = reply[1]
        total = struct.unpack_from("<I", reply, 4)[0]
        return per, list(struct.unpack_from(f"<{total}I", reply, 32))

    def change_keyboard_mapping(self, first: int, per: int, keysyms: Sequence[int]) -> None:
        """Replace the keysyms of ``len(keysyms) // per`` keycodes starting at ``first``."""
        count = len(keysyms) // per
        data = struct.pack("<BBxx", first, per) + struct.pack(f"<{len(keysyms)}I", *keysyms)
        self._request(100, data, detail=count)

    # ---- extensions ----
    def _extension(self, name: bytes) -> int:
        """The major opcode of extension ``name`` (QueryExtension, once per connection)."""
        if name not in self._extensions:
            reply = self._reply(self._request(98, struct.pack("<Hxx", len(name)) + name))
            if not reply[8]:
                raise XError(f"the X server has no {name.decode()} extension")
            self._extensions[name] = reply[9]
            if name == b"XFIXES":
                # XFIXES answers nothing before the client said which version it speaks.
                self._reply(self._request(reply[9], struct.pack("<II", 4, 0), detail=0))
        return self._extensions[name]

    # ---- XFIXES ----
    def cursor(self) -> Cursor:
        """The pointer as the screen shows it: position, hot spot and ARGB image."""
        reply = self._reply(self._request(self._extension(b"XFIXES"), detail=4))
        x, y, width, height, xhot, yhot, serial = struct.unpack_from("<hhHHHHI", reply, 8)
        return Cursor(x, y, width, height, xhot, yhot, serial, reply[32 : 32 + width * height * 4])

    # ---- XTEST ----
    def _xtest_opcode(self) -> int:
        return self._extension(b"XTEST")

    def fake_input(self, kind: int, detail: int, x: int = 0, y: int = 0) -> None:
        """Inject one key, button or (absolute) motion event, as if from a real device."""
        root = self.screen.root if kind == MOTION_NOTIFY else 0
        data = struct.pack("<BBxxIIxxxxxxxxhhxxxxxxxx", kind, detail, 0, root, x, y)
        self._request(self._xtest_opcode(), data, detail=2)


def wait_for_socket(number: int, deadline: float) -> XConnection:
    """Connect to ``:number`` as soon as the server accepts (XError after ``deadline``)."""
    while True:
        try:
            return XConnection(number)
        except XError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.005)
