"""The persisted index: chunk vector store + chunk store + sentence store + documents + manifest,
one generation at a time.

Layout of the index folder:
    CURRENT            name of the live generation (replaced atomically)
    gen-<id>/          manifest.json, docs.jsonl, chunks.jsonl, the chunk vector store (store.json +
                       vector_ids.txt + the backend's files: vectors.faiss for "flat", see
                       assistant/store/), sentences.jsonl + sentence_vectors.npy (one row per sentence)
    .lock              held while writing, so two processes (or UI tabs) never interleave

Sentences are what evidence is made of: the answer step scores the sentences of the retrieved
chunks against the question (dot products with these stored vectors, no model call) and gives the
model only the best ones. They are embedded at ingest, like chunks, and reused like chunks.

A write builds a complete new generation folder, fsyncs it, then swaps CURRENT with os.replace.
A process killed at any point leaves the previous generation live and loadable.

Re-ingest reuses the vectors of unchanged documents (same text hash, same chunk settings, same
embedder), embeds only new or changed ones, and drops documents that disappeared from the folder.
When only where chunks are cut changed (chunk size, overlap, chunker), every document is split
again and a chunk with the same span and context keeps its vector; sentences keep theirs.

Resumable ingest: the texts to embed are embedded in batches of EMBED_BATCH, and each finished
batch is checkpointed (np.save to a temp file, fsync, rename) into a work folder
`.ingest-<fingerprint>/` inside the index folder. The fingerprint covers the embedder name, the
chunk settings, the batch size and the exact list of distinct (title, text) pairs to embed (a
text that occurs more than once is embedded once), so only a rerun of the same ingest (same
documents, same embedder) reuses them. A killed ingest loses at most the
batch in progress: the rerun loads the finished batches (memory-mapped) and embeds the rest. The
work folder is deleted once the new generation is live. Vectors of finished batches live in those
files, not in memory, until the generation is assembled.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import lexical
from . import sentences as sentence_splitter
from .check import count_mismatch, disk_full_guard, reading
from .chunk import CHUNKER, chunk_document
from .embed import Embedder
from .errors import IndexStoreError
from .ingest import Problem
from .pages import page_at
from .metadata import DocMeta
from .store import VectorStore, build_store, discard, fsync_path, open_store, write_text
from .structure import Outline
from .types import Chunk, Document, SentenceSpan

FORMAT = 3  # 2: chunk context + sentence store; 3: PDF page offsets on documents, a page on each chunk
# Formats this version reads. A format-2 index has no pages (every page is None) and is migrated by
# the next ingest of its folder: unchanged documents keep their vectors, only the pages are added
# (see sync), so nobody has to re-embed for them.
READABLE_FORMATS = (2, 3)
# What a chunk is embedded as (see chunk_text / embed.document_text); a change re-embeds everything.
CHUNK_TEXT = "title-slot+context-v1"
# Chunking settings that, when unchanged, let a re-chunk keep the vectors of identical chunks.
RECHUNK_KEEPS = ("chunk_text", "sentences")
EMBED_BATCH = 256  # texts per embedding call and per checkpoint file
WORK_PREFIX = ".ingest-"

# Test hook: called with the name of a point in the write path ("checkpoint-tmp": a checkpoint's temp
# file is written but not yet renamed; "checkpoint": a checkpoint is in place; "generation": the new
# generation's files are half written; "generation-done": its folder is in place, CURRENT not yet
# swapped; "swap": CURRENT.tmp written, about to replace CURRENT; "swapped": CURRENT replaced, the work
# folder not yet removed). tests/test_faults.py kills the process at these points.
_fault_hook: Callable[[str], None] | None = None


def _point(name: str) -> None:
    if _fault_hook is not None:
        _fault_hook(name)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    chunks_total: int = 0
    rebuilt: str = ""  # why everything was re-embedded, if it was
    rechunked: str = ""  # why every document was split again (unchanged chunks kept their vectors)
    seconds: float = 0.0
    # Of the chunks + sentences embedded, how many vectors came from the checkpoints of an earlier,
    # interrupted run of the same ingest (the rest were computed now).
    resumed_texts: int = 0
    # Texts given to the embedder: chunks + sentences embedded, less repeats of an identical
    # (title, text) pair ("Antwoord.", a letterhead line, a one-sentence chunk), embedded once.
    texts_embedded: int = 0

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.removed)} removed",
            f"{len(self.unchanged)} unchanged",
            f"{self.chunks_embedded} chunks + {self.sentences_embedded} sentences embedded",
            f"{self.chunks_total} chunks in index",
        ]
        repeats = self.chunks_embedded + self.sentences_embedded - self.texts_embedded
        if self.texts_embedded and repeats > 0:
            parts.append(f"{repeats} repeated texts embedded once")
        if self.resumed_texts:
            parts.append(f"{self.resumed_texts} vectors resumed from an interrupted ingest")
        if self.problems:
            parts.append(f"{len(self.problems)} skipped")
        return ", ".join(parts) + f" ({self.seconds:.1f} s)"


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


def current_generation(index_dir: Path) -> Path | None:
    try:
        name = (Path(index_dir) / "CURRENT").read_text().strip()
    except OSError:
        return None
    path = Path(index_dir) / name
    return path if name and path.is_dir() else None


def exists(index_dir: Path) -> bool:
    return current_generation(index_dir) is not None


def _chunk_sentence_ranges(chunks: list[Chunk], sentences: list[SentenceSpan]) -> list[range]:
    """For each chunk, the sentence rows it holds. Sentences are stored grouped by document in
    text order, so each chunk's sentences are one contiguous range found by bisection."""
    import bisect

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


