"""One segment of a generation: a set of documents written together, with their texts.sqlite,
sentence vectors, BM25 file and chunk vector store in one folder.

A generation is a list of segments plus the documents deleted from them (the manifest's
"segments" and "deleted"). `assistant ingest` of a few documents into a large index writes them as
a new segment and marks the old versions of changed or removed documents deleted, instead of
writing every document, vector and graph again; the older segments' files are hard links shared
with the previous generation (they never change once written). When deleted rows or segments
pile up, the next ingest writes everything as one segment again (writer.py). A generation without
"segments" in its manifest (written by a full write or upgraded) is one segment: its own folder.

Rows are global: segment k's chunk rows follow those of segments 0..k-1 (the same for sentences),
so the rest of the assistant sees one row space.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..store import IDS, VectorStore, damaged, open_store, reading, vectors_file
from .layout import SENTENCE_VECTORS, TEXTS
from .textstore import TextStore


@dataclass(frozen=True)
class SegmentEntry:
    """A segment as the manifest lists it."""
    dir: str  # folder inside the generation ("" = the generation's own folder)
    docs: int
    chunks: int
    sentences: int
    deleted: tuple[int, ...] = ()  # rows of its documents that are deleted (replaced or removed)
    # The generation that wrote it: with `dir`, what names the segment across the generations
    # that share it (a shared index in PostgreSQL copies each segment once, index/shared/).
    # "" in manifests written before it was recorded.
    origin: str = ""

    def to_json(self) -> dict:
        return {"dir": self.dir, "docs": self.docs, "chunks": self.chunks, "sentences": self.sentences,
                "deleted": list(self.deleted), "origin": self.origin}

    @classmethod
    def from_json(cls, d: dict) -> "SegmentEntry":
        return cls(str(d["dir"]), int(d["docs"]), int(d["chunks"]), int(d["sentences"]),
                   tuple(int(r) for r in d.get("deleted", ())), str(d.get("origin", "")))


def entries(manifest: dict) -> list[SegmentEntry]:
    """The segments of a generation (one, its own folder, when the manifest lists none)."""
    listed = manifest.get("segments")
    if listed:
        return [SegmentEntry.from_json(d) for d in listed]
    # counts an early manifest does not record: -1, not checked
    return [SegmentEntry("", len(manifest.get("documents") or {}), int(manifest.get("chunks", -1)),
                         int(manifest.get("sentences", -1)), origin=str(manifest.get("generation", "")))]


class Segment:
    """A loaded segment. Its rows start at chunk_base / sentence_base in the generation's row space."""

    def __init__(self, entry: SegmentEntry, folder: Path, texts: TextStore, store: VectorStore,
                 sentence_vectors: np.ndarray, chunk_base: int, sentence_base: int):
        self.entry = entry
        self.folder = folder
        self.texts = texts
        self.store = store
        self.sentence_vectors = sentence_vectors
        self.chunk_base = chunk_base
        self.sentence_base = sentence_base
        self.deleted_docs = frozenset(entry.deleted)
        self._dead: np.ndarray | None = None

    @property
    def n_chunks(self) -> int:
        return self.texts.n_chunks

    def dead(self) -> np.ndarray:
        """Local chunk rows of deleted documents, sorted (empty when none)."""
        if self._dead is None:
            parts = [np.arange(r.start, r.stop) for d in sorted(self.deleted_docs) for r in (self.texts.doc_chunk_rows(d),)]
            self._dead = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        return self._dead

    def live(self, local_row: int) -> bool:
        if not self.deleted_docs:
            return True
        dead = self.dead()
        i = np.searchsorted(dead, local_row)
        return not (i < len(dead) and dead[i] == local_row)

    def close(self) -> None:
        self.store.close()
        self.texts.close()
        self.sentence_vectors = None


def open_segment(gen: Path, entry: SegmentEntry, texts_dir: Path, vector_store: str, chunk_base: int,
                 sentence_base: int) -> Segment:
    """Open a segment's files, checking that their row counts agree with each other and with the
    manifest; a missing or damaged file raises an IndexFileError naming it."""
    folder = gen / entry.dir if entry.dir else gen
    texts_dir = texts_dir / entry.dir if entry.dir else texts_dir
    with reading(texts_dir / TEXTS) as path:
        if not path.is_file():
            raise FileNotFoundError(path)
        texts = TextStore(path)
    try:
        vfile = vectors_file(folder)
        with reading(folder / vfile):  # the backend names its own files; anything else is blamed on this one
            store = open_store(folder, dsn=vector_store, ids=_legacy_ids(folder, texts))
    except BaseException:
        texts.close()
        raise
    try:
        with reading(texts_dir / SENTENCE_VECTORS) as path:
            svec = np.load(path, mmap_mode="r")
        mismatch = count_mismatch(folder, entry, texts.n_chunks, store.count(), vfile, texts.n_sentences, svec.shape[0],
                                  texts_dir)
        if mismatch is not None:
            raise mismatch
    except BaseException:
        store.close()  # a damaged generation keeps no file open (Windows could not delete it)
        texts.close()
        raise
    return Segment(entry, folder, texts, store, svec, chunk_base, sentence_base)


def _legacy_ids(folder: Path, texts: TextStore) -> list[str] | None:
    """The chunk ids in row order, for a flat store without vector_ids.txt (written before stores
    had it; only then: reading every id is what the rest of loading avoids)."""
    if (folder / IDS).exists():
        return None
    return [c.id for c in texts.iter_chunks()]


def count_mismatch(folder: Path, entry: SegmentEntry, n_chunks: int, n_vectors: int, vectors: str, n_sentences: int,
                   n_sentence_vectors: int, texts_dir: Path | None = None) -> Exception | None:
    """The error for the first file whose row count disagrees (with the manifest, else with its
    partner file), or None. `vectors` is the vector store's file."""
    folder = Path(folder)
    texts_dir = Path(texts_dir or folder)
    if entry.chunks >= 0 and n_chunks != entry.chunks:
        return damaged(texts_dir / TEXTS, f"holds {n_chunks} chunks but the manifest says {entry.chunks} "
                                          "(truncated or damaged file)")
    if n_vectors != n_chunks:
        return damaged(folder / vectors, f"holds {n_vectors} vectors but {TEXTS} holds {n_chunks} chunks")
    if entry.sentences >= 0 and n_sentences != entry.sentences:
        return damaged(texts_dir / TEXTS, f"holds {n_sentences} sentences but the manifest says {entry.sentences} "
                                          "(truncated or damaged file)")
    if n_sentence_vectors != n_sentences:
        return damaged(texts_dir / SENTENCE_VECTORS, f"has {n_sentence_vectors} rows but {TEXTS} holds "
                                                     f"{n_sentences} sentences")
    return None
