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
from .gold import LANGS, GoldItem
from .score import rescore
from .markdown import metrics_table, render_markdown
from .plot import render_plot


NOT_FOUND_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99)
YES_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def abstention_curve(records: list[dict], thresholds=NOT_FOUND_THRESHOLDS) -> list[dict] | None:
    """What each not_found_threshold would have done in this run: a question abstains when its
    p(NOT_FOUND) reaches the threshold or when it abstained for another reason (similarity, an
    invented figure). Abstention recall / false abstention and the keyword accuracy that remains.
    Valid for thresholds at or below the run's own (above it the answer was never written)."""
    rows = [r["metrics"] for r in records if r["error"] is None and r["metrics"].get("abstained") is not None]
    if not any(m.get("p_not_found") is not None for m in rows):
        return None
    out = []
    for t in thresholds:
        unans = ans = abst_u = abst_a = right = 0
        for m, r in zip(rows, [r for r in records if r["error"] is None and r["metrics"].get("abstained") is not None]):
            p = m.get("p_not_found")
            reason = ((r.get("ask") or {}).get("decision") or {}).get("abstain_reason")
            other = m["abstained"] and reason != "not_found"
            abstains = other or (p is not None and p >= t)
            if m["answerable"]:
                ans += 1
                abst_a += abstains
                right += (not abstains) and m.get("keyword_accuracy") == 1.0
            else:
                unans += 1
                abst_u += abstains
        out.append({"threshold": t, "abstention_recall": abst_u / unans if unans else None,
                    "false_abstention_rate": abst_a / ans if ans else None,
                    "keyword_accuracy": right / ans if ans else None})
    return out


def yes_curve(records: list[dict], thresholds=YES_THRESHOLDS) -> list[dict] | None:
    """Yes/no accuracy per yes_threshold, on p(yes) as it is and corrected for the model's bias
    (answer.calibrated): the sweep the default threshold is chosen from (README "Answers")."""
    from ..answer import calibrated

    rows = [(r["yesno"], r["metrics"].get("p_yes"), r["metrics"].get("p_yes_null")) for r in records
            if r.get("yesno") and r["error"] is None and r["metrics"].get("p_yes") is not None]
    if not rows:
        return None
    out = []
    for t in thresholds:
        raw = sum((("yes" if p >= t else "no") == gold) for gold, p, _ in rows) / len(rows)
        cal = [(("yes" if calibrated(p, n) >= t else "no") == gold) for gold, p, n in rows if n is not None]
        out.append({"threshold": t, "accuracy_raw": raw, "accuracy_calibrated": sum(cal) / len(cal) if cal else None,
                    "questions": len(rows)})
    return out


def write_report(out: Path, records: list[dict], meta: dict, previous: dict | None = None) -> dict:
    """Aggregate the records and write report.json, report.png and report.md (each atomically)."""
    meta = {**meta, "questions": len(records), "errors": sum(1 for r in records if r["error"]), "plot": None}
    report = {"meta": meta, "metrics": M.by_language([r["metrics"] for r in records], LANGS)}
    curve = M.context_curve([r["metrics"] for r in records])
    if curve:
        report["context_curve"] = curve
    for key, fn in (("abstention_curve", abstention_curve), ("yes_curve", yes_curve)):
        c = fn(records)
        if c:
            report[key] = c
    if previous is not None:
        report["compare"] = {"previous": previous["path"], **compare_runs(previous["records"], records)}
    if render_plot(report, records, out / REPORT_PNG):
        report["meta"]["plot"] = REPORT_PNG
    atomic_write(out / REPORT_JSON, (json.dumps(report, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    atomic_write(out / REPORT_MD, render_markdown(report, records).encode("utf-8"))
    return report


def rebuild_report(out: Path, compare: Path | None = None, gold: Path | None = None) -> dict:
    """Write the report again from an output folder's records, also from the records.jsonl.partial
    of a run that is still going or was killed (the report then says it is partial). With `gold`,
    the answer metrics are computed again against that gold file (score.rescore): a run made before
    a metric or a gold label existed gets it, and so does the run it is compared with."""
    out = Path(out)
    run_ = load_run(out)
    records = list(run_["records"].values())
    items = _gold_items(gold) if gold else None
    if items:
        records = rescore(records, items)
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
    previous = load_run(compare) if compare else None
    if previous and items:
        previous = {**previous, "records": {r["id"]: r for r in rescore(list(previous["records"].values()), items)}}
    return write_report(out, records, meta, previous)


def _gold_items(gold: Path) -> dict:
    """The gold file's items by id, validated against its own evidence only by shape (the documents
    are not loaded: the records already hold the located evidence)."""
    items = {}
    for line in Path(gold).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items[row["id"]] = GoldItem(0, row["id"], row["question"], row["lang"], row["answerable"],
                                        tuple(row["evidence"]), tuple(tuple(g) for g in row["keywords"]), (),
                                        row.get("reference_answer", ""), row.get("multi_passage", False),
                                        row.get("pair"), row.get("yesno"), raw=row)
    return items


def main(argv: list[str] | None = None) -> int:
    """python -m assistant.evaluate OUT_DIR [--compare PREV_DIR]: rebuild the report of a run
    (also of one still going or killed, from its records.jsonl.partial)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m assistant.evaluate", description=main.__doc__)
    ap.add_argument("out", help="an `assistant eval` output folder")
    ap.add_argument("--compare", help="an earlier output folder to compare against")
    ap.add_argument("--gold", help="compute the answer metrics again against this gold file (both runs)")
    args = ap.parse_args(argv)
    try:
        report = rebuild_report(Path(args.out), Path(args.compare) if args.compare else None,
                                Path(args.gold) if args.gold else None)
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(metrics_table(report["metrics"], report["meta"].get("mode") == "retrieval-only"))
    return 0
