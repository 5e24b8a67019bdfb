"""Wall time and peak RSS of one command, measured from a small fresh process.

    python eval/peakrss.py OUT.json -- COMMAND ...

Runs COMMAND (its stdout and stderr go to OUT.json.stdout / .stderr), waits for it with os.wait4 and
writes {"wall_s", "peak_rss_mb", "returncode"} to OUT.json. Why a separate process: a child's
ru_maxrss is at least the peak its parent had when it forked or vforked it (Linux carries the old
memory's high-water mark over exec), so measured from the benchmark itself (hundreds of MB of corpus
and queries) a small child would read as large as the benchmark. This wrapper is stdlib only
(~10 MB), far below what it measures. Wall time includes the interpreter's start: what a user waits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: python eval/peakrss.py OUT.json -- COMMAND ...")
    out = argv[0]
    with open(out + ".stdout", "wb") as so, open(out + ".stderr", "wb") as se:
        t = time.perf_counter()
        proc = subprocess.Popen(argv[2:], stdout=so, stderr=se)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    with open(out, "w", encoding="utf-8") as f:
        # ru_maxrss is in kilobytes on Linux
        json.dump({"wall_s": round(wall, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                   "returncode": proc.returncode}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
