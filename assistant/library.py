"""The write side of the document collection, from the Settings: add a folder, add uploads, remove
a document, re-index one (paper-qa's `Docs`, for writing).

A `Library` passes the settings a write needs (index folder, chunk size and overlap, vector store,
OCR cache) to `index.sync`, so no caller unpacks them, and holds the index's write lock for the
whole of each change: copying uploads in, parking a removed upload's file, the new generation. Two
processes (`assistant ingest` and a chat server) or two browser tabs never interleave their changes.
Reading stays with `index.load` / `pipeline.build`; the browser's Runtime swaps in the new
generation after a change (ui/runtime.py).

The embedder of a write is the one given (the chat's own, a test's fake), else the settings' one,
keeping the backend an existing index was built with (pipeline.make_embedder): nothing is
re-embedded by accident. Removing and re-indexing one document refuse another embedder than the
index's, which would re-embed every other document.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import documents, index
from .config import Settings
from .embed import Embedder
from .errors import IndexStoreError, InputError
from .index import IngestReport
from .index.layout import read_manifest
from .ingest import SUFFIXES, Problem, iter_folder, load_file, load_folder
from .types import Document

UPLOAD_SCOPE = documents.UPLOAD_SCOPE
# Text read from a folder before it is written (add_folder): ~30 MB of documents (a few hundred
# 20-page ones) makes a few hundred MB of chunks, sentences and vectors while they are written,
# whatever the size of the folder.
FOLDER_BATCH_CHARS = 32_000_000


@dataclass(frozen=True)
class Batch:
    """Documents read for one write. `scope` is the source prefix they replace (a document of the
    scope that is not in `docs` leaves the index); None adds and updates only."""
    docs: tuple[Document, ...]
    scope: str | None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class UploadResult:
    accepted: list[str] = field(default_factory=list)  # file names stored in uploads/
    problems: list[Problem] = field(default_factory=list)
    report: IngestReport | None = None  # None when no file was accepted (the index is unchanged)


class Library:
    """One index folder's documents, written with one Settings."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, *, batch_size: int = index.EMBED_BATCH,
                 take_over: bool = False):
        """`take_over`: publish to a shared index another folder has been publishing (its
        documents are replaced by this folder's)."""
        self.settings = settings
        self.take_over = take_over
        self._given = embedder
        self._made: dict[str | None, Embedder] = {}
        self.batch_size = batch_size  # texts per embedding call and checkpoint (eval/faults.py uses small ones)

    @property
    def index_dir(self) -> Path:
        return Path(self.settings.storage.index_dir)

    @property
    def uploads_dir(self) -> Path:
        return self.index_dir / UPLOAD_SCOPE

    def embedder(self, rebuild: bool = False) -> Embedder:
        """The embedder of a write: the one given, else the settings' (an existing index keeps the
        backend it was built with; a rebuild starts over with the best available one)."""
        if self._given is not None:
            return self._given
        built_with = None
        gen = None if rebuild else index.current_generation(self.index_dir)
        if gen is not None:
            built_with = read_manifest(gen).get("embedder")  # a damaged manifest: the error names it
        if built_with not in self._made:
            from . import pipeline  # looked up at call time: tests replace pipeline.make_embedder

            self._made[built_with] = pipeline.make_embedder(self.settings, built_with)
        return self._made[built_with]

    # -- adding -----------------------------------------------------------------------------------
    def read_folder(self, folder: Path | None = None, on_page=None) -> Batch:
        """Every document under `folder` (default: the settings' seeds folder), for `add`; sources
        and scope are the folder's name. `on_page` reports OCR progress."""
        folder = Path(folder) if folder is not None else Path(self.settings.storage.seeds_dir)
        docs, problems = load_folder(folder, on_page=on_page, ocr_cache=self.settings.storage.ocr_cache_dir)
        return Batch(tuple(docs), folder.resolve().name, tuple(problems))

    def add(self, batch: Batch, *, rebuild: bool = False,
            progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Make the index hold exactly `batch` for its scope (other scopes are kept); `rebuild`
        embeds everything again. `progress(done, total)` counts texts embedded."""
        with index.write_lock(self.index_dir):
            return self._sync(list(batch.docs), batch.scope, problems=batch.problems, rebuild=rebuild,
                              progress=progress)

    def add_folder(self, folder: Path | None = None, *, rebuild: bool = False, compact: bool = False,
                   progress: Callable[[int, int], None] | None = None, on_page=None,
                   on_read: Callable[[list[Document], list[Problem]], None] | None = None) -> IngestReport:
        """Index a folder (default: the seeds) as `add(read_folder(folder))` does, without holding
        it in memory: files are read one at a time and written FOLDER_BATCH_CHARS of text at a
        time (each batch added to the index: appended as a segment once the index is large), then
        the folder's documents that are gone are removed. A folder smaller than one batch is one
        write, as before. `compact` writes the index as one segment (index/compact.py).
        `on_read(docs, problems)` is told what each file gave; `progress(done,
        total)` counts texts embedded over all batches."""
        folder = Path(folder) if folder is not None else Path(self.settings.storage.seeds_dir)
        if not folder.is_dir():  # before the embedder is looked for: the error the user can act on first
            raise InputError(f"not a folder: {folder}")
        scope = folder.resolve().name
        reports: list[IngestReport] = []
        problems: list[Problem] = []
        pending: list[Document] = []
        seen: list[str] = []
        size = 0
        embedder = self.embedder(rebuild)  # one model for every batch
        before = 0  # texts embedded by the batches written

        def step(done: int, total: int) -> None:
            if progress:
                progress(before + done, before + total)

        with index.write_lock(self.index_dir):
            for docs, unread in iter_folder(folder, on_page=on_page, ocr_cache=self.settings.storage.ocr_cache_dir):
                if on_read:
                    on_read(docs, unread)
                problems += unread
                pending += docs
                size += sum(len(d.text) for d in docs)
                if size >= FOLDER_BATCH_CHARS:
                    reports.append(self._sync(pending, None, rebuild=rebuild and not reports, progress=step,
                                              embedder=embedder))
                    before += reports[-1].texts_embedded
                    seen += [d.source for d in pending]
                    pending, size = [], 0
            if not reports:  # one batch: one write, exactly the folder
                return self._sync(pending, scope, problems=problems, rebuild=rebuild, compact=compact,
                                  progress=step, embedder=embedder)
            # The last batch, with the documents written before as the index now holds them (read
            # from it lazily, all unchanged): what the scope holds beyond them leaves the index.
            live = index.load(self.index_dir, self.settings.storage.vector_store)
            try:
                written = [live.docs[s] for s in dict.fromkeys(seen) if s in live.docs]
                last = self._sync(written + pending, scope, problems=problems, compact=compact, progress=step,
                                  embedder=embedder)
            finally:
                live.close()
        return _combined(reports, last, {s for r in reports for s in r.added + r.updated})

    def add_uploads(self, paths: list[str | Path],
                    progress: Callable[[str, int, int], None] | None = None) -> UploadResult:
        """Check uploaded files, store the readable ones in <index>/uploads and index that folder.
        `progress(stage, done, total)`: "checking", "ocr" (pages of a scanned PDF), "embedding"."""
        say = progress or (lambda stage, done, total: None)
        accepted: list[tuple[Path, str]] = []
        problems: list[Problem] = []
        say("checking", 0, len(paths))
        for i, raw in enumerate(paths):
            src = Path(raw)
            name = safe_name(src.name)
            if src.suffix.lower() not in SUFFIXES:
                problems.append(Problem(src.name, f"unsupported file type {src.suffix or '(none)'}; "
                                                  f"use {', '.join(SUFFIXES)}"))
                continue
            try:
                # reject unreadable files before keeping them; a scanned PDF is OCR'd here, page by
                # page with progress, and its pages cached for the read below
                load_file(src, f"{UPLOAD_SCOPE}/{name}", on_page=lambda _, d, t: say("ocr", d, t),
                          ocr_cache=self.settings.storage.ocr_cache_dir)
            except InputError as e:
                problems.append(Problem(src.name, str(e)))
                continue
            accepted.append((src, name))
            say("checking", i + 1, len(paths))
        if not accepted:
            return UploadResult([], problems)
        self._may_publish()  # before the files are kept: a server that may not publish keeps nothing
        with index.write_lock(self.index_dir):
            up = self.uploads_dir
            up.mkdir(parents=True, exist_ok=True)
            for src, name in accepted:
                tmp = up / f".part-{name}"
                shutil.copyfile(src, tmp)
                os.replace(tmp, up / name)
            docs, unread = load_folder(up, scope=UPLOAD_SCOPE, ocr_cache=self.settings.storage.ocr_cache_dir)
            report = self._sync(docs, UPLOAD_SCOPE, progress=lambda done, total: say("embedding", done, total))
        return UploadResult([name for _, name in accepted], problems + unread, report)

    # -- one document -----------------------------------------------------------------------------
    def remove(self, source: str) -> IngestReport:
        """Take `source` out of the index (a new generation without its chunks, sentences and
        vectors; nothing is embedded) and delete its file when it is an upload. A document from
        another folder keeps its file: the next ingest of that folder adds it back."""
        self._may_publish()
        embedder = self._index_embedder()
        with index.write_lock(self.index_dir):
            parked = None
            if documents.is_upload(source):
                # The file leaves uploads/ first, so that no later upload (which indexes the whole
                # folder) brings it back, even after a crash; it is put back if the write fails.
                path = documents.upload_path(self.index_dir, source)
                if path.is_file():
                    parked = path.with_name(f".removing-{path.name}")
                    os.replace(path, parked)
            try:
                report = self._sync([], source, embedder=embedder)
            except BaseException:
                if parked is not None:
                    os.replace(parked, documents.upload_path(self.index_dir, source))
                raise
            if parked is not None:
                parked.unlink(missing_ok=True)
        return report

    def reindex(self, source: str, progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Read `source`'s file again (from uploads/ or the seeds folder) and index it: a changed
        text is split and embedded again, an unchanged one keeps its vectors."""
        self._may_publish()
        embedder = self._index_embedder()
        # a mail comes with its attachments ("<mail>#<name>", in the mail's scope: index/plan.py)
        docs = documents.read_again_all(self.index_dir, self.settings.storage.seeds_dir, source,
                                        ocr_cache=self.settings.storage.ocr_cache_dir)
        with index.write_lock(self.index_dir):
            return self._sync(docs, source, progress=progress, embedder=embedder)

    # -- helpers ----------------------------------------------------------------------------------

    def _sync(self, docs: list[Document], scope: str | None, *, problems=(), rebuild: bool = False,
              compact: bool = False, progress: Callable[[int, int], None] | None = None,
              embedder: Embedder | None = None) -> IngestReport:
        s = self.settings.storage
        self._may_publish()
        report = index.sync(s.index_dir, docs, embedder or self.embedder(rebuild), s.chunk_size, s.chunk_overlap,
                            scope=scope, problems=list(problems), rebuild=rebuild, progress=progress,
                            vector_store=s.vector_store, batch_size=self.batch_size, compact=compact)
        if s.shared_index:
            report.published = self.publish()
        return report

    def _may_publish(self) -> None:
        """With a shared index: refuse before writing when another folder publishes it."""
        if self.settings.storage.shared_index:
            from .index.shared.publish import check_writer

            check_writer(self.settings.storage.shared_index, self.index_dir, self.take_over)

    def publish(self, progress: Callable[[str, int, int], None] | None = None) -> str:
        """Copy the folder's live generation to the shared index (the shared_index setting) and
        make it live there; says what was copied."""
        from .index import shared

        s = self.settings.storage
        idx = index.load(s.index_dir, s.vector_store)
        try:
            got = shared.publish(idx, self.index_dir, s.shared_index, take_over=self.take_over, progress=progress)
        finally:
            idx.close()
        return (f"published to {shared.parse(s.shared_index)} ({got['copied']} segments copied, {got['kept']} kept, "
                f"{got['dropped']} dropped)")

    def _index_embedder(self) -> Embedder:
        """The embedder for a change to one document, which must be the index's own: another one
        would make sync re-embed every other document."""
        gen = index.current_generation(self.index_dir)
        if gen is None:
            raise IndexStoreError(f"no index in {self.index_dir}: run `assistant ingest` first")
        built = read_manifest(gen).get("embedder")
        embedder = self.embedder()
        if built != embedder.name:
            raise IndexStoreError(f"the index in {self.index_dir} was built with embedder {built}, not {embedder.name}: "
                                  "changing one document would re-embed all of them; select that embedder "
                                  "(--embedder / --embed-backend) or run `assistant ingest --rebuild`")
        return embedder


def safe_name(name: str) -> str:
    """A plain file name: no folders, no leading dot (hidden files are not ingested)."""
    name = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip().lstrip(".")
    return name or "upload.txt"


def _combined(batches: list[IngestReport], last: IngestReport, written: set[str]) -> IngestReport:
    """One report for a folder written in batches (`batches`, then `last`, which was given the
    documents the batches wrote again, unchanged)."""
    out = IngestReport(problems=last.problems, published=last.published, chunks_total=last.chunks_total,
                       removed=list(last.removed), rebuilt=batches[0].rebuilt)
    for r in [*batches, last]:
        out.added += r.added
        out.updated += r.updated
        for name in ("chunks_embedded", "sentences_embedded", "resumed_texts", "texts_embedded", "compacted"):
            setattr(out, name, getattr(out, name) + getattr(r, name))
        out.seconds += r.seconds
        out.rechunked = out.rechunked or r.rechunked
    out.unchanged = [s for s in last.unchanged if s not in written]
    return out
