"""Integrity of the persisted index: `assistant check`.

`check(index_dir)` reads the live generation file by file, without loading any model, and verifies:
- every file is there and parses: manifest.json, texts.sqlite (documents, chunks and sentences;
  SQLite's quick_check passes), sentence_vectors.f16.npy (a generation of format 2 or 3 not yet
  upgraded: docs.jsonl, chunks.jsonl, sentences.jsonl, sentence_vectors.npy), and the chunk vector
  store's own files (store.json and, for flat,
  vectors.faiss + vector_ids.txt; for HNSW, vectors.npy + vector_ids.txt + vectors.hnsw.faiss; for
  pgvector, the table store.json names);
- the counts agree: documents with the manifest, chunks with the chunk vectors, sentences with the
  sentence vectors (blame goes to the file that disagrees with the manifest);
- the chunk vector store, read through the VectorStore Protocol (so every backend is checked the
  same way), holds exactly the chunks' ids, one vector each, of the manifest's dimension;
- every chunk's text is exactly doc.text[start:end] and every sentence span lies inside its document;
- the manifest's per-document sha256 matches the stored text;
- every vector (chunks and sentences) is finite and unit-length (the index searches by inner
  product = cosine);
- lexical.sqlite (BM25) opens, passes SQLite's integrity check and holds one row per chunk (a
  generation written before it existed has none and builds BM25 in memory: not a problem).

Each problem names the file it was found in; the fix is always a rebuild (`assistant ingest --rebuild`).
The messages of `index.load` for the same damage come from the same place: store.reading.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import lexical
from .errors import IndexFileError, IndexStoreError
from .index.layout import (CHUNKS, DOCS, FILES, FORMAT, LEGACY_FILES, LEXICAL, MANIFEST, READABLE_FORMATS,
                           SENTENCE_VECTORS, SENTENCE_VECTORS32, SENTENCES, TEXTS, current_generation, readable)
from .index.segment import entries
from .pages import page_at
from .store import FIX, IDS, META, backend, open_store, read_meta, short_error

UNIT_TOLERANCE = 1e-3  # |norm - 1| allowed (float32 round-off is ~1e-7)
BLOCK = 65_536  # chunk vectors read from the store at a time (memory stays bounded at any size)


@dataclass
class Finding:
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class CheckReport:
    index_dir: Path
    generation: Path | None = None
    problems: list[Finding] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.generation is not None and not self.problems

    def bad(self, file: str, message: str) -> None:
        self.problems.append(Finding(file, message))

    def text(self) -> str:
        c = self.counts
        if self.ok:
            return (f"index OK: {self.generation} ({c.get('documents', 0)} documents, {c.get('chunks', 0)} chunks, "
                    f"{c.get('sentences', 0)} sentences, {c.get('dim', 0)}-dim unit vectors, {c.get('vector_store')} "
                    f"store; spans, hashes, ids and counts agree; {self.seconds:.2f} s)")
        where = self.generation or self.index_dir
        n = len(self.problems)
        lines = [f"index in {where} is damaged ({n} problem{'s' * (n != 1)}):"]
        lines += [f"  {self.generation / f.file if self.generation else f.file}: {f.message}" for f in self.problems]
        fix = f"fix: {FIX} (it re-reads the documents and writes a fresh index"
        if (Path(self.index_dir) / "uploads").is_dir():
            fix += f"; then `assistant ingest {Path(self.index_dir) / 'uploads'}` for the documents uploaded in the chat"
        lines.append(fix + ").")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"ok": self.ok, "generation": str(self.generation) if self.generation else None,
                "problems": [{"file": f.file, "message": f.message} for f in self.problems],
                "counts": self.counts, "seconds": round(self.seconds, 3), "fix": None if self.ok else FIX}


def _jsonl(gen: Path, name: str, report: CheckReport) -> list | None:
    """Rows of a JSONL file, or None (with a finding) when a line does not parse."""
    raw = (gen / name).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        report.bad(name, f"not UTF-8 at byte {e.start}")
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = []
    for i, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            cut = i == len(lines) and not text.endswith("\n")
            report.bad(name, f"line {i} is not valid JSON" + (" (cut off: the file is truncated)" if cut else ""))
            return None
    return rows


@dataclass(frozen=True)
class Names:
    """Where a generation keeps what is checked (format 4: texts.sqlite; 2 and 3: JSON lines files),
    so each finding names the file, and its rows ("row 12" / "line 13")."""
    docs: str
    chunks: str
    sentences: str
    vectors: str
    unit: str

    def at(self, i: int) -> str:
        return f"{self.unit} {i + 1 if self.unit == 'line' else i}"


def _texts(gen: Path, report: CheckReport) -> tuple[list | None, list | None, list | None]:
    """The documents, chunks and sentences of texts.sqlite in the shapes of the JSON lines files
    (dicts; sentences as [source, start, end]), or Nones (reported) when it cannot be read."""
    import sqlite3

    try:
        conn = sqlite3.connect(lexical.read_only_uri(gen / TEXTS), uri=True)
    except sqlite3.Error as e:
        report.bad(TEXTS, f"cannot be opened ({e})")
        return None, None, None
    try:
        result = [r[0] for r in conn.execute("PRAGMA quick_check")]
        if result != ["ok"]:
            report.bad(TEXTS, f"fails SQLite's integrity check ({result[0]})")
            return None, None, None
        texts = "doc_texts" if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'doc_texts'").fetchone() else "docs"
        docs = [{"source": r[0], "title": r[1], "sha256": r[2], "pages": json.loads(r[3]), "text": r[4]} for r in conn.execute(
            f"SELECT d.source, d.title, d.sha256, d.pages, t.text FROM docs d JOIN {texts} t ON t.row = d.row ORDER BY d.row")]
        sources = [d["source"] for d in docs]
        chunks = [{"id": r[0], "source": sources[r[1]], "start": r[2], "end": r[3], "text": r[4], "page": r[5]}
                  for r in conn.execute('SELECT id, doc, start, "end", text, page FROM chunks ORDER BY row')]
        sents = [[sources[r[0]], r[1], r[2]] for r in conn.execute('SELECT doc, start, "end" FROM sentences ORDER BY row')]
        return docs, chunks, sents
    except (sqlite3.Error, ValueError, IndexError, TypeError) as e:
        report.bad(TEXTS, f"unreadable ({short_error(e)})")
        return None, None, None
    finally:
        conn.close()


def _counted(rows: list | None, name: str, key: str, manifest: dict | None, report: CheckReport) -> list | None:
    """The rows, or None when unreadable or when their count differs from the manifest's `key` (a
    truncated or damaged file; reported)."""
    if rows is not None and manifest is not None and manifest.get(key) is not None and len(rows) != manifest[key]:
        report.bad(name, f"holds {len(rows)} {key} but the manifest says {manifest[key]} (truncated or damaged)")
        return None
    return rows


def _vector_problem(blocks) -> str:
    """What is wrong with these vectors (an iterable of row blocks, in row order): rows that are not
    finite or not of unit length; "" when nothing is."""
    n_bad, total, first = 0, 0, ""
    for v in blocks:
        if v.ndim != 2:
            return f"has shape {v.shape}, not rows of vectors"
        finite = np.isfinite(v).all(axis=1)
        norms = np.linalg.norm(np.where(np.isfinite(v), v, 0.0), axis=1)
        bad = ~finite | (np.abs(norms - 1.0) > UNIT_TOLERANCE)
        if bad.any() and not first:
            row = int(np.argmax(bad))
            what = "is not finite (NaN or inf)" if not finite[row] else f"has length {norms[row]:.4f}, not 1"
            first = f"row {total + row} {what}"
        n_bad += int(bad.sum())
        total += len(v)
    return f"{n_bad} of {total} vectors are not finite unit vectors ({first})" if n_bad else ""


def _damage(e: IndexFileError) -> str:
    """A load error's problem as a finding's message ("is unreadable (...)" -> "unreadable (...)")."""
    return e.problem.removeprefix("is ").replace("missing: the index is damaged", "missing")


def check(index_dir: Path, vector_store: str = "") -> CheckReport:
    """Verify the live generation of `index_dir`; see the module docstring. `vector_store` is the
    setting: its postgresql:// URL (with the password) reaches a pgvector generation's table."""
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    report = CheckReport(index_dir)
    gen = current_generation(index_dir)
    if gen is None:
        pointer = index_dir / "CURRENT"
        if pointer.is_file():
            report.bad(str(pointer), f"names {pointer.read_text(encoding='utf-8', errors='replace').strip()!r}, which is not a folder here")
        else:
            report.bad(str(index_dir), "no index here (CURRENT is missing): run `assistant ingest` first")
        report.seconds = time.perf_counter() - t0
        return report
    report.generation = gen
    manifest = _manifest(gen, report)
    if not (gen / MANIFEST).is_file():
        report.bad(MANIFEST, "missing")
    dim = int(manifest.get("dim") or 0) if manifest else 0
    # A generation of format 2 or 3 that no process has loaded yet (loading upgrades it) has its
    # texts as JSON lines: checked as they are. Format 4: each segment (segment.py) on its own,
    # then the live documents of all of them against the manifest.
    legacy = manifest is not None and manifest.get("format") != FORMAT
    if legacy or manifest is None or not manifest.get("segments"):
        docs, chunks, sents, kind = _check_folder(gen, manifest, vector_store, dim, legacy, report)
    else:
        live, chunks, sents, kind = {}, [], [], ""
        for entry in entries(manifest):
            sub = CheckReport(index_dir)
            own = {**manifest, "chunks": entry.chunks, "sentences": entry.sentences, "documents": None}
            d, c, st, k = _check_folder(gen / entry.dir if entry.dir else gen, own, vector_store, dim, False, sub)
            for f in sub.problems:
                report.bad(f"{entry.dir}/{f.file}" if entry.dir else f.file, f.message)
            kind = kind or k
            if d is None or c is None or st is None:
                chunks = sents = None
                live = None
                continue
            if live is not None:
                for i, (source, row) in enumerate(d.items()):
                    if i not in entry.deleted:
                        live[source] = row
            if chunks is not None:
                chunks += c
                sents += st
        if live is not None:
            _listed(live, manifest, TEXTS, report)
        docs = live
    report.counts = {"documents": len(docs) if docs is not None else None,
                     "chunks": len(chunks) if chunks is not None else None,
                     "sentences": len(sents) if sents is not None else None, "dim": dim, "vector_store": kind}
    report.seconds = time.perf_counter() - t0
    return report


