"""Layout of an index folder: the file names, the format, generations and the CURRENT pointer, and
the manifest.

    CURRENT            name of the live generation (replaced atomically by writer.py)
    gen-<id>/          one complete generation: manifest.json, texts.sqlite (documents, chunks and
                       sentences, read by row: textstore.py), the chunk vector store (store.json +
                       the backend's files, assistant/store/), sentence_vectors.f16.npy (one float16
                       row per sentence, memory-mapped), lexical.sqlite
    .tmp-gen-<id>/     a generation being written (garbage when no write is running)
    .ingest-<hash>/    embedding checkpoints of an unfinished ingest (checkpoints.py)
    .lock              held while writing, so two processes (or UI tabs) never interleave
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

from .. import lexical
from ..errors import IndexStoreError
from ..store import discard, fsync_path, reading, write_text
from .hooks import point

# 2: chunk context + sentence store; 3: PDF page offsets on documents, a page on each chunk;
# 4: texts in texts.sqlite, sentence vectors float16 (nothing held in memory but what a search reads)
FORMAT = 4
# Formats this version reads. A format-2 or -3 generation is upgraded to 4 when first loaded
# (upgrade.py: texts.sqlite and the float16 vectors written beside its files, no re-embedding). A
# format-2 index has no pages (every page is None): the next ingest of its folder adds them
# (unchanged documents keep their vectors, see writer.sync), so nobody has to re-embed for them.
READABLE_FORMATS = (2, 3, 4)

CURRENT = "CURRENT"
LOCK = ".lock"
GEN_PREFIX = "gen-"
TMP_PREFIX = ".tmp-"
WORK_PREFIX = ".ingest-"
MANIFEST = "manifest.json"
TEXTS = "texts.sqlite"  # textstore.FILE
SENTENCE_VECTORS = "sentence_vectors.f16.npy"
LEXICAL = lexical.FILE
# The files every generation has besides its vector store (lexical.sqlite is optional: a generation
# written before it existed builds BM25 in memory).
FILES = (MANIFEST, TEXTS, SENTENCE_VECTORS)
# Formats 2 and 3 (read by upgrade.py): texts as JSON lines, float32 sentence vectors.
DOCS = "docs.jsonl"
CHUNKS = "chunks.jsonl"
SENTENCES = "sentences.jsonl"
SENTENCE_VECTORS32 = "sentence_vectors.npy"
LEGACY_FILES = (MANIFEST, DOCS, CHUNKS, SENTENCES, SENTENCE_VECTORS32)


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


def readable() -> str:
    """The formats this version reads, for messages: "2, 3 and 4"."""
    *head, last = map(str, READABLE_FORMATS)
    return f"{', '.join(head)} and {last}" if head else last


def read_manifest(gen: Path) -> dict:
    """The manifest of a generation; an IndexFileError naming the file when it is missing, does not
    parse or is of a format this version cannot read."""
    with reading(Path(gen) / MANIFEST) as path:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    if manifest.get("format") not in READABLE_FORMATS:
        raise IndexStoreError(f"index in {gen} is from another version of the assistant (format "
                              f"{manifest.get('format')}, this one reads {readable()}); "
                              "run `assistant ingest --rebuild`.")
    return manifest


def write_manifest(folder: Path, manifest: dict) -> None:
    write_text(Path(folder) / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))


def publish(index_dir: Path, tmp: Path, name: str, vector_store: str | None = None) -> None:
    """Make the complete generation folder `tmp` live as `name`: fsync its files, rename it, swap
    CURRENT, then remove older generations (the steps the kill tests stop at are named points)."""
    for p in sorted(tmp.rglob("*"), key=lambda p: -len(p.parts)):  # files, then their folders
        fsync_path(p)
    fsync_path(tmp)
    os.replace(tmp, index_dir / name)
    fsync_path(index_dir)
    point("generation-done")
    pointer = index_dir / f"{CURRENT}.tmp"
    write_text(pointer, name + "\n")
    point("swap")
    os.replace(pointer, index_dir / CURRENT)
    fsync_path(index_dir)
    # Old generations and leftovers of killed writes are garbage now (a database table of an old
    # generation goes with its folder).
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != name and is_generation(p.name):
            discard(p, vector_store or "")
            shutil.rmtree(p, ignore_errors=True)
