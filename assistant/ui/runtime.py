"""The live Pipeline, shared by all browser tabs, and the one way to change the documents under it.

Index writes are serialised by one lock here (copy + sync + reload as a unit) and by `index.sync`'s
file lock. The live Pipeline is swapped under a lock; a question in flight keeps the Pipeline it
started with, so a swap never mixes generations.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import documents
from .. import index as index_mod
from ..config import Settings
from ..errors import InputError
from ..ingest import SUFFIXES, Problem, load_file, load_folder
from ..pipeline import Pipeline, build

UPLOAD_SCOPE = documents.UPLOAD_SCOPE


@dataclass
class UploadResult:
    accepted: list[str] = field(default_factory=list)  # file names stored in uploads/
    problems: list[Problem] = field(default_factory=list)
    report: index_mod.IngestReport | None = None


class Runtime:
    """The live Pipeline, shared by all tabs, and the one way to add, remove or re-index documents."""

    def __init__(self, settings: Settings, pipeline: Pipeline):
        self.settings = settings
        self._pipeline = pipeline
        self._swap = threading.Lock()  # guards the reference
        self._write = threading.Lock()  # one change (upload, removal, re-index: sync + reload) at a time

    @property
    def pipeline(self) -> Pipeline:
        with self._swap:
            return self._pipeline

    def _replace(self, pipeline: Pipeline) -> None:
        with self._swap:
            self._pipeline = pipeline

    @property
    def uploads_dir(self) -> Path:
        return Path(self.settings.index_dir) / UPLOAD_SCOPE

    def add_files(self, paths: list[str | Path], progress: Callable[[str, int, int], None] | None = None) -> UploadResult:
        """Check, store and index uploaded files; then swap in a pipeline that can search them."""
        say = progress or (lambda stage, done, total: None)
        result = UploadResult()
        with self._write:
            up = self.uploads_dir
            up.mkdir(parents=True, exist_ok=True)
            say("checking", 0, len(paths))
            for i, raw in enumerate(paths):
                src = Path(raw)
                name = safe_name(src.name)
                if src.suffix.lower() not in SUFFIXES:
                    result.problems.append(Problem(src.name, f"unsupported file type {src.suffix or '(none)'}; "
                                                             f"use {', '.join(SUFFIXES)}"))
                    continue
                try:
                    load_file(src, f"{UPLOAD_SCOPE}/{name}")  # reject unreadable files before keeping them
                except InputError as e:
                    result.problems.append(Problem(src.name, str(e)))
                    continue
                tmp = up / f".part-{name}"
                shutil.copyfile(src, tmp)
                os.replace(tmp, up / name)
                result.accepted.append(name)
                say("checking", i + 1, len(paths))
            if not result.accepted:
                return result
            docs, problems = load_folder(up, scope=UPLOAD_SCOPE)
            result.problems.extend(problems)
            current = self.pipeline
            s = self.settings
            result.report = index_mod.sync(
                s.index_dir, docs, current.embedder, s.chunk_size, s.chunk_overlap, scope=UPLOAD_SCOPE,
                progress=lambda done, total: say("embedding", done, total), vector_store=s.vector_store,
            )
            say("loading", 0, 1)
            self._reload()
            say("loading", 1, 1)
        return result

    def list_documents(self) -> list[documents.DocumentInfo]:
        return documents.list_documents(self.pipeline.index, self.settings.index_dir)

    def remove_document(self, source: str) -> index_mod.IngestReport:
        """Take a document out of the index (and its file out of uploads/); answers after this one
        never see its passages."""
        with self._write:
            current = self.pipeline
            source = documents.find(current.index, source)
            s = self.settings
            report = documents.remove(s.index_dir, source, current.embedder, s.chunk_size, s.chunk_overlap,
                                      vector_store=s.vector_store)
            self._reload()
        return report

    def reindex_document(self, source: str, progress: Callable[[int, int], None] | None = None) -> index_mod.IngestReport:
        """Read a document's file again and index what changed."""
        with self._write:
            current = self.pipeline
            source = documents.find(current.index, source)
            s = self.settings
            report = documents.reindex(s.index_dir, s.seeds_dir, source, current.embedder, s.chunk_size,
                                       s.chunk_overlap, vector_store=s.vector_store, progress=progress)
            self._reload()
        return report

    def _reload(self) -> None:
        """Load the index generation just written and swap it in (same models: nothing reloads)."""
        current = self.pipeline
        fresh = build(self.settings, with_llm=current.assistant.generator is not None, embedder=current.embedder,
                      generator=current.assistant.generator)
        self._replace(fresh)


def safe_name(name: str) -> str:
    """A plain file name: no folders, no leading dot (hidden files are not ingested)."""
    name = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip().lstrip(".")
    return name or "upload.txt"
