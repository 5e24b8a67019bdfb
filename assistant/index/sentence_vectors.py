"""The sentence vectors file of a generation: one float16 row per sentence, memory-mapped by readers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def write_sentence_vectors(path: Path, vectors: np.ndarray) -> None:
    """Sentence vectors as float16: half the disk and page cache of float32, and a cosine differs
    from float32's by < 1e-3 (measured on the seeds; evidence ranks on differences far above that)."""
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(vectors, dtype=np.float16))
        f.flush()
        os.fsync(f.fileno())
