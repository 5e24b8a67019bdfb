"""What `bench.py scale --full` measures on a complete index of N chunks (eval/synthindex.py), with
the real embedder and the default settings:

    cold_search      a fresh `python -m assistant search QUESTION --json` process, end to end (median
                     wall time of 3 runs, the peak RSS of the largest; eval/peakrss.py), and the top
                     result's source, to show it found something
    hybrid           in one process, the answer path's retrieval as pipeline.build wires it
                     (HybridRetriever + EvidenceSelector): retrieve + evidence selection per real
                     question, the query vectors embedded beforehand (the time excludes embedding);
                     and BM25's scores() alone for the same questions
    add / remove     a fresh `python -m assistant ingest FOLDER` of one new ~20-page .txt document
                     into the index itself (wall time, peak RSS), then `assistant docs remove` of it
                     (timed too), so the index holds its N chunks again
    compact          (--compact) `python -m assistant ingest FOLDER --compact` of another new document:
                     embedded, then the whole index written as one segment (index/compact.py): wall
                     time and peak RSS; then the document removed again. Run first, so the cold
                     search after it finds the index's files in the page cache, as after a build
    shared           (--shared) the same index published to PostgreSQL (`assistant publish`: wall time,
                     peak RSS), then the three above reading it from there (add / remove: the folder
                     written and the change published)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NEW_SCOPE = "bench-new"  # the folder (and so the scope) the added document is ingested from
PAGES, PAGE_CHARS = 20, 3_000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def questions(n: int, language: str | None = None) -> list[str]:
    """Real questions about the seeds: eval/gold.jsonl's (answerable or not, Dutch and English), in
    file order; only those of `language` (lang.detect) when given."""
    from assistant import lang

    rows = [json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    qs = [r["question"] for r in rows]
    return [q for q in qs if language is None or lang.detect(q) == language][:n]


def _env(index_dir: Path, backend: str, shared: str = "") -> dict:
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    # ingest writes the new generation to this backend ("auto" would turn a 100k hnsw index into flat)
    env["ASSISTANT_VECTOR_STORE"] = backend
    env["ASSISTANT_SHARED_INDEX"] = shared  # "": the folder; a URL: search reads, ingest publishes, there
    return env


def _error(m: dict, stderr: str) -> str:
    """The last line of a failed command's stderr, or how it ended (-9: killed, e.g. out of memory)."""
    lines = stderr.strip().splitlines()
    return lines[-1] if lines else f"exit {m['returncode']}" + (" (killed: out of memory?)" if m["returncode"] == -9 else "")


