"""Reading a generation written before texts.sqlite (formats 2 and 3): upgraded once, in place.

Formats 2 and 3 keep documents, chunks and sentences as JSON lines and sentence vectors as float32.
The first process that loads such a generation writes what format 4 reads beside those files:
texts.sqlite (from the three .jsonl files) and sentence_vectors.f16.npy, then replaces the manifest
(format 4) atomically. Nothing is re-embedded and the chunk vector store is not touched (a pgvector
table keeps its name). The JSON lines files stay until the next ingest writes a new generation, so a
process that loaded the generation before the upgrade keeps reading what it opened.

A crash at any point leaves either the old manifest (the new files are ignored and written again by
the next load) or the new one with every file it names complete. The upgrade takes the index's write
lock without waiting: while an ingest holds it, or when the folder cannot be written (a read-only
share), the two files are written to a temporary folder for this process only.
"""

from __future__ import annotations

import atexit
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..metadata import DocMeta
from ..store import reading
from ..types import Chunk, Document, SentenceSpan
from . import textstore
from .lock import write_lock
from .sentence_vectors import write_sentence_vectors
from .layout import CHUNKS, DOCS, FORMAT, SENTENCE_VECTORS, SENTENCE_VECTORS32, SENTENCES, TEXTS, write_manifest


def read_legacy(gen: Path) -> tuple[dict[str, Document], list[Chunk], list[SentenceSpan]]:
    """The documents, chunks and sentences of a format-2/3 generation (its .jsonl files)."""
    docs = {}
    with reading(gen / DOCS) as path:
        for line in path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            # JSON has lists; the frozen Document holds tuples
            d.update({k: tuple(d[k]) for k in ("pages", "ocr_pages") if k in d})
            d["meta"] = DocMeta.from_json(d.get("meta"))  # absent in indexes written before metadata
            docs[d["source"]] = Document(**d)
    with reading(gen / CHUNKS) as path:
        chunks = [Chunk(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    with reading(gen / SENTENCES) as path:
        sents = [SentenceSpan(*json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    return docs, chunks, sents


def _write(gen: Path, target: Path) -> None:
    """texts.sqlite and sentence_vectors.f16.npy of `gen` into `target`."""
    docs, chunks, sents = read_legacy(gen)
    with reading(gen / CHUNKS):  # rows not grouped by document: blamed on the chunks file
        textstore.write(target / TEXTS, docs, chunks, sents)
    with reading(gen / SENTENCE_VECTORS32) as path:
        vectors = np.load(path, mmap_mode="r")
    write_sentence_vectors(target / SENTENCE_VECTORS, vectors)


def upgrade(index_dir: Path, gen: Path, manifest: dict) -> tuple[dict, Path]:
    """The format-4 manifest of `gen` and the folder holding its texts.sqlite and float16 sentence
    vectors: `gen` itself once upgraded, or a temporary folder (see the module docstring)."""
    from filelock import Timeout

    upgraded = {**manifest, "format": FORMAT, "upgraded_from": manifest.get("format")}
    try:
        with write_lock(index_dir, timeout=0):
            print(f"upgrading the index in {index_dir} to format {FORMAT} (once; nothing is re-embedded)",
                  file=sys.stderr)
            try:
                _write(gen, gen)
                write_manifest(gen, upgraded)  # atomic: the old manifest until every new file is complete
            except BaseException:
                for name in (TEXTS, SENTENCE_VECTORS):  # half-written: the next load writes them again
                    (gen / name).unlink(missing_ok=True)
                raise
            return upgraded, gen
    except (Timeout, PermissionError):
        pass
    except OSError as e:
        if e.errno not in (13, 30):  # EACCES, EROFS: a read-only folder
            raise
    tmp = Path(tempfile.mkdtemp(prefix="assistant-index-"))
    atexit.register(shutil.rmtree, tmp, True)
    _write(gen, tmp)
    return upgraded, tmp

