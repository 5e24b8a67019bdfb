"""Resumable embedding: the texts of an ingest are embedded in batches, and each finished batch is
checkpointed (np.save to a temp file, fsync, rename) into a work folder `.ingest-<fingerprint>/`
inside the index folder.

The fingerprint covers the embedder name, the chunk settings, the batch size and the exact list of
distinct (title, text) pairs to embed (a text that occurs more than once is embedded once), so only
a rerun of the same ingest (same documents, same embedder) reuses them. A killed ingest loses at
most the batch in progress: the rerun loads the finished batches (memory-mapped) and embeds the
rest. The work folder is deleted once the new generation is live (`clear`). Vectors of finished
batches live in those files, not in memory, until the generation is assembled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from ..embed import Embedder
from ..errors import IndexStoreError
from ..store import fsync_path
from .hooks import point
from .layout import FORMAT, WORK_PREFIX

EMBED_BATCH = 256  # texts per embedding call and per checkpoint file


def work_folder(index_dir: Path, embedder_name: str, settings: dict, items: list[tuple[str, str]],
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


def clear(index_dir: Path) -> None:
    """Remove every work folder (once a generation is live, all checkpoints are garbage)."""
    for p in Path(index_dir).iterdir():
        if p.is_dir() and p.name.startswith(WORK_PREFIX):
            shutil.rmtree(p, ignore_errors=True)


def embed_checkpointed(work: Path, embedder: Embedder, items: list[tuple[str, str]], batch_size: int,
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
        point("checkpoint-tmp")
        os.replace(tmp, path)
        fsync_path(work)
        point("checkpoint")
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
