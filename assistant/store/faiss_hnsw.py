"""FAISS HNSW over 8-bit scalar-quantised codes, re-scored with the exact vectors.

Two files hold the vectors:

    vectors.hnsw.faiss  the HNSW graph + one byte per dimension per chunk (SQ8): finds candidates.
                        Loaded memory-mapped (faiss IO_FLAG_MMAP_IFC): opening it costs milliseconds
                        and only the pages a search visits become resident, and those are let go
                        every few searches. The writer leaves the file in the page cache as
                        single pages and readers map it for random access (pages.py: otherwise
                        the kernel maps 64 KB to 2 MB around every node a search visits,
                        440-555 MB a search at a million chunks). (faiss cannot map a file on
                        macOS: there it is read into memory, _read_graph.)
    vectors.npy         the float32 vectors exactly as embedded. Every candidate is re-scored with
                        them, so the scores the retriever fuses (and `vector()` for chunks found by
                        BM25 only) are the exact cosines, never SQ8 approximations. Rows are read
                        one by one (pread; seek + read on Windows: RawFile), not through a memory
                        map: a mapped file faults in 64 KB around every row touched, and at a
                        million chunks the whole 3 GB file ended up resident.

A search asks the graph for `rerank` x k candidates with efSearch = max(ef_search, that), re-scores
them exactly and returns the best k. HNSW cannot delete: `remove` leaves a tombstone (an empty line
in vector_ids.txt) and searches skip tombstoned labels with an IDSelector.

Sizes at 768 dimensions: graph ~8 x M bytes per chunk (M=32: 256 B), codes 768 B, exact vectors
3,072 B on disk but resident only where touched.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from . import pages
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
# The graph's pages are let go of after loading and then every LET_GO_EVERY searches, which bounds
# what a long-running process keeps mapped: at a million chunks one search maps 26-44 MB of the
# graph, 8 searches 242 MB, 64 searches 724 MB (its hot part, clean file pages). Faulting them in
# again is what costs: dropping them every 8th search made a query's retrieval 10-15 ms slower
# (33-38 vs 22 ms p50), every 64th changed nothing measurable (measured 2026-12-06).
LET_GO_EVERY = 64
BUILD_BLOCK = 16_384  # rows added to the graph at a time by build_from_file (64 MB at 768 dimensions)


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
        self._mapped: list[tuple[int, int]] = []  # where faiss mapped it: (address, bytes)
        self._searches = 0
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
            self._path, self._mapped = None, []
        if not self.index.is_trained:
            self.index.train(v if len(v) <= TRAIN_SAMPLE else v[_sample_rows(len(v))])
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
        self._searches += 1
        if self._searches % LET_GO_EVERY == 0:
            self._let_go()
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
        folder = Path(folder)
        n = len(self._ids)
        if self.index is not None:
            self._write_graph(folder)
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
        self._write_ids_and_meta(folder)

    def _write_graph(self, folder: Path) -> None:
        import faiss

        tmp = folder / f".{GRAPH}.tmp"
        faiss.write_index(self.index, str(tmp))
        fsync_path(tmp)
        pages.recache(tmp)  # cached as single pages, not in the writer's 2 MB folios (pages.py)
        os.replace(tmp, folder / GRAPH)

    def _write_ids_and_meta(self, folder: Path) -> None:
        write_ids(folder, self._ids)
        write_meta(folder, {"backend": self.kind, "dim": self.dim, "count": self.count(), "m": self.m,
                            "ef_construction": self.ef_construction, "ef_search": self.ef_search,
                            "codes": self.codes, "rerank": self.rerank})

    @classmethod
    def build_from_file(cls, ids: Sequence[str], path: Path, folder: Path, **options) -> "HnswStore":
        """The store of `ids` whose float32 vectors are the .npy file `path` (row i = ids[i]), built
        into `folder` block by block from the file, which becomes the store's vectors.npy (moved, not
        copied). What `build_store` does with the vectors in memory, in ~1 KB a chunk (the graph and
        its codes) instead of 4 KB: at a million chunks the vectors alone are 3 GB (a compaction,
        index/compact.py). The same training sample as `add` (_sample_rows), so the same codes."""
        folder, ids = Path(folder), list(ids)
        # Read with pread, not through a memory map: the training sample is 65,536 rows scattered
        # over the whole file, and a map faults in 64 KB around each (the 3 GB file of a million
        # chunks all resident: a 3.7 GB peak, measured).
        raw = RawFile(path)
        try:
            if raw.shape[0] != len(ids):
                raise ValueError(f"{path}: {raw.shape[0]} rows for {len(ids)} ids")
            if len(set(ids)) != len(ids):
                raise ValueError("hnsw store: duplicate chunk id")
            store = cls(raw.shape[1], **options)
            n = len(ids)
            if n:
                store.index = store._new_index()
                _reserve(store.index, n)
                store.index.train(raw.rows(_sample_rows(n)))
                for lo in range(0, n, BUILD_BLOCK):
                    store.index.add(raw.rows(np.arange(lo, min(n, lo + BUILD_BLOCK))))
                store._write_graph(folder)
        finally:
            raw.close()
        fsync_path(path)
        if Path(path) != folder / RAW:
            os.replace(path, folder / RAW)
        store._ids = ids
        store._raw = RawFile(folder / RAW)
        store._write_ids_and_meta(folder)
        return store

    def close(self) -> None:
        self.index, self._mapped = None, []
        self._label = None  # id -> label: ~100 MB at a million chunks, built again if asked
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
        try:
            store._read_rest(folder, meta, mmap)
        except BaseException:
            store.close()  # a damaged store keeps no file open (Windows could not delete its generation)
            raise
        return store

    def _read_rest(self, folder: Path, meta: dict, mmap: bool) -> None:
        """After the exact vectors: their shape checked against the ids, and the graph read."""
        shape = self._raw.shape
        if shape != (len(self._ids), self.dim):
            # store.json's count (of live ids) says which of the two files lost rows
            want, live = meta.get("count"), len(self._ids) - len(self._deleted)
            if shape[1] != self.dim or (want is not None and want == live):
                raise damaged(folder / RAW, f"has shape {shape}, expected ({len(self._ids)}, {self.dim})")
            raise damaged(folder / IDS, f"holds {len(self._ids)} ids for the {shape[0]} vectors of {RAW}")
        if (folder / GRAPH).exists():
            with reading(folder / GRAPH) as path:
                self.index, mapped = _read_graph(path, mmap)
            self._path = (folder / GRAPH) if mapped else None
            # where faiss mapped the file (it does not say): the pages its reading touched go now,
            # those of each search after it (_let_go)
            self._mapped = pages.mapped_ranges(self._path) if mapped else []
            for start, nbytes in self._mapped:
                pages.random_access(start, nbytes)
            self._let_go()
            if self.index.ntotal != len(self._ids):
                raise damaged(folder / GRAPH, f"holds {self.index.ntotal} vectors for {len(self._ids)} ids")
        elif len(self._ids):
            raise damaged(folder / GRAPH, "is missing: the index is damaged")

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

    def _let_go(self) -> None:
        """Drop the resident pages of the memory-mapped graph (pages.py). Safe beside a search in
        another thread: the mapping is read-only, a dropped page is read again from the page cache."""
        for start, nbytes in self._mapped:
            pages.drop(start, nbytes)

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


def _sample_rows(n: int) -> np.ndarray:
    """The rows of n vectors SQ8 is trained on (all of them up to TRAIN_SAMPLE): the same for a
    store built in memory (`add`) and one built from a file (`build_from_file`)."""
    if n <= TRAIN_SAMPLE:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, TRAIN_SAMPLE, replace=False))


def _reserve(index, n: int) -> None:
    """Give the graph's codes and neighbour lists the capacity of `n` vectors before they are added
    block by block (build_from_file): each add grows them, and a std::vector that grows past its
    capacity is copied into one twice as large, both resident for a moment (768 MB of SQ8 codes at a
    million chunks: ~0.5 GB more at the peak). Resizing up and back down keeps the capacity."""
    import faiss

    storage = faiss.downcast_index(index.storage)
    storage.codes.resize(n * storage.code_size)
    storage.codes.resize(0)
    # level 0 holds 2M neighbours a vector, each level above M, and a vector reaches level 1 with
    # probability 1/M: 2M + 2 slots a vector on average covers them
    hnsw = index.hnsw
    hnsw.neighbors.resize(n * (hnsw.nb_neighbors(0) + 2))
    hnsw.neighbors.resize(0)


def _read_graph(path: Path, mmap: bool):
    """(the faiss index in `path`, whether it is memory-mapped). faiss maps files on Linux and
    Windows only (faiss/impl/mapped_io.cpp); elsewhere (macOS) it raises "Not implemented", and the
    graph is read into memory instead (about 1 KB a chunk at 768 dimensions with SQ8)."""
    import faiss

    if mmap:
        try:
            return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), True
        except RuntimeError as e:
            if "Not implemented" not in str(e):
                raise
    return faiss.read_index(str(path)), False


class RawFile:
    """Rows of a float32 .npy file read with positioned reads (one per row, or one per contiguous run).

    os.pread where the OS has it (Linux, macOS): it takes the offset, so threads read at once
    (the browser answers several questions at a time). Windows has no os.pread: there a seek and a
    read into the rows' buffer, under a lock so two threads never move the one file position
    between them. Either way only the rows asked for are read, never a page around them.

    A file object, not a bare descriptor: one left unclosed (a Pipeline replaced after an upload
    is dropped, not closed) is closed when it is collected, so the space of a deleted generation's
    vectors is given back."""

    def __init__(self, path: Path):
        self.path = Path(path)
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
            # rows are read one by one: a cut file would fail (or read short) only at query time
            raise damaged(path, f"has {size} bytes, its {self.shape} float32 rows need "
                                f"{self.offset + self.row_bytes * self.shape[0]} (cut off: the file is truncated)")
        self._file = open(path, "rb", buffering=0)
        self._pread = getattr(os, "pread", None)
        self._lock = threading.Lock()  # the file position, where there is no pread

    def rows(self, labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels, dtype=np.int64)
        out = np.empty((len(labels), self.shape[1]), np.float32)
        if not len(labels):
            return out
        if labels.min() < 0 or labels.max() >= self.shape[0]:
            raise IndexError(f"row {labels[(labels < 0) | (labels >= self.shape[0])][0]} out of range")
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        if len(labels) > 1 and labels[-1] - labels[0] == len(labels) - 1 and (np.diff(labels) == 1).all():
            runs = [(out, int(labels[0]))]  # one read for a contiguous run (persist copies the file so)
        else:
            runs = [(out[j], label) for j, label in enumerate(labels.tolist())]
        if self._pread is not None:
            fd = self._file.fileno()
            for dest, first in runs:
                buf = self._pread(fd, dest.nbytes, self.offset + first * self.row_bytes)
                self._check(len(buf), dest.nbytes, first)
                dest[...] = np.frombuffer(buf, np.float32).reshape(dest.shape)
            return out
        with self._lock:  # seek + read: no other thread may move the position in between
            for dest, first in runs:
                self._file.seek(self.offset + first * self.row_bytes)
                view, got = memoryview(dest).cast("B"), 0
                while got < dest.nbytes:  # readinto may return less than asked (a regular file never does)
                    n = self._file.readinto(view[got:])
                    if not n:
                        break
                    got += n
                self._check(got, dest.nbytes, first)
        return out

    def _check(self, got: int, want: int, first: int) -> None:
        if got != want:  # the file was cut after it was opened (its size was checked then)
            raise damaged(self.path, f"is cut off: row {first + got // self.row_bytes} is missing (the file was "
                                     "truncated while in use)")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

