"""A segment's sentence vectors (float16) read from its `_svec` table by row, as the memory-mapped
file is read: an int, a slice or a list of rows; a small cache holds the rows of recent questions,
and `fetch` reads a search's candidates in one query."""

from __future__ import annotations

import numpy as np

from ..textstore import _Lru
from .db import Db

CACHE_ROWS = 16_384  # 25 MB at 768 dimensions


class PgSentenceVectors:
    def __init__(self, db: Db, prefix: str, n: int, dim: int):
        self.db, self.table = db, f'"{prefix}_svec"'
        self.shape = (int(n), int(dim))
        self.dtype = np.dtype(np.float16)
        self._cache = _Lru(CACHE_ROWS)

    def __len__(self) -> int:
        return self.shape[0]

    def fetch(self, rows) -> dict[int, np.ndarray]:
        """These rows' vectors (cached ones from the cache, the rest in one query)."""
        rows = [int(r) for r in rows]
        got = {r: v for r in rows for v in (self._cache.get(r),) if v is not None}
        missing = sorted(set(rows) - set(got))
        if missing:
            for r, v in self.db.query(f"SELECT row, v FROM {self.table} WHERE row = ANY(%s)", (missing,)):
                got[r] = self._cache.put(r, np.frombuffer(bytes(v), dtype="<f2"))
        if len(got) < len(set(rows)):
            bad = next(r for r in rows if r not in got)
            raise IndexError(f"sentence vector row {bad} is not in {self.table} ({self.shape[0]} rows)")
        return got

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            r = int(key) + (self.shape[0] if key < 0 else 0)
            return self.fetch([r])[r]
        if isinstance(key, slice):
            rows = range(*key.indices(self.shape[0]))
        else:
            rows = np.asarray(key, dtype=np.int64).reshape(-1)
        got = self.fetch(rows)
        out = np.zeros((len(rows), self.shape[1]), np.float16)
        for k, r in enumerate(rows):
            out[k] = got[int(r)]
        return out

    def __array__(self, dtype=None, copy=None):
        out = self[0:self.shape[0]]
        return out.astype(dtype) if dtype is not None else out
