"""Key names as the cloud's ``press_keys``/``release_keys`` accept them, as X keysyms (stdlib only).

The documented names are case-sensitive (``Ctrl``, ``Enter``, ``ArrowUp``, ``F1``...);
later official SDKs normalise aliases (``control``, ``return``, ``esc``, ``pgup``, upper-case
letters) before sending, so those are accepted too, case-insensitively.
"""

from __future__ import annotations

from . import tool_args as ta

# The documented names.
_NAMED = {
    "Ctrl": 0xFFE3,  # Control_L
    "Alt": 0xFFE9,  # Alt_L
    "Shift": 0xFFE1,  # Shift_L
    "Enter": 0xFF0D,  # Return
    "Escape": 0xFF1B,
    "Tab": 0xFF09,
    "Backspace": 0xFF08,
    "Delete": 0xFFFF,
    "Space": 0x0020,
    "Home": 0xFF50,
    "End": 0xFF57,
    "PageUp": 0xFF55,  # Prior
    "PageDown": 0xFF56,  # Next
    "ArrowUp": 0xFF52,
    "ArrowDown": 0xFF54,
    "ArrowLeft": 0xFF51,
    "ArrowRight": 0xFF53,
    "Win": 0xFFEB,  # Super_L
    "Meta": 0xFFEB,
    "Super": 0xFFEB,
}
_NAMED.update({f"F{n}": 0xFFBE + n - 1 for n in range(1, 25)})

# Common aliases, matched case-insensitively (the documented names are, too).
_ALIASES = {
    "control": "Ctrl",
    "ctl": "Ctrl",
    "ctrl_l": "Ctrl",
    "control_l": "Ctrl",
    "option": "Alt",
    "alt_l": "Alt",
    "shift_l": "Shift",
    "return": "Enter",
    "ret": "Enter",
    "esc": "Escape",
    "back_space": "Backspace",
    "back": "Backspace",
    "del": "Delete",
    "pgup": "PageUp",
    "page_up": "PageUp",
    "prior": "PageUp",
    "pgdn": "PageDown",
    "pgdown": "PageDown",
    "page_down": "PageDown",
    "next": "PageDown",
    "up": "ArrowUp",
    "down": "ArrowDown",
    "left": "ArrowLeft",
    "right": "ArrowRight",
    "windows": "Win",
    "cmd": "Win",
    "command": "Win",
    "super_l": "Win",
    "spacebar": "Space",
}
_EXTRA = {
    "insert": 0xFF63,
    "ins": 0xFF63,
    "capslock": 0xFFE5,
    "caps_lock": 0xFFE5,
    "numlock": 0xFF7F,
    "scrolllock": 0xFF14,
    "pause": 0xFF13,
    "printscreen": 0xFF61,
    "print": 0xFF61,
    "menu": 0xFF67,
    "altgr": 0xFE03,  # ISO_Level3_Shift
    "ctrl_r": 0xFFE4,
    "alt_r": 0xFFEA,
    "shift_r": 0xFFE2,
}
_FOLDED = {name.lower(): keysym for name, keysym in _NAMED.items()}
_FOLDED.update({alias: _NAMED[name] for alias, name in _ALIASES.items()})
_FOLDED.update(_EXTRA)
#: Keysyms of the modifier keys (pressed first, released last in a combination).
MODIFIERS = frozenset({0xFFE1, 0xFFE2, 0xFFE3, 0xFFE4, 0xFFE9, 0xFFEA, 0xFFEB, 0xFE03})

# Characters typed by input_text that are keys rather than glyphs.
_CONTROL_CHARACTERS = {"\n": 0xFF0D, "\r": 0xFF0D, "\t": 0xFF09, "\b": 0xFF08}


def key(name: str) -> int:
    """The keysym of a key name (ToolError for an unknown one)."""
    keysym = _NAMED.get(name) or _FOLDED.get(name.lower().replace(" ", ""))
    if keysym is not None:
        return keysym
    if len(name) == 1 and name.isprintable():
        # One character: letters as the lower-case key (the SDKs' normalisation), other
        # characters (digits, punctuation, any Unicode) as themselves.
        return character(name.lower() if name.isascii() and name.isalpha() else name)
    raise ta.ToolError(
        f"Invalid arguments: unknown key {name!r} (use names such as Ctrl, Alt, Shift, "
        "Enter, Escape, Tab, Backspace, Delete, Space, Home, End, PageUp, PageDown, "
        "ArrowUp, F1...F24, Win, or one character)"
    )


def character(char: str) -> int:
    """The keysym that types one character (X's Unicode keysyms beyond Latin-1)."""
    special = _CONTROL_CHARACTERS.get(char)
    if special is not None:
        return special
    code = ord(char)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 | code
