"""The resumable run behind `assistant eval`: validate the gold file against the index, warm the
models up, ask every question (each record appended and fsynced as it is done), write the report.

An interrupted run leaves records.jsonl.partial and .run-meta.json behind. Running the same command
again (same gold file, models, k and index generation) resumes it: finished questions are kept,
failed and missing ones are asked.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .. import metrics as M
from ..errors import AssistantError, InputError
from ..generate import LlamaCppGenerator
from .compare import load_run
from .folder import PARTIAL, RECORDS, REPORT_JSON, REPORT_MD, REPORT_PNG, RUN_META, atomic_write, read_json
from .gold import doc_names, locate_evidence, validate_gold
from .markdown import fmt, metrics_table
from .report import write_report
from .score import RETRIEVAL_K, error_record, evaluate_one


def code_version() -> str | None:
    """The git commit of the code being evaluated (+"-dirty" with uncommitted changes), so runs can
    be traced to code; None outside a git checkout (e.g. an installed wheel)."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _warm_up(pipe, retrieval_only: bool) -> None:
    """Load the embedder, BM25 and the LLM, and read the fixed prompt prefix, before the clock starts."""
    if retrieval_only:
        pipe.assistant.search("warm-up", k=1)
    else:
        pipe.assistant.warm_up()


_RESUME_KEYS = ("gold_sha256", "limit", "mode", "llm", "embedder", "top_k", "evidence_tokens", "min_similarity",
                "index_dir", "index_generation", "prompts_sha256", "where")


def _resumable(out: Path, old: dict, meta: dict, ids: set[str]) -> dict[str, dict]:
    """Finished records of the interrupted run in `out` (whose settings were `old`) if it had exactly
    these settings (same gold file, models, k and index generation), by id; failed questions are
    run again. Else {}."""
    if not old or any(old.get(k) != meta.get(k) for k in _RESUME_KEYS) or not (out / PARTIAL).is_file():
        return {}
    records = load_run(out)["records"]
    return {i: r for i, r in records.items() if i in ids and not r.get("error")}


