"""The text side of a generation on disk: documents, chunks and sentences in one SQLite file
(texts.sqlite), read by row or source on demand.

A process used to read docs.jsonl, chunks.jsonl and sentences.jsonl whole at start: at a million
chunks and several million sentences that is gigabytes of Python objects and many seconds before the
first search. Here a search touches only the rows it needs (a few dozen chunks, a few hundred
sentences), so memory and start-up stay the same whatever the size of the index.

    docs       row, source (unique), title, sha256, pages / ocr_pages / meta (JSON), text, and the
               rows of its chunks [chunk_lo, chunk_hi) and sentences [sent_lo, sent_hi)
    chunks     row (= the chunk's place in the generation, BM25's rowid), id (unique), doc, title,
               start, end, text, context, page, and the rows of the sentences it holds
    sentences  row (= the row of its vector in sentence_vectors.npy), doc, start, end
    meta       format, counts

Rows of one document are contiguous (documents are written one after the other), so "the sentences
of a document" or "of a chunk" is a range, stored with it: nothing is computed over all rows at
start. SQLite is the store because it gives random access by key, atomic files and integrity checks
without a server; a generation never changes once written, so readers open it immutable.
"""

from __future__ import annotations

import bisect
import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence  # noqa: F401
from dataclasses import fields
from pathlib import Path

from ..lexical import read_only_uri
from ..metadata import DocMeta
from ..types import Chunk, Document, SentenceSpan

FILE = "texts.sqlite"
# 2: document texts in their own table (reading the documents' metadata at start used to walk every
# text's overflow pages: 0.4 s at 50,000 documents); schema 1 files are read as they are
SCHEMA = 2

_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value);
CREATE TABLE docs (row INTEGER PRIMARY KEY, source TEXT NOT NULL UNIQUE, title TEXT NOT NULL, sha256 TEXT NOT NULL,
                   pages TEXT NOT NULL, ocr_pages TEXT NOT NULL, meta TEXT,
                   chunk_lo INTEGER NOT NULL, chunk_hi INTEGER NOT NULL, sent_lo INTEGER NOT NULL, sent_hi INTEGER NOT NULL);
CREATE TABLE doc_texts (row INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, id TEXT NOT NULL, doc INTEGER NOT NULL, title TEXT NOT NULL,
                     start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, context TEXT NOT NULL,
                     page INTEGER, sent_lo INTEGER NOT NULL, sent_hi INTEGER NOT NULL);
