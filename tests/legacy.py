"""Index generations as earlier versions wrote them (formats 2 and 3: texts as JSON lines, float32
sentence vectors), made from a format-4 generation, for the tests of reading and upgrading them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from pathlib import Path

import numpy as np

from assistant.index.textstore import FILE, TextStore


def as_format_3(gen: Path) -> None:
    """Rewrite generation `gen` as format 3 wrote it: docs.jsonl, chunks.jsonl, sentences.jsonl and
    sentence_vectors.npy (float32), no texts.sqlite."""
    gen = Path(gen)
    store = TextStore(gen / FILE)
    docs = [store.document(i) for i in range(store.n_docs)]
    (gen / "docs.jsonl").write_text("".join(json.dumps({**asdict(d), "meta": d.meta.to_json()}, ensure_ascii=False)
                                            + "\n" for d in docs), encoding="utf-8")
    (gen / "chunks.jsonl").write_text("".join(json.dumps(asdict(c), ensure_ascii=False) + "\n"
                                              for c in store.iter_chunks()), encoding="utf-8")
    (gen / "sentences.jsonl").write_text("".join(json.dumps([s.source, s.start, s.end]) + "\n"
                                                 for s in store.iter_sentences()), encoding="utf-8")
    store.close()
    vectors = np.load(gen / "sentence_vectors.f16.npy").astype(np.float32)
    np.save(gen / "sentence_vectors.npy", vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12))
    (gen / FILE).unlink()
    (gen / "sentence_vectors.f16.npy").unlink()
    m = json.loads((gen / "manifest.json").read_text())
    m["format"] = 3
    (gen / "manifest.json").write_text(json.dumps(m))


def as_format_2(gen: Path) -> None:
    """As the assistant wrote it before pages existed (format 2)."""
    as_format_3(gen)
    m = json.loads((gen / "manifest.json").read_text())
    m["format"] = 2
    (gen / "manifest.json").write_text(json.dumps(m))
    for name, drop in (("docs.jsonl", ("pages", "ocr_pages")), ("chunks.jsonl", ("page",))):
        rows = [json.loads(line) for line in (gen / name).read_text(encoding="utf-8").splitlines()]
        for r in rows:
            for k in drop:
                r.pop(k)
        (gen / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def as_texts_schema_1(folder: Path) -> None:
    """The folder's texts.sqlite as this version's first days wrote it (schema 1): document texts
    in the docs table, no doc_texts."""
    conn = sqlite3.connect(Path(folder) / "texts.sqlite")
    conn.executescript("""ALTER TABLE docs ADD COLUMN text TEXT;
        UPDATE docs SET text = (SELECT text FROM doc_texts WHERE doc_texts.row = docs.row);
        DROP TABLE doc_texts; UPDATE meta SET value = 1 WHERE key = 'schema';""")
    conn.commit()
    conn.close()
