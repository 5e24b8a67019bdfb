"""Reading the index: `load(index_dir)` gives the live generation as an `Index` (read-only: chunks,
sentences and documents read on demand from texts.sqlite, the chunk vector store, the sentence
vectors memory-mapped, BM25).

Sentences are what evidence is made of: the answer step scores the sentences of the retrieved
chunks against the question (dot products with the stored vectors, no model call) and gives the
model only the best ones.

`load` checks that every file is there and parses, and that the row counts agree; any failure is an
IndexStoreError naming the file and the fix. Hashes, spans and unit length are `assistant check`'s
(check.py), which reads everything.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from .. import lexical
from ..errors import IndexStoreError
from ..store import IDS, META, VectorStore, damaged, open_store, reading, vectors_file
from ..types import Chunk
from . import textstore
from .layout import FORMAT, SENTENCE_VECTORS, TEXTS, current_generation, read_manifest
from .texts import lexical_text
from .textstore import ChunksView, DocsView, SentencesView, TextStore


class Index:
    """A loaded, read-only generation. `docs`, `chunks` and `sentences` read texts.sqlite on demand
    (textstore.py): chunks[i] is row i (the row of its BM25 entry), sentences[j] row j of
    sentence_vectors (float16, memory-mapped: only the rows a question touches are read)."""

    def __init__(self, manifest: dict, texts: TextStore, store: VectorStore, sentence_vectors: np.ndarray,
                 folder: Path | None = None):
        self.manifest = manifest
        self.folder = folder
        self.texts = texts
        self.docs = DocsView(texts)
        self.chunks = ChunksView(texts)
        self.sentences = SentencesView(texts)
        self.store = store
        self.sentence_vectors = sentence_vectors
        self._rows_where: dict = {}  # Where -> the chunk rows of the documents it lets through

    def lexical(self):
        """BM25 over the chunks: the generation's lexical.sqlite when it has one (no tokenising at
        start-up), else built in memory (generations written before it existed)."""
        path = self.folder / lexical.FILE if self.folder is not None else None
        if path is not None and path.is_file():
            try:
                stored = lexical.StoredBM25(path)
                if stored.n == len(self.chunks):
                    return stored
            except (sqlite3.Error, ValueError, KeyError):
                pass  # unreadable or another tokenizer: the in-memory index gives the same scores
        return lexical.BM25([lexical_text(c) for c in self.chunks])

    def rows_where(self, where) -> np.ndarray:
        """The chunk rows (sorted) of the documents a filters.Where lets through; cached per Where
        (a frozen value), so a filtered question costs one pass over the documents' metadata, once."""
        rows = self._rows_where.get(where)
        if rows is None:
            parts = [np.arange(r.start, r.stop, dtype=np.int64) for s, d in self.docs.items() if where.matches(d)
                     for r in (self.texts.doc_chunk_rows(self.texts.doc_row(s)),)]
            rows = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
            if len(self._rows_where) > 64:
                self._rows_where.clear()
            self._rows_where[where] = rows
        return rows

    def sentence_text(self, j: int) -> str:
        s = self.sentences[j]
        return self.docs[s.source].text[s.start:s.end]

    def prefetch(self, rows) -> None:
        """Read these chunks (and their sentence ranges) in one query: a search's candidates."""
        self.texts.chunks_at(list(rows))

    def sentences_of(self, row: int) -> range:
        """Rows of the sentences that lie inside chunk `row` (their midpoint is inside it)."""
        return self.texts.chunk_sentences(int(row))

    def sentence_rows(self, source: str) -> range:
        """Rows of a document's sentences (contiguous, in text order); empty for an unknown source."""
        row = self.texts.doc_row(source)
        return self.texts.doc_sentence_rows(row) if row is not None else range(0)

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document, without reading any chunk."""
        return {s: len(self.texts.doc_chunk_rows(i)) for i, s in enumerate(self.docs)}

    @property
    def generation(self) -> str:
        return self.manifest["generation"]

    def vectors(self, rows=None) -> np.ndarray:
        """The chunk vectors of these rows (default: all), exact, from the vector store."""
        rows = range(len(self.chunks)) if rows is None else rows
        return self.store.vectors([c.id for c in self.texts.chunks_at(rows)])

    def vector(self, chunk: Chunk) -> np.ndarray:
        return self.store.vector(chunk.id)

    def vector_at(self, row: int) -> np.ndarray:
        return self.store.vector(self.chunks[int(row)].id)

    def search(self, query: np.ndarray, k: int) -> tuple[list[int], np.ndarray]:
        """Rows of the k chunks most similar to `query`, best first, and their cosines."""
        ids, scores = self.store.search(query, k)
        rows = self.texts.rows_of_ids(ids)
        if any(r is None for r in rows):
            missing = ids[rows.index(None)]
            raise damaged(self.folder / textstore.FILE, f"has no chunk {missing!r}, which the vector store returned")
        return rows, scores

    def row_of(self, chunk: Chunk) -> int:
        row = self.texts.rows_of_ids([chunk.id])[0]
        if row is None:
            raise KeyError(chunk.id)
        return row

    def stats(self) -> dict:
        return {
            "documents": len(self.docs),
            "chunks": len(self.chunks),
            "embedder": self.manifest["embedder"],
            "updated": self.manifest["updated"],
            "vector_store": self.store.kind,
        }

    def close(self) -> None:
        """Let go of the generation's files (Windows cannot delete a file that is open or mapped)."""
        self.store.close()
        self.texts.close()
        self.sentence_vectors = None


