"""Plain text (.txt .md): bytes -> text, with the encoding found (UTF-8, UTF-16 with BOM, Windows-1252)
and binary files refused."""

from __future__ import annotations

from ..errors import InputError

SUFFIXES = (".txt", ".md")


def decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) and not data.startswith(b"\xff\xfe\x00\x00"):
        text = data.decode("utf-16", errors="replace")  # the BOM says which byte order
    else:
        if b"\x00" in data[:8192]:
            raise InputError(f"{name}: looks like a binary file, not text (or UTF-16 without a byte order mark)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = decode_damaged(data)
    sample = text[:65536]
    bad = sum(1 for c in sample if c == "\ufffd" or (c < " " and c not in "\t\n\r\f") or c == "\x7f")
    if bad > max(4, 0.05 * len(sample)):
        raise InputError(f"{name}: looks like a binary file, not text ({bad} of the first {len(sample)} "
                         "characters are control characters or undecodable)")
    return text


def decode_damaged(data: bytes) -> str:
    """Not valid UTF-8: a UTF-8 text with a few bad bytes keeps its accents; otherwise it is taken
    as Windows-1252 (older Dutch government texts often are)."""
    sample = data[:1_000_000].decode("utf-8", errors="replace")
    bad = sample.count("\ufffd")
    good = sum(1 for c in sample if c > "\x7f") - bad
    if good >= 10 and bad < 0.1 * good:
        return data.decode("utf-8", errors="replace")
    return data.decode("cp1252", errors="replace")



def read(data: bytes, name: str, **_) -> str:
    return decode(data, name)
