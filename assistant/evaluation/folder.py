"""An `assistant eval` output folder: the names of its files, and how they are written.

Every file is written to a temporary name and renamed, so none is ever half-written; the records of a
run that is still going are in PARTIAL (appended and fsynced per question by run.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RECORDS = "records.jsonl"
PARTIAL = "records.jsonl.partial"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_PNG = "report.png"
RUN_META = ".run-meta.json"  # the run's settings while it runs, so a partial run can be reported


def atomic_write(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: a temporary file, fsynced, renamed over it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    """A JSON object from `path`, or {} when it is missing or unreadable (a run's own leftovers)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
