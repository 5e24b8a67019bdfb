"""How a file name is shown: control characters, bidi controls and undecodable bytes as escapes."""

from __future__ import annotations

import unicodedata

_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(name: str) -> str:
    """name with control characters, bidi controls and undecodable bytes shown as escapes."""
    out = []
    for c in name:
        cat = unicodedata.category(c)
        if cat == "Cs":  # a byte that was not UTF-8 (surrogateescape)
            o = ord(c)
            out.append(f"\\x{o - 0xDC00:02x}" if 0xDC80 <= o <= 0xDCFF else f"\\u{o:04x}")
        elif cat == "Cc" or c in _BIDI:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)
