"""BM25 over a shared index: each segment's postings table holds a term's rows and counts as one row
of arrays (lexical.sqlite's format), and lexical.MultiBM25 does the rest as it does for the files:
live-row counts, IDF, float32 scoring. So the scores are the ones the index folder gives (tested).

PostgreSQL's own full-text search was measured first, for the postings (a GIN index over a tsvector
of each chunk's tokens, a term's counts from its positions): at 100k chunks BM25 took 121 ms p50 and
1.7 s p95 a question, because a common term is one SQL row per chunk that holds it (70,000 for the
commonest here; counting them alone took 137 ms). One row of arrays per term is one indexed read.
"""

from __future__ import annotations

import numpy as np

from ...lexical import _idf
from .db import Db


class PgPostings:
    """One segment's lexical side, as MultiBM25 reads a StoredBM25: n, k1, b, lengths, postings."""

    def __init__(self, db: Db, prefix: str, n: int, k1: float, b: float, lengths: bytes):
        self.db, self.table = db, f'"{prefix}_postings"'
        self.n, self.k1, self.b = int(n), float(k1), float(b)
        self.lengths = np.frombuffer(lengths, dtype="<f4").astype(np.float32)
        self._all_idf: dict[str, float] | None = None

    def _postings(self, term: str) -> np.ndarray:
        """(row, tf) of the chunks holding the term, in row order (an (n, 2) array)."""
        got = self.db.query(f"SELECT rows, tfs FROM {self.table} WHERE term = %s", (term,))
        if not got:
            return np.zeros((0, 2), np.int64)
        rows, tfs = (bytes(x) for x in got[0])
        return np.stack([np.frombuffer(rows, dtype="<i4"), np.frombuffer(tfs, dtype="<u2")], axis=1).astype(np.int64)

    @property
    def idf(self) -> dict[str, float]:
        if self._all_idf is None:
            self._all_idf = {t: _idf(self.n, int(df)) for t, df in self.db.query(f"SELECT term, df FROM {self.table}")}
        return self._all_idf

    def close(self) -> None:
        pass
