"""Letting go of resident pages: of a memory-mapped file (madvise MADV_DONTNEED), and of the heap
once a large thing is freed (`trim_heap`).

Reading a large file through a mapping makes every page touched part of the process's resident
memory, and the kernel maps 64 KB around each read fault ("fault-around") when the file is in the
page cache: right after an index is written, one HNSW search over a million chunks maps ~400 MB of
its graph file, and a few searches most of it (measured 2026-12-06: 790 of 1,040 MB). Dropping the
pages costs nothing in data (the mappings are read-only or shared: a page comes back from the page
cache, or the file, on the next touch) but minor faults to map them again (a few ms a search:
faiss_hnsw.LET_GO_EVERY says how often). MADV_RANDOM does not stop fault-around (measured: same
growth).

Two more things keep a search's pages few (Linux 6.18, measured 2026-12-06 at a million chunks):
the page cache a writer leaves holds the file in 2 MB folios, and a fault maps the whole folio:
right after a write one search mapped 440-555 MB of the 1 GB graph file whatever madvise said. So
the writer puts a written graph file back in the page cache as single pages (`recache`: dropped,
then read back with POSIX_FADV_RANDOM, which reads without readahead's large folios; 0.9 s for
1 GB), and readers map it with MADV_RANDOM (`random_access`: what they fault in from disk comes in
as single pages too). One search then maps 28-44 MB (64 KB around each node) in 2.6-4 ms; with the
file dropped and not read back, 6-8 MB but 23-34 ms while the graph is read from disk.

No-ops where madvise / posix_fadvise are not available (Windows; macOS has no posix_fadvise).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
from pathlib import Path

PAGE = mmap.PAGESIZE
_DONTNEED = 4  # MADV_DONTNEED on Linux, macOS and the BSDs
_RANDOM = 1  # MADV_RANDOM
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


def random_access(start: int, nbytes: int) -> None:
    """Tell the kernel the mapped range is read at random: no readahead around a fault."""
    _advise(start, nbytes, _RANDOM)


def _advise(start: int, nbytes: int, advice: int) -> None:
    """madvise over [start, start + nbytes), widened to whole pages."""
    madvise = _madvise()
    if madvise is None or nbytes <= 0:
        return
    lo = start - start % PAGE
    madvise(ctypes.c_void_p(lo), ctypes.c_size_t(start + nbytes - lo), advice)


def recache(path: Path) -> None:
    """Put a written (and fsynced) file in the page cache as single pages: its pages dropped
    (POSIX_FADV_DONTNEED), then read back 1 MB at a time with POSIX_FADV_RANDOM (no readahead, so
    no large folios)."""
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is None:
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        while os.read(fd, 1 << 20):
            pass
    finally:
        os.close(fd)


def drop(start: int, nbytes: int) -> None:
    """Drop the resident pages of the mapped range [start, start + nbytes) (widened to whole pages)."""
    _advise(start, nbytes, _DONTNEED)


def trim_heap() -> None:
    """Give the heap's free pages back to the OS (glibc malloc_trim; a no-op elsewhere). Freeing the
    embedding model returns its memory to malloc, which keeps it: 778 MB resident after embedding,
    522 MB after the model is let go of, 86 MB after this (measured, ONNX EmbeddingGemma)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc (musl has no malloc_trim)


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