def measured(args: list[str], env: dict, label: str) -> tuple[dict, str, str]:
    """Run `python -m assistant ARGS` under eval/peakrss.py: ({wall_s, peak_rss_mb, returncode}, stdout, stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.json"
        subprocess.run([sys.executable, str(ROOT / "eval" / "peakrss.py"), str(out), "--",
                        sys.executable, "-m", "assistant", *args], env=env, cwd=ROOT, check=True)
        m = json.loads(out.read_text(encoding="utf-8"))
        stdout = Path(str(out) + ".stdout").read_text(encoding="utf-8", errors="replace")
        stderr = Path(str(out) + ".stderr").read_text(encoding="utf-8", errors="replace")
    if m["returncode"] != 0:
        log(f"[full] {label} failed (exit {m['returncode']}): {stderr[-2000:]}")
    return m, stdout, stderr


def cold_search(index_dir: Path, backend: str, question: str, runs: int = 3, shared: str = "") -> dict:
    env = _env(index_dir, backend, shared)
    walls, rss, top = [], [], None
    for _ in range(runs):
        m, stdout, stderr = measured(["search", question, "--json"], env, "search")
        if m["returncode"] != 0:
            return {"cold_search_error": _error(m, stderr), "cold_search_rss_mb": m["peak_rss_mb"]}
        walls.append(m["wall_s"])
        rss.append(m["peak_rss_mb"])
        passages = json.loads(stdout)["passages"]
        top = passages[0]["source"] if passages else None
    log(f"[full] cold search {walls} s, peak RSS {rss} MB, top: {top}")
    return {"cold_search_s": round(float(np.median(walls)), 2), "cold_search_rss_mb": max(rss),
            "cold_search_top": top, "cold_search_question": question}


def new_document(seeds_index: Path, folder: Path, tag: str) -> Path:
    """One new ~20-page .txt (PAGES paragraphs of ~PAGE_CHARS characters) from the seeds' sentences
    in a shuffled order, so its chunks are new texts that must be embedded."""
    from synthindex import SeedText

    seed = SeedText(seeds_index)
    rng = np.random.default_rng(5)
    order = rng.permutation(len(seed.sentences))
    pages, at = [], 0
    for _ in range(PAGES):
        page = []
        while sum(len(s) + 1 for s in page) < PAGE_CHARS:
            page.append(seed.sentences[order[at % len(order)]])
            at += 1
        pages.append(" ".join(page))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"nieuw-{tag}.txt"
    path.write_text("\n\n".join(pages) + "\n", encoding="utf-8")
    return path


def add_and_remove(index_dir: Path, backend: str, seeds_index: Path, work: Path, n: int, shared: str = "") -> dict:
    from assistant import index

    folder = work / f"new-{n}-{backend}" / NEW_SCOPE
    doc = new_document(seeds_index, folder, f"{n}-{backend}")
    source = f"{NEW_SCOPE}/{doc.name}"
    # Checkpoints of an ingest of this document that failed in an earlier run would be resumed and
    # the document not embedded at all: the measurement starts without them.
    for leftover in Path(index_dir).glob(f"{index.WORK_PREFIX}*"):
        shutil.rmtree(leftover)
    env = _env(index_dir, backend, shared)
    out: dict = {"add_doc_chars": len(doc.read_text(encoding="utf-8"))}
    m, stdout, stderr = measured(["ingest", str(folder)], env, "ingest")
    if m["returncode"] != 0:
        return {**out, "add_doc_error": _error(m, stderr), "add_doc_failed_after_s": m["wall_s"],
                "ingest_peak_rss_mb": m["peak_rss_mb"]}
    manifest = _manifest(index_dir)
    out.update({"add_doc_s": m["wall_s"], "ingest_peak_rss_mb": m["peak_rss_mb"],
                "add_doc_chunks": manifest["chunks"] - n})
    log(f"[full] ingest of {source}: {m['wall_s']} s, peak RSS {m['peak_rss_mb']} MB: {stdout.strip()}")
    m, stdout, stderr = measured(["docs", "remove", source], env, "docs remove")
    if m["returncode"] != 0:
        return {**out, "remove_doc_error": _error(m, stderr), "remove_peak_rss_mb": m["peak_rss_mb"],
                "note": f"the index still holds {source}"}
    left = _manifest(index_dir)["chunks"]
    out.update({"remove_doc_s": m["wall_s"], "remove_peak_rss_mb": m["peak_rss_mb"], "chunks_after_remove": left})
    log(f"[full] removed it again: {m['wall_s']} s, {left} chunks left")
    return out


def compact(index_dir: Path, backend: str, seeds_index: Path, work: Path, n: int) -> dict:
    """`assistant ingest FOLDER --compact` of one new document (see the module docstring)."""
    from assistant import index

    folder = work / f"compact-{n}-{backend}" / NEW_SCOPE
    doc = new_document(seeds_index, folder, f"{n}-{backend}-compact")
    source = f"{NEW_SCOPE}/{doc.name}"
    for leftover in Path(index_dir).glob(f"{index.WORK_PREFIX}*"):
        shutil.rmtree(leftover)
    env = _env(index_dir, backend)
    before = _manifest(index_dir)
    out: dict = {"compact_segments_before": len(before.get("segments") or [None]),
                 "compact_dead_chunks_before": sum(len(s.get("deleted", ())) for s in before.get("segments") or ())}
    m, stdout, stderr = measured(["ingest", str(folder), "--compact"], env, "ingest --compact")
    if m["returncode"] != 0:
        return {**out, "compact_error": _error(m, stderr), "compact_failed_after_s": m["wall_s"],
                "compact_peak_rss_mb": m["peak_rss_mb"]}
    after = _manifest(index_dir)
    out.update({"compact_s": m["wall_s"], "compact_peak_rss_mb": m["peak_rss_mb"], "compact_chunks": after["chunks"],
                "compact_segments_after": len(after.get("segments") or [None])})
    log(f"[full] ingest --compact of {source}: {m['wall_s']} s, peak RSS {m['peak_rss_mb']} MB: {stdout.strip()}")
    m, stdout, stderr = measured(["docs", "remove", source], env, "docs remove")
    if m["returncode"] != 0:
        return {**out, "note": f"the index still holds {source}: {_error(m, stderr)}"}
    return out


def _manifest(index_dir: Path) -> dict:
    """The live generation's manifest, without loading the index (its store is gigabytes at 1M)."""
    from assistant.index.layout import current_generation, read_manifest

    return read_manifest(current_generation(index_dir))