def run(settings, gold: Path, out: Path, compare: Path | None = None, retrieval_only: bool = False,
        limit: int | None = None, *, embedder=None, generator=None, show_progress: bool = True,
        measure_prefill: bool = True, where: list[str] | None = None) -> dict:
    """Evaluate and write records.jsonl, report.json, report.md, report.png into `out`; return the report.
    `where` ("key=value" strings, as `--where`): retrieval is restricted to matching documents and
    only the questions about them are asked (answerable ones whose documents all match, and the
    unanswerable ones)."""
    from tqdm import tqdm

    from ..filters import Where, resolve
    from ..pipeline import build

    filters = Where.parse(where)  # a malformed --where fails before the models load

    gold, out = Path(gold), Path(out)
    if limit is not None and limit < 1:
        raise InputError("--limit must be at least 1")
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t_start = time.perf_counter()
    pipe = build(settings, with_llm=not retrieval_only, embedder=embedder, generator=generator)
    names = doc_names(pipe.index.docs)
    texts_by_name = {n: pipe.index.docs[s].text for n, s in names.items()}
    texts = {s: d.text for s, d in pipe.index.docs.items()}
    items = validate_gold(gold, texts_by_name)
    filters = resolve(filters, pipe.index.docs)
    if filters:
        items = [i for i in items if all(filters.matches(pipe.index.docs[names[d]]) for d in i.docs)]
        if not items:
            raise InputError(f"no gold question is about documents matching {filters.describe()}")
        print(f"--where {filters.describe()}: {len(items)} gold questions about matching documents "
              "(or not answerable)", file=sys.stderr)
    if limit is not None:
        items = items[:limit]
    previous = load_run(compare) if compare else None

    out.mkdir(parents=True, exist_ok=True)
    for name in (RECORDS, REPORT_JSON, REPORT_MD, REPORT_PNG):  # never leave another run's files beside this one
        (out / name).unlink(missing_ok=True)
    gen = pipe.assistant.generator
    meta = {
        "gold": str(gold),
        "gold_sha256": hashlib.sha256(gold.read_bytes()).hexdigest(),
        "limit": limit,
        "mode": "retrieval-only" if retrieval_only else "full",
        "llm": None if retrieval_only or gen is None else getattr(gen, "name", type(gen).__name__),
        "embedder": pipe.embedder.name,
        "top_k": settings.answer.top_k,
        "evidence_tokens": settings.evidence.budget,
        "retrieval_k": RETRIEVAL_K,
        "min_similarity": settings.answer.min_similarity,
        # The answer step's decisions (answer.py): what a threshold sweep over this run starts from.
        "not_found_threshold": settings.answer.not_found_threshold,
        "yes_threshold": settings.answer.yes_threshold,
        "yes_calibration": settings.answer.yes_calibration,
        "quote_first": settings.answer.quote_first,
        "quote_prefill": settings.answer.quote_prefill,
        "quote_hint": settings.answer.quote_hint,
        "retry_restated": settings.answer.retry_restated,
        "repeat_penalty": settings.generation.repeat_penalty,
        "index_dir": str(settings.storage.index_dir),
        "index_generation": pipe.index.generation,
        # A resumed run must not mix answers made with other prompts.
        "prompts_sha256": hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(settings.storage.prompts_dir).glob("*.txt")))).hexdigest(),
        "started": started,
        "code": code_version(),
        "where": filters.to_json(),
    }
    old_meta = read_json(out / RUN_META)
    done = _resumable(out, old_meta, meta, {i.id for i in items})
    partial = out / PARTIAL
    # Rewrite what is kept (drops a line cut short by a crash), then append to it.
    atomic_write(partial, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in done.values()).encode("utf-8"))
    t_load = time.perf_counter()
    _warm_up(pipe, retrieval_only)
    meta["load_s"] = round(time.perf_counter() - t_load, 2)
    meta["resumed"] = len(done)
    if done:  # the kept questions may come from other code; say so rather than hide it
        meta["resumed_from"] = old_meta.get("code")
    atomic_write(out / RUN_META, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))

    records: list[dict] = []
    bar = tqdm(total=len(items), desc="eval", unit="q", file=sys.stderr, dynamic_ncols=True, disable=not show_progress)
    if done:
        bar.write(f"resuming the unfinished run in {out}: {len(done)} question(s) already done", file=sys.stderr)
    try:
        with open(partial, "a", encoding="utf-8") as f:
            for item in items:
                if item.id in done:
                    rec = done[item.id]
                else:
                    try:
                        rec = evaluate_one(pipe, item, locate_evidence(item, names, texts), retrieval_only, filters)
                    except Exception as e:  # one failing question must not lose a long run
                        rec = error_record(item, e)
                        bar.write(f"{item.id}: {rec['error']}", file=sys.stderr)
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                records.append(rec)
                bar.update(1)
                running = M.summarize([r["metrics"] for r in records])
                post = {"r@5": fmt(running["recall@5"])}
                if not retrieval_only:
                    post["kw"] = fmt(running["keyword_accuracy"])
                bar.set_postfix(post, refresh=False)
    finally:
        bar.close()
    if all(r["error"] for r in records):
        raise AssistantError(f"every question failed; the first: {records[0]['error']}")
    os.replace(partial, out / RECORDS)

    meta["duration_s"] = round(time.perf_counter() - t_start, 1)
    if not retrieval_only and isinstance(gen, LlamaCppGenerator) and measure_prefill:
        # The machine's own prompt-reading speed, in the same run: first token x this = token equivalents.
        from .. import prefill

        bar_note = "measuring raw llama.cpp prefill speed (repack off / on) for the report ..."
        print(bar_note, file=sys.stderr)
        meta["prefill"] = prefill.both()
    report = write_report(out, records, meta, previous)
    (out / RUN_META).unlink(missing_ok=True)
    return report


def run_cli(settings, args) -> int:
    """`assistant eval` (its arguments from cli/serve.py): run, print the metrics table and the comparison."""
    if getattr(args, "k", None):
        settings = settings.with_(top_k=args.k)
    report = run(
        settings, Path(args.gold), Path(args.out), Path(args.compare) if args.compare else None,
        retrieval_only=args.retrieval_only, limit=args.limit,
        measure_prefill=not getattr(args, "no_prefill", False), where=getattr(args, "where", None),
    )
    print(metrics_table(report["metrics"], report["meta"]["mode"] == "retrieval-only"))
    cmp = report.get("compare")
    if cmp:
        print("\nvs previous run: " + "; ".join(
            f"{k} better {len(cmp[k]['better'])} / worse {len(cmp[k]['worse'])}"
            for k in ("recall@5", "keyword_accuracy", "abstention_correct")))
    print(f"\nwrote {Path(args.out) / REPORT_MD} (+ {RECORDS}, {REPORT_JSON}, {REPORT_PNG})", file=sys.stderr)
    return 0
