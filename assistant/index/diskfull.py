"""A full disk during an index write: `disk_full_guard(index_dir)` turns "no space left on device"
into one clear IndexStoreError naming the file being written and the folder to free, and removes
what the unfinished write left (the previous generation stays live). Other errors also clean up and
pass unchanged."""

from __future__ import annotations

import errno
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import IndexStoreError
from .layout import CURRENT, GEN_PREFIX, TMP_PREFIX, live_name


def _is_disk_full(e: BaseException) -> bool:
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(e)
    if "No space left on device" in text or "Disk quota exceeded" in text:
        return True  # e.g. faiss: a RuntimeError carrying strerror(errno)
    if type(e).__name__ == "OperationalError" and "disk is full" in text:
        return True  # sqlite3 (the lexical index): "database or disk is full"
    # numpy's tofile/save on a short fwrite: "833024 requested and 192480 written" (no errno).
    return isinstance(e, OSError) and e.errno is None and bool(re.search(r"\d+ requested and \d+ written", text))


def _unfinished(index_dir: Path) -> list[Path]:
    """What a write that did not finish leaves: temp folders, generation folders CURRENT does not
    name, a stray CURRENT.tmp."""
    live = live_name(index_dir)
    out = [p for p in index_dir.iterdir()
           if p.is_dir() and (p.name.startswith(TMP_PREFIX) or (p.name.startswith(GEN_PREFIX) and p.name != live))]
    return out + [p for p in (index_dir / f"{CURRENT}.tmp",) if p.exists()]


def _written_file(e: BaseException, index_dir: Path, unfinished: list[Path]) -> str:
    """The file being written when the disk filled up: named by the error when it can, else the
    most recently modified file of the unfinished write."""
    name = getattr(e, "filename", None)
    if name:
        return Path(name).name
    # The innermost frame of the failed write that holds a file open for writing (python writers:
    # json lines, np.save): its name. Frames stay alive with the traceback.
    frames, tb = [], e.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in list(frame.f_locals.values()):
            fname, mode = getattr(value, "name", None), getattr(value, "mode", None)
            if isinstance(fname, str) and isinstance(mode, str) and any(c in mode for c in "wa+") \
                    and str(index_dir) in os.path.abspath(fname):
                return Path(fname).name
    m = re.search(r"write error in (\S+?):? ", str(e))
    if m:
        return Path(m.group(1)).name
    newest, when = "", -1
    for top in unfinished:
        for p in [top, *top.rglob("*")] if top.is_dir() else [top]:
            try:
                st = p.stat()
            except OSError:
                continue
            if p.is_file() and st.st_mtime_ns > when:
                newest, when = p.name, st.st_mtime_ns
    return newest or "the index"


def _remove(paths: list[Path]) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


@contextmanager
def disk_full_guard(index_dir: Path):
    """Around writing a generation: on "no space left on device" remove what was half written and
    raise one IndexStoreError naming the file and the folder; other errors also clean up."""
    index_dir = Path(index_dir)
    try:
        yield
    except BaseException as e:
        full = _is_disk_full(e)
        unfinished = _unfinished(index_dir)
        name = _written_file(e, index_dir, unfinished) if full else ""
        _remove(unfinished)
        if full:
            raise IndexStoreError(
                f"disk full while writing {name}: free space in {index_dir} and run ingest again "
                "(the previous index is unchanged and still works)."
            ) from e
        raise


def allocated(path: Path, shape: tuple[int, int], dtype=np.float16) -> np.ndarray:
    """A .npy file of this shape (float16: sentence vectors), its space reserved on disk before it
    is mapped: writing into a memory-mapped file on a full disk kills the process (SIGBUS),
    reserving it raises ENOSPC, which disk_full_guard reports."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    size = path.stat().st_size
    reserve = getattr(os, "posix_fallocate", None)  # POSIX only
    with open(path, "r+b") as f:
        if reserve is not None:
            reserve(f.fileno(), 0, size)
        else:  # Windows: write the zeros (a mapping there extends the file at once anyway)
            f.seek(out.offset)
            zeros = bytes(1 << 23)
            left = size - out.offset
            while left > 0:
                left -= f.write(zeros[:min(left, len(zeros))])
    return out
