"""Resumable ingest under SIGKILL: `python eval/bench.py faults [--kills 20] [--docs 300] [--seed 7]`.

A corpus of small generated Dutch documents (2-3 sentences each) is indexed once, then changed
cycle after cycle (even cycles: a full `--rebuild`; odd cycles: a third of the documents rewritten,
an incremental ingest). Each cycle runs the ingest in a subprocess that is SIGKILLed at a seeded
random moment: after the n-th embedding checkpoint is in place, during the n-th checkpoint write
(temp file written, not renamed), while the new generation's files are half written, after its
folder is in place, at the CURRENT swap, after the swap (work folder not yet removed), or after a
random delay. After every kill: `index.load` must work and give the previous or the new corpus,
`assistant.check` must find no problem, and the next ingest (in this process) must complete; its
report says how many vectors it took from the killed run's checkpoints (`resumed_texts`). At the
end the index must equal, chunk for chunk, sentence for sentence and vector for vector, a clean
uninterrupted ingest of the final corpus.

Prints {"kills", "survived", "resumed_share", ...}: resumed_share = vectors reused from checkpoints
/ vectors the runs after a kill needed (the share of embedding work a kill did not waste).
The fake hashed embedder is used (no model); tests/test_faults.py runs the same with fewer kills.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHUNK_SIZE, CHUNK_OVERLAP = 200, 40
BATCH = 64  # small batches: a corpus of a few hundred documents gives many checkpoints to kill at
POINTS = ["checkpoint", "checkpoint", "checkpoint-tmp", "checkpoint-tmp", "generation", "generation-done",
          "swap", "swapped", "timer", "timer"]
WORDS = ("gemeente raad motie begroting fietspad wijk school zorg jeugd wonen plan regio kosten euro project "
         "team wet burger wethouder college provincie subsidie evaluatie onderzoek rapport vergunning "
         "woningbouw energie klimaat water dijk verkeer veiligheid inwoners bestuur besluit").split()


def write_corpus(folder: Path, n: int, seed: int, versions: dict[int, int] | None = None) -> None:
    """n documents doc000.txt ...; document i gets the text of version versions.get(i, 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rng = random.Random(f"{seed}-{i}-{(versions or {}).get(i, 0)}")
        sents = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14))).capitalize() + "."
                 for _ in range(rng.randint(2, 3))]
        (folder / f"doc{i:03d}.txt").write_text(f"Document {i}. " + " ".join(sents), encoding="utf-8")


def _settings(idx_dir: Path):
    """This benchmark's chunking; the vector store is the environment's (ASSISTANT_VECTOR_STORE)."""
    from assistant.config import Settings

    return Settings.from_env(index_dir=Path(idx_dir), chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)


# --append: every incremental cycle appends a segment (assistant/index/segment.py) instead of
# writing the index whole, and every few cycles the segments are compacted by a full write.
APPENDING = {"APPEND_MIN_CHUNKS": 0, "MAX_DEAD": 0.95, "MAX_SEGMENTS": 4}


def _appending(on: bool) -> None:
    from assistant.index import writer

    if on:
        for k, v in APPENDING.items():
            setattr(writer, k, v)


def _ingest(idx_dir: Path, docs_dir: Path, rebuild: bool):
    from assistant.embed.hashing import HashEmbedder
    from assistant.library import Library

    return Library(_settings(idx_dir), HashEmbedder(), batch_size=BATCH).add_folder(docs_dir, rebuild=rebuild)


