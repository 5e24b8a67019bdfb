"""Writing the index: `sync` makes the index hold exactly the given documents for a scope, as a new
generation, under the index's write lock.

A write builds a complete new generation folder beside the live one, fsyncs it, then swaps CURRENT
with os.replace (layout.py). A process killed at any point leaves the previous generation live and
loadable; a full disk removes the half-written folder and says which file and folder
(diskfull.py). What is kept and what is embedded is plan.py's; the texts to embed are embedded in
checkpointed batches (checkpoints.py), so a rerun after a kill resumes.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .. import lexical
from ..embed import Embedder
from ..ingest import Problem
from ..errors import IndexStoreError
from ..store import META, backend, build_store, fsync_path, is_dsn, kind_for, read_meta
from ..store.pages import trim_heap
from ..types import Chunk, Document, SentenceSpan
from . import checkpoints
from .compact import fold
from .checkpoints import EMBED_BATCH
from .diskfull import allocated, disk_full_guard
from .hooks import point
from . import textstore
from .lock import write_lock
from .sentence_vectors import drop_pages
from .layout import (FORMAT, SENTENCE_VECTORS, TEXTS, TMP_PREFIX, exists, folder_tag, new_generation_name, publish,
                     write_manifest)
from .plan import Delta, Plan, delta, plan, reuse
from .segment import SegmentEntry, entries
from .reader import Index, load
from .texts import chunking, lexical_text


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
    # Where the generation was published, when the index is shared (index/shared/publish.py)
    published: str = ""
    # Segments folded into one by this write (compact.py), 0 when it appended or wrote from a plan
    compacted: int = 0

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
        skipped = [p for p in self.problems if not getattr(p, "kept", False)]
        if skipped:
            parts.append(f"{len(skipped)} skipped")
        if len(skipped) < len(self.problems):  # notes on documents indexed all the same (a Woo bundle kept whole)
            parts.append(f"{len(self.problems) - len(skipped)} kept whole")
        if self.compacted > 1:
            parts.append(f"{self.compacted} segments compacted into one")
        if self.published:
            parts.append(self.published)
        return ", ".join(parts) + f" ({self.seconds:.1f} s)"


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
    vector_store: str | None = None,
    batch_size: int = EMBED_BATCH,
    compact: bool = False,
) -> IngestReport:
    """Make the index hold exactly `docs` for `scope` (a source prefix), keeping other scopes.

    scope=None means the given docs are added/updated and nothing is removed (uploads).
    `vector_store` (flat | hnsw | auto | postgresql://...) is the backend the new generation's
    chunk vectors are written to (assistant/store/); reused vectors are copied, never re-embedded.
    New texts are embedded `batch_size` at a time, each batch checkpointed so that a rerun after a
    kill resumes (checkpoints.py; report.resumed_texts counts the vectors reused).
    `compact` writes the index as one segment even where appending one would do (compact.py).
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    report = IngestReport(problems=list(problems or []))
    with write_lock(index_dir):
        settings = chunking(chunk_size, chunk_overlap)
        old = load(index_dir, vector_store or "") if exists(index_dir) and not rebuild else None
        how = reuse(old.manifest if old is not None else None, embedder.name, settings, rebuild)
        report.rebuilt, report.rechunked = how.rebuilt, how.rechunked
        if old is not None and not how.keep:
            old.close()
            old = None
        if old is not None and not how.rechunk and _can_append(old, vector_store):
            change = delta(old, docs, scope, chunk_size, chunk_overlap)
            if _should_append(old, change) and not compact:
                _append(index_dir, old, change, embedder, settings, batch_size, progress, report, _after_embed,
                        vector_store)
            else:  # segments or deleted rows piled up: one segment again, streamed from the files
                _compact(index_dir, old, change, [d.source for d in docs], embedder, settings, batch_size, progress,
                         report, _after_embed, vector_store)
            report.seconds = time.perf_counter() - t0
            return report
        new = plan(old, docs, scope, chunk_size, chunk_overlap, how.rechunk)
        report.added, report.updated = list(new.added), list(new.updated)
        report.removed, report.unchanged = list(new.removed), list(new.unchanged)

        vectors, s_vectors = _vectors(index_dir, new, old, embedder, settings, batch_size, progress, report,
                                      _after_embed)
        report.chunks_embedded = len(new.embed_chunks)
        report.sentences_embedded = len(new.embed_sentences)
        report.chunks_total = len(new.chunks)
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        # When each document first entered the index (kept across generations; "" when it came in
        # before this was recorded): the document list in the browser and `assistant docs list`.
        added_at = old.manifest.get("added", {}) if old is not None else {}
        new_sources = set(report.added)
        manifest = {
            "format": FORMAT,
            "generation": "",
            "embedder": embedder.name,
            "dim": int(vectors.shape[1]),
            "chunking": settings,
            "chunks": len(new.chunks),
            "sentences": len(new.sentences),
            "documents": {s: d.sha256 for s, d in sorted(new.docs.items())},
            "updated": now,
            "added": {s: added_at.get(s, now if s in new_sources else "") for s in sorted(new.docs)},
        }
        # Let go of the old generation's files (its texts, memory-mapped sentence vectors) once the
        # new one's texts are written (kept documents read theirs from it) and before the write
        # deletes its folder: Windows cannot delete a file that is open or mapped.
        release = old.close if old is not None else None
        old_index, old = old, None  # read by the BM25 writer (kept chunks' tokens), released after
        with disk_full_guard(index_dir):  # disk full: one clear error, the half-written generation removed
            _write_generation(index_dir, manifest, new.docs, list(new.chunks), vectors, list(new.sentences),
                              s_vectors, vector_store, release, _token_rows(new, old_index))
        point("swapped")
        # The generation is live: checkpoints (this run's, and any of an ingest that never finished)
        # are garbage.
        checkpoints.clear(index_dir)
    report.seconds = time.perf_counter() - t0
    return report


# When a write appends a segment instead of writing everything again (segment.py): the index holds
# at least APPEND_MIN_CHUNKS chunks (below that a full write takes seconds and keeps one segment),
# and after the write at most MAX_SEGMENTS segments, at most MAX_DEAD of the rows deleted, and the
# new segment no larger than what is kept. Otherwise the segments are compacted into one, streamed
# from their files (compact.py; a write from a plan only below APPEND_MIN_CHUNKS). Each
# segment costs a search a few tenths of a millisecond; a full write of a million chunks costs
# minutes, so uploads into a large index compact only every MAX_SEGMENTS - 1 of them.
APPEND_MIN_CHUNKS = 2_000
MAX_SEGMENTS = 32
MAX_DEAD = 0.2


def _can_append(old: Index, vector_store: str | None) -> bool:
    """A database store keeps one table per generation (no shared segments); a change of the
    `vector_store` setting takes effect by a full write."""
    if is_dsn(vector_store or "") or any(seg.store.kind == "pgvector" for seg in old.segments):
        return False
    if not all((seg.folder / lexical.FILE).is_file() for seg in old.segments):
        return False  # a generation from before lexical.sqlite: BM25 over segments needs each one's file
    live = len(old.chunks) - old.dead_chunks
    return len(old.chunks) >= APPEND_MIN_CHUNKS and kind_for(vector_store or "auto", live) == old.store.kind


def _dead_after(old: Index, change: Delta) -> int:
    """Deleted chunk rows of the kept segments once `change` is written."""
    return old.dead_chunks + sum(len(old.segments[k].texts.doc_chunk_rows(row)) for k, row in change.deleted)


def _should_append(old: Index, change: Delta) -> bool:
    rows = len(old.chunks) + len(change.plan.chunks)
    dead = _dead_after(old, change)
    segments = len(old.segments) + (1 if change.plan.docs else 0)
    return dead <= MAX_DEAD * rows and segments <= MAX_SEGMENTS and len(change.plan.chunks) <= len(old.chunks) - dead


def _append(index_dir: Path, old: Index, change: Delta, embedder: Embedder, settings: dict, batch_size: int,
            progress: Callable[[int, int], None] | None, report: IngestReport,
            after_embed: Callable[[], None] | None, vector_store: str | None) -> None:
    """Write a generation that keeps the previous one's segments (hard links: nothing is copied or
    re-read) plus one new segment holding the given new and changed documents, with the old
    versions of changed and removed documents marked deleted. Published like a full write, so a
    kill at any point leaves the previous generation live."""
    new = change.plan
    vectors, s_vectors = _embed_change(index_dir, old, change, embedder, settings, batch_size, progress, report,
                                       after_embed)
    name = new_generation_name()
    seg_dir = f"seg-{name[len('gen-'):]}"
    gone: dict[int, set[int]] = {}
    for k, row in change.deleted:
        gone.setdefault(k, set()).add(row)
    segs = [replace(e, deleted=tuple(sorted(set(e.deleted) | gone.get(k, set()))))
            for k, e in enumerate(entries(old.manifest))]
    if new.docs:
        segs.append(SegmentEntry(seg_dir, len(new.docs), len(new.chunks), len(new.sentences), origin=name))
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    documents, added_at = _documents_after(old, change, now)
    manifest = {**{k: v for k, v in old.manifest.items() if k not in ("upgraded_from",)},
                "format": FORMAT, "generation": name, "documents": documents, "updated": now, "added": added_at,
                "segments": [e.to_json() for e in segs], "vector_store": old.store.kind}
    # "chunks" and "sentences": the live ones (each segment's entry has its rows)
    manifest["chunks"] = report.chunks_total = sum(e.chunks for e in segs) - _dead_after(old, change)
    dead_sentences = sum(len(seg.texts.doc_sentence_rows(row)) for k, seg in enumerate(old.segments)
                         for row in set(segs[k].deleted))
    manifest["sentences"] = sum(e.sentences for e in segs) - dead_sentences
    tmp = index_dir / f"{TMP_PREFIX}{name}"
    with disk_full_guard(index_dir):
        tmp.mkdir(parents=True)
        for seg in old.segments:
            _link_segment(seg.folder, tmp / seg.entry.dir if seg.entry.dir else tmp)
        old.close()  # nothing more is read from it (Windows: its folder is deleted below)
        if new.docs:
            folder = tmp / seg_dir
            folder.mkdir()
            build_store("flat", [c.id for c in new.chunks], vectors, folder).close()
            lexical.write_stored(folder / lexical.FILE, [lexical_text(c) for c in new.chunks])
            textstore.write(folder / TEXTS, new.docs, list(new.chunks), list(new.sentences))
            point("generation")
            place_sentence_vectors(folder / SENTENCE_VECTORS, s_vectors)
        write_manifest(tmp, manifest)
        publish(index_dir, tmp, name, vector_store)
    point("swapped")
    checkpoints.clear(index_dir)


def _embed_change(index_dir: Path, old: Index, change: Delta, embedder: Embedder, settings: dict, batch_size: int,
                  progress: Callable[[int, int], None] | None, report: IngestReport,
                  after_embed: Callable[[], None] | None) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of a change's new documents (every row of its plan new), embedded with
    checkpoints; the report says what changed and what was embedded."""
    new = change.plan
    report.added, report.updated = list(change.added), list(change.updated)
    report.removed, report.unchanged = list(change.removed), list(change.unchanged)
    vectors, s_vectors = _vectors(index_dir, new, None, embedder, settings, batch_size, progress, report, after_embed)
    if new.chunks and int(vectors.shape[1]) != int(old.manifest["dim"]):  # another embedder under the same name
        raise IndexStoreError(f"the embedder gives {vectors.shape[1]}-dim vectors, the index holds "
                              f"{old.manifest['dim']}: run `assistant ingest --rebuild`")
    report.chunks_embedded, report.sentences_embedded = len(new.embed_chunks), len(new.embed_sentences)
    return vectors, s_vectors


def _documents_after(old: Index, change: Delta, now: str) -> tuple[dict[str, str], dict[str, str]]:
    """The manifest's "documents" (source -> sha256) and "added" (source -> when it first came in)
    once `change` is written over `old`."""
    dropped = set(change.removed) | set(change.updated)
    documents = {s: h for s, h in old.manifest["documents"].items() if s not in dropped}
    documents.update({s: d.sha256 for s, d in change.plan.docs.items()})
    added_at = old.manifest.get("added", {})
    return (dict(sorted(documents.items())),
            {s: added_at.get(s, now if s in change.added else "") for s in sorted(documents)})


def _compact(index_dir: Path, old: Index, change: Delta, given: list[str], embedder: Embedder, settings: dict,
             batch_size: int, progress: Callable[[int, int], None] | None, report: IngestReport,
             after_embed: Callable[[], None] | None, vector_store: str | None) -> None:
    """Embed the change's new documents, then write them and every live document of `old` as one
    segment, streamed from its files (compact.py). `given`: the sources the write was given, in order."""
    vectors, s_vectors = _embed_change(index_dir, old, change, embedder, settings, batch_size, progress, report,
                                       after_embed)
    # The embedding model is not needed again by this write, and the graph the compaction builds is
    # the largest thing it holds (~1 GB at a million chunks): an embedder that can let go of its
    # model (onnx_rt: with its tokenizer and buffers ~0.7 GB once malloc gives it back) does so
    # now, and loads it again when next used.
    release = getattr(embedder, "release", None)
    if release is not None:
        release()
        gc.collect()
        trim_heap()
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    documents, added_at = _documents_after(old, change, now)
    report.compacted = len(old.segments)
    with disk_full_guard(index_dir):
        report.chunks_total = fold(index_dir, old, change, given, vectors, s_vectors,
                                   {"documents": documents, "updated": now, "added": added_at}, vector_store)
    point("swapped")
    checkpoints.clear(index_dir)


def _link_segment(src: Path, dst: Path) -> None:
    """A segment's files into `dst` as hard links (the files never change once written: sharing
    them costs nothing); copied where the file system has no hard links."""
    dst.mkdir(parents=True, exist_ok=True)
    kind = read_meta(src).get("backend")
    names = [TEXTS, SENTENCE_VECTORS, lexical.FILE, META, *backend(kind, src).files(read_meta(src))]
    for name in dict.fromkeys(names):
        if not (src / name).is_file():
            continue
        try:
            os.link(src / name, dst / name)
        except OSError:
            shutil.copy2(src / name, dst / name)


def _vectors(index_dir: Path, new: Plan, old: Index | None, embedder: Embedder, settings: dict, batch_size: int,
             progress: Callable[[int, int], None] | None, report: IngestReport,
             after_embed: Callable[[], None] | None) -> tuple[np.ndarray, np.ndarray]:
    """The chunk and sentence vector matrices of the new generation: reused rows copied from `old`,
    the rest embedded (with checkpoints). Sets report.resumed_texts and report.texts_embedded."""
    # The texts to embed, chunks then sentences. Identical (title, text) pairs get identical
    # vectors, so each is embedded once (`unique`) and copied to every row that has it.
    items = new.items()
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
    work = checkpoints.work_folder(index_dir, embedder.name, settings, unique, batch_size)
    with disk_full_guard(index_dir):  # a full disk while checkpointing: the same clear error
        batches, report.resumed_texts = checkpoints.embed_checkpointed(work, embedder, unique, batch_size, tick)
    report.texts_embedded = len(unique)
    if after_embed:
        after_embed()  # test hook: lets a test kill the process mid-write
    if batches:
        dim = int(np.load(batches[0], mmap_mode="r").shape[1])
    elif old is not None:
        dim = int(old.manifest["dim"])
    else:  # an empty index from scratch
        dim = embedder.dim
    vectors = np.zeros((len(new.chunks), dim), dtype=np.float32)
    _assemble(vectors, new.chunk_from, old.vectors if old else None)
    # The sentence vectors (six or so per chunk: the largest thing a write makes) go straight into a
    # float16 file beside the checkpoints, filled block by block, and that file becomes the
    # generation's: memory stays bounded whatever the number of sentences.
    with disk_full_guard(index_dir):
        s_vectors = allocated(work / PART, (len(new.sentences), dim))

    def old_sentences(rows):
        out = old.sentence_vectors[rows]
        for seg in old.segments:  # read once: its pages need not stay resident
            drop_pages(seg.sentence_vectors)
        return out

    _assemble(s_vectors, new.sentence_from, old_sentences if old else None)
    # Fresh vectors: item p is chunk row embed_chunks[p], then sentence row embed_sentences[p - nc],
    # and its vector is row item_unique[p] of the checkpoints; one memory-mapped checkpoint at a time.
    nc, rows = len(new.embed_chunks), np.asarray(new.embed_chunks + new.embed_sentences, dtype=np.int64)
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
        drop_pages(s_vectors)
        del part, fresh
    return vectors, s_vectors


PART = "sentence_vectors.part.npy"  # the new generation's sentence vectors while they are written
BLOCK = 65_536  # rows copied from the previous generation at a time


def _assemble(out: np.ndarray, reuse_rows, fetch) -> None:
    """Row i of `out` = row reuse_rows[i] of the previous generation where it is reused (`fetch`:
    rows -> their vectors), read in blocks; the other rows are filled with fresh vectors by the caller."""
    rows = np.fromiter((-1 if r is None else r for r in reuse_rows), dtype=np.int64, count=len(reuse_rows))
    for lo in range(0, len(rows), BLOCK):
        part = rows[lo:lo + BLOCK]
        keep = np.nonzero(part >= 0)[0]
        if len(keep):
            out[lo + keep] = fetch(part[keep])
            drop_pages(out)  # written: on its way to the file, not kept resident


def _token_rows(new: Plan, old: Index | None):
    """Each chunk's BM25 tokens, in row order: a kept chunk's (same title, context and text as
    before) read back from the previous generation's lexical.sqlite in blocks, the others tokenised."""
    tokenize = lexical.Tokenizer()
    for lo in range(0, len(new.chunks), BLOCK):
        kept = [new.chunk_from[i] for i in range(lo, min(lo + BLOCK, len(new.chunks))) if new.chunk_from[i] is not None]
        stored = old.lexical_tokens(kept) if old is not None and kept else {}
        for i in range(lo, min(lo + BLOCK, len(new.chunks))):
            row = new.chunk_from[i]
            toks = stored.get(row) if row is not None else None
            yield toks if toks is not None else tokenize(lexical_text(new.chunks[i]))


