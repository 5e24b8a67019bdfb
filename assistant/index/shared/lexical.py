"""BM25 over a shared index: each segment's postings come from PostgreSQL's full-text index (a GIN
index over a tsvector of the chunk's own BM25 tokens, one position per occurrence), and
lexical.MultiBM25 does the rest as it does for the files: live-row counts, IDF, float32 scoring.
So the scores are the ones the index folder gives (tested), whichever side answers."""

from __future__ import annotations

import numpy as np

from ...lexical import _idf
from .db import Db


def tsquery(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


class PgPostings:
    """One segment's lexical side, as MultiBM25 reads a StoredBM25: n, k1, b, lengths, postings."""

    def __init__(self, db: Db, prefix: str, n: int, k1: float, b: float, lengths: bytes):
        self.db, self.prefix = db, prefix
        self.n, self.k1, self.b = int(n), float(k1), float(b)
        self.lengths = np.frombuffer(lengths, dtype="<f4").astype(np.float32)
        self._all_idf: dict[str, float] | None = None

    def _postings(self, term: str) -> np.ndarray:
        """(row, tf) of the chunks holding the term, in row order: the GIN index finds them, the
        term's positions in each chunk's tsvector count its occurrences."""
        rows = self.db.query(
            f'SELECT c.row, cardinality(u.positions) FROM "{self.prefix}_chunks" c CROSS JOIN LATERAL unnest(c.tsv) u '
            "WHERE c.tsv @@ %s::tsquery AND u.lexeme = %s ORDER BY c.row", (tsquery(term), term))
        return np.asarray(rows, dtype=np.int64).reshape(-1, 2)

    @property
    def idf(self) -> dict[str, float]:
        if self._all_idf is None:
            self._all_idf = {t: _idf(self.n, int(df)) for t, df in self.db.query(f'SELECT term, df FROM "{self.prefix}_terms"')}
        return self._all_idf

    def close(self) -> None:
        pass
