"""What the rest of the assistant reads of a generation, over all its segments in one row space:
`index.docs` (source -> Document, live documents only), `index.chunks[row]`,
`index.sentences[row]` and `index.sentence_vectors[rows]`. Each reads the segment's texts.sqlite or
memory-mapped vectors on demand (segment.py, textstore.py)."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from ..types import Chunk, Document, SentenceSpan
from .segment import Segment


class Rows:
    """Global row <-> (segment, local row), for chunks and for sentences."""

    def __init__(self, segments: list[Segment]):
        self.segments = segments
        self.chunk_bases = [s.chunk_base for s in segments]
        self.sentence_bases = [s.sentence_base for s in segments]
        self.n_chunks = sum(s.texts.n_chunks for s in segments)
        self.n_sentences = sum(s.texts.n_sentences for s in segments)
        # live documents: source -> (segment, local row); a later segment's version wins
        self.docs: dict[str, tuple[int, int]] = {}
        for k, seg in enumerate(segments):
            for row in range(seg.texts.n_docs):
                if row not in seg.deleted_docs:
                    self.docs[seg.texts.doc_source(row)] = (k, row)

    def chunk(self, row: int) -> tuple[Segment, int]:
        if not 0 <= row < self.n_chunks:
            raise IndexError(f"chunk row {row} out of range ({self.n_chunks})")
        k = bisect.bisect_right(self.chunk_bases, row) - 1
        return self.segments[k], row - self.chunk_bases[k]

    def sentence(self, row: int) -> tuple[Segment, int]:
        if not 0 <= row < self.n_sentences:
            raise IndexError(f"sentence row {row} out of range ({self.n_sentences})")
        k = bisect.bisect_right(self.sentence_bases, row) - 1
        return self.segments[k], row - self.sentence_bases[k]

    def doc(self, source: str) -> tuple[Segment, int] | None:
        at = self.docs.get(source) if isinstance(source, str) else None
        return (self.segments[at[0]], at[1]) if at is not None else None


class DocsView(Mapping):
    """index.docs: source -> Document (its text read on first use), live documents only."""

    def __init__(self, rows: Rows):
        self._rows = rows

    def __getitem__(self, source: str) -> Document:
        at = self._rows.doc(source)
        if at is None:
            raise KeyError(source)
        return at[0].texts.document(at[1])

    def __contains__(self, source) -> bool:
        return self._rows.doc(source) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._rows.docs))

    def __len__(self) -> int:
        return len(self._rows.docs)


class _RowsView(Sequence):
    """A global row space of one kind (chunks or sentences) read from the segments: slices,
    negative rows, iteration in row order."""

    def __init__(self, rows: Rows):
        self._rows = rows

    def _read(self, row: int):
        raise NotImplementedError

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        row = int(row)
        return self._read(row + len(self) if row < 0 else row)


class ChunksView(_RowsView):
    """index.chunks: global row -> Chunk (rows of deleted documents included: the row space)."""

    def __len__(self) -> int:
        return self._rows.n_chunks

    def _read(self, row: int) -> Chunk:
        seg, local = self._rows.chunk(row)
        return seg.texts.chunk(local)

    def __iter__(self) -> Iterator[Chunk]:
        for seg in self._rows.segments:
            yield from seg.texts.iter_chunks()


class SentencesView(_RowsView):
    """index.sentences: global row -> SentenceSpan."""

    def __len__(self) -> int:
        return self._rows.n_sentences

    def _read(self, row: int) -> SentenceSpan:
        seg, local = self._rows.sentence(row)
        return seg.texts.sentence(local)

    def __iter__(self) -> Iterator[SentenceSpan]:
        for seg in self._rows.segments:
            yield from seg.texts.iter_sentences()


class SentenceVectors:
    """index.sentence_vectors: rows of the segments' memory-mapped float16 files, by global row
    (an int, a slice within one segment, or a list of rows); float32 out."""

    def __init__(self, rows: Rows, dim: int):
        self._rows = rows
        self.shape = (rows.n_sentences, dim)
        self.dtype = np.dtype(np.float16)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            seg, local = self._rows.sentence(int(key))
            return np.asarray(seg.sentence_vectors[local], dtype=np.float32)
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if start >= stop:
                return np.zeros((0, self.shape[1]), np.float32)
            if step == 1:
                seg, local = self._rows.sentence(start)
                if stop - start <= seg.texts.n_sentences - local:  # within one segment: one read
                    return np.asarray(seg.sentence_vectors[local:local + stop - start], dtype=np.float32)
            key = range(start, stop, step)
        rows = np.asarray(list(key) if not isinstance(key, np.ndarray) else key, dtype=np.int64).reshape(-1)
        out = np.zeros((len(rows), self.shape[1]), np.float32)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"sentence rows out of range ({len(self)})")
        which = np.searchsorted(self._rows.sentence_bases, rows, side="right") - 1
        for k in np.unique(which):
            seg, mask = self._rows.segments[k], which == k
            out[mask] = seg.sentence_vectors[rows[mask] - seg.sentence_base]
        return out

    def __array__(self, dtype=None, copy=None):
        parts = [np.asarray(s.sentence_vectors, dtype=np.float32) for s in self._rows.segments]
        out = np.concatenate(parts) if parts else np.zeros(self.shape, np.float32)
        return out.astype(dtype) if dtype is not None else out
