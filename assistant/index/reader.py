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
from ..store import META, VectorStore, damaged
from ..types import Chunk
from .layout import FORMAT, TEXTS, current_generation, read_manifest
from .segment import Segment, entries, open_segment
from .texts import lexical_text
from .textstore import TextStore
from .views import ChunksView, DocsView, Rows, SentencesView, SentenceVectors


class Index:
    """A loaded, read-only generation: its segments (segment.py) seen as one row space. `docs`,
    `chunks` and `sentences` read texts.sqlite on demand (views.py): chunks[i] is row i,
    sentences[j] row j of sentence_vectors (float16, memory-mapped: only the rows a question
    touches are read). Rows of deleted documents stay in the row space but are never found."""

    def __init__(self, manifest: dict, segments: list[Segment], folder: Path | None = None):
        self.manifest = manifest
        self.folder = folder
        self.segments = segments
        self.rows = Rows(segments)
        self.docs = DocsView(self.rows)
        self.chunks = ChunksView(self.rows)
        self.sentences = SentencesView(self.rows)
        self.sentence_vectors = SentenceVectors(self.rows, int(manifest.get("dim") or 0))
        self._rows_where: dict = {}  # Where -> the chunk rows of the documents it lets through

    @property
    def store(self) -> VectorStore:
        """The first segment's vector store (the whole index's when it has one segment)."""
        return self.segments[0].store

    @property
    def texts(self) -> TextStore:
        return self.segments[0].texts

    @property
    def dead_chunks(self) -> int:
        """Chunk rows of deleted documents (in the row space, never found)."""
        return sum(len(seg.dead()) for seg in self.segments)

    def lexical(self):
        """BM25 over the chunks: each segment's lexical.sqlite (no tokenising at start-up; IDF over
        all segments, deleted rows never score), else built in memory (generations written before
        it existed)."""
        parts = []
        for seg in self.segments:
            path = seg.folder / lexical.FILE
            try:
                stored = lexical.StoredBM25(path) if path.is_file() else None
            except (sqlite3.Error, ValueError, KeyError):
                stored = None  # unreadable or another tokenizer: the in-memory index gives the same scores
            if stored is None or stored.n != seg.n_chunks:
                if len(self.segments) > 1:
                    raise damaged(path, "is missing or unreadable: run `assistant ingest --rebuild`")
                return lexical.BM25([lexical_text(c) for c in self.chunks])
            parts.append(stored)
        if len(parts) == 1 and not self.segments[0].deleted_docs:
            return parts[0]
        return lexical.MultiBM25(parts, self.dead_rows())

    def dead_rows(self) -> np.ndarray | None:
        """Global chunk rows of deleted documents (what BM25 over segments leaves out)."""
        return np.concatenate([seg.dead() + seg.chunk_base for seg in self.segments]) if self.segments else None

    def lexical_tokens(self, rows) -> dict[int, list[str]]:
        """The BM25 tokens stored for these chunk rows (global rows), where a segment's
        lexical.sqlite has them with this version's tokenizer; rows it cannot give are left out."""
        out: dict[int, list[str]] = {}
        rows = np.asarray(sorted({int(r) for r in rows}), dtype=np.int64)
        which = np.searchsorted(self.rows.chunk_bases, rows, side="right") - 1
        for k in np.unique(which):
            seg = self.segments[k]
            try:
                stored = lexical.StoredBM25(seg.folder / lexical.FILE)
            except (sqlite3.Error, ValueError, KeyError):
                continue  # missing, unreadable or another tokenizer: those chunks are tokenised again
            try:
                got = stored.tokens(rows[which == k] - seg.chunk_base)
            finally:
                stored.close()
            out.update((r + seg.chunk_base, t) for r, t in got.items())
        return out

    def rows_where(self, where) -> np.ndarray:
        """The chunk rows (sorted) of the documents a filters.Where lets through; cached per Where
        (a frozen value), so a filtered question costs one pass over the documents' metadata, once."""
        rows = self._rows_where.get(where)
        if rows is None:
            parts = [self.chunk_rows(s) for s, d in self.docs.items() if where.matches(d)]
            parts = [np.arange(r.start, r.stop, dtype=np.int64) for r in parts]
            rows = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
            if len(self._rows_where) > 64:
                self._rows_where.clear()
            self._rows_where[where] = rows
        return rows

    def sentence_text(self, j: int) -> str:
        s = self.sentences[j]
        return self.docs[s.source].text[s.start:s.end]

    def prefetch(self, rows) -> None:
        """Read these chunks (and their sentence ranges) with one query per segment: a search's candidates."""
        by_seg: dict[int, list[int]] = {}
        for r in rows:
            seg, local = self.rows.chunk(int(r))
            by_seg.setdefault(id(seg), [seg]).append(local)
        for seg, *local in by_seg.values():
            seg.texts.chunks_at(local)

    def sentences_of(self, row: int) -> range:
        """Rows of the sentences that lie inside chunk `row` (their midpoint is inside it)."""
        seg, local = self.rows.chunk(int(row))
        r = seg.texts.chunk_sentences(local)
        return range(r.start + seg.sentence_base, r.stop + seg.sentence_base) if len(r) else range(0)

    def sentence_rows(self, source: str) -> range:
        """Rows of a live document's sentences (contiguous, in text order); empty for an unknown source."""
        return self._doc_range(source, sentences=True)

    def chunk_rows(self, source: str) -> range:
        """Rows of a live document's chunks (contiguous); empty for an unknown source."""
        return self._doc_range(source, sentences=False)

    def _doc_range(self, source: str, sentences: bool) -> range:
        at = self.rows.doc(source)
        if at is None:
            return range(0)
        seg, row = at
        r = seg.texts.doc_sentence_rows(row) if sentences else seg.texts.doc_chunk_rows(row)
        base = seg.sentence_base if sentences else seg.chunk_base
        return range(r.start + base, r.stop + base)

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per live document, without reading any chunk."""
        return {s: len(self.chunk_rows(s)) for s in self.docs}

    @property
    def generation(self) -> str:
        return self.manifest["generation"]

    def vectors(self, rows=None) -> np.ndarray:
        """The chunk vectors of these rows (default: all), exact, from the segments' vector stores."""
        rows = np.arange(len(self.chunks)) if rows is None else np.asarray(list(rows), dtype=np.int64).reshape(-1)
        out = np.zeros((len(rows), int(self.manifest.get("dim") or 0)), np.float32)
        which = np.searchsorted(self.rows.chunk_bases, rows, side="right") - 1
        for k in np.unique(which):
            seg, mask = self.segments[k], which == k
            ids = [c.id for c in seg.texts.chunks_at(rows[mask] - seg.chunk_base)]
            out[mask] = seg.store.vectors(ids)
        return out

    def vector(self, chunk: Chunk) -> np.ndarray:
        return self.vector_at(self.row_of(chunk))

    def vector_at(self, row: int) -> np.ndarray:
        seg, local = self.rows.chunk(int(row))
        return seg.store.vector(seg.texts.chunk(local).id)

    def search(self, query: np.ndarray, k: int) -> tuple[list[int], np.ndarray]:
        """Rows of the k live chunks most similar to `query`, best first, and their cosines (each
        segment's store searched, the results merged: the scores are exact cosines in all)."""
        found: list[tuple[float, int]] = []
        for seg in self.segments:
            found += self._search_segment(seg, query, k)
        found.sort(key=lambda t: (-t[0], t[1]))
        found = found[:k]
        return [r for _, r in found], np.asarray([s for s, _ in found], dtype=np.float32)

    def _search_segment(self, seg: Segment, query: np.ndarray, k: int) -> list[tuple[float, int]]:
        live_total = seg.n_chunks - len(seg.dead())
        want = min(seg.n_chunks, k + len(seg.dead()) if len(seg.dead()) <= 4 * k else 2 * k)
        while True:
            ids, scores = seg.store.search(query, want)
            rows = seg.texts.rows_of_ids(ids)
            if any(r is None for r in rows):
                missing = ids[rows.index(None)]
                raise damaged(seg.folder / TEXTS, f"has no chunk {missing!r}, which the vector store returned")
            out = [(float(s), r + seg.chunk_base) for s, r in zip(scores, rows) if seg.live(r)]
            if len(out) >= min(k, live_total) or want >= seg.n_chunks:
                return out[:k]
            want = min(seg.n_chunks, want * 4)

    def row_of(self, chunk: Chunk) -> int:
        for seg in reversed(self.segments):  # the newest live version of an id
            row = seg.texts.rows_of_ids([chunk.id])[0]
            if row is not None and seg.live(row):
                return row + seg.chunk_base
        raise KeyError(chunk.id)

    def stats(self) -> dict:
        return {
            "documents": len(self.docs),
            "chunks": len(self.chunks) - self.dead_chunks,
            "embedder": self.manifest["embedder"],
            "updated": self.manifest["updated"],
            "vector_store": self.store.kind,
        }

    def close(self) -> None:
        """Let go of the generation's files (Windows cannot delete a file that is open or mapped)."""
        for seg in self.segments:
            seg.close()


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
    if manifest.get("vector_store") and not manifest.get("segments") and not (gen / META).exists():
        # written with a store (the manifest says which): without store.json it would be mistaken
        # for a flat generation from before stores, and the error would name the wrong file
        raise damaged(gen / META, "is missing: the index is damaged")
    segments: list[Segment] = []
    chunk_base = sentence_base = 0
    try:
        for entry in entries(manifest):
            seg = open_segment(gen, entry, texts_dir, vector_store, chunk_base, sentence_base)
            segments.append(seg)
            chunk_base += seg.texts.n_chunks
            sentence_base += seg.texts.n_sentences
    except BaseException:
        for seg in segments:
            seg.close()
        raise
    return Index(manifest, segments, folder=gen)
