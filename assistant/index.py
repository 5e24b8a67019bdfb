"""The persisted index: FAISS vectors + chunk store + documents + manifest, one generation at a time.

Layout of the index folder:
    CURRENT            name of the live generation (replaced atomically)
    gen-<id>/          manifest.json, docs.jsonl, chunks.jsonl, vectors.faiss
    .lock              held while writing, so two processes (or UI tabs) never interleave

A write builds a complete new generation folder, fsyncs it, then swaps CURRENT with os.replace.
A process killed at any point leaves the previous generation live and loadable.

Re-ingest reuses the vectors of unchanged documents (same text hash, same chunk settings, same
embedder), embeds only new or changed ones, and drops documents that disappeared from the folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .chunk import chunk_document
from .embed import Embedder
from .errors import IndexStoreError
from .ingest import Problem
from .types import Chunk, Document

FORMAT = 1


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_total: int = 0
    rebuilt: str = ""  # why everything was re-embedded, if it was
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.removed)} removed",
            f"{len(self.unchanged)} unchanged",
            f"{self.chunks_embedded} chunks embedded",
            f"{self.chunks_total} chunks in index",
        ]
        if self.problems:
            parts.append(f"{len(self.problems)} skipped")
        return ", ".join(parts) + f" ({self.seconds:.1f} s)"


class Index:
    """A loaded, read-only generation: chunks[i] is row i of the FAISS index."""

    def __init__(self, manifest: dict, docs: dict[str, Document], chunks: list[Chunk], faiss_index):
        self.manifest = manifest
        self.docs = docs
        self.chunks = chunks
        self.faiss = faiss_index
        self._row = {c.id: i for i, c in enumerate(chunks)}

    @property
    def generation(self) -> str:
        return self.manifest["generation"]

    def vectors(self) -> np.ndarray:
        n = self.faiss.ntotal
        return self.faiss.reconstruct_n(0, n) if n else np.zeros((0, self.manifest["dim"]), np.float32)

    def vector(self, chunk: Chunk) -> np.ndarray:
        return self.faiss.reconstruct(self._row[chunk.id])

    def stats(self) -> dict:
        return {
            "documents": len(self.docs),
            "chunks": len(self.chunks),
            "embedder": self.manifest["embedder"],
            "updated": self.manifest["updated"],
        }


def _new_faiss(dim: int):
    import faiss

    # Exact inner product on unit vectors == cosine. Document collections here are thousands of
    # chunks, where a flat index is both exact and fast (milliseconds).
    return faiss.IndexFlatIP(dim)


def current_generation(index_dir: Path) -> Path | None:
    try:
        name = (Path(index_dir) / "CURRENT").read_text().strip()
    except OSError:
        return None
    path = Path(index_dir) / name
    return path if name and path.is_dir() else None


def exists(index_dir: Path) -> bool:
    return current_generation(index_dir) is not None


def load(index_dir: Path) -> Index:
    import faiss

    gen = current_generation(index_dir)
    if gen is None:
        raise IndexStoreError(
            f"no index in {index_dir}: run `assistant ingest` first (it indexes the bundled seeds/ folder)."
        )
    try:
        manifest = json.loads((gen / "manifest.json").read_text())
        docs = {}
        for line in (gen / "docs.jsonl").read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            docs[d["source"]] = Document(**d)
        chunks = [Chunk(**json.loads(line)) for line in (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
        fi = faiss.read_index(str(gen / "vectors.faiss"))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise IndexStoreError(f"index in {gen} is unreadable ({e}); run `assistant ingest --rebuild`.") from e
    if manifest.get("format") != FORMAT or fi.ntotal != len(chunks):
        raise IndexStoreError(f"index in {gen} is inconsistent or from another version; run `assistant ingest --rebuild`.")
    return Index(manifest, docs, chunks, fi)


@contextmanager
def write_lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def embed_text(chunk: Chunk) -> str:
    """What the embedder sees: the title gives municipality and document type to every chunk."""
    return f"{chunk.title}\n{chunk.text}"


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
) -> IngestReport:
    """Make the index hold exactly `docs` for `scope` (a source prefix), keeping other scopes.

    scope=None means the given docs are added/updated and nothing is removed (uploads).
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    report = IngestReport(problems=list(problems or []))
    with write_lock(index_dir):
        old = load(index_dir) if exists(index_dir) and not rebuild else None
        settings = {"chunk_size": chunk_size, "chunk_overlap": chunk_overlap}
        if old is not None:
            if old.manifest["embedder"] != embedder.name:
                report.rebuilt = f"embedder changed ({old.manifest['embedder']} -> {embedder.name})"
                old = None
            elif old.manifest["chunking"] != settings:
                report.rebuilt = f"chunk settings changed ({old.manifest['chunking']} -> {settings})"
                old = None
        elif rebuild:
            report.rebuilt = "requested"

        old_docs = old.docs if old else {}
        old_vectors = old.vectors() if old else None
        old_rows: dict[str, list[int]] = {}
        for i, c in enumerate(old.chunks if old else []):
            old_rows.setdefault(c.source, []).append(i)

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

        # Rows to reuse, and chunks to embed.
        chunks: list[Chunk] = []
        reuse_rows: list[int | None] = []
        to_embed: list[int] = []
        for source, d in {**keep_docs, **new_by_source}.items():
            prev = old_docs.get(source)
            if prev is not None and prev.sha256 == d.sha256 and prev.title == d.title:
                for row in old_rows.get(source, []):
                    chunks.append(old.chunks[row])
                    reuse_rows.append(row)
                if source in new_by_source:
                    report.unchanged.append(source)
                continue
            (report.updated if prev is not None else report.added).append(source)
            for c in chunk_document(d, chunk_size, chunk_overlap):
                to_embed.append(len(chunks))
                chunks.append(c)
                reuse_rows.append(None)

        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, len(to_embed))

        if progress:
            progress(0, len(to_embed))
        # Nothing new to embed: don't even load the model (warm re-ingest stays instant).
        fresh = embedder.embed_documents([embed_text(chunks[i]) for i in to_embed], progress=tick) if to_embed else None
        if _after_embed:
            _after_embed()  # test hook: lets a test kill the process mid-write
        if fresh is not None:
            dim = int(fresh.shape[1])
        elif old is not None:
            dim = int(old.manifest["dim"])
        else:  # an empty index from scratch
            dim = embedder.dim
        vectors = np.zeros((len(chunks), dim), dtype=np.float32)
        for j, i in enumerate(to_embed):
            vectors[i] = fresh[j]
        for i, row in enumerate(reuse_rows):
            if row is not None:
                vectors[i] = old_vectors[row]

        all_docs = {**keep_docs, **new_by_source}
        report.chunks_embedded = len(to_embed)
        report.chunks_total = len(chunks)
        manifest = {
            "format": FORMAT,
            "generation": "",
            "embedder": embedder.name,
            "dim": dim,
            "chunking": settings,
            "documents": {s: d.sha256 for s, d in sorted(all_docs.items())},
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _write_generation(index_dir, manifest, all_docs, chunks, vectors)
    report.seconds = time.perf_counter() - t0
    return report


def _write_generation(index_dir: Path, manifest: dict, docs: dict[str, Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
    import faiss

    name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    manifest = {**manifest, "generation": name}
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    fi = _new_faiss(vectors.shape[1])
    if len(vectors):
        fi.add(vectors)
    faiss.write_index(fi, str(tmp / "vectors.faiss"))
    _write_text(tmp / "docs.jsonl", "".join(json.dumps(asdict(d), ensure_ascii=False) + "\n" for d in docs.values()))
    _write_text(tmp / "chunks.jsonl", "".join(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in chunks))
    _write_text(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    _fsync_path(tmp / "vectors.faiss")
    os.replace(tmp, index_dir / name)
    _fsync_path(index_dir)
    pointer = index_dir / "CURRENT.tmp"
    _write_text(pointer, name + "\n")
    os.replace(pointer, index_dir / "CURRENT")
    _fsync_path(index_dir)
    # Old generations and leftovers of killed writes are garbage now.
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != name and (p.name.startswith("gen-") or p.name.startswith(".tmp-")):
            shutil.rmtree(p, ignore_errors=True)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
