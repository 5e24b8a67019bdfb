"""FAISS IndexFlatIP: exact inner product (== cosine on unit vectors), all vectors in memory.

The default. The generation's vectors.faiss is the same file the index wrote before stores existed,
and search is the same FAISS call, so results are identical. Memory is 4 bytes x dim per chunk
(768-dim: 3 GB at a million chunks) and a query reads all of it (~100 ms per 100k chunks on 2
cores), which is why "auto" moves past AUTO_HNSW_CHUNKS chunks to faiss_hnsw.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import IndexStoreError
from .common import IDS, META, as_matrix, as_query, damaged, read_ids, read_meta, reading, write_ids, write_meta

FILE = "vectors.faiss"


class FlatStore:
    kind = "flat"

    def __init__(self, dim: int, index=None, ids: Sequence[str] | None = None):
        import faiss

        self.dim = int(dim)
        self.index = index if index is not None else faiss.IndexFlatIP(self.dim)
        self._ids: list[str] = list(ids or [])
        self._label: dict[str, int] | None = None
        if self.index.ntotal != len(self._ids):
            raise IndexStoreError(f"flat store: {self.index.ntotal} vectors but {len(self._ids)} ids")

    # -- Protocol ---------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> list[str]:
        return list(self._ids)

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        ids = list(ids)
        v = as_matrix(vectors, self.dim, len(ids))
        labels = self._labels()
        if len(set(ids)) != len(ids) or any(i in labels for i in ids):
            raise ValueError("flat store: duplicate chunk id")
        self.index.add(v)
        for i in ids:
            labels[i] = len(self._ids)
            self._ids.append(i)

    def remove(self, ids: Sequence[str]) -> int:
        labels = self._labels()
        drop = sorted({labels[i] for i in ids if i in labels})
        if not drop:
            return 0
        self.index.remove_ids(np.asarray(drop, dtype=np.int64))  # IndexFlat compacts: later rows move up
        gone = set(drop)
        self._ids = [i for n, i in enumerate(self._ids) if n not in gone]
        self._label = None
        return len(drop)

    def search(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        n = self.count()
        k = min(int(k), n)
        if k <= 0:
            return [], np.zeros(0, np.float32)
        sims, rows = self.index.search(as_query(query, self.dim).reshape(1, -1), k)
        keep = rows[0] >= 0
        return [self._ids[r] for r in rows[0][keep]], sims[0][keep]

    def vector(self, id: str) -> np.ndarray:
        return self.index.reconstruct(self._labels()[id])

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dim), np.float32)
        labels = self._labels()
        return self.index.reconstruct_batch(np.asarray([labels[i] for i in ids], dtype=np.int64))

    def persist(self, folder: Path) -> None:
        import faiss

        folder = Path(folder)
        faiss.write_index(self.index, str(folder / FILE))
        write_ids(folder, self._ids)
        write_meta(folder, {"backend": self.kind, "dim": self.dim, "count": self.count()})

    def close(self) -> None:
        pass

    # -- loading ----------------------------------------------------------------------------------
    @classmethod
    def files(cls, meta: dict) -> tuple[str, ...]:
        """The files a persisted flat store consists of (besides store.json), the vectors' first."""
        return (FILE, IDS)

    @classmethod
    def load(cls, folder: Path, ids: Sequence[str] | None = None) -> "FlatStore":
        import faiss

        folder = Path(folder)
        with reading(folder / FILE) as path:
            index = faiss.read_index(str(path))
        if (folder / IDS).exists():
            with reading(folder / IDS):
                ids = [i for i in read_ids(folder) if i is not None]
            if len(ids) != index.ntotal:
                # store.json's count says which of the two files lost rows
                want = read_meta(folder).get("count")
                if want is not None and want != index.ntotal:
                    raise damaged(folder / FILE, f"holds {index.ntotal} vectors, {META} records {want}")
                raise damaged(folder / IDS, f"holds {len(ids)} ids for the {index.ntotal} vectors of {FILE}")
        elif ids is None:
            raise IndexStoreError(f"flat store in {folder} has no {IDS} and no chunk ids were given")
        elif len(ids) != index.ntotal:  # a generation written before stores: its ids are the chunks'
            raise damaged(folder / FILE, f"holds {index.ntotal} vectors for {len(ids)} chunks")
        return cls(index.d, index, ids)

    def _labels(self) -> dict[str, int]:
        if self._label is None:
            self._label = {i: n for n, i in enumerate(self._ids)}
        return self._label
