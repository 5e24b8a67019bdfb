"""Comparing a run with an earlier one (`--compare`): per question better / worse, and the metrics
over the questions both runs have."""

from __future__ import annotations

import json
from pathlib import Path

from .. import metrics as M
from ..errors import InputError
from .folder import PARTIAL, RECORDS


def load_run(folder: Path) -> dict:
    """An earlier run's records by id (records.jsonl, or the .partial of an unfinished run)."""
    folder = Path(folder)
    path = folder / RECORDS
    if not path.is_file():
        path = folder / PARTIAL
    if not path.is_file():
        raise InputError(f"--compare: no {RECORDS} in {folder} (is it an `assistant eval` output folder?)")
    records: dict[str, dict] = {}
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            records[rec["id"]] = rec
        except (ValueError, KeyError, TypeError):
            if path.name == PARTIAL:  # a crash can cut the last line short
                continue
            raise InputError(f"--compare: {path} line {no} is not a record")
    return {"path": str(path), "records": records}


def _abstention_correct(m: dict) -> bool | None:
    if m.get("abstained") is None:
        return None
    return m["abstained"] == (not m["answerable"])


COMPARE_OVERALL = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "keyword_accuracy",
                   "quote_keyword_accuracy", "utilisation", "yesno_accuracy", "citation_precision", "citation_recall",
                   "abstention_precision", "abstention_recall", "false_abstention_rate", "language_match",
                   "first_token_p50_s", "total_p50_s")


def compare_runs(previous: dict[str, dict], current: list[dict]) -> dict:
    """Per-question changes between two runs (records by id / records in order)."""
    cur_ids = [r["id"] for r in current]
    common = [r for r in current if r["id"] in previous]
    out: dict = {
        "common": len(common),
        "only_previous": sorted(set(previous) - set(cur_ids)),
        "only_current": [i for i in cur_ids if i not in previous],
    }
    for key, getter in (
        ("recall@5", lambda m: m.get("recall@5")),
        ("keyword_accuracy", lambda m: m.get("keyword_accuracy")),
        ("quote_keyword_accuracy", lambda m: m.get("quote_keyword_accuracy")),
        ("yesno_accuracy", lambda m: m.get("yesno_accuracy")),
        ("abstention_correct", _abstention_correct),
    ):
        better, worse = [], []
        for r in common:
            before, after = getter(previous[r["id"]]["metrics"]), getter(r["metrics"])
            if before is None or after is None or before == after:
                continue
            entry = {"id": r["id"], "lang": r["lang"], "before": before, "after": after}
            (better if after > before else worse).append(entry)
        out[key] = {"better": better, "worse": worse}
    before = M.summarize([previous[r["id"]]["metrics"] for r in common])
    after = M.summarize([r["metrics"] for r in common])
    out["overall"] = {
        k: {"before": before.get(k), "after": after.get(k),
            "delta": (after[k] - before[k]) if before.get(k) is not None and after.get(k) is not None else None}
        for k in COMPARE_OVERALL
    }
    return out
