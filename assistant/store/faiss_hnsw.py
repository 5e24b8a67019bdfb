"""FAISS HNSW over 8-bit scalar-quantised codes, re-scored with the exact vectors.

Two files hold the vectors:

    vectors.hnsw.faiss  the HNSW graph + one byte per dimension per chunk (SQ8): finds candidates.
                        Loaded memory-mapped (faiss IO_FLAG_MMAP_IFC): opening it costs milliseconds
                        and only the pages a search visits become resident.
    vectors.npy         the float32 vectors exactly as embedded. Every candidate is re-scored with
                        them, so the scores the retriever fuses (and `vector()` for chunks found by
                        BM25 only) are the exact cosines, never SQ8 approximations. Rows are read
                        with pread, not a memory map: a mapped file faults in 64 KB around every
                        row touched, and at a million chunks the whole 3 GB file ended up resident.

A search asks the graph for `rerank` x k candidates with efSearch = max(ef_search, that), re-scores
them exactly and returns the best k. HNSW cannot delete: `remove` leaves a tombstone (an empty line
in vector_ids.txt) and searches skip tombstoned labels with an IDSelector.

Sizes at 768 dimensions: graph ~8 x M bytes per chunk (M=32: 256 B), codes 768 B, exact vectors
3,072 B on disk but resident only where touched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .common import IDS, META, as_matrix, as_query, damaged, fsync_path, read_ids, read_meta, reading, write_ids, write_meta

GRAPH = "vectors.hnsw.faiss"
RAW = "vectors.npy"
# Defaults chosen with `python eval/bench.py scale` (README "At scale"): recall@10 >= 0.95 against
# exact search on a synthetic corpus clustered like EmbeddingGemma vectors.
M = 32
EF_CONSTRUCTION = 80
EF_SEARCH = 64
RERANK = 4
TRAIN_SAMPLE = 65_536


class HnswStore:
    kind = "hnsw"

    def __init__(self, dim: int, m: int = M, ef_construction: int = EF_CONSTRUCTION, ef_search: int = EF_SEARCH,
                 codes: str = "sq8", rerank: int = RERANK):
        if codes not in ("sq8", "fp16", "flat"):
            raise ValueError(f"hnsw codes {codes!r} is not one of sq8, fp16, flat")
        self.dim = int(dim)
        self.m, self.ef_construction, self.ef_search = int(m), int(ef_construction), int(ef_search)
        self.codes, self.rerank = codes, max(1, int(rerank))
        self.index = None  # made on the first add (SQ8 is trained on it)
        self._path: Path | None = None  # the graph file a loaded (memory-mapped) index came from
        self._raw: RawFile | None = None  # the exact vectors on disk (rows 0..len-1)
        self._extra: list[np.ndarray] = []  # vectors added since loading (rows after _raw)
        self._extra_cat: np.ndarray | None = None
        self._ids: list[str | None] = []  # label -> chunk id (None: removed)
        self._label: dict[str, int] | None = None
        self._deleted: set[int] = set()
        self._selector = None

    # -- Protocol ---------------------------------------------------------------------------------
    def count(self) -> int:
        return len(self._ids) - len(self._deleted)

    def ids(self) -> list[str]:
        return [i for i in self._ids if i is not None]

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        import faiss

        ids = list(ids)
        v = as_matrix(vectors, self.dim, len(ids))
        if not ids:
            return
        labels = self._labels()
        if len(set(ids)) != len(ids) or any(i in labels for i in ids):
            raise ValueError("hnsw store: duplicate chunk id")
        if self.index is None:
            self.index = self._new_index()
        elif self._path is not None:  # memory-mapped read-only: load it into memory to grow it
            self.index = faiss.read_index(str(self._path))
            self._path = None
        if not self.index.is_trained:
            rng = np.random.default_rng(0)
            sample = v if len(v) <= TRAIN_SAMPLE else v[np.sort(rng.choice(len(v), TRAIN_SAMPLE, replace=False))]
            self.index.train(sample)
        self.index.hnsw.efConstruction = self.ef_construction
        self.index.add(v)
        self._extra.append(v.copy())
        self._extra_cat = None
        for i in ids:
            labels[i] = len(self._ids)
            self._ids.append(i)

    def remove(self, ids: Sequence[str]) -> int:
        labels = self._labels()
        gone = 0
        for i in ids:
            label = labels.pop(i, None)
            if label is not None:
                self._ids[label] = None
                self._deleted.add(label)
                gone += 1
        if gone:
            self._selector = None
        return gone

    def search(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        import faiss

        q = as_query(query, self.dim)
        k = min(int(k), self.count())
        if k <= 0 or self.index is None:
            return [], np.zeros(0, np.float32)
        fetch = min(self.index.ntotal, k * self.rerank)
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, fetch)
        if self._deleted:
            if self._selector is None:
                batch = faiss.IDSelectorBatch(np.fromiter(self._deleted, dtype=np.int64))
                self._selector = (batch, faiss.IDSelectorNot(batch))  # keep both alive
            params.sel = self._selector[1]
        _, found = self.index.search(q.reshape(1, -1), fetch, params=params)
        labels = found[0][found[0] >= 0]
        exact = self._rows(labels) @ q
        order = np.lexsort((labels, -exact))[:k]
        return [self._ids[int(labels[j])] for j in order], exact[order].astype(np.float32)

    def vector(self, id: str) -> np.ndarray:
        return self._rows(np.asarray([self._labels()[id]]))[0]

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dim), np.float32)
        labels = self._labels()
        return self._rows(np.asarray([labels[i] for i in ids], dtype=np.int64))

    def persist(self, folder: Path) -> None:
        import faiss

        folder = Path(folder)
        n = len(self._ids)
        if self.index is not None:
            tmp = folder / f".{GRAPH}.tmp"
            faiss.write_index(self.index, str(tmp))
            fsync_path(tmp)
            os.replace(tmp, folder / GRAPH)
        tmp = folder / f".{RAW}.tmp.npy"
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, self.dim))
        # Part by part (the memory-mapped rows, then each added block): no second copy in memory.
        step = 65_536
        base = 0 if self._raw is None else self._raw.shape[0]
        for a in range(0, base, step):
            out[a:min(base, a + step)] = self._raw.rows(np.arange(a, min(base, a + step)))
        pos = base
        for part in self._extra:
            out[pos:pos + len(part)] = part
            pos += len(part)
        out.flush()
        del out
        fsync_path(tmp)
        os.replace(tmp, folder / RAW)
        write_ids(folder, self._ids)
        write_meta(folder, {"backend": self.kind, "dim": self.dim, "count": self.count(), "m": self.m,
                            "ef_construction": self.ef_construction, "ef_search": self.ef_search,
                            "codes": self.codes, "rerank": self.rerank})

    def close(self) -> None:
        self.index = None
        if self._raw is not None:
            self._raw.close()
        self._raw = None

    # -- loading ----------------------------------------------------------------------------------
    @classmethod
    def files(cls, meta: dict) -> tuple[str, ...]:
        """The files a persisted HNSW store consists of (besides store.json), the exact vectors
        first; an empty store has no graph."""
        return (RAW, IDS) + ((GRAPH,) if meta.get("count", 1) else ())

    @classmethod
    def load(cls, folder: Path, ef_search: int | None = None, rerank: int | None = None, mmap: bool = True) -> "HnswStore":
        import faiss

        folder = Path(folder)
        meta = read_meta(folder)
        with reading(folder / META):
            store = cls(meta["dim"], meta.get("m", M), meta.get("ef_construction", EF_CONSTRUCTION),
                        ef_search or meta.get("ef_search", EF_SEARCH), meta.get("codes", "sq8"),
                        rerank or meta.get("rerank", RERANK))
        with reading(folder / IDS):
            store._ids = read_ids(folder)
        store._deleted = {n for n, i in enumerate(store._ids) if i is None}
        with reading(folder / RAW) as path:
            store._raw = RawFile(path)
        shape = store._raw.shape
        if shape != (len(store._ids), store.dim):
            store.close()
            # store.json's count (of live ids) says which of the two files lost rows
            want, live = meta.get("count"), len(store._ids) - len(store._deleted)
            if shape[1] != store.dim or (want is not None and want == live):
                raise damaged(folder / RAW, f"has shape {shape}, expected ({len(store._ids)}, {store.dim})")
            raise damaged(folder / IDS, f"holds {len(store._ids)} ids for the {shape[0]} vectors of {RAW}")
        if (folder / GRAPH).exists():
            with reading(folder / GRAPH) as path:
                store.index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
            store._path = (folder / GRAPH) if mmap else None
            if store.index.ntotal != len(store._ids):
                n = store.index.ntotal
                store.close()
                raise damaged(folder / GRAPH, f"holds {n} vectors for {len(store._ids)} ids")
        elif len(store._ids):
            store.close()
            raise damaged(folder / GRAPH, "is missing: the index is damaged")
        return store

    # -- helpers ----------------------------------------------------------------------------------
    def _new_index(self):
        import faiss

        if self.codes == "flat":
            index = faiss.IndexHNSWFlat(self.dim, self.m, faiss.METRIC_INNER_PRODUCT)
        else:
            qt = faiss.ScalarQuantizer.QT_8bit if self.codes == "sq8" else faiss.ScalarQuantizer.QT_fp16
            index = faiss.IndexHNSWSQ(self.dim, qt, self.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        return index

    def _rows(self, labels: np.ndarray) -> np.ndarray:
        """Exact float32 vectors of these labels (memory-mapped rows first, then added ones)."""
        labels = np.asarray(labels, dtype=np.int64)
        base = 0 if self._raw is None else self._raw.shape[0]
        if not self._extra:
            return self._raw.rows(labels)
        if self._extra_cat is None:
            self._extra_cat = self._extra[0] if len(self._extra) == 1 else np.concatenate(self._extra)
            self._extra = [self._extra_cat]
        if base == 0:
            return self._extra_cat[labels]
        out = np.empty((len(labels), self.dim), np.float32)
        old = labels < base
        out[old] = self._raw.rows(labels[old])
        out[~old] = self._extra_cat[labels[~old] - base]
        return out

    def _labels(self) -> dict[str, int]:
        if self._label is None:
            self._label = {i: n for n, i in enumerate(self._ids) if i is not None}
        return self._label


class RawFile:
    """Rows of a float32 .npy file read with pread (one call per row, or one per contiguous run)."""

    def __init__(self, path: Path):
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            self.offset = f.tell()
        if fortran or dtype != np.float32 or len(shape) != 2:
            raise damaged(path, "is not a C-order float32 matrix")
        self.shape = tuple(shape)
        self.row_bytes = 4 * self.shape[1]
        size = os.stat(path).st_size
        if size != self.offset + self.row_bytes * self.shape[0]:
            # rows are read with pread: a cut file would fail (or read short) only at query time
            raise damaged(path, f"has {size} bytes, its {self.shape} float32 rows need "
                                f"{self.offset + self.row_bytes * self.shape[0]} (cut off: the file is truncated)")
        self.fd = os.open(path, os.O_RDONLY)

    def rows(self, labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels, dtype=np.int64)
        out = np.empty((len(labels), self.shape[1]), np.float32)
        if len(labels) > 1 and labels[-1] - labels[0] == len(labels) - 1 and (np.diff(labels) == 1).all():
            buf = os.pread(self.fd, self.row_bytes * len(labels), self.offset + int(labels[0]) * self.row_bytes)
            out[:] = np.frombuffer(buf, np.float32).reshape(len(labels), -1)
            return out
        for j, label in enumerate(labels):
            if not 0 <= label < self.shape[0]:
                raise IndexError(f"row {label} out of range")
            out[j] = np.frombuffer(os.pread(self.fd, self.row_bytes, self.offset + int(label) * self.row_bytes), np.float32)
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