def store_file(gen: Path) -> str:
    """The file an error about the vector store should name: the FAISS file of a flat store,
    store.json for the others."""
    try:
        backend = json.loads((Path(gen) / "store.json").read_text()).get("backend")
    except (OSError, ValueError):
        backend = "flat"
    return "vectors.faiss" if backend == "flat" else "store.json"


def load(index_dir: Path, vector_store: str = "") -> Index:
    """The live generation. `vector_store` is the setting: a postgresql:// URL given there is used
    to reach a pgvector generation (the folder records the URL without its password)."""
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexStoreError(
            f"no index in {index_dir}: run `assistant ingest` first (it indexes the bundled seeds/ folder)."
        )
    # Each file is read under check.reading: a damaged or missing one is named in the error.
    with reading(gen, "manifest.json") as path:
        manifest = json.loads(path.read_text())
        if manifest.get("format") not in READABLE_FORMATS:
            raise IndexStoreError(f"index in {gen} is from another version of the assistant (format "
                                  f"{manifest.get('format')}, this one reads {' and '.join(map(str, READABLE_FORMATS))}); "
                                  "run `assistant ingest --rebuild`.")
    docs = {}
    with reading(gen, "docs.jsonl") as path:
        for line in path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            # JSON has lists; the frozen Document holds tuples
            d.update({k: tuple(d[k]) for k in ("pages", "ocr_pages") if k in d})
            d["meta"] = DocMeta.from_json(d.get("meta"))  # absent in indexes written before metadata
            docs[d["source"]] = Document(**d)
    with reading(gen, "chunks.jsonl") as path:
        chunks = [Chunk(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    with reading(gen, store_file(gen)) as path:
        store = open_store(gen, dsn=vector_store, ids=[c.id for c in chunks])
    with reading(gen, "sentences.jsonl") as path:
        sents = [SentenceSpan(*json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    with reading(gen, "sentence_vectors.npy") as path:
        svec = np.load(path, mmap_mode="r")
    mismatch = count_mismatch(gen, manifest, len(chunks), store.count(), len(sents), svec.shape[0])
    if mismatch is not None:
        store.close()
        raise mismatch
    return Index(manifest, docs, chunks, store, sents, svec, folder=gen)


@contextmanager
def write_lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def chunk_text(chunk: Chunk) -> str:
    """What the embedder sees besides the title (which goes in the model's title slot): the chunk's
    heading / Q&A question, then its text, so "Nee, dat is niet het geval." is embedded together
    with the question it answers."""
    return f"{chunk.context}\n{chunk.text}" if chunk.context else chunk.text


def _changed(was: dict, now: dict) -> str:
    return ", ".join(f"{k} {was.get(k)} -> {now.get(k)}" for k in now if was.get(k) != now.get(k))


def lexical_text(chunk: Chunk) -> str:
    """What BM25 matches: title, context and text (names in a title or heading count for the chunk)."""
    return "\n".join(p for p in (chunk.title, chunk.context, chunk.text) if p)


def document_chunks(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """A document's chunks, cut along its outline, each with its context and page."""
    outline = Outline(doc.text)
    return [Chunk(c.id, c.source, c.title, c.start, c.end, c.text, outline.context(c.start), page_at(doc.pages, c.start))
            for c in chunk_document(doc, chunk_size, chunk_overlap, [m.start for m in outline.marks])]


def split_document(doc: Document, chunk_size: int, chunk_overlap: int) -> tuple[list[Chunk], list[SentenceSpan]]:
    """A document's chunks (with their context) and sentences."""
    sents = [SentenceSpan(doc.source, a, b) for a, b in sentence_splitter.split(doc.text)]
    return document_chunks(doc, chunk_size, chunk_overlap), sents


def sync(
    index_dir: Path,
    docs: list[Document],
    embedder: Embedder,
    chunk_size: int,
    chunk_overlap: int,
    scope: str | None = None,
    problems: list[Problem] | None = None,
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
    _after_embed: Callable[[], None] | None = None,
    vector_store: str = "auto",
    batch_size: int = EMBED_BATCH,
) -> IngestReport:
    """Make the index hold exactly `docs` for `scope` (a source prefix), keeping other scopes.

    scope=None means the given docs are added/updated and nothing is removed (uploads).
    `vector_store` (flat | hnsw | auto | postgresql://...) is the backend the new generation's
    chunk vectors are written to (assistant/store/); reused vectors are copied, never re-embedded.
    New texts are embedded `batch_size` at a time, each batch checkpointed so that a rerun after a
    kill resumes (see the module docstring; report.resumed_texts counts the vectors reused).
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    report = IngestReport(problems=list(problems or []))
    with write_lock(index_dir):
        old = load(index_dir, vector_store) if exists(index_dir) and not rebuild else None
        settings = {"chunk_size": chunk_size, "chunk_overlap": chunk_overlap, "chunker": CHUNKER,
                    "chunk_text": CHUNK_TEXT, "sentences": sentence_splitter.SPLITTER}
        rechunk = False  # every document is split again; identical chunks and all sentences keep their vectors
        if old is not None:
            was = old.manifest["chunking"]
            if old.manifest["embedder"] != embedder.name:
                report.rebuilt = f"embedder changed ({old.manifest['embedder']} -> {embedder.name})"
                old = None
            elif was != settings and all(was.get(k) == settings[k] for k in RECHUNK_KEEPS):
                # Only where chunks are cut changed (size, overlap, chunker): the texts are embedded the
                # same way, so a chunk with the same span and context has the same vector.
                rechunk = True
                report.rechunked = f"chunk settings changed ({_changed(was, settings)})"
            elif was != settings:
                report.rebuilt = f"chunk settings changed ({_changed(was, settings)})"
                old = None
        elif rebuild:
            report.rebuilt = "requested"

        old_docs = old.docs if old else {}
        old_rows: dict[str, list[int]] = {}
        for i, c in enumerate(old.chunks if old else []):
            old_rows.setdefault(c.source, []).append(i)
        old_srows: dict[str, list[int]] = {}
        for i, sp in enumerate(old.sentences if old else []):
            old_srows.setdefault(sp.source, []).append(i)

        new_by_source = {d.source: d for d in docs}
        keep_docs: dict[str, Document] = {}
        for source, d in old_docs.items():
            in_scope = scope is not None and (source.startswith(scope + "/") or source == scope)
            if source in new_by_source:
                continue
            if in_scope:
                report.removed.append(source)
            else:
                keep_docs[source] = d

        # Rows to reuse, and chunks / sentences to embed.
        chunks: list[Chunk] = []
        reuse_rows: list[int | None] = []
        to_embed: list[int] = []
        sents: list[SentenceSpan] = []
        reuse_srows: list[int | None] = []
        s_to_embed: list[int] = []
        for source, d in {**keep_docs, **new_by_source}.items():
            prev = old_docs.get(source)
            if prev is not None and prev.sha256 == d.sha256 and prev.title == d.title:
                if rechunk:  # split again; a chunk with the same span and context keeps its vector
                    old_by_span = {(old.chunks[r].start, old.chunks[r].end, old.chunks[r].context): r
                                   for r in old_rows.get(source, [])}
                    for c in document_chunks(d, chunk_size, chunk_overlap):  # sentences are kept as they are
                        row = old_by_span.get((c.start, c.end, c.context))
                        if row is None:
                            to_embed.append(len(chunks))
                        chunks.append(c)
                        reuse_rows.append(row)
                else:
                    for row in old_rows.get(source, []):
                        c = old.chunks[row]
                        # Same text, same vectors; the page comes from the document as read now, which
                        # gives pages to the chunks of an index written before they were recorded.
                        page = page_at(d.pages, c.start)
                        chunks.append(c if c.page == page else replace(c, page=page))
                        reuse_rows.append(row)
                for row in old_srows.get(source, []):
                    sents.append(old.sentences[row])
                    reuse_srows.append(row)
                if source in new_by_source:
                    report.unchanged.append(source)
                continue
            (report.updated if prev is not None else report.added).append(source)
            doc_chunks, doc_sents = split_document(d, chunk_size, chunk_overlap)
            for c in doc_chunks:
                to_embed.append(len(chunks))
                chunks.append(c)
                reuse_rows.append(None)
            for sp in doc_sents:
                s_to_embed.append(len(sents))
                sents.append(sp)
                reuse_srows.append(None)

        all_docs = {**keep_docs, **new_by_source}
        # The texts to embed, chunks then sentences. Identical (title, text) pairs get identical
        # vectors, so each is embedded once (`unique`) and copied to every row that has it.
        items = [(chunks[i].title, chunk_text(chunks[i])) for i in to_embed]
        items += [(all_docs[sents[i].source].title, all_docs[sents[i].source].text[sents[i].start:sents[i].end])
                  for i in s_to_embed]
        first: dict[tuple[str, str], int] = {}
        item_unique = np.fromiter((first.setdefault(it, len(first)) for it in items), dtype=np.int64, count=len(items))
        unique = list(first)
        total = len(unique)
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        if progress:
            progress(0, total)
        # Nothing to embed: the model is never loaded (warm re-ingest stays instant).
        work = _work_folder(index_dir, embedder.name, settings, unique, batch_size)
        with disk_full_guard(index_dir):  # a full disk while checkpointing: the same clear error
            batches, report.resumed_texts = _embed_checkpointed(work, embedder, unique, batch_size, tick)
        report.texts_embedded = len(unique)
        if _after_embed:
            _after_embed()  # test hook: lets a test kill the process mid-write
        if batches:
            dim = int(np.load(batches[0], mmap_mode="r").shape[1])
        elif old is not None:
            dim = int(old.manifest["dim"])
        else:  # an empty index from scratch
            dim = embedder.dim
        reused = [r for r in reuse_rows if r is not None]
        old_vectors = dict(zip(reused, old.vectors(reused))) if old and reused else None
        vectors = _assemble(len(chunks), dim, reuse_rows, old_vectors)
        s_vectors = _assemble(len(sents), dim, reuse_srows, old.sentence_vectors if old else None)
        # Fresh vectors: item p is chunk row to_embed[p], then sentence row s_to_embed[p - nc], and its
        # vector is row item_unique[p] of the checkpoints; one memory-mapped checkpoint at a time.
        nc, rows = len(to_embed), np.asarray(to_embed + s_to_embed, dtype=np.int64)
        by_unique = np.argsort(item_unique, kind="stable")
        sorted_unique = item_unique[by_unique]
        for k, path in enumerate(batches):
            part = np.load(path, mmap_mode="r")
            lo, hi = k * batch_size, k * batch_size + part.shape[0]
            a, b = np.searchsorted(sorted_unique, [lo, hi])
            ps = by_unique[a:b]  # the items whose text is in this checkpoint
            fresh = np.asarray(part[item_unique[ps] - lo])
            is_chunk = ps < nc
            vectors[rows[ps[is_chunk]]] = fresh[is_chunk]
            s_vectors[rows[ps[~is_chunk]]] = fresh[~is_chunk]
            del part, fresh

        report.chunks_embedded = len(to_embed)
        report.sentences_embedded = len(s_to_embed)
        report.chunks_total = len(chunks)
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        # When each document first entered the index (kept across generations; "" when it came in
        # before this was recorded): the document list in the browser and `assistant docs list`.
        added_at = old.manifest.get("added", {}) if old is not None else {}
        new_sources = set(report.added)
        manifest = {
            "format": FORMAT,
            "generation": "",
            "embedder": embedder.name,
            "dim": dim,
            "chunking": settings,
            "chunks": len(chunks),
            "sentences": len(sents),
            "documents": {s: d.sha256 for s, d in sorted(all_docs.items())},
            "updated": now,
            "added": {s: added_at.get(s, now if s in new_sources else "") for s in sorted(all_docs)},
        }
        if old is not None:
            old.store.close()
        with disk_full_guard(index_dir):  # disk full: one clear error, the half-written generation removed
            _write_generation(index_dir, manifest, all_docs, chunks, vectors, sents, s_vectors, vector_store)
        _point("swapped")
        # The generation is live: checkpoints (this run's, and any of an ingest that never finished)
        # are garbage.
        for p in index_dir.iterdir():
            if p.is_dir() and p.name.startswith(WORK_PREFIX):
                shutil.rmtree(p, ignore_errors=True)
    report.seconds = time.perf_counter() - t0
    return report


def _work_folder(index_dir: Path, embedder_name: str, settings: dict, items: list[tuple[str, str]],
                 batch_size: int) -> Path:
    """The checkpoint folder of exactly this embedding job: another embedder, other chunk settings
    or any other text (or order of texts) gives another folder, so stale vectors are never reused."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT, "embedder": embedder_name, "chunking": settings, "batch": batch_size,
                         "texts": len(items)}, sort_keys=True).encode())
    for title, text in items:
        for part in (title, text):
            b = part.encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    return Path(index_dir) / f"{WORK_PREFIX}{h.hexdigest()[:24]}"


def _embed_checkpointed(work: Path, embedder: Embedder, items: list[tuple[str, str]], batch_size: int,
                        tick: Callable[[int], None]) -> tuple[list[Path], int]:
    """Embed `items` in batches into checkpoint files work/batch-NNNNNN.npy (one per batch, in
    order), reusing the files an interrupted run of the same job left. Returns the files and how
    many vectors were reused. Only one batch of vectors is in memory at a time."""
    if not items:
        return [], 0
    # Checkpoints of another job (an ingest interrupted and then changed, another embedder) can
    # never be used by this one: free their space first.
    for p in work.parent.iterdir():
        if p.is_dir() and p.name.startswith(WORK_PREFIX) and p != work:
            shutil.rmtree(p, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    paths, resumed, dim = [], 0, None
    for k, lo in enumerate(range(0, len(items), batch_size)):
        batch = items[lo:lo + batch_size]
        path = work / f"batch-{k:06d}.npy"
        paths.append(path)
        done = _load_checkpoint(path, len(batch), dim)
        if done is not None:
            dim = done
            resumed += len(batch)
            tick(len(batch))
            continue
        vecs = np.ascontiguousarray(embedder.embed_documents([t for _, t in batch], progress=tick,
                                                             titles=[title for title, _ in batch]), dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[0] != len(batch):
            raise IndexStoreError(f"the embedder {embedder.name} returned {vecs.shape} vectors for {len(batch)} texts")
        dim = int(vecs.shape[1])
        tmp = path.with_name(path.name + ".tmp")
        try:
            _save_checkpoint(tmp, vecs)
        except BaseException as e:
            tmp.unlink(missing_ok=True)  # a full disk: give back the space of the partial file
            if isinstance(e, OSError) and e.errno is not None and not e.filename:
                e.filename = str(tmp)  # named in the disk-full message
            raise
        _point("checkpoint-tmp")
        os.replace(tmp, path)
        fsync_path(work)
        _point("checkpoint")
        del vecs
    return paths, resumed


def _save_checkpoint(path: Path, vecs: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.lib.format.write_array(f, vecs, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def _load_checkpoint(path: Path, rows: int, dim: int | None) -> int | None:
    """The vector width of a finished checkpoint with `rows` finite rows (of width `dim` when
    known), or None when there is none or it is unusable (then the batch is embedded again)."""
    try:
        part = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if part.ndim != 2 or part.shape[0] != rows or (dim is not None and part.shape[1] != dim) \
            or not np.isfinite(part).all():
        return None
    return int(part.shape[1])


def _assemble(n: int, dim: int, reuse_rows: list[int | None], old_vectors) -> np.ndarray:
    """The new matrix with row i = row reuse_rows[i] of the old one where it is reused (zeros
    elsewhere, filled with fresh vectors by the caller)."""
    out = np.zeros((n, dim), dtype=np.float32)
    for i, row in enumerate(reuse_rows):
        if row is not None:
            out[i] = old_vectors[row]
    return out


def _write_generation(index_dir: Path, manifest: dict, docs: dict[str, Document], chunks: list[Chunk],
                      vectors: np.ndarray, sents: list[SentenceSpan], s_vectors: np.ndarray,
                      vector_store: str = "auto") -> None:
    name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    # A database store gets one table per generation; its name says which index folder it is for.
    store = build_store(vector_store, [c.id for c in chunks], vectors, tmp,
                        name=f"{_folder_tag(index_dir)}_{name}")
    store.close()
    lexical.write_stored(tmp / lexical.FILE, [lexical_text(c) for c in chunks])
    manifest = {**manifest, "generation": name, "vector_store": store.kind}
    write_text(tmp / "docs.jsonl", "".join(json.dumps(asdict(d), ensure_ascii=False) + "\n" for d in docs.values()))
    write_text(tmp / "chunks.jsonl", "".join(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in chunks))
    _point("generation")
    write_text(tmp / "sentences.jsonl", "".join(json.dumps([sp.source, sp.start, sp.end], ensure_ascii=False) + "\n" for sp in sents))
    with open(tmp / "sentence_vectors.npy", "wb") as f:
        np.save(f, np.ascontiguousarray(s_vectors, dtype=np.float32))
        f.flush()
        os.fsync(f.fileno())
    write_text(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    for p in tmp.iterdir():
        fsync_path(p)
    os.replace(tmp, index_dir / name)
    fsync_path(index_dir)
    _point("generation-done")
    pointer = index_dir / "CURRENT.tmp"
    write_text(pointer, name + "\n")
    _point("swap")
    os.replace(pointer, index_dir / "CURRENT")
    fsync_path(index_dir)
    # Old generations and leftovers of killed writes are garbage now (a database table of an old
    # generation goes with its folder).
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != name and (p.name.startswith("gen-") or p.name.startswith(".tmp-")):
            discard(p, vector_store)
            shutil.rmtree(p, ignore_errors=True)


def _folder_tag(index_dir: Path) -> str:
    import hashlib

    return hashlib.sha256(str(Path(index_dir).resolve()).encode()).hexdigest()[:8]