def load(index_dir: Path, vector_store: str = "") -> Index:
    """The live generation. `vector_store` is the setting: a postgresql:// URL given there is used
    to reach a pgvector generation (the folder records the URL without its password). A generation
    of an earlier format is upgraded once (upgrade.py: texts.sqlite and float16 sentence vectors
    added beside its files), or read through a temporary copy when the folder cannot be written."""
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexStoreError(
            f"no index in {index_dir}: run `assistant ingest` first (it indexes the bundled seeds/ folder)."
        )
    # Each file is read under store.reading: a damaged or missing one is named in the error.
    manifest = read_manifest(gen)
    texts_dir = gen
    if manifest.get("format") != FORMAT:
        from .upgrade import upgrade

        manifest, texts_dir = upgrade(Path(index_dir), gen, manifest)
    if manifest.get("vector_store") and not (gen / META).exists():
        # written with a store (the manifest says which): without store.json it would be mistaken
        # for a flat generation from before stores, and the error would name the wrong file
        raise damaged(gen / META, "is missing: the index is damaged")
    with reading(texts_dir / textstore.FILE) as path:
        if not path.is_file():
            raise FileNotFoundError(path)
        texts = TextStore(path)
    try:
        vfile = vectors_file(gen)
        with reading(gen / vfile):  # the backend names its own files; anything else is blamed on this one
            store = open_store(gen, dsn=vector_store, ids=_legacy_ids(gen, texts))
    except BaseException:
        texts.close()
        raise
    try:
        with reading(texts_dir / SENTENCE_VECTORS) as path:
            svec = np.load(path, mmap_mode="r")
        mismatch = count_mismatch(gen, manifest, texts.n_chunks, store.count(), vfile, texts.n_sentences, svec.shape[0])
        if mismatch is not None:
            raise mismatch
    except BaseException:
        store.close()  # a damaged generation keeps no file open (Windows could not delete it)
        texts.close()
        raise
    return Index(manifest, texts, store, svec, folder=gen)


def _legacy_ids(gen: Path, texts: TextStore) -> list[str] | None:
    """The chunk ids in row order, for a flat store without vector_ids.txt (written before stores
    had it; only then: reading every id is what the rest of loading avoids)."""
    if (gen / IDS).exists():
        return None
    return [c.id for c in texts.iter_chunks()]


def count_mismatch(gen: Path, manifest: dict, n_chunks: int, n_vectors: int, vectors: str, n_sentences: int,
                   n_sentence_vectors: int) -> IndexStoreError | None:
    """The error for the first file whose row count disagrees (with the manifest when it records the
    count, else with its partner file), or None. `vectors` is the vector store's file."""
    gen = Path(gen)
    want_chunks = manifest.get("chunks")
    if want_chunks is not None and n_chunks != want_chunks:
        return damaged(gen / TEXTS, f"holds {n_chunks} chunks but the manifest says {want_chunks} "
                                     "(truncated or damaged file)")
    if n_vectors != n_chunks:
        return damaged(gen / vectors, f"holds {n_vectors} vectors but {TEXTS} holds {n_chunks} chunks")
    want_sents = manifest.get("sentences")
    if want_sents is not None and n_sentences != want_sents:
        return damaged(gen / TEXTS, f"holds {n_sentences} sentences but the manifest says {want_sents} "
                                        "(truncated or damaged file)")
    if n_sentence_vectors != n_sentences:
        return damaged(gen / SENTENCE_VECTORS, f"has {n_sentence_vectors} rows but {TEXTS} holds "
                                               f"{n_sentences} sentences")
    return None
