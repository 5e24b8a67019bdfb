"""What the vector store backends share: their store.json and vector_ids.txt files, durable writes,
the error for a damaged file (which names the file and the fix), and argument checks. The index's own
files are written and read with the same helpers (assistant/index/)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import IndexFileError, IndexStoreError

META = "store.json"
IDS = "vector_ids.txt"
FIX = "run `assistant ingest --rebuild`"  # the fix for any damaged index file


def read_meta(folder: Path) -> dict:
    """The store.json of the store persisted in `folder`; {"backend": "flat"} for a generation
    written before stores existed (vectors.faiss alone)."""
    path = Path(folder) / META
    if not path.exists():
        return {"backend": "flat"}
    with reading(path):
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    return meta


@contextmanager
def reading(path: Path):
    """Around reading one file of an index generation: any failure becomes an IndexFileError that
    names the file and the fix (an IndexStoreError raised inside passes unchanged)."""
    path = Path(path)
    try:
        yield path
    except IndexStoreError:
        raise
    except FileNotFoundError as e:
        raise damaged(path, "is missing: the index is damaged") from e
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, IndexError, EOFError, sqlite3.Error) as e:
        if not path.exists():  # a library that says so in its own words (faiss: "could not open")
            raise damaged(path, "is missing: the index is damaged") from e
        raise damaged(path, f"is unreadable ({short_error(e)})") from e


def damaged(path: Path, problem: str) -> IndexFileError:
    """The error for one damaged file of a generation ("is unreadable (...)", "holds 3 ids for 5
    vectors"): it names the file and the fix."""
    return IndexFileError(Path(path), problem, FIX)


def short_error(e: BaseException) -> str:
    """The first line of an exception's message, for one-line reports."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    # faiss' C++ messages: drop the "Error in <function> at <file>:<line>: Error: " prefix.
    text = re.sub(r"^Error in .*? at \S+:\d+: (?:Error: )?", "", text)
    return text[:200]


def write_meta(folder: Path, meta: dict) -> None:
    write_text(Path(folder) / META, json.dumps(meta, indent=1))


def write_ids(folder: Path, ids: Sequence[str | None]) -> None:
    """One id a line; an empty line is a removed vector (its row is kept so labels stay stable)."""
    for i in ids:
        if i is not None and ("\n" in i or not i):
            raise ValueError(f"chunk id {i!r} cannot be stored (empty or holds a line break)")
    write_text(Path(folder) / IDS, "\n".join(i or "" for i in ids) + ("\n" if len(ids) else ""))


def read_ids(folder: Path) -> list[str | None]:
    text = (Path(folder) / IDS).read_text(encoding="utf-8")
    lines = text.split("\n")[:-1] if text else []
    return [i or None for i in lines]


def write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def fsync_path(path: Path) -> None:
    """fsync a file or a folder by path (a folder: so a rename inside it survives a power cut)."""
    flags = os.O_RDONLY
    if os.name == "nt":
        # Windows cannot open a folder as a file (PermissionError), so a folder cannot be fsynced,
        # and need not be: NTFS journals its metadata, so after a crash or power cut a rename is
        # either done or not, never half done (what the index's generation swap relies on; the last
        # rename before the cut may be lost, and the previous generation is then the live one).
        if os.path.isdir(path):
            return
        # os.fsync is FlushFileBuffers there, which needs a handle with write access.
        flags = os.O_RDWR | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def as_query(query: np.ndarray, dim: int) -> np.ndarray:
    q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(-1))
    if q.shape[0] != dim:
        raise ValueError(f"query has {q.shape[0]} dimensions, the store {dim}")
    return q


def as_matrix(vectors: np.ndarray, dim: int, n: int) -> np.ndarray:
    v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if v.ndim != 2 or v.shape != (n, dim):
        raise ValueError(f"expected {n} vectors of {dim} dimensions, got shape {v.shape}")
    return v