def _check_folder(gen: Path, manifest: dict | None, vector_store: str, dim: int, legacy: bool,
                  report: CheckReport) -> tuple[dict | None, list | None, list | None, str]:
    """The files of one generation folder or segment: texts, vectors, store, BM25. Returns its
    documents, chunks, sentences (None where unreadable) and the store's backend."""
    store_files, kind = _store_files(gen, manifest, report)
    files = (LEGACY_FILES if legacy else FILES)[1:]  # the manifest is the generation's (checked by the caller)
    missing = [name for name in (*files, *store_files) if not (gen / name).is_file()]
    for name in missing:
        report.bad(name, "missing")
    if legacy:
        names = Names(DOCS, CHUNKS, SENTENCES, SENTENCE_VECTORS32, "line")
        rows = (_jsonl(gen, DOCS, report) if DOCS not in missing else None,
                _jsonl(gen, CHUNKS, report) if CHUNKS not in missing else None,
                _jsonl(gen, SENTENCES, report) if SENTENCES not in missing else None)
    else:
        names = Names(TEXTS, TEXTS, TEXTS, SENTENCE_VECTORS, "row")
        rows = _texts(gen, report) if TEXTS not in missing else (None, None, None)
    docs = _documents(rows[0], names, manifest, report)
    chunks = _chunks(_counted(rows[1], names.chunks, "chunks", manifest, report), names, docs, report)
    sents = _sentences(_counted(rows[2], names.sentences, "sentences", manifest, report), names, docs, report)
    if kind and not any(name in missing for name in store_files):
        _chunk_vectors(gen, vector_store, store_files, chunks, manifest, dim, report, names)
    if names.vectors not in missing:
        _sentence_vectors(gen, names.vectors, sents, manifest, dim, report)
    if (gen / LEXICAL).is_file():
        n = len(chunks) if chunks is not None else (manifest or {}).get("chunks")
        if problem := lexical.verify(gen / LEXICAL, n):
            report.bad(LEXICAL, problem)
    return docs, chunks, sents, kind


