"""Integrity of the persisted index (`assistant check`) and the error messages for a damaged or
unwritable one.

`check(index_dir)` reads the live generation file by file, without loading any model, and verifies:
- every file is there and parses (manifest.json, docs.jsonl, chunks.jsonl, vectors.faiss,
  sentences.jsonl, sentence_vectors.npy);
- the counts agree: documents with the manifest, chunks with the chunk vectors, sentences with the
  sentence vectors (blame goes to the file that disagrees with the manifest);
- every chunk's text is exactly doc.text[start:end] and every sentence span lies inside its document;
- the manifest's per-document sha256 matches the stored text;
- every vector is finite and unit-length (the index searches by inner product = cosine).

Each problem names the file it was found in; the fix is always a rebuild (`assistant ingest --rebuild`).

"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .index.layout import READABLE_FORMATS, current_generation
from .pages import page_at
from .store import FIX
from .store import short_error as _short

FILES = ("manifest.json", "docs.jsonl", "chunks.jsonl", "vectors.faiss", "sentences.jsonl", "sentence_vectors.npy")
UNIT_TOLERANCE = 1e-3  # |norm - 1| allowed (float32 round-off is ~1e-7)


# -- assistant check ---------------------------------------------------------------------------------
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
                    f"{c.get('sentences', 0)} sentences, {c.get('dim', 0)}-dim unit vectors; spans, hashes and "
                    f"counts agree; {self.seconds:.2f} s)")
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


def _counted(gen: Path, name: str, key: str, manifest: dict | None, report: CheckReport) -> list | None:
    """The rows of a JSONL store, or None when unreadable or when their count differs from the
    manifest's `key` (a truncated or damaged file; reported)."""
    rows = _jsonl(gen, name, report)
    if rows is not None and manifest is not None and manifest.get(key) is not None and len(rows) != manifest[key]:
        report.bad(name, f"holds {len(rows)} {key} but the manifest says {manifest[key]} (truncated or damaged)")
        return None
    return rows


def _vector_problem(v: np.ndarray) -> str:
    if v.ndim != 2:
        return f"has shape {v.shape}, not rows of vectors"
    finite = np.isfinite(v).all(axis=1)
    norms = np.linalg.norm(np.where(np.isfinite(v), v, 0.0), axis=1)
    bad = ~finite | (np.abs(norms - 1.0) > UNIT_TOLERANCE)
    if not bad.any():
        return ""
    row = int(np.argmax(bad))
    what = "is not finite (NaN or inf)" if not finite[row] else f"has length {norms[row]:.4f}, not 1"
    return f"{int(bad.sum())} of {len(v)} vectors are not finite unit vectors (row {row} {what})"