CREATE TABLE sentences (row INTEGER PRIMARY KEY, doc INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL);
"""
BATCH = 20_000  # rows per INSERT batch: memory stays bounded while a large generation is written


def chunk_sentence_rows(chunks: Sequence[Chunk], sentences: Sequence[SentenceSpan], base: int) -> list[tuple[int, int]]:
    """For each chunk of one document, the sentence rows [lo, hi) it holds: the sentences whose
    midpoint lies inside it (`sentences` are the document's, in text order, from row `base`)."""
    starts = [s.start for s in sentences]
    ends = [s.end for s in sentences]
    out = []
    for c in chunks:
        lo = bisect.bisect_left(ends, c.start + 1)
        hi = bisect.bisect_left(starts, c.end)
        rows = [k for k in range(lo, hi) if c.start <= (starts[k] + ends[k]) // 2 < c.end]
        out.append((base + rows[0], base + rows[-1] + 1) if rows else (0, 0))
    return out


class TextWriter:
    """Writes texts.sqlite document by document (`add`), then `close()` makes it durable. The file
    is written under a temporary name and renamed when complete."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        if self._tmp.exists():
            self._tmp.unlink()
        self._conn = sqlite3.connect(self._tmp)
        # One writer, a new file: no journal needed (a crash leaves a .tmp file that is never read).
        self._conn.execute("PRAGMA journal_mode=OFF")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.executescript(_DDL)
        self.docs = self.chunks = self.sentences = 0
        self._pending: dict[str, list] = {"docs": [], "doc_texts": [], "chunks": [], "sentences": []}

    def add(self, doc: Document, chunks: Sequence[Chunk], sentences: Sequence[SentenceSpan]) -> None:
        """One document with its chunks and sentences (in text order); their rows follow the ones
        written before."""
        d, c0, s0 = self.docs, self.chunks, self.sentences
        ranges = chunk_sentence_rows(chunks, sentences, s0)
        self._pending["docs"].append((d, doc.source, doc.title, doc.sha256, json.dumps(list(doc.pages)),
                                      json.dumps(list(doc.ocr_pages)),
                                      json.dumps(doc.meta.to_json(), ensure_ascii=False),
                                      c0, c0 + len(chunks), s0, s0 + len(sentences)))
        self._pending["doc_texts"].append((d, doc.text))
        for k, (c, (lo, hi)) in enumerate(zip(chunks, ranges)):
            self._pending["chunks"].append((c0 + k, c.id, d, c.title, c.start, c.end, c.text, c.context, c.page, lo, hi))
        for k, s in enumerate(sentences):
            self._pending["sentences"].append((s0 + k, d, s.start, s.end))
        self.docs, self.chunks, self.sentences = d + 1, c0 + len(chunks), s0 + len(sentences)
        if sum(len(v) for v in self._pending.values()) >= BATCH:
            self._write(self._flush)

    def _write(self, step) -> None:
        """Run a step that writes the file; an SQLite error names the file (a full disk is reported
        as "disk full while writing texts.sqlite.tmp", diskfull.py)."""
        try:
            step()
        except sqlite3.Error as e:
            e.filename = str(self._tmp)
            raise

    def _flush(self) -> None:
        p = self._pending
        self._conn.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?,?)", p["docs"])
        self._conn.executemany("INSERT INTO doc_texts VALUES (?,?)", p["doc_texts"])
        self._conn.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?)", p["chunks"])
        self._conn.executemany("INSERT INTO sentences VALUES (?,?,?,?)", p["sentences"])
        for v in p.values():
            v.clear()

    def close(self) -> None:
        self._write(self._finish)
        self._conn.close()
        with open(self._tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self._tmp, self.path)

    def _finish(self) -> None:
        self._flush()
        self._conn.execute("CREATE UNIQUE INDEX chunks_id ON chunks(id)")
        self._conn.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("schema", SCHEMA), ("docs", self.docs), ("chunks", self.chunks), ("sentences", self.sentences)])
        self._conn.commit()

    def abort(self) -> None:
        try:
            self._conn.close()
        finally:
            self._tmp.unlink(missing_ok=True)


def write(path: Path, docs: Mapping[str, Document], chunks: Sequence[Chunk], sentences: Sequence[SentenceSpan]) -> None:
    """texts.sqlite of a generation from its rows: chunks and sentences grouped by document in the
    order of `docs` (as plan.Plan gives them)."""
    writer = TextWriter(path)
    try:
        for source, (c, s) in grouped(docs, chunks, sentences).items():
            writer.add(docs[source], chunks[c.start:c.stop], sentences[s.start:s.stop])
        writer.close()
    except BaseException:
        writer.abort()
        raise


def grouped(docs: Mapping[str, Document], chunks: Sequence[Chunk],
            sentences: Sequence[SentenceSpan]) -> dict[str, tuple[range, range]]:
    """Each document's rows of `chunks` and of `sentences`, which are grouped by document in the
    order of `docs` (as plan.Plan gives them)."""
    out: dict[str, tuple[range, range]] = {}
    c_at = s_at = 0
    for source in docs:
        c_end = c_at
        while c_end < len(chunks) and chunks[c_end].source == source:
            c_end += 1
        s_end = s_at
        while s_end < len(sentences) and sentences[s_end].source == source:
            s_end += 1
        out[source] = (range(c_at, c_end), range(s_at, s_end))
        c_at, s_at = c_end, s_end
    if c_at != len(chunks) or s_at != len(sentences):
        raise ValueError(f"chunks/sentences not grouped in the order of the documents (row {c_at} / {s_at})")
    return out


class _Lru(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def put(self, key, value):
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class StoredDocument(Document):
    """A Document whose text is read from texts.sqlite when first used: listing thousands of
    documents (filters, the document list) reads their metadata only. Equal to, and usable
    everywhere as, the Document it stands for."""

    def __init__(self, *, store: "TextStore | None" = None, row: int = -1, **values):
        text = values.pop("text", None)
        for f in fields(Document):
            if f.name != "text":
                object.__setattr__(self, f.name, values[f.name] if f.name in values else f.default)
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_row", row)
        object.__setattr__(self, "_text", text)

    @property
    def text(self) -> str:  # type: ignore[override]
        # not kept here: the store keeps the last few texts read, so cached documents stay small
        return self._text if self._text is not None else self._store.doc_text(self._row)

    def __eq__(self, other):  # equal to a plain Document with the same values (dataclass eq wants one class)
        if not isinstance(other, Document):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(Document))

    __hash__ = Document.__hash__

    def __reduce__(self):  # pickles (and copies) as the plain Document it stands for
        return (_plain, (self.source, self.title, self.text, self.sha256, self.pages, self.ocr_pages, self.meta))


def _plain(*args) -> Document:
    return Document(*args)


class TextStore:
    """A generation's texts.sqlite, read-only. Thread-safe: one connection under a lock (queries are
    by key and take microseconds)."""

    def __init__(self, path: Path, immutable: bool = True):
        self.path = Path(path)
        self._conn = sqlite3.connect(read_only_uri(self.path, immutable=immutable), uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        self._start(int(meta["docs"]), int(meta["chunks"]), int(meta["sentences"]),
                    "doc_texts" if int(meta.get("schema", 1)) >= 2 else "docs")

    def _start(self, n_docs: int, n_chunks: int, n_sentences: int, text_table: str) -> None:
        """Counts and empty caches: a store over other tables (index/shared/texts.py) starts the same."""
        self.n_docs, self.n_chunks, self.n_sentences = n_docs, n_chunks, n_sentences
        self._text_table = text_table
        self._chunks = _Lru(8192)
        self._sentences = _Lru(65536)
        self._texts = _Lru(32)
        self._documents = _Lru(1024)  # metadata only (texts: _texts)
        self._docs: list[tuple] | None = None  # (source, title, sha256, pages, ocr_pages, meta, chunk/sent rows)

    def query(self, sql: str, args=()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        self._conn.close()

    # -- documents: their metadata is small and read once; texts on demand -------------------------
    def _doc_rows(self) -> list[tuple]:
        if self._docs is None:
            rows = self.query("SELECT source, title, sha256, pages, ocr_pages, meta, chunk_lo, chunk_hi, sent_lo, sent_hi "
                              "FROM docs ORDER BY row")
            self._docs = rows
        return self._docs

    def doc_source(self, row: int) -> str:
        return self._doc_rows()[row][0]

    def document(self, row: int) -> StoredDocument:
        doc = self._documents.get(row)  # evidence asks for the same few documents many times a question
        if doc is None:
            source, title, sha, pages, ocr, meta = self._doc_rows()[row][:6]
            doc = self._documents.put(row, StoredDocument(
                store=self, row=row, source=source, title=title, sha256=sha, pages=tuple(json.loads(pages)),
                ocr_pages=tuple(json.loads(ocr)), meta=DocMeta.from_json(json.loads(meta) if meta else None),
                text=None))
        return doc

    def doc_text(self, row: int) -> str:
        text = self._texts.get(row)
        if text is None:
            text = self._texts.put(row, self.query(f"SELECT text FROM {self._text_table} WHERE row = ?", (row,))[0][0])
        return text

    def doc_chunk_rows(self, row: int) -> range:
        r = self._doc_rows()[row]
        return range(r[6], r[7])

    def doc_sentence_rows(self, row: int) -> range:
        r = self._doc_rows()[row]
        return range(r[8], r[9])

    # -- chunks and sentences by row ---------------------------------------------------------------
    def chunk(self, row: int) -> Chunk:
        c = self._chunks.get(row)
        return c[0] if c is not None else self.chunks_at([row])[0]

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        """Several chunks in one query (a search's hits)."""
        return [c for c, _ in self._chunk_entries(rows)]

    def _chunk_entries(self, rows: Sequence[int]) -> list[tuple[Chunk, range]]:
        rows = [int(r) for r in rows]
        # Answered from what this call read, not from the cache: a call for more rows than the
        # cache holds, or another thread's reads, can drop entries from it at any moment.
        got = {}
        for r in rows:
            entry = self._chunks.get(r)
            if entry is not None:
                got[r] = entry
        missing = sorted(set(rows) - set(got))
        for at in range(0, len(missing), 500):
            part = missing[at:at + 500]
            found = self.query(
                'SELECT c.row, c.id, d.source, c.title, c.start, c."end", c.text, c.context, c.page, c.sent_lo, c.sent_hi '
                f"FROM chunks c JOIN docs d ON d.row = c.doc WHERE c.row IN ({','.join('?' * len(part))})", part)
            for row, *values, lo, hi in found:
                got[row] = self._chunks.put(row, (Chunk(*values), range(lo, hi)))
        out = []
        for r in rows:
            if r not in got:
                raise IndexError(f"chunk row {r} is not in {self.path} ({self.n_chunks} chunks)")
            out.append(got[r])
        return out

    def chunk_sentences(self, row: int) -> range:
        c = self._chunks.get(int(row))
        return c[1] if c is not None else self._chunk_entries([row])[0][1]

    def rows_of_ids(self, ids: Sequence[str]) -> list[int | None]:
        """The rows of these chunk ids (None for an id not in the generation)."""
        found: dict[str, int] = {}
        ids = list(ids)
        for at in range(0, len(ids), 500):
            part = ids[at:at + 500]
            found.update(self.query(f"SELECT id, row FROM chunks WHERE id IN ({','.join('?' * len(part))})", part))
        return [found.get(i) for i in ids]

    def sentence(self, row: int) -> SentenceSpan:
        s = self._sentences.get(row)
        if s is None:
            if not 0 <= row < self.n_sentences:
                raise IndexError(f"sentence row {row} out of range ({self.n_sentences})")
            # read the neighbours too: evidence walks a sentence's window and its document
            lo = max(0, row - 16)
            for r, doc, a, b in self.query('SELECT row, doc, start, "end" FROM sentences WHERE row BETWEEN ? AND ?',
                                           (lo, row + 64)):
                span = self._sentences.put(r, SentenceSpan(self._doc_rows()[doc][0], a, b))
                if r == row:
                    s = span
        return s

    def sentences_in(self, rows: range) -> list[SentenceSpan]:
        """The sentences of a range of rows (a document's), in one query, not cached (a whole-index
        pass: compaction)."""
        docs = self._doc_rows()
        return [SentenceSpan(docs[doc][0], a, b) for doc, a, b in self.query(
            'SELECT doc, start, "end" FROM sentences WHERE row >= ? AND row < ? ORDER BY row', (rows.start, rows.stop))]

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every chunk in row order, read in blocks (for whole-index passes: check, re-ingest)."""
        for lo in range(0, self.n_chunks, BATCH):
            yield from self.chunks_at(range(lo, min(lo + BATCH, self.n_chunks)))

    def iter_sentences(self) -> Iterator[SentenceSpan]:
        docs = self._doc_rows()
        last = -1
        while True:
            rows = self.query('SELECT row, doc, start, "end" FROM sentences WHERE row > ? ORDER BY row LIMIT ?',
                              (last, BATCH))
            if not rows:
                return
            for r, doc, a, b in rows:
                yield SentenceSpan(docs[doc][0], a, b)
            last = rows[-1][0]