def _manifest(gen: Path, report: CheckReport) -> dict | None:
    if not (gen / MANIFEST).is_file():
        return None  # reported as missing
    try:
        manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not an object")
    except ValueError as e:
        report.bad(MANIFEST, f"not valid JSON ({short_error(e)})")
        return None
    if manifest.get("format") not in READABLE_FORMATS:
        report.bad(MANIFEST, f"format {manifest.get('format')!r}: this version reads "
                             f"{readable()}")
        return None
    return manifest


def _store_files(gen: Path, manifest: dict | None, report: CheckReport) -> tuple[tuple[str, ...], str]:
    """The files the chunk vector store must have (its vectors' file first, store.json last) and its
    backend ("" when store.json cannot say; reported). The manifest records the backend since
    stores exist; a generation written before them has vectors.faiss alone."""
    recorded = (manifest or {}).get("vector_store")
    if not (gen / META).is_file() and not recorded:
        return ("vectors.faiss",), "flat"
    try:
        meta = read_meta(gen) if (gen / META).is_file() else {"backend": recorded}
        cls = backend(meta.get("backend"), gen)
    except IndexFileError as e:
        report.bad(META, _damage(e))
        return (), ""
    return (*cls.files(meta), META), cls.kind


def _documents(rows: list | None, names: Names, manifest: dict | None, report: CheckReport) -> dict[str, dict] | None:
    if rows is None:
        return None
    try:
        docs = {r["source"]: r for r in rows}
        if any(not isinstance(r["text"], str) for r in rows):
            raise TypeError
    except (KeyError, TypeError):
        report.bad(names.docs, "a row lacks its source or text")
        return None
    for source, d in docs.items():
        actual = hashlib.sha256(d["text"].encode("utf-8")).hexdigest()
        if d.get("sha256") != actual:
            report.bad(names.docs, f"the text of {source} does not match its sha256 (damaged text)")
            break
    if manifest is not None and manifest.get("documents") is not None:
        _listed(docs, manifest, names.docs, report)
    return docs


