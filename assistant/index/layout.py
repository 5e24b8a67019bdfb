"""Layout of an index folder: the file names, the format, generations and the CURRENT pointer, and
the manifest.

    CURRENT            name of the live generation (replaced atomically by writer.py)
    gen-<id>/          one complete generation: manifest.json, docs.jsonl, chunks.jsonl, the chunk
                       vector store (store.json + the backend's files, assistant/store/),
                       sentences.jsonl + sentence_vectors.npy (one row per sentence), lexical.sqlite
    .tmp-gen-<id>/     a generation being written (garbage when no write is running)
    .ingest-<hash>/    embedding checkpoints of an unfinished ingest (checkpoints.py)
    .lock              held while writing, so two processes (or UI tabs) never interleave
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path

from .. import lexical
from ..errors import IndexStoreError
from ..store import reading, write_text

FORMAT = 3  # 2: chunk context + sentence store; 3: PDF page offsets on documents, a page on each chunk
# Formats this version reads. A format-2 index has no pages (every page is None) and is migrated by
# the next ingest of its folder: unchanged documents keep their vectors, only the pages are added
# (see writer.sync), so nobody has to re-embed for them.
READABLE_FORMATS = (2, 3)

CURRENT = "CURRENT"
LOCK = ".lock"
GEN_PREFIX = "gen-"
TMP_PREFIX = ".tmp-"
WORK_PREFIX = ".ingest-"
MANIFEST = "manifest.json"
DOCS = "docs.jsonl"
CHUNKS = "chunks.jsonl"
SENTENCES = "sentences.jsonl"
SENTENCE_VECTORS = "sentence_vectors.npy"
LEXICAL = lexical.FILE
# The files every generation has besides its vector store (lexical.sqlite is optional: a generation
# written before it existed builds BM25 in memory).
FILES = (MANIFEST, DOCS, CHUNKS, SENTENCES, SENTENCE_VECTORS)


def live_name(index_dir: Path) -> str:
    """What CURRENT names ("" when there is no pointer)."""
    try:
        return (Path(index_dir) / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def current_generation(index_dir: Path) -> Path | None:
    name = live_name(index_dir)
    path = Path(index_dir) / name
    return path if name and path.is_dir() else None


def exists(index_dir: Path) -> bool:
    return current_generation(index_dir) is not None


def new_generation_name() -> str:
    return f"{GEN_PREFIX}{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"


def is_generation(name: str) -> bool:
    """A generation folder or a half-written one (not the work folders of checkpoints)."""
    return name.startswith(GEN_PREFIX) or name.startswith(TMP_PREFIX)


def folder_tag(index_dir: Path) -> str:
    """A short tag of the index folder: a database store's table names say which folder they serve."""
    return hashlib.sha256(str(Path(index_dir).resolve()).encode()).hexdigest()[:8]


def read_manifest(gen: Path) -> dict:
    """The manifest of a generation; an IndexFileError naming the file when it is missing, does not
    parse or is of a format this version cannot read."""
    with reading(Path(gen) / MANIFEST) as path:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    if manifest.get("format") not in READABLE_FORMATS:
        raise IndexStoreError(f"index in {gen} is from another version of the assistant (format "
                              f"{manifest.get('format')}, this one reads {' and '.join(map(str, READABLE_FORMATS))}); "
                              "run `assistant ingest --rebuild`.")
    return manifest


def write_manifest(folder: Path, manifest: dict) -> None:
    write_text(Path(folder) / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
