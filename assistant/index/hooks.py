"""Test hook: the named points of the write path where tests/test_faults.py and eval/faults.py kill
the process.

    "checkpoint-tmp"   a checkpoint's temp file is written but not yet renamed (checkpoints.py)
    "checkpoint"       a checkpoint is in place
    "generation"       the new generation's files are half written (writer.py)
    "generation-done"  its folder is in place, CURRENT not yet swapped
    "swap"             CURRENT.tmp written, about to replace CURRENT
    "swapped"          CURRENT replaced, the work folder not yet removed

Set `fault_hook` to a function of the point's name (`monkeypatch.setattr(index.hooks, "fault_hook", f)`).
"""

from __future__ import annotations

from typing import Callable

fault_hook: Callable[[str], None] | None = None


def point(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)