def _listed(docs: dict[str, dict], manifest: dict, file: str, report: CheckReport) -> None:
    """The documents (source -> row) against the manifest's list and sha256s."""
    listed = manifest.get("documents") or {}
    if set(listed) != set(docs):
        extra, lost = sorted(set(docs) - set(listed)), sorted(set(listed) - set(docs))
        report.bad(file, f"holds {len(docs)} documents but the manifest lists {len(listed)}"
                         + (f" (missing: {', '.join(lost[:3])})" if lost else "")
                         + (f" (not in the manifest: {', '.join(extra[:3])})" if extra else ""))
    else:
        wrong = [s for s, h in listed.items() if h != docs[s].get("sha256")]
        if wrong:
            report.bad(MANIFEST, f"the sha256 of {len(wrong)} document(s) does not match the stored "
                                 f"text (first: {wrong[0]})")


def _chunks(chunks: list | None, names: Names, docs: dict | None, report: CheckReport) -> list | None:
    if chunks is None or docs is None:
        return chunks
    bad, first, wrong_page, first_page = 0, "", 0, ""
    for i, c in enumerate(chunks):
        try:
            d = docs.get(c["source"])
            exact = d is not None and 0 <= c["start"] < c["end"] <= len(d["text"]) \
                and d["text"][c["start"]:c["end"]] == c["text"]
            # the page a citation shows must be the one the document's page offsets give
            paged = not exact or c.get("page") == page_at(d.get("pages") or (), c["start"])
        except (KeyError, TypeError):
            exact = paged = False
        if not exact:
            bad += 1
            first = first or names.at(i)
        elif not paged:
            wrong_page += 1
            first_page = first_page or names.at(i)
    if bad:
        report.bad(names.chunks, f"{bad} of {len(chunks)} chunks do not match their document's text "
                           f"at their span (first: {first})")
    if wrong_page:
        report.bad(names.chunks, f"{wrong_page} of {len(chunks)} chunks have a page number that disagrees "
                           f"with their document's page offsets (first: {first_page})")
    return chunks


