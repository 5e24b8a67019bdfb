"""Writing a run's report (report.json, report.png, report.md) from its records, also again later
and from an unfinished run's records: `python -m assistant.evaluate OUT` (main below)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import metrics as M
from ..errors import AssistantError
from .compare import compare_runs, load_run
from .folder import PARTIAL, REPORT_JSON, REPORT_MD, REPORT_PNG, RUN_META, atomic_write, read_json
from .gold import LANGS
from .markdown import metrics_table, render_markdown
from .plot import render_plot


def write_report(out: Path, records: list[dict], meta: dict, previous: dict | None = None) -> dict:
    """Aggregate the records and write report.json, report.png and report.md (each atomically)."""
    meta = {**meta, "questions": len(records), "errors": sum(1 for r in records if r["error"]), "plot": None}
    report = {"meta": meta, "metrics": M.by_language([r["metrics"] for r in records], LANGS)}
    curve = M.context_curve([r["metrics"] for r in records])
    if curve:
        report["context_curve"] = curve
    if previous is not None:
        report["compare"] = {"previous": previous["path"], **compare_runs(previous["records"], records)}
    if render_plot(report, records, out / REPORT_PNG):
        report["meta"]["plot"] = REPORT_PNG
    atomic_write(out / REPORT_JSON, (json.dumps(report, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    atomic_write(out / REPORT_MD, render_markdown(report, records).encode("utf-8"))
    return report


def rebuild_report(out: Path, compare: Path | None = None) -> dict:
    """Write the report again from an output folder's records, also from the records.jsonl.partial
    of a run that is still going or was killed (the report then says it is partial)."""
    out = Path(out)
    run_ = load_run(out)
    records = list(run_["records"].values())
    meta: dict = {}
    for name in (REPORT_JSON, RUN_META):
        if meta := read_json(out / name):
            meta = meta.get("meta", meta)
            break
    if not meta:
        ro = all(r.get("ask") is None for r in records)
        meta = {"gold": "?", "mode": "retrieval-only" if ro else "full", "llm": None, "embedder": "?", "top_k": "?",
                "index_dir": "?", "index_generation": "?", "started": "?", "load_s": None}
    meta["partial"] = run_["path"].endswith(PARTIAL)
    if meta["partial"]:
        meta["duration_s"] = None
    return write_report(out, records, meta, load_run(compare) if compare else None)


def main(argv: list[str] | None = None) -> int:
    """python -m assistant.evaluate OUT_DIR [--compare PREV_DIR]: rebuild the report of a run
    (also of one still going or killed, from its records.jsonl.partial)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m assistant.evaluate", description=main.__doc__)
    ap.add_argument("out", help="an `assistant eval` output folder")
    ap.add_argument("--compare", help="an earlier output folder to compare against")
    args = ap.parse_args(argv)
    try:
        report = rebuild_report(Path(args.out), Path(args.compare) if args.compare else None)
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(metrics_table(report["metrics"], report["meta"].get("mode") == "retrieval-only"))
    return 0
