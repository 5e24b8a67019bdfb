"""Reading the index: `load(index_dir)` gives the live generation as an `Index` (read-only: chunks,
sentences, documents, the chunk vector store, the sentence vectors, BM25).

Sentences are what evidence is made of: the answer step scores the sentences of the retrieved
chunks against the question (dot products with the stored vectors, no model call) and gives the
model only the best ones.

`load` checks that every file is there and parses, and that the row counts agree; any failure is an
IndexStoreError naming the file and the fix. Hashes, spans and unit length are `assistant check`'s
(check.py), which reads everything.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from pathlib import Path

import numpy as np

from .. import lexical
from ..errors import IndexStoreError
from ..metadata import DocMeta
from ..store import META, VectorStore, damaged, open_store, reading, vectors_file
from ..types import Chunk, Document, SentenceSpan
from .layout import CHUNKS, DOCS, SENTENCE_VECTORS, SENTENCES, current_generation, read_manifest
from .texts import lexical_text


class Index:
    """A loaded, read-only generation: chunks[i] is row i (chunk ids are the vector store's keys),
    sentences[j] row j of sentence_vectors."""

    def __init__(self, manifest: dict, docs: dict[str, Document], chunks: list[Chunk], store: VectorStore,
                 sentences: list[SentenceSpan] | None = None, sentence_vectors: np.ndarray | None = None,
                 folder: Path | None = None):
        self.manifest = manifest
        self.folder = folder
        self.docs = docs
        self.chunks = chunks
        self.store = store
        self.sentences = sentences or []
        dim = int(manifest.get("dim") or 0)
        self.sentence_vectors = sentence_vectors if sentence_vectors is not None else np.zeros((0, dim), np.float32)
        self._row = {c.id: i for i, c in enumerate(chunks)}
        self._chunk_sentences: list[range] | None = None
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
        (a frozen value), so a filtered question costs one pass over the documents, once."""
        rows = self._rows_where.get(where)
        if rows is None:
            allowed = {s for s, d in self.docs.items() if where.matches(d)}
            rows = np.fromiter((i for i, c in enumerate(self.chunks) if c.source in allowed), dtype=np.int64)
            if len(self._rows_where) > 64:
                self._rows_where.clear()
            self._rows_where[where] = rows
        return rows

    def sentence_text(self, j: int) -> str:
        s = self.sentences[j]
        return self.docs[s.source].text[s.start:s.end]

    def sentences_of(self, row: int) -> range:
        """Rows of the sentences that lie inside chunk `row` (or overlap it by more than half)."""
        if self._chunk_sentences is None:
            self._chunk_sentences = _chunk_sentence_ranges(self.chunks, self.sentences)
        return self._chunk_sentences[row]

    @property
    def generation(self) -> str:
        return self.manifest["generation"]

    def vectors(self, rows=None) -> np.ndarray:
        """The chunk vectors of these rows (default: all), exact, from the vector store."""
        rows = range(len(self.chunks)) if rows is None else rows
        return self.store.vectors([self.chunks[int(r)].id for r in rows])

    def vector(self, chunk: Chunk) -> np.ndarray:
        return self.store.vector(chunk.id)

    def vector_at(self, row: int) -> np.ndarray:
        return self.store.vector(self.chunks[int(row)].id)

    def search(self, query: np.ndarray, k: int) -> tuple[list[int], np.ndarray]:
        """Rows of the k chunks most similar to `query`, best first, and their cosines."""
        ids, scores = self.store.search(query, k)
        return [self._row[i] for i in ids], scores

    def row_of(self, chunk: Chunk) -> int:
        return self._row[chunk.id]

    def stats(self) -> dict:
        return {
            "documents": len(self.docs),
            "chunks": len(self.chunks),
            "embedder": self.manifest["embedder"],
            "updated": self.manifest["updated"],
            "vector_store": self.store.kind,
        }


def _chunk_sentence_ranges(chunks: list[Chunk], sentences: list[SentenceSpan]) -> list[range]:
    """For each chunk, the sentence rows it holds. Sentences are stored grouped by document in
    text order, so each chunk's sentences are one contiguous range found by bisection."""
    by_source: dict[str, tuple[int, list[int], list[int]]] = {}
    i = 0
    while i < len(sentences):
        j = i
        while j < len(sentences) and sentences[j].source == sentences[i].source:
            j += 1
        by_source[sentences[i].source] = (i, [s.start for s in sentences[i:j]], [s.end for s in sentences[i:j]])
        i = j
    out = []
    for c in chunks:
        base, starts, ends = by_source.get(c.source, (0, [], []))
        # A sentence belongs to the chunk when most of it is inside: its midpoint is.
        lo = bisect.bisect_left(ends, c.start + 1)
        hi = bisect.bisect_left(starts, c.end)
        rows = [k for k in range(lo, hi) if c.start <= (starts[k] + ends[k]) // 2 < c.end]
        out.append(range(base + rows[0], base + rows[-1] + 1) if rows else range(0))
    return out


def load(index_dir: Path, vector_store: str = "") -> Index:
    """The live generation. `vector_store` is the setting: a postgresql:// URL given there is used
    to reach a pgvector generation (the folder records the URL without its password)."""
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexStoreError(
            f"no index in {index_dir}: run `assistant ingest` first (it indexes the bundled seeds/ folder)."
        )
    # Each file is read under store.reading: a damaged or missing one is named in the error.
    manifest = read_manifest(gen)
    docs = {}
    with reading(gen / DOCS) as path:
        for line in path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            # JSON has lists; the frozen Document holds tuples
            d.update({k: tuple(d[k]) for k in ("pages", "ocr_pages") if k in d})
            d["meta"] = DocMeta.from_json(d.get("meta"))  # absent in indexes written before metadata
            docs[d["source"]] = Document(**d)
    with reading(gen / CHUNKS) as path:
        chunks = [Chunk(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    if manifest.get("vector_store") and not (gen / META).exists():
        # written with a store (the manifest says which): without store.json it would be mistaken
        # for a flat generation from before stores, and the error would name the wrong file
        raise damaged(gen / META, "is missing: the index is damaged")
    vfile = vectors_file(gen)
    with reading(gen / vfile):  # the backend names its own files; anything else is blamed on this one
        store = open_store(gen, dsn=vector_store, ids=[c.id for c in chunks])
    try:
        with reading(gen / SENTENCES) as path:
            sents = [SentenceSpan(*json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
        with reading(gen / SENTENCE_VECTORS) as path:
            svec = np.load(path, mmap_mode="r")
        mismatch = count_mismatch(gen, manifest, len(chunks), store.count(), vfile, len(sents), svec.shape[0])
        if mismatch is not None:
            raise mismatch
    except BaseException:
        store.close()  # a damaged generation keeps no file open (Windows could not delete it)
        raise
    return Index(manifest, docs, chunks, store, sents, svec, folder=gen)


def count_mismatch(gen: Path, manifest: dict, n_chunks: int, n_vectors: int, vectors: str, n_sentences: int,
                   n_sentence_vectors: int) -> IndexStoreError | None:
    """The error for the first file whose row count disagrees (with the manifest when it records the
    count, else with its partner file), or None. `vectors` is the vector store's file."""
    gen = Path(gen)
    want_chunks = manifest.get("chunks")
    if want_chunks is not None and n_chunks != want_chunks:
        return damaged(gen / CHUNKS, f"holds {n_chunks} chunks but the manifest says {want_chunks} "
                                     "(truncated or damaged file)")
    if n_vectors != n_chunks:
        return damaged(gen / vectors, f"holds {n_vectors} vectors but {CHUNKS} holds {n_chunks} chunks")
    want_sents = manifest.get("sentences")
    if want_sents is not None and n_sentences != want_sents:
        return damaged(gen / SENTENCES, f"holds {n_sentences} sentences but the manifest says {want_sents} "
                                        "(truncated or damaged file)")
    if n_sentence_vectors != n_sentences:
        return damaged(gen / SENTENCE_VECTORS, f"has {n_sentence_vectors} rows but {SENTENCES} holds "
                                               f"{n_sentences} sentences")
    return None