def _sentences(sents: list | None, names: Names, docs: dict | None, report: CheckReport) -> list | None:
    if sents is None or docs is None:
        return sents
    bad, first = 0, ""
    for i, s in enumerate(sents):
        try:
            source, a, b = s
            d = docs.get(source)
            ok = d is not None and 0 <= a < b <= len(d["text"]) and d["text"][a:b].strip() != ""
        except (TypeError, ValueError):
            ok = False
        if not ok:
            bad += 1
            first = first or names.at(i)
    if bad:
        report.bad(names.sentences, f"{bad} of {len(sents)} sentence spans lie outside their document (first: {first})")
    return sents


def _chunk_vectors(gen: Path, vector_store: str, files: tuple[str, ...], chunks: list | None, manifest: dict | None,
                   dim: int, report: CheckReport, names: Names) -> None:
    """The chunk vector store, read through the VectorStore Protocol: it opens, holds one vector for
    each chunk id and nothing else, of the manifest's dimension, each a finite unit vector.
    Problems with the vectors name the backend's vectors file (store.json for a database), problems
    with the ids its id file."""
    vfile = files[0]
    ids_file = IDS if IDS in files else META
    # A database store's vectors and ids are rows of the table store.json names: say so.
    where = f"its table {read_meta(gen).get('table')}: " if vfile == META else ""
    chunk_ids = [c.get("id") for c in chunks if isinstance(c, dict)] if chunks is not None else None
    n_chunks = len(chunk_ids) if chunk_ids is not None else (manifest or {}).get("chunks")
    try:
        store = open_store(gen, dsn=vector_store, ids=chunk_ids)
    except IndexFileError as e:
        report.bad(e.path.name if e.path.parent == gen else vfile, _damage(e))
        return
    except IndexStoreError as e:  # e.g. the database cannot be reached: nothing could be verified
        report.bad(vfile, f"cannot be read: {e}")
        return
    try:
        if dim and store.dim != dim:
            report.bad(vfile, where + f"vectors have {store.dim} dimensions, the manifest says {dim}")
            return
        count = store.count()
        if n_chunks is not None and count != n_chunks:
            report.bad(vfile, where + f"holds {count} vectors for {n_chunks} chunks")
            return
        if chunk_ids is None:
            return
        if problem := _id_problem(store.ids(), chunk_ids, names.chunks):
            report.bad(ids_file, where + problem)
            return
        blocks = (store.vectors(chunk_ids[a:a + BLOCK]) for a in range(0, len(chunk_ids), BLOCK))
        if problem := _vector_problem(blocks):
            report.bad(vfile, where + problem)
    except Exception as e:  # noqa: BLE001  an audit reports what failed (a backend's own error types)
        report.bad(vfile, where + f"unreadable ({type(e).__name__}: {short_error(e)})")
    finally:
        store.close()


def _id_problem(stored: list[str], chunk_ids: list, chunks_file: str = TEXTS) -> str:
    """How the store's ids differ from the chunks' ("" when they are the same ids, once each)."""
    have, want = set(stored), set(chunk_ids)
    lost = [i for i in chunk_ids if i not in have]
    extra = [i for i in stored if i not in want]
    parts = [f"no vector for {len(lost)} chunk(s) of {chunks_file} (first: {lost[0]})" if lost else "",
             f"{len(extra)} id(s) of no chunk (first: {extra[0]})" if extra else "",
             f"{len(stored) - len(have)} id(s) twice" if len(have) != len(stored) else ""]
    return "; ".join(p for p in parts if p)


def _sentence_vectors(gen: Path, name: str, sents: list | None, manifest: dict | None, dim: int,
                      report: CheckReport) -> None:
    try:
        svec = np.load(gen / name, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        report.bad(name, f"unreadable ({short_error(e)})")
        return
    n_sents = len(sents) if sents is not None else (manifest or {}).get("sentences")
    if svec.ndim != 2 or (dim and svec.shape[1] != dim):
        report.bad(name, f"has shape {svec.shape}, expected (sentences, {dim})")
    elif n_sents is not None and svec.shape[0] != n_sents:
        report.bad(name, f"has {svec.shape[0]} rows for {n_sents} sentences")
    elif problem := _vector_problem(np.asarray(svec[a:a + BLOCK], dtype=np.float32)
                                    for a in range(0, svec.shape[0], BLOCK)):
        report.bad(name, problem)
