"""Letting go of the resident pages of a memory-mapped file (madvise MADV_DONTNEED).

Reading a large file through a mapping makes every page touched part of the process's resident
memory, and the kernel maps 64 KB around each read fault ("fault-around") when the file is in the
page cache: right after an index is written, one HNSW search over a million chunks maps ~400 MB of
its graph file, and a few searches most of it (measured 2026-12-06: 790 of 1,040 MB). Dropping the
pages costs nothing in data (the mappings are read-only or shared: a page comes back from the page
cache, or the file, on the next touch) and ~1 ms of minor faults on the next search. MADV_RANDOM
does not stop fault-around (measured: same growth), so the pages are dropped instead.

A no-op where madvise is not available (Windows).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
from pathlib import Path

PAGE = mmap.PAGESIZE
_DONTNEED = 4  # MADV_DONTNEED on Linux, macOS and the BSDs
_MADVISE: list = []


def _madvise():
    if not _MADVISE:
        fn = None
        if sys.platform != "win32":
            try:
                fn = ctypes.CDLL(None, use_errno=True).madvise
                fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            except (OSError, AttributeError):
                fn = None
        _MADVISE.append(fn)
    return _MADVISE[0]


def drop(start: int, nbytes: int) -> None:
    """Drop the resident pages of the mapped range [start, start + nbytes) (widened to whole pages)."""
    madvise = _madvise()
    if madvise is None or nbytes <= 0:
        return
    lo = start - start % PAGE
    madvise(ctypes.c_void_p(lo), ctypes.c_size_t(start + nbytes - lo), _DONTNEED)


def mapped_ranges(path: Path) -> list[tuple[int, int]]:
    """The (start, nbytes) of every mapping of the file `path` in this process (Linux: from
    /proc/self/maps, matched by device and inode, so a hard link or a renamed generation folder is
    the same file); [] where that cannot be read. For a mapping made by a library (faiss maps its
    index file itself and does not say where)."""
    major, minor = getattr(os, "major", None), getattr(os, "minor", None)  # POSIX only
    if major is None or minor is None:
        return []
    try:
        st = os.stat(path)
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return []
    dev = f"{major(st.st_dev):02x}:{minor(st.st_dev):02x}"
    out = []
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) >= 5 and parts[4] == str(st.st_ino) and parts[3] == dev:
            a, b = (int(x, 16) for x in parts[0].split("-"))
            out.append((a, b - a))
    return out