def check(index_dir: Path) -> CheckReport:
    """Verify the live generation of `index_dir`; see the module docstring."""
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    report = CheckReport(index_dir)
    gen = current_generation(index_dir)
    if gen is None:
        pointer = index_dir / "CURRENT"
        if pointer.is_file():
            report.bad(str(pointer), f"names {pointer.read_text(errors='replace').strip()!r}, which is not a folder here")
        else:
            report.bad(str(index_dir), "no index here (CURRENT is missing): run `assistant ingest` first")
        report.seconds = time.perf_counter() - t0
        return report
    report.generation = gen
    missing = [name for name in FILES if not (gen / name).is_file()]
    for name in missing:
        report.bad(name, "missing")

    manifest: dict | None = None
    if "manifest.json" not in missing:
        try:
            manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not an object")
        except ValueError as e:
            report.bad("manifest.json", f"not valid JSON ({_short(e)})")
            manifest = None
    if manifest is not None and manifest.get("format") not in READABLE_FORMATS:
        report.bad("manifest.json", f"format {manifest.get('format')!r}: this version reads "
                                    f"{' and '.join(map(str, READABLE_FORMATS))}")
        manifest = None
    dim = int(manifest.get("dim") or 0) if manifest else 0

    docs: dict[str, dict] | None = None
    if "docs.jsonl" not in missing:
        rows = _jsonl(gen, "docs.jsonl", report)
        if rows is not None:
            try:
                docs = {r["source"]: r for r in rows}
                if any(not isinstance(r["text"], str) for r in rows):
                    raise TypeError
            except (KeyError, TypeError):
                report.bad("docs.jsonl", "a row lacks its source or text")
                docs = None
    if docs is not None:
        for source, d in docs.items():
            actual = hashlib.sha256(d["text"].encode("utf-8")).hexdigest()
            if d.get("sha256") != actual:
                report.bad("docs.jsonl", f"the text of {source} does not match its sha256 (damaged text)")
                break
        if manifest is not None:
            listed = manifest.get("documents") or {}
            if set(listed) != set(docs):
                extra, lost = sorted(set(docs) - set(listed)), sorted(set(listed) - set(docs))
                report.bad("docs.jsonl", f"holds {len(docs)} documents but the manifest lists {len(listed)}"
                                         + (f" (missing: {', '.join(lost[:3])})" if lost else "")
                                         + (f" (not in the manifest: {', '.join(extra[:3])})" if extra else ""))
            else:
                wrong = [s for s, h in listed.items() if h != docs[s].get("sha256")]
                if wrong:
                    report.bad("manifest.json", f"the sha256 of {len(wrong)} document(s) does not match the stored "
                                                f"text (first: {wrong[0]})")

    chunks = None
    if "chunks.jsonl" not in missing:
        chunks = _counted(gen, "chunks.jsonl", "chunks", manifest, report)
        if chunks is not None and docs is not None:
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
                    first = first or f"line {i + 1}"
                elif not paged:
                    wrong_page += 1
                    first_page = first_page or f"line {i + 1}"
            if bad:
                report.bad("chunks.jsonl", f"{bad} of {len(chunks)} chunks do not match their document's text "
                                           f"at their span (first: {first})")
            if wrong_page:
                report.bad("chunks.jsonl", f"{wrong_page} of {len(chunks)} chunks have a page number that disagrees "
                                           f"with their document's page offsets (first: {first_page})")

    sents = None
    if "sentences.jsonl" not in missing:
        sents = _counted(gen, "sentences.jsonl", "sentences", manifest, report)
        if sents is not None and docs is not None:
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
                    first = first or f"line {i + 1}"
            if bad:
                report.bad("sentences.jsonl", f"{bad} of {len(sents)} sentence spans lie outside their document "
                                              f"(first: {first})")

    if "vectors.faiss" not in missing:
        try:
            import faiss

            fi = faiss.read_index(str(gen / "vectors.faiss"))
            vectors = fi.reconstruct_n(0, fi.ntotal) if fi.ntotal else np.zeros((0, fi.d), np.float32)
        except (RuntimeError, OSError) as e:
            report.bad("vectors.faiss", f"unreadable ({_short(e)})")
        else:
            n_chunks = len(chunks) if chunks is not None else (manifest or {}).get("chunks")
            if dim and fi.d != dim:
                report.bad("vectors.faiss", f"vectors have {fi.d} dimensions, the manifest says {dim}")
            elif n_chunks is not None and fi.ntotal != n_chunks:
                report.bad("vectors.faiss", f"holds {fi.ntotal} vectors for {n_chunks} chunks")
            elif problem := _vector_problem(vectors):
                report.bad("vectors.faiss", problem)

    if "sentence_vectors.npy" not in missing:
        try:
            svec = np.load(gen / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            report.bad("sentence_vectors.npy", f"unreadable ({_short(e)})")
        else:
            n_sents = len(sents) if sents is not None else (manifest or {}).get("sentences")
            if svec.ndim != 2 or (dim and svec.shape[1] != dim):
                report.bad("sentence_vectors.npy", f"has shape {svec.shape}, expected (sentences, {dim})")
            elif n_sents is not None and svec.shape[0] != n_sents:
                report.bad("sentence_vectors.npy", f"has {svec.shape[0]} rows for {n_sents} sentences")
            elif problem := _vector_problem(np.asarray(svec, dtype=np.float32)):
                report.bad("sentence_vectors.npy", problem)

    report.counts = {"documents": len(docs) if docs is not None else None,
                     "chunks": len(chunks) if chunks is not None else None,
                     "sentences": len(sents) if sents is not None else None, "dim": dim}
    report.seconds = time.perf_counter() - t0
    return report