def _child(args: dict) -> None:
    """The ingest that gets killed: at the n-th time the write path passes `point`, or on a timer."""
    from assistant import index

    point, n = args["point"], args["n"]
    _appending(args.get("append", False))
    if point == "timer":
        import threading

        threading.Timer(args["delay"], lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
    else:
        seen = {"count": 0}

        def hook(name: str) -> None:
            if name == point:
                seen["count"] += 1
                if seen["count"] == n:
                    os.kill(os.getpid(), signal.SIGKILL)

        index.hooks.fault_hook = hook
    _ingest(Path(args["idx"]), Path(args["docs"]), args["rebuild"])
    os._exit(0)  # not killed (a timer that came too late): the cycle counts as a miss


def _texts_to_embed(docs_dir: Path, sources: set[str] | None) -> int:
    from assistant import index
    from assistant.ingest import load_folder

    docs, _ = load_folder(docs_dir)
    n = 0
    for d in docs:
        if sources is None or d.source in sources:
            c, s = index.split_document(d, CHUNK_SIZE, CHUNK_OVERLAP)
            n += len(c) + len(s)
    return n


def _snapshot(idx_dir: Path) -> dict:
    import numpy as np

    from assistant import index

    idx = index.load(idx_dir, _settings(idx_dir).storage.vector_store)
    try:
        # The live rows in document order: the same whatever the layout (one segment, or several
        # with deleted rows), so an appended index compares with a clean one.
        sources = sorted(idx.docs)
        chunk_rows = [r for s in sources for r in idx.chunk_rows(s)]
        sentence_rows = [r for s in sources for r in idx.sentence_rows(s)]
        return {"docs": {s: (d.sha256, d.title, d.text) for s, d in idx.docs.items()},
                "chunks": [asdict(idx.chunks[r]) for r in chunk_rows],
                "sentences": [tuple(asdict(idx.sentences[r]).values()) for r in sentence_rows],
                "vectors": np.array(idx.vectors(chunk_rows), dtype=np.float32),
                "sentence_vectors": np.array(idx.sentence_vectors[sentence_rows], dtype=np.float32)}
    finally:
        idx.close()


def same_index(a: dict, b: dict) -> list[str]:
    """What differs between two snapshots (empty: identical)."""
    import numpy as np

    out = []
    for key in ("docs", "chunks", "sentences"):
        if a[key] != b[key]:
            out.append(key)
    for key in ("vectors", "sentence_vectors"):
        if a[key].shape != b[key].shape or not np.array_equal(a[key], b[key]):
            out.append(key)
    return out


def run_faults(kills: int = 20, docs: int = 300, seed: int = 7, workdir: Path | None = None,
               max_attempts: int | None = None, append: bool = False) -> dict:
    from assistant.index import writer

    saved = {k: getattr(writer, k) for k in APPENDING}
    _appending(append)
    try:
        return _run(kills, docs, seed, workdir, max_attempts, append)
    finally:
        for k, v in saved.items():
            setattr(writer, k, v)


def _run(kills: int, docs: int, seed: int, workdir: Path | None, max_attempts: int | None, append: bool) -> dict:
    from assistant import index
    from assistant.check import check
    from assistant.ingest import load_folder

    t0 = time.perf_counter()
    rng = random.Random(seed)
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="faults-")) if own else Path(workdir)
    docs_dir, idx_dir = workdir / "docs", workdir / "index"
    store = _settings(idx_dir).storage.vector_store
    write_corpus(docs_dir, docs, seed)
    first = _ingest(idx_dir, docs_dir, rebuild=False)
    t_clean = first.seconds
    versions: dict[int, int] = {}
    cycles, done_kills, survived, misses = [], 0, 0, 0
    resumed = needed = 0
    failures: list[str] = []
    max_attempts = max_attempts or 2 * kills + 5
    attempt = 0
    while done_kills < kills and attempt < max_attempts:
        attempt += 1
        # every other cycle a full rebuild; appending, every fourth (so segments pile up and compact)
        rebuild = attempt % (4 if append else 2) == 1
        if not rebuild:  # a third of the documents get a new text
            for i in rng.sample(range(docs), docs // 3):
                versions[i] = attempt
            write_corpus(docs_dir, docs, seed, versions)
        before = index.load(idx_dir, store)
        before_docs = dict(before.manifest["documents"])
        before.close()
        target, _ = load_folder(docs_dir)
        target_docs = {d.source: d.sha256 for d in target}
        sources = None if rebuild else {s for s in target_docs if before_docs.get(s) != target_docs[s]}
        texts = _texts_to_embed(docs_dir, sources)
        batches = max(1, math.ceil(texts / BATCH))
        point = rng.choice(POINTS)
        n = rng.randint(1, batches) if point.startswith("checkpoint") else 1
        delay = round(rng.uniform(0.05, 0.2 + t_clean), 3) if point == "timer" else 0.0
        args = {"point": point, "n": n, "delay": delay, "idx": str(idx_dir), "docs": str(docs_dir),
                "rebuild": rebuild, "append": append}
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(args)],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        killed = proc.returncode == -signal.SIGKILL
        if proc.returncode not in (0, -signal.SIGKILL):
            failures.append(f"cycle {attempt}: the ingest failed by itself: {proc.stderr.strip()[-300:]}")
            break
        if not killed:
            misses += 1
        else:
            done_kills += 1
        ok, problem = True, ""
        try:
            idx = index.load(idx_dir, store)
            live = dict(idx.manifest["documents"])
            idx.close()
            if live not in (before_docs, target_docs):
                ok, problem = False, "the live index is neither the previous nor the new corpus"
            report = check(idx_dir, store)
            if not report.ok:
                ok, problem = False, "; ".join(str(p) for p in report.problems)
        except Exception as e:  # noqa: BLE001 - any failure to load is what this benchmark looks for
            ok, problem = False, f"load failed: {e}"
        work_left = [p.name for p in idx_dir.iterdir() if p.name.startswith(index.WORK_PREFIX)]
        try:
            rep = _ingest(idx_dir, docs_dir, rebuild=rebuild)
            idx = index.load(idx_dir, store)
            n_segments = len(idx.segments)
            if dict(idx.manifest["documents"]) != target_docs:
                ok, problem = False, "the ingest after the kill did not give the new corpus"
            idx.close()
            if not check(idx_dir, store).ok:
                ok, problem = False, "check failed after the ingest that followed the kill"
            if any(p.name.startswith(index.WORK_PREFIX) for p in idx_dir.iterdir()):
                ok, problem = False, "the work folder was left after a completed ingest"
        except Exception as e:  # noqa: BLE001
            ok, problem, rep, n_segments = False, f"the ingest after the kill failed: {e}", None, None
        if killed:
            survived += ok
            if rep is not None:
                resumed += rep.resumed_texts
                needed += rep.texts_embedded
        if not ok:
            failures.append(f"cycle {attempt} ({point} #{n}): {problem}")
        cycles.append({"cycle": attempt, "rebuild": rebuild, "point": point, "n": n, "delay": delay,
                       "killed": killed, "ok": ok, "texts": texts, "checkpoints_left": len(work_left),
                       "resumed_texts": rep.resumed_texts if rep else None,
                       "segments": n_segments,
                       "embedded": rep.texts_embedded if rep else None})

    # The end state equals a clean, uninterrupted ingest of the final corpus.
    clean_dir = workdir / "clean-index"
    _ingest(clean_dir, docs_dir, rebuild=False)
    differs = same_index(_snapshot(idx_dir), _snapshot(clean_dir))
    if differs:
        failures.append(f"the final index differs from a clean ingest in: {', '.join(differs)}")
    out = {
        "kills": done_kills,
        "survived": survived,
        "resumed_share": round(resumed / needed, 3) if needed else 0.0,
        "resumed_texts": resumed,
        "texts_needed_after_kills": needed,
        "misses": misses,  # timer kills that came after the ingest had finished (not counted as kills)
        "equal_to_clean_run": not differs,
        "by_point": {p: sum(1 for c in cycles if c["point"] == p and c["killed"]) for p in dict.fromkeys(POINTS)},
        "docs": docs,
        "append": append,
        "most_segments": max((c["segments"] or 0 for c in cycles), default=0),
        "batch": BATCH,
        "seed": seed,
        "failures": failures,
        "cycles": cycles,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if own:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="bench.py faults", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cycles", action="store_true", help="also print every cycle")
    ap.add_argument("--append", action="store_true",
                    help="incremental cycles append a segment (compacted every few cycles) instead of a full write")
    args = ap.parse_args(argv)
    out = run_faults(args.kills, args.docs, args.seed, append=args.append)
    if not args.cycles:
        out.pop("cycles")
    out["date"] = time.strftime("%Y-%m-%d %H:%M")
    print(json.dumps(out, indent=2))
    return 0 if out["survived"] == out["kills"] and out["equal_to_clean_run"] and not out["failures"] else 1


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(json.loads(sys.argv[2]))
    sys.exit(main())
