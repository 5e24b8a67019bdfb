"""Chunk vector stores: one Protocol, one backend per file.

    faiss_flat.py  FAISS IndexFlatIP in memory: exact, the default for document collections up to a
                   few hundred thousand chunks (the same file and the same results as before stores)
    faiss_hnsw.py  FAISS HNSW graph over 8-bit scalar-quantised codes, memory-mapped, plus the exact
                   float32 vectors in a memory-mapped .npy that every result is re-scored with
    pgvector.py    PostgreSQL + pgvector: vectors in a table, an HNSW index, exact re-scoring in SQL

    common.py      what they share: store.json and vector_ids.txt, durable writes, the error for a
                   damaged file, argument checks

The retriever and the support check only call the Protocol: search for candidates, the exact
vector of a chunk (for chunks found by BM25 only), and batches of vectors (re-ingest reuses them).

Which backend a new index generation is written with is the setting `vector_store`
(ASSISTANT_VECTOR_STORE): "flat", "hnsw", "auto" (hnsw past AUTO_HNSW_CHUNKS chunks, else flat) or a
"postgresql://..." URL. A generation records its backend in store.json; loading reads it from there,
so a change of setting takes effect at the next `assistant ingest` (no re-embedding: the stored
vectors are copied into the new backend).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ..errors import IndexStoreError, InputError
from .common import (FIX, IDS, META, as_matrix, as_query, damaged, fsync_path, read_ids, read_meta, reading,
                     short_error, write_ids, write_meta, write_text)

__all__ = [  # the helpers of common.py are used by the index too
    "AUTO_HNSW_CHUNKS", "FIX", "IDS", "META", "VectorStore", "as_matrix", "as_query", "backend", "build_store",
    "build_store_from_file",
    "damaged", "discard", "fsync_path", "is_dsn", "kind_for", "new_store", "open_store", "read_ids", "read_meta",
    "reading", "short_error", "vectors_file", "write_ids", "write_meta", "write_text",
]

AUTO_HNSW_CHUNKS = 200_000  # "auto": a flat index past this many chunks costs > 2 GB and > 30 ms a query


class VectorStore(Protocol):
    kind: str  # "flat" | "hnsw" | "pgvector"
    dim: int

    def count(self) -> int:
        """Vectors in the store (removed ones not counted)."""

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Append vectors (float32, L2-normalised rows) under the given chunk ids (new ids only)."""

    def remove(self, ids: Sequence[str]) -> int:
        """Forget these chunk ids (unknown ones are ignored); returns how many were removed."""

    def search(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        """The k chunk ids most similar to `query` (inner product == cosine on unit vectors), best
        first, with their exact scores (float32; approximate backends re-score their candidates)."""

    def vector(self, id: str) -> np.ndarray:
        """The exact stored vector of one chunk (float32)."""

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The exact stored vectors of these chunks, one row each (float32)."""

    def ids(self) -> list[str]:
        """Every chunk id in the store, in insertion order."""

    def persist(self, folder: Path) -> None:
        """Write the store into `folder` (files, or for a database its table name) with store.json."""

    def close(self) -> None: ...


def kind_for(setting: str, chunks: int) -> str:
    """The backend a generation of `chunks` chunks is written with, for a `vector_store` setting."""
    setting = (setting or "auto").strip()
    if is_dsn(setting):
        return "pgvector"
    if setting == "auto":
        return "hnsw" if chunks > AUTO_HNSW_CHUNKS else "flat"
    if setting in ("flat", "hnsw"):
        return setting
    raise InputError(f"vector store {setting!r} is not one of flat, hnsw, auto or a postgresql:// URL")


def is_dsn(setting: str) -> bool:
    return setting.startswith(("postgresql://", "postgres://"))


def new_store(setting: str, dim: int, chunks: int, name: str = "", **options) -> VectorStore:
    """An empty store of the backend the setting selects for `chunks` chunks. `name` identifies
    the generation (a database backend makes one table per generation)."""
    kind = kind_for(setting, chunks)
    if kind == "flat":
        from .faiss_flat import FlatStore

        return FlatStore(dim)
    if kind == "hnsw":
        from .faiss_hnsw import HnswStore

        return HnswStore(dim, **options)
    from .pgvector import PgVectorStore

    return PgVectorStore(setting, name or "store", dim, **options)


def build_store(setting: str, ids: Sequence[str], vectors: np.ndarray, folder: Path, name: str = "",
                **options) -> VectorStore:
    """A store of the selected backend holding exactly `ids` / `vectors`, persisted into `folder`."""
    store = new_store(setting, int(vectors.shape[1]), len(ids), name=name, **options)
    if len(ids):
        store.add(list(ids), vectors)
    store.persist(Path(folder))
    return store


def build_store_from_file(setting: str, ids: Sequence[str], path: Path, folder: Path, name: str = "",
                          **options) -> VectorStore:
    """`build_store` from a float32 .npy file of the vectors (row i = ids[i]), which is consumed:
    an HNSW store is built block by block and keeps the file as its own (a million chunks' vectors
    are 3 GB, never in memory at once); the other backends read it into memory and delete it."""
    if kind_for(setting, len(ids)) == "hnsw":
        from .faiss_hnsw import HnswStore

        return HnswStore.build_from_file(ids, path, folder, **options)
    store = build_store(setting, ids, np.load(path), folder, name=name, **options)
    Path(path).unlink()
    return store


def open_store(folder: Path, dsn: str = "", ids: Sequence[str] | None = None, **options) -> VectorStore:
    """Load the store persisted in `folder`. A generation written before stores existed has only
    vectors.faiss: it is a flat store whose ids are the chunk ids in order (`ids`). `dsn` is the
    setting's postgresql:// URL, used instead of the one recorded (which never holds a password).
    A missing or damaged file raises an IndexFileError naming it."""
    folder = Path(folder)
    meta = read_meta(folder)
    cls = backend(meta.get("backend"), folder)
    if cls.kind == "flat":
        return cls.load(folder, ids=ids)
    if cls.kind == "pgvector":
        return cls.load(folder, dsn=dsn if is_dsn(dsn) else "", **options)
    return cls.load(folder, **options)


def backend(kind: str | None, folder: Path | None = None):
    """The class of a backend by its kind (imported here: pgvector needs psycopg). Each class has
    `kind`, `load(folder, ...)` and `files(meta)`: the files it persists, its vectors' file first."""
    if kind == "flat":
        from .faiss_flat import FlatStore

        return FlatStore
    if kind == "hnsw":
        from .faiss_hnsw import HnswStore

        return HnswStore
    if kind == "pgvector":
        from .pgvector import PgVectorStore

        return PgVectorStore
    raise damaged(Path(folder or ".") / META, f"names an unknown vector store backend {kind!r}")


def vectors_file(folder: Path) -> str:
    """The file a problem with a generation's stored vectors is named by: the backend's vectors
    file, or store.json (a database store, or a store.json that cannot be read)."""
    try:
        meta = read_meta(folder)
        files = backend(meta.get("backend"), folder).files(meta)
    except IndexStoreError:
        return META
    return files[0] if files else META


def discard(folder: Path, dsn: str = "") -> None:
    """Release what a generation's store holds outside its folder (a database table)."""
    try:
        meta = read_meta(folder)
    except IndexStoreError:
        return
    if meta.get("backend") == "pgvector":
        from .pgvector import drop_table

        drop_table(dsn if is_dsn(dsn) else meta.get("dsn", ""), meta["table"])
