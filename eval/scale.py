"""`python eval/bench.py scale`: the chunk vector stores (assistant/store/) at N chunks.

    python eval/bench.py scale --chunks 1000000 --backend hnsw --json

1. Seeds: the real chunk + sentence vectors of ./index (or ASSISTANT_INDEX_DIR) when it exists
   (EmbeddingGemma, 768 dimensions); otherwise an index of seeds/ built with the HashEmbedder
   (assistant/embed/hashing.py).
2. A synthetic corpus of N unit vectors, clustered like real embeddings: topics (a blend of two
   seed vectors + noise), sub-topics (topic + noise, ~8 chunks each), chunks (sub-topic + noise of
   a random size). The noise levels were set so the cosine profile of a query's neighbours is
   continuous like the real one (EmbeddingGemma seeds: nearest 0.86, 10th 0.78, 100th 0.66, median
   pair 0.37), not one tight cluster and then nothing. Queries are fresh draws around random
   sub-topics, never corpus vectors. Written once to WORKDIR/corpus-N-DIM.npy (float32) and
   reused by later runs.
3. Exact flat search (FAISS IndexFlatIP, in its own process) gives the true top 10 of every query
   and the exact-search time per query (exact_p50_ms).
4. Each backend in its own processes: build + persist (build_s), then a fresh process loads the
   store (load_s) and searches one query at a time (search_p50_ms / _p95_ms, recall_at_10 against
   step 3). rss_mb is that process's peak RSS (memory-mapped pages it touched count); pgvector
   adds the server's PSS (server_pss_mb). For approximate backends ef_search is raised over
   EF_SWEEP until recall@10 >= --target, and the first ef that reaches it is reported.

Prints one JSON object per backend per line with --json.

--full: the whole application at N chunks, not only the vector store (needs --workdir, flat/hnsw):

    python eval/bench.py scale --chunks 100000 --backend flat,hnsw --full --workdir /data/scale --json
    python eval/bench.py scale --chunks 1000000 --backend hnsw --full --workdir /data/scale --json

5. A complete format-4 index of N synthetic chunks in WORKDIR/index-N-BACKEND (eval/synthindex.py:
   real seed sentences as text, the corpus of step 2 as chunk vectors, sentence vectors around them,
   BM25, the backend's store), built once and reused (delete the folder to build it again). Steps 3-4
   then measure that index's own store: build_s is its store build (null when reused), disk_mb the
   store's files; index_build_s / index_disk_mb are the rest of the index / the whole folder.
6. eval/fullbench.py, with the real embedder and default settings: hybrid_p50_ms / _p95_ms (retrieve +
   evidence selection as pipeline.build wires them, query vectors embedded beforehand;
   retrieve_p50_ms / evidence_p50_ms split it) and lexical_p50_ms (BM25 scores() alone) over
   --hybrid-queries gold questions in one process; cold_search_s (median of --cold-runs fresh
   `python -m assistant search "<Dutch gold question>" --json` processes, wall time from spawn to
   exit) with cold_search_rss_mb (their peak RSS, os.wait4's ru_maxrss from eval/peakrss.py) and
   cold_search_top (the top source); add_doc_s / ingest_peak_rss_mb (a fresh `python -m assistant
   ingest` of one new ~20-page .txt, ~60,000 characters, into the index itself, the store backend
   kept), then remove_doc_s / remove_peak_rss_mb (`assistant docs remove` of it), so the index holds
   its N chunks again (chunks_after_remove). --no-add skips that. The OS page cache is not dropped:
   "cold" is a new process, not a cold disk. The search process uses the store's default ef_search,
   not the one the sweep of step 4 chose.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EF_SWEEP = [40, 64, 96, 128, 192, 256, 384, 512]  # efSearch is at least rerank x k (4 x 10) anyway
K = 10
BLOCK = 50_000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- seeds and corpus ------------------------------------------------------------------------------
def seed_vectors(index_dir: Path) -> tuple[np.ndarray, str]:
    from assistant import index

    if index.exists(index_dir):
        idx = index.load(index_dir)
        v = np.concatenate([idx.vectors(), np.asarray(idx.sentence_vectors, dtype=np.float32)])
        return v, f"{index_dir} ({idx.manifest['embedder']}, {len(idx.chunks)} chunks + {len(idx.sentences)} sentences)"
    from assistant.config import Settings
    from assistant.embed.hashing import HashEmbedder
    from assistant.library import Library

    with tempfile.TemporaryDirectory() as tmp:
        # A scratch index whose vectors are read back once: flat whatever ASSISTANT_VECTOR_STORE says
        # (a database table would outlive the folder); the stores are what is measured below.
        Library(Settings().with_(index_dir=Path(tmp), vector_store="flat"), HashEmbedder(dim=256)).add_folder(ROOT / "seeds")
        idx = index.load(Path(tmp))
        v = np.concatenate([idx.vectors(), np.asarray(idx.sentence_vectors, dtype=np.float32)])
    return v, "seeds/ embedded with the HashEmbedder fake (no ./index)"


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _subtopics(seeds: np.ndarray, n: int, rng) -> np.ndarray:
    """Sub-topic centres: topics are blends of two seed vectors plus noise, sub-topics are topics
    plus smaller noise (~8 chunks per sub-topic, ~25 sub-topics per topic)."""
    dim = seeds.shape[1]
    noise = lambda m, s: rng.standard_normal((m, dim), dtype=np.float32) * (s / np.sqrt(dim))  # noqa: E731
    n_topic, n_sub = max(1, n // 200), max(1, n // 8)
    a, b = rng.integers(0, len(seeds), n_topic), rng.integers(0, len(seeds), n_topic)
    t = rng.uniform(0, 0.4, (n_topic, 1)).astype(np.float32)
    topics = _unit(seeds[a] * (1 - t) + seeds[b] * t + noise(n_topic, 0.45))
    return _unit(topics[rng.integers(0, n_topic, n_sub)] + noise(n_sub, 0.35))


def corpus(n: int, seeds: np.ndarray, workdir: Path) -> tuple[Path, np.ndarray]:
    """The corpus file (float32 .npy, N x dim) and the sub-topic centres (for queries)."""
    dim = seeds.shape[1]
    path = workdir / f"corpus-v2-{n}-{dim}.npy"  # v2: the recipe below; a new recipe, a new name
    rng = np.random.default_rng(42)
    subs = _subtopics(seeds, n, rng)
    if path.exists():
        return path, subs
    log(f"[scale] writing a {n} x {dim} synthetic corpus to {path} ...")
    tmp = path.with_suffix(".tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, dim))
    for a in range(0, n, BLOCK):
        m = min(BLOCK, n - a)
        parent = rng.integers(0, len(subs), m)
        level = rng.uniform(0.25, 0.6, (m, 1)).astype(np.float32) / np.sqrt(dim)  # chunks differ in how typical they are
        out[a:a + m] = _unit(subs[parent] + rng.standard_normal((m, dim), dtype=np.float32) * level)
    out.flush()
    del out
    os.replace(tmp, path)
    return path, subs


def queries(subs: np.ndarray, n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    dim = subs.shape[1]
    return _unit(subs[rng.integers(0, len(subs), n)] + rng.standard_normal((n, dim), dtype=np.float32) * (0.5 / np.sqrt(dim)))


def stats(path: Path, sample: int = 2000) -> dict:
    v = np.load(path, mmap_mode="r")
    rng = np.random.default_rng(1)
    pick = np.sort(rng.choice(len(v), min(sample, len(v)), replace=False))
    s = np.asarray(v[pick]) @ np.asarray(v[pick]).T
    np.fill_diagonal(s, -1)
    return {"random_pair_cos_p50": round(float(np.median(s[np.triu_indices(len(pick), 1)])), 3)}


def ids_for(n: int) -> list[str]:
    return [f"synthetic/{i // 20}.txt#{i}" for i in range(n)]


# -- one measurement per process -------------------------------------------------------------------
def _rss_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss it does not carry the parent's peak over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _disk_mb(folder: Path, skip: tuple[str, ...] = ()) -> float:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and p.name not in skip) / 2**20


def run_exact(corpus_path: Path, q: np.ndarray, out: Path, timed: int) -> dict:
    import faiss

    v = np.load(corpus_path, mmap_mode="r")
    index = faiss.IndexFlatIP(v.shape[1])
    for a in range(0, len(v), BLOCK):
        index.add(np.ascontiguousarray(v[a:a + BLOCK]))
    _, truth = index.search(q, K)
    np.save(out, truth)
    times = []
    for i in range(min(timed, len(q))):
        t = time.perf_counter()
        index.search(q[i:i + 1], K)
        times.append(time.perf_counter() - t)
    return {"exact_p50_ms": round(1000 * float(np.median(times)), 2)}


def run_build(backend: str, corpus_path: Path, folder: Path, dsn: str, opts: dict) -> dict:
    from assistant.store import new_store

    v = np.load(corpus_path, mmap_mode="r")
    n = len(v)
    ids = ids_for(n)
    setting = dsn if backend == "pgvector" else backend
    t = time.perf_counter()
    store = new_store(setting, v.shape[1], n, name=f"scale_{n}", **opts)
    for a in range(0, n, BLOCK * 4):  # pgvector: COPY in blocks, the HNSW index is built once by persist()
        store.add(ids[a:a + BLOCK * 4], np.ascontiguousarray(v[a:a + BLOCK * 4]))
    store.persist(folder)
    build = time.perf_counter() - t
    out = {"build_s": round(build, 1)}
    if backend == "pgvector":
        out["disk_mb"] = round(int(store.conn.execute("SELECT pg_total_relation_size(%s)", (store.table,)).fetchone()[0]) / 2**20, 1)
    store.close()
    return out


def _row_ids(texts_path: Path, rows: list[int]) -> dict[int, str]:
    """Chunk id of each corpus row in a full index (eval/synthindex.py: chunk row i has vector i)."""
    from assistant.index.textstore import TextStore

    store = TextStore(texts_path)
    try:
        out: dict[int, str] = {}
        for a in range(0, len(rows), 500):
            part = rows[a:a + 500]
            out.update(store.query(f"SELECT row, id FROM chunks WHERE row IN ({','.join('?' * len(part))})", part))
        return out
    finally:
        store.close()


def run_search(backend: str, folder: Path, q: np.ndarray, truth: np.ndarray, dsn: str, target: float,
               opts: dict, sweep: list[int], exact_backend: bool, full: str = "") -> dict:
    """`full`: the corpus file of the full index whose generation `folder` is ("" for a bare store)."""
    from assistant.store import open_store

    if full:  # the store of a full index (synthindex.py): chunk row i holds corpus vector i, its id is in texts.sqlite
        id_of = _row_ids(folder / "texts.sqlite", sorted({int(j) for row in truth for j in row}))
    base = _rss_mb()  # interpreter + numpy + faiss + queries, before the store is opened
    t = time.perf_counter()
    store = open_store(folder, dsn=dsn)
    load = time.perf_counter() - t
    if not full:
        ids = ids_for(store.count())
        id_of = {int(j): ids[j] for row in truth for j in row}
    truth_ids = [{id_of[int(j)] for j in row} for row in truth]
    if full:  # rows and vectors still line up (an ingest + remove since the build keeps the order)
        corpus_v = np.load(full, mmap_mode="r")
        for j in list(id_of)[:5]:
            if not np.allclose(store.vector(id_of[j]), corpus_v[j], atol=1e-2):
                raise SystemExit(f"chunk row {j} of {folder} does not hold corpus vector {j}: rebuild it (delete {folder.parent})")
        del corpus_v
    for qi in range(min(5, len(q))):  # warm-up
        store.search(q[qi], K)

    def measure() -> tuple[float, list[float]]:
        hit, times = 0, []
        for qi in range(len(q)):
            t = time.perf_counter()
            found, _ = store.search(q[qi], K)
            times.append(time.perf_counter() - t)
            hit += len(truth_ids[qi] & set(found))
        return hit / (K * len(q)), times

    rows = []
    if backend == "flat":
        recall, times = measure()
        chosen = {"ef_search": None}
    else:
        chosen = None
        for ef in sweep:
            store.ef_search = ef
            if backend == "pgvector":
                store._configure()
            recall, times = measure()
            rows.append({"ef_search": ef, "recall_at_10": round(recall, 4), "search_p50_ms": round(1000 * float(np.median(times)), 2)})
            log(f"[scale] {backend} ef_search={ef}: recall@10 {recall:.4f}, p50 {1000 * np.median(times):.2f} ms")
            if recall >= target:
                chosen = {"ef_search": ef}
                break
        if chosen is None:
            chosen = {"ef_search": sweep[-1], "target_not_reached": True}
    out = {**chosen, "rerank": getattr(store, "rerank", None), "recall_at_10": round(recall, 4),
           "search_p50_ms": round(1000 * float(np.median(times)), 2),
           "search_p95_ms": round(1000 * float(np.percentile(times, 95)), 2),
           "load_s": round(load, 3), "rss_mb": round(_rss_mb(), 1), "rss_before_load_mb": round(base, 1)}
    if rows:
        out["sweep"] = rows
    if backend != "pgvector":  # of a full index's generation, the store's files only
        out["disk_mb"] = round(_disk_mb(folder, skip=("manifest.json", "texts.sqlite", "lexical.sqlite",
                                                      "sentence_vectors.f16.npy") if full else ()), 1)
    else:
        out["server_pss_mb"] = _server_pss_mb(store)
        out["shared_buffers"] = store.conn.execute("SHOW shared_buffers").fetchone()[0]
        if exact_backend:  # pgvector's own exact search (sequential scan), for comparison
            from assistant.store.pgvector import PgVectorStore

            ex = PgVectorStore.load(folder, dsn=dsn, exact=True)  # prepare_threshold=None: no cached index plan
            times = []
            for qi in range(min(5, len(q))):
                t = time.perf_counter()
                ex.search(q[qi], K)
                times.append(time.perf_counter() - t)
            out["pg_exact_p50_ms"] = round(1000 * float(np.median(times)), 1)
            ex.close()
    store.close()
    return out


def _server_pss_mb(store) -> float | None:
    try:
        import psutil

        pid = int(store.conn.execute("SELECT pg_backend_pid()").fetchone()[0])
        root = psutil.Process(pid).parent()
        procs = [root] + root.children(recursive=True)
        return round(sum(p.memory_full_info().pss for p in procs) / 2**20, 1)
    except Exception:
        return None


# -- driver ----------------------------------------------------------------------------------------
def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "eval" / "bench.py"), "_scale_one", *args],
                          capture_output=True, text=True, cwd=ROOT)
    sys.stderr.write(proc.stderr[-4000:] if proc.returncode else "".join(
        line + "\n" for line in proc.stderr.splitlines() if line.startswith("[scale]")))
    if proc.returncode != 0:
        raise SystemExit(f"scale step {args[0]} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[0] == "_scale_one":
        return _one(argv[1:])
    ap = argparse.ArgumentParser(prog="bench.py scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["scale"])
    ap.add_argument("--chunks", type=int, required=True, help="synthetic chunk vectors in the corpus")
    ap.add_argument("--backend", default="all", help="flat | hnsw | pgvector | all (comma-separated list allowed)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--target", type=float, default=0.95, help="recall@10 the ef_search sweep aims for")
    ap.add_argument("--ef", default=",".join(map(str, EF_SWEEP)), help="ef_search values to try, in order")
    ap.add_argument("--rerank", type=int, default=None, help="candidates per result re-scored exactly (default: the store's)")
    ap.add_argument("--m", type=int, default=None, help="HNSW M (default: the store's)")
    ap.add_argument("--ef-construction", type=int, default=None)
    ap.add_argument("--codes", default=None, help="hnsw codes: sq8 (default) | fp16 | flat")
    ap.add_argument("--dsn", default="", help="PostgreSQL URL for pgvector (default: start pgserver in WORKDIR)")
    ap.add_argument("--pg-shared-buffers", default="3GB", help="shared_buffers of the pgserver the benchmark starts")
    ap.add_argument("--workdir", default=None, help="where the corpus and the stores go (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the stores (the corpus is always kept in --workdir)")
    ap.add_argument("--index-dir", default=os.environ.get("ASSISTANT_INDEX_DIR", str(ROOT / "index")))
    ap.add_argument("--threads", type=int, default=1,
                    help="FAISS OpenMP threads while building and searching (default 1: one query at a time on a shared "
                         "2-core VM, 2 threads spin-wait and were 9x slower for exact search)")
    ap.add_argument("--full", action="store_true",
                    help="build (or reuse) a complete synthetic index of N chunks in WORKDIR/index-N-BACKEND "
                         "(eval/synthindex.py) and measure the application on it (eval/fullbench.py): cold "
                         "`assistant search`, hybrid retrieval + evidence, BM25, ingest + remove of one document")
    ap.add_argument("--hybrid-queries", type=int, default=50, help="--full: real questions timed in the hybrid step")
    ap.add_argument("--cold-runs", type=int, default=3, help="--full: fresh `assistant search` processes (median)")
    ap.add_argument("--no-add", action="store_true", help="--full: skip the ingest + remove of a new document")
    ap.add_argument("--compact", action="store_true",
                    help="--full: first ingest one new document with --compact (the whole index written as one "
                         "segment again: compact_s, compact_peak_rss_mb), so the cold search runs right after a write")
    ap.add_argument("--shared", action="store_true",
                    help="--full: also publish each index to a shared index in PostgreSQL (--dsn, else a pgserver in "
                         "WORKDIR) and measure publishing and the application reading it from there (row backend "
                         "'shared-<backend>')")
    ap.add_argument("--json", action="store_true", help="one JSON object per backend per line")
    args = ap.parse_args(argv)
    backends = ["flat", "hnsw", "pgvector"] if args.backend == "all" else args.backend.split(",")
    if args.full and not set(backends) <= {"flat", "hnsw"}:
        raise SystemExit(f"--full builds flat and hnsw indexes only, not {', '.join(sorted(set(backends) - {'flat', 'hnsw'}))}: "
                         "pass --backend flat,hnsw")
    if args.shared and not args.full:
        raise SystemExit("--shared measures a full index published to PostgreSQL: add --full")
    if args.full and not args.workdir:
        raise SystemExit("--full needs --workdir (the synthetic index is kept there and reused: a 1M build takes long)")
    os.environ["SCALE_THREADS"] = str(args.threads)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="assistant-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    seeds, seed_source = seed_vectors(Path(args.index_dir))
    log(f"[scale] seeds: {len(seeds)} vectors from {seed_source}")
    t = time.perf_counter()
    corpus_path, subs = corpus(args.chunks, seeds, work)
    log(f"[scale] corpus ready ({time.perf_counter() - t:.1f} s): {stats(corpus_path)}")
    q = queries(subs, args.queries)
    np.save(work / "queries.npy", q)
    exact = _child(["exact", str(corpus_path), str(work)])
    log(f"[scale] exact flat search: {exact}")
    opts = {k: v for k, v in (("rerank", args.rerank), ("m", args.m), ("ef_construction", args.ef_construction),
                              ("codes", args.codes)) if v is not None}
    server = None
    for backend in backends:
        dsn = args.dsn
        pg_opts = {k: v for k, v in opts.items() if k != "codes"}
        if (backend == "pgvector" or args.shared) and not dsn:
            if server is None:
                server = _pg_server(work, args.pg_shared_buffers)
            dsn = server.get_uri()
        folder = work / f"store-{backend}-{args.chunks}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        spec = {"backend": backend, "corpus": str(corpus_path), "folder": str(folder), "dsn": dsn, "work": str(work),
                "opts": {**pg_opts, "build_memory": "4GB"} if backend == "pgvector" else ({} if backend == "flat" else opts),
                "target": args.target, "sweep": [int(x) for x in args.ef.split(",")]}
        full: dict = {}
        if args.full:
            spec = {**spec, "seeds_index": str(Path(args.index_dir).resolve()), "chunks": args.chunks}
            log(f"[scale] {backend}: full index ...")
            info = _child(["synth", json.dumps(spec)])
            index_dir = Path(info["index_dir"])
            shutil.rmtree(folder, ignore_errors=True)  # the index's own store is what is measured
            from assistant.index import current_generation

            folder = current_generation(index_dir)
            built = {"build_s": None if info["reused"] else info["store_build_s"]}
            spec = {**spec, "folder": str(folder), "full": str(corpus_path)}
            full = {"index_dir": str(index_dir), "index_reused": info["reused"], "index_build_s": info.get("index_build_s"),
                    "documents": info["documents"], "sentences": info["sentences"],
                    "index_disk_mb": round(_disk_mb(index_dir), 1)}
        else:
            log(f"[scale] {backend}: building ...")
            built = _child(["build", json.dumps(spec)])
            log(f"[scale] {backend}: built in {built['build_s']} s; searching ...")
        searched = _child(["search", json.dumps(spec)])
        if args.full:
            import fullbench

            if args.compact:
                full.update(fullbench.compact(index_dir, backend, Path(args.index_dir), work, args.chunks))
                folder = current_generation(index_dir)  # the search step below reads the new generation
                spec = {**spec, "folder": str(folder)}
            full.update(_child(["hybrid", json.dumps({**spec, "index_dir": full["index_dir"], "queries": args.hybrid_queries})]))
            log(f"[scale] {backend}: hybrid {full}")
            full.update(fullbench.cold_search(index_dir, backend, fullbench.questions(1, "nl")[0], args.cold_runs))
            if not args.no_add:
                full.update(fullbench.add_and_remove(index_dir, backend, Path(args.index_dir), work, args.chunks))
        rows = [(backend, built, searched, full)]
        if args.shared:
            url = f"{dsn}#scale-{args.chunks}-{backend}"
            shared = {"index_dir": full["index_dir"], **fullbench.publish(index_dir, backend, url)}
            shared.update(_child(["hybrid", json.dumps({**spec, "index_dir": full["index_dir"],
                                                        "queries": args.hybrid_queries, "shared": url})]))
            log(f"[scale] shared-{backend}: {shared}")
            shared.update(fullbench.cold_search(index_dir, backend, fullbench.questions(1, "nl")[0], args.cold_runs, url))
            if not args.no_add:
                shared.update(fullbench.add_and_remove(index_dir, backend, Path(args.index_dir), work, args.chunks, url))
            rows.append((f"shared-{backend}", {}, {}, shared))
        for name, *parts in rows:  # (built, searched, full) of each row
            _report(name, args, seeds, q, *parts, exact)
        if not args.keep and not args.full:  # a full index stays in WORKDIR, reused by the next run
            if backend == "pgvector":
                from assistant.store import discard

                discard(folder, dsn)
            shutil.rmtree(folder, ignore_errors=True)
    if server is not None:
        server.cleanup()
    return 0


def _pg_server(work: Path, shared_buffers: str):
    """A pgserver in WORKDIR/pg sized for the benchmark: the HNSW index should fit in shared buffers
    (the default 128 MB makes every search read the index through the OS cache)."""
    import pgserver
    import psycopg

    pgdir = work / "pg"
    pgdir.mkdir(exist_ok=True)
    os.chmod(work, 0o755)
    server = pgserver.get_server(pgdir / "data", cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
    server.cleanup()
    return pgserver.get_server(pgdir / "data", cleanup_mode="stop")


def _report(backend: str, args, seeds, q, built: dict, searched: dict, full: dict, exact: dict) -> None:
    """One row of the table: printed as JSON (one line with --json)."""
    row = {"backend": backend, "chunks": args.chunks, "dim": int(seeds.shape[1]), "queries": len(q), "threads": args.threads,
           **built, **searched, **full,
           "exact_p50_ms": exact["exact_p50_ms"], "date": time.strftime("%Y-%m-%d %H:%M")}
    order = ["backend", "chunks", "build_s", "search_p50_ms", "search_p95_ms", "exact_p50_ms", "recall_at_10",
             "rss_mb", "disk_mb", "load_s", "ef_search", "cold_search_s", "cold_search_rss_mb", "hybrid_p50_ms",
             "hybrid_p95_ms", "lexical_p50_ms", "add_doc_s", "ingest_peak_rss_mb", "remove_doc_s"]
    row = {**{k: row.get(k) for k in order}, **{k: v for k, v in row.items() if k not in order}}
    print(json.dumps(row) if args.json else json.dumps(row, indent=1), flush=True)


def _one(argv: list[str]) -> int:
    step = argv[0]
    import faiss

    faiss.omp_set_num_threads(int(os.environ.get("SCALE_THREADS", "1")))
    if step == "exact":
        corpus_path, work = Path(argv[1]), Path(argv[2])
        q = np.load(work / "queries.npy")
        out = run_exact(corpus_path, q, work / "truth.npy", timed=50)
    else:
        spec = json.loads(argv[1])
        work = Path(spec["work"])
        if step == "synth":
            import synthindex

            index_dir, info = synthindex.build_index(Path(spec["seeds_index"]), spec["chunks"], spec["backend"], work,
                                                     Path(spec["corpus"]), spec["opts"])
            out = {**info, "index_dir": str(index_dir)}
        elif step == "hybrid":
            import fullbench

            out = fullbench.run_hybrid(Path(spec["index_dir"]), spec["queries"], spec.get("shared", ""))
        elif step == "build":
            out = run_build(spec["backend"], Path(spec["corpus"]), Path(spec["folder"]), spec["dsn"], spec["opts"])
        else:
            out = run_search(spec["backend"], Path(spec["folder"]), np.load(work / "queries.npy"), np.load(work / "truth.npy"),
                             spec["dsn"], spec["target"], spec["opts"], spec["sweep"], exact_backend=True,
                             full=spec.get("full", ""))
    print(json.dumps(out))
    return 0
