"""The index folder's write lock: one writer at a time (processes, UI tabs, threads)."""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from filelock import UnixFileLock, WindowsFileLock

from .layout import LOCK

_held = threading.local()  # the index folders whose write lock this thread holds
# The operating system's own file lock: flock on Linux and macOS, LockFileEx on Windows. The OS
# drops it when the process dies, so a killed ingest never leaves the index locked. Never filelock's
# soft lock (a marker file, which a killed process leaves behind): FileLock falls back to it where
# flock is missing, and UnixFileLock does on a file system without flock unless told not to.
_OsLock = WindowsFileLock if sys.platform == "win32" else UnixFileLock


@contextmanager
def write_lock(index_dir: Path, timeout: float = -1):
    """The index folder's write lock (a file lock: other processes, and other threads of this one,
    wait). Re-entrant in one thread, so a caller can hold it around several steps of one change
    (library.Library) and still call `sync`. `timeout` (seconds; -1: wait for ever) raises
    filelock.Timeout when another holder keeps it longer."""
    index_dir = Path(index_dir)
    key = str(index_dir.resolve())
    held = _held.__dict__.setdefault("dirs", set())
    if key in held:
        yield
        return
    index_dir.mkdir(parents=True, exist_ok=True)
    # A new lock object per outermost hold, used by this thread only: the re-entrancy is ours
    # (`held`), so it is the same whatever filelock does with two objects for one file in a thread.
    with _OsLock(index_dir / LOCK, timeout=timeout, fallback_to_soft=False):
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