class PrecomputedQueries:
    """The real embedder's name and dim with query vectors computed beforehand: the retriever asks
    for a query's vector and gets it without a model call, so the timing excludes embedding."""

    def __init__(self, embedder, texts: list[str]):
        self.name = embedder.name
        self._vectors = {t: np.asarray(embedder.embed_query(t), dtype=np.float32) for t in texts}

    def embed_query(self, text: str) -> np.ndarray:
        return self._vectors[text]

    def embed_documents(self, texts, progress=None, titles=None):
        raise RuntimeError("the hybrid benchmark embeds no documents")


def publish(index_dir: Path, backend: str, shared: str) -> dict:
    """`assistant publish`: the whole folder index copied to the shared index (wall time, peak RSS)."""
    m, stdout, stderr = measured(["publish", "--take-over"], _env(index_dir, backend, shared), "publish")
    if m["returncode"] != 0:
        return {"publish_error": _error(m, stderr), "publish_failed_after_s": m["wall_s"]}
    log(f"[full] published in {m['wall_s']} s, peak RSS {m['peak_rss_mb']} MB: {stdout.strip()}")
    return {"publish_s": m["wall_s"], "publish_peak_rss_mb": m["peak_rss_mb"]}


def run_hybrid(index_dir: Path, n_queries: int, shared: str = "") -> dict:
    """p50/p95 of retrieve + evidence selection and of BM25 scores() alone (see the module docstring);
    `shared`: of the shared index at that URL (published from index_dir)."""
    from assistant import lang
    from assistant.config import Settings
    from assistant.pipeline import build, make_embedder

    settings = Settings.from_env().with_(index_dir=Path(index_dir), shared_index=shared)
    qs = questions(n_queries)
    real = make_embedder(settings, _manifest(index_dir)["embedder"])
    cached = PrecomputedQueries(real, qs)
    p = build(settings, with_llm=False, embedder=cached)
    retriever, selector, k = p.assistant.retriever, p.assistant.selector, settings.answer.top_k
    for q in qs[:3]:  # warm-up: opens lexical.sqlite, loads the token counter's vocabulary
        selector.select(retriever.retrieve(q, k))
    hybrid, retrieve, lexical, found = [], [], [], 0
    for q in qs:
        t = time.perf_counter()
        retrieval = retriever.retrieve(q, k)
        t1 = time.perf_counter()
        excerpts = selector.select(retrieval)
        hybrid.append(time.perf_counter() - t)
        retrieve.append(t1 - t)
        found += bool(excerpts)
    bm25 = retriever.bm25
    for q in qs:
        floor = settings.retrieval.lexical_idf_floor(lang.detect(q))
        t = time.perf_counter()
        bm25.scores(q, min_idf=floor)
        lexical.append(time.perf_counter() - t)
    ms = lambda xs, q: round(1000 * float(np.percentile(xs, q)), 2)  # noqa: E731
    return {"hybrid_p50_ms": ms(hybrid, 50), "hybrid_p95_ms": ms(hybrid, 95), "retrieve_p50_ms": ms(retrieve, 50),
            "evidence_p50_ms": ms([h - r for h, r in zip(hybrid, retrieve)], 50), "lexical_p50_ms": ms(lexical, 50),
            "lexical_p95_ms": ms(lexical, 95), "hybrid_queries": len(qs), "hybrid_with_evidence": found,
            "top_k": k}
