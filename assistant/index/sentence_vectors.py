"""The sentence vectors file of a generation: one float16 row per sentence, memory-mapped by readers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..store import pages


def write_sentence_vectors(path: Path, vectors: np.ndarray) -> None:
    """Sentence vectors as float16: half the disk and page cache of float32, and a cosine differs
    from float32's by < 1e-3 (measured on the seeds; evidence ranks on differences far above that)."""
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(vectors, dtype=np.float16))
        f.flush()
        os.fsync(f.fileno())


def drop_pages(array) -> None:
    """Let go of the pages a memory-mapped array has touched (madvise MADV_DONTNEED; a no-op where
    that is not available). Writing or reading gigabytes of sentence vectors through a mapping
    otherwise leaves every page in the process's resident memory until the write ends. The data is
    safe: the mappings are shared (a written page stays in the file's page cache until it is written
    back) or read-only."""
    if not isinstance(array, np.memmap) or array.size == 0:
        return
    pages.drop(array.ctypes.data, array.nbytes)
