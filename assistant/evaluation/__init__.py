"""`assistant eval`: run a gold question set through the real answer path and write a report.

    assistant eval --gold eval/gold.jsonl --out eval/runs/latest [--compare eval/runs/prev]
                   [--retrieval-only] [--limit N] [-k 5]

Per question it does a separate k=10 search for the retrieval metrics (the answer itself uses the
configured k, normally 5) and then `Assistant.answer()`, the same path as `ask` and the chat UI.
Outputs in --out:
    records.jsonl  one line per question: the full `ask --json` output ("ask"), the top-10
                   retrieval with relevance flags, the located evidence and the per-question metrics.
                   Written as records.jsonl.partial while running (appended and fsynced per
                   question, so a crash keeps the finished ones), renamed when the run completes.
    report.json    metrics overall and per language (+ "compare" with --compare)
    report.md      the same as tables, the misses, the comparison, and the plot
    report.png     metrics per language and latency distribution
Every report file is written to a temporary name and renamed, so none is ever half-written.

An interrupted run leaves records.jsonl.partial and .run-meta.json behind. Running the same
command again (same gold file, models, k and index generation) resumes it: finished questions are
kept, failed and missing ones are asked. `python -m assistant.evaluate OUT` writes the report of
an unfinished run from what it has so far (marked partial).

Relevance: a passage is relevant when its [start, end) span overlaps a place where an evidence
quote occurs verbatim in the indexed text of the question's document(s). See assistant/metrics.py.

One idea a file, each using only those above it:
    folder.py    the output folder's file names; atomic writes
    gold.py      the gold file: GoldItem, validate_gold, doc_names, locate_evidence
    score.py     one question: its record and metrics (evaluate_one, context_at_budgets)
    compare.py   an earlier run's records (load_run) and the per-question comparison
    markdown.py  the metrics table and report.md
    plot.py      report.png (matplotlib, imported only when drawing)
    report.py    report.json + .md + .png from records (write_report, rebuild_report, main)
    runner.py    the resumable run, warm-up, `assistant eval` (run, run_cli)
"""

from .compare import compare_runs, load_run
from .gold import LANGS, GoldError, GoldItem, doc_names, locate_evidence, validate_gold
from .report import rebuild_report, write_report
from .runner import code_version, run, run_cli
from .score import BUDGETS, RETRIEVAL_K, context_at_budgets, evaluate_one

__all__ = ["BUDGETS", "LANGS", "RETRIEVAL_K", "GoldError", "GoldItem", "code_version", "compare_runs",
           "context_at_budgets", "doc_names", "evaluate_one", "load_run", "locate_evidence", "rebuild_report",
           "run", "run_cli", "validate_gold", "write_report"]
