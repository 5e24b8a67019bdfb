"""The live Pipeline, shared by all browser tabs, and the one way to change the documents under it.

Changes go through a library.Library (which holds the index's file lock while it writes); one lock
here makes a change and the reload after it a unit. The live Pipeline is swapped under a lock; a
question in flight keeps the Pipeline it started with, so a swap never mixes generations.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Callable

from .. import documents
from ..config import Settings
from ..index import IngestReport
from ..library import Library, UploadResult, safe_name
from ..pipeline import Pipeline, build

UPLOAD_SCOPE = documents.UPLOAD_SCOPE
# A shared index (index/shared/): how often a server asks the database whether another one has
# published a new generation (one indexed query). Questions in the meantime use the loaded one.
FOLLOW_SECONDS = 5.0
__all__ = ["UPLOAD_SCOPE", "Runtime", "UploadResult", "safe_name"]


class Runtime:
    """The live Pipeline, shared by all tabs, and the one way to add, remove or re-index documents."""

    def __init__(self, settings: Settings, pipeline: Pipeline):
        self.settings = settings
        self._pipeline = pipeline
        self._swap = threading.Lock()  # guards the reference
        self._write = threading.Lock()  # one change (upload, removal, re-index: write + reload) at a time
        self._next_check = time.monotonic() + FOLLOW_SECONDS

    @property
    def pipeline(self) -> Pipeline:
        self._follow()
        with self._swap:
            return self._pipeline

    def _follow(self) -> None:
        """A shared index: swap in the generation another server (or `assistant ingest`) published
        since this one loaded, checked at most every FOLLOW_SECONDS."""
        with self._swap:
            idx = self._pipeline.index
        published = getattr(idx, "published_generation", None)
        if published is None or time.monotonic() < self._next_check:
            return
        if not self._write.acquire(blocking=False):
            return  # a change of this server's own is under way and reloads when done
        try:
            self._next_check = time.monotonic() + FOLLOW_SECONDS
            live = published()
            if live and live != idx.generation:
                self._reload()
        except Exception as e:  # the database out of reach: keep answering from the loaded generation
            print(f"warning: could not follow the shared index: {e}", file=sys.stderr)
        finally:
            self._write.release()

    def _replace(self, pipeline: Pipeline) -> None:
        with self._swap:
            self._pipeline = pipeline

    @property
    def library(self) -> Library:
        """The write side, embedding with the live pipeline's embedder (the index's own)."""
        return Library(self.settings, self.pipeline.embedder)

    @property
    def uploads_dir(self) -> Path:
        return Path(self.settings.storage.index_dir) / UPLOAD_SCOPE

    def add_files(self, paths: list[str | Path], progress: Callable[[str, int, int], None] | None = None) -> UploadResult:
        """Check, store and index uploaded files; then swap in a pipeline that can search them."""
        say = progress or (lambda stage, done, total: None)
        with self._write:
            result = self.library.add_uploads(paths, progress=say)
            if result.report is not None:
                say("loading", 0, 1)
                self._reload()
                say("loading", 1, 1)
        return result

    def list_documents(self) -> list[documents.DocumentInfo]:
        return documents.list_documents(self.pipeline.index, self.settings.storage.index_dir)

    def remove_document(self, source: str) -> IngestReport:
        """Take a document out of the index (and its file out of uploads/); answers after this one
        never see its passages."""
        with self._write:
            source = documents.find(self.pipeline.index, source)
            report = self.library.remove(source)
            self._reload()
        return report

    def reindex_document(self, source: str, progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Read a document's file again and index what changed."""
        with self._write:
            source = documents.find(self.pipeline.index, source)
            report = self.library.reindex(source, progress=progress)
            self._reload()
        return report

    def _reload(self) -> None:
        """Load the index generation just written and swap it in (same models: nothing reloads)."""
        current = self.pipeline
        fresh = build(self.settings, with_llm=current.assistant.generator is not None, embedder=current.embedder,
                      generator=current.assistant.generator)
        self._replace(fresh)