def _write_generation(index_dir: Path, manifest: dict, docs: dict[str, Document], chunks: list[Chunk],
                      vectors: np.ndarray, sents: list[SentenceSpan], s_vectors: np.ndarray,
                      vector_store: str | None = None, release: Callable[[], None] | None = None,
                      tokens=None) -> None:
    """Write the generation into a temporary folder and publish it; `release` (closing the previous
    generation) is called once nothing more is read from it."""
    name = new_generation_name()
    tmp = index_dir / f"{TMP_PREFIX}{name}"
    tmp.mkdir(parents=True)
    # A database store gets one table per generation; its name says which index folder it is for.
    store = build_store(vector_store, [c.id for c in chunks], vectors, tmp, name=f"{folder_tag(index_dir)}_{name}")
    store.close()
    if tokens is None:
        lexical.write_stored(tmp / lexical.FILE, [lexical_text(c) for c in chunks])
    else:
        lexical.write_tokens(tmp / lexical.FILE, tokens, len(chunks))
    manifest = {**manifest, "generation": name, "vector_store": store.kind}
    try:
        textstore.write(tmp / TEXTS, docs, chunks, sents)
    finally:
        if release is not None:
            release()
    point("generation")
    place_sentence_vectors(tmp / SENTENCE_VECTORS, s_vectors)
    write_manifest(tmp, manifest)
    publish(index_dir, tmp, name, vector_store)


def place_sentence_vectors(path: Path, vectors: np.memmap) -> None:
    """Make the float16 file `_vectors` wrote the generation's sentence vectors: flushed and moved
    there (no copy)."""
    vectors.flush()
    source = vectors.filename
    del vectors
    os.replace(source, path)
    fsync_path(path)
