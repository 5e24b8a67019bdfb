"""A small writer of Outlook .msg files for the hostile corpus (hostile.py) and the tests (through
tests/msgfile.py): no .msg writer library is installed.

`cfb(tree)` writes a Compound File Binary (MS-CFB) version 3 file: 512-byte sectors, the header's
DIFAT (up to 109 FAT sectors, ~7 MB: enough for tests), a FAT, directory entries (each storage's
children as an all-black chain of right siblings in CFB's name order: a valid, if unbalanced, tree,
as many writers make), streams under 4096 bytes in the mini stream (64-byte mini sectors, a mini FAT,
the root entry's stream holding the mini stream) and larger ones in regular sectors.

`msg(...)` lays out an Outlook message in it (MS-OXMSG): MAPI string properties as
__substg1.0_<tag>001F streams (UTF-16LE), fixed-size ones (the dates) in __properties_version1.0,
attachments as __attach_version1.0_#XXXXXXXX storages, an attached message as a 3701000D storage."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

SECTOR, MINI, CUTOFF = 512, 64, 4096
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _order(name: str):
    return (len(name), name.upper())  # MS-CFB 2.6.4: shorter names first, then case-insensitively


def cfb(tree: dict) -> bytes:
    """tree: {name: bytes (a stream) | dict (a storage)}; returns the compound file's bytes."""
    entries = []  # [name, type, children indexes, data]

    def add(name, node):
        idx = len(entries)
        if isinstance(node, dict):
            entries.append([name, 1 if idx else 5, [], b""])
            kids = [add(k, node[k]) for k in sorted(node, key=_order)]
            entries[idx][2] = kids
        else:
            entries.append([name, 2, [], bytes(node)])
        return idx

    add("Root Entry", tree)

    # streams: small ones into the mini stream, large ones into regular sectors
    mini_stream, minifat = bytearray(), []
    start = {}
    big = []
    for i, (_, kind, _, data) in enumerate(entries):
        if kind != 2:
            continue
        if len(data) < CUTOFF:
            first = len(mini_stream) // MINI
            n = max(1, -(-len(data) // MINI))
            minifat += [first + k + 1 for k in range(n - 1)] + [ENDOFCHAIN]
            mini_stream += data + bytes(n * MINI - len(data))
            start[i] = first
        else:
            big.append(i)

    sectors: list[bytes] = []
    fat: list[int] = []

    def place(data: bytes) -> int:
        if not data:
            return ENDOFCHAIN
        first = len(sectors)
        n = -(-len(data) // SECTOR)
        for k in range(n):
            sectors.append(data[k * SECTOR:(k + 1) * SECTOR].ljust(SECTOR, b"\0"))
            fat.append(first + k + 1 if k < n - 1 else ENDOFCHAIN)
        return first

    for i in big:
        start[i] = place(entries[i][3])
    root_start = place(bytes(mini_stream))
    minifat_bytes = b"".join(struct.pack("<I", v) for v in minifat)
    if minifat_bytes:
        minifat_bytes += struct.pack("<I", FREESECT) * ((-len(minifat)) % (SECTOR // 4))
    minifat_start = place(minifat_bytes)
    n_minifat = -(-len(minifat_bytes) // SECTOR)

    # directory: 128-byte entries, the children of each storage as a chain of right siblings
    right = {}
    for _, _, kids, _ in entries:
        for a, b in zip(kids, kids[1:]):
            right[a] = b
    dirs = bytearray()
    for i, (name, kind, kids, data) in enumerate(entries):
        raw = name.encode("utf-16-le")
        assert len(raw) <= 62, name
        if kind == 5:
            first, size = root_start, len(mini_stream)
        elif kind == 2:
            first, size = start[i], len(data)
        else:
            first, size = 0, 0
        dirs += (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw) + 2, kind, 1)
                 + struct.pack("<III", NOSTREAM, right.get(i, NOSTREAM), kids[0] if kids else NOSTREAM)
                 + bytes(16) + struct.pack("<I", 0) + bytes(16) + struct.pack("<IQ", first, size))
    while len(dirs) % SECTOR:  # unused entries: empty, no siblings or child
        dirs += bytes(64) + struct.pack("<HBB", 0, 0, 0) + struct.pack("<III", NOSTREAM, NOSTREAM, NOSTREAM) + bytes(52)
    dir_start = place(bytes(dirs))

    # the FAT covers every sector, its own included
    n_fat = 1
    while n_fat * (SECTOR // 4) < len(sectors) + n_fat:
        n_fat += 1
    assert n_fat <= 109, "the test writer keeps the FAT in the header's DIFAT (files up to ~7 MB)"
    fat_first = len(sectors)
    fat += [FATSECT] * n_fat
    fat += [FREESECT] * (n_fat * (SECTOR // 4) - len(fat))
    table = b"".join(struct.pack("<I", v) for v in fat)
    for k in range(n_fat):
        sectors.append(table[k * SECTOR:(k + 1) * SECTOR])

    difat = [fat_first + k for k in range(n_fat)] + [FREESECT] * (109 - n_fat)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + bytes(6) + struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, CUTOFF,
                                       minifat_start if n_minifat else ENDOFCHAIN, n_minifat, ENDOFCHAIN, 0)
              + b"".join(struct.pack("<I", v) for v in difat))
    assert len(header) == SECTOR
    return header + b"".join(sectors)


def _filetime(d: datetime) -> int:
    return int((d - datetime(1601, 1, 1, tzinfo=timezone.utc)).total_seconds()) * 10_000_000


def _props(header: bytes, fixed: dict[int, bytes]) -> bytes:
    return header + b"".join(struct.pack("<II", tag, 6) + value.ljust(8, b"\0") for tag, value in fixed.items())


def _strings(values: dict[int, str]) -> dict[str, bytes]:
    return {f"__substg1.0_{tag:04X}001F": v.encode("utf-16-le") for tag, v in values.items() if v}


def message_storage(subject: str = "", body: str = "", sender_name: str = "", sender_address: str = "", to: str = "",
                    date: datetime | None = None, html: bytes | None = None, attachments=(), embedded: bool = False) -> dict:
    fixed = {0x00390040: struct.pack("<Q", _filetime(date))} if date else {}
    header = bytes(24) if embedded else bytes(8) + struct.pack("<IIII", 0, len(attachments), 0, len(attachments)) + bytes(8)
    tree = {"__properties_version1.0": _props(header, fixed), "__nameid_version1.0": {"__substg1.0_00020102": bytes(16)}}
    tree.update(_strings({0x0037: subject, 0x1000: body, 0x0C1A: sender_name, 0x5D01: sender_address, 0x0E04: to}))
    if html is not None:
        tree["__substg1.0_10130102"] = html
    for i, att in enumerate(attachments):
        name, data = att[0], att[1]
        storage = {"__properties_version1.0": _props(bytes(8), {0x37050003: struct.pack("<I", 5 if isinstance(data, dict) else 1)}),
                   **_strings({0x3707: name, 0x3001: name})}
        if isinstance(data, dict):
            storage["__substg1.0_3701000D"] = data
        else:
            storage["__substg1.0_37010102"] = data
        if len(att) > 2 and att[2]:
            storage["__properties_version1.0"] += struct.pack("<II", 0x7FFE000B, 6) + b"\x01" + bytes(7)
        tree[f"__attach_version1.0_#{i:08X}"] = storage
    if embedded:
        del tree["__nameid_version1.0"]
    return tree


def msg(**kw) -> bytes:
    """An Outlook .msg: message_storage's keywords; attachments are (name, bytes | message_storage(embedded=True)[, hidden])."""
    return cfb(message_storage(**kw))
