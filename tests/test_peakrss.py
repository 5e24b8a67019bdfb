"""eval/peakrss.py: a command's own peak RSS and exit code, not the benchmark's."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _measure(tmp_path, code: str) -> dict:
    out = tmp_path / "m.json"
    subprocess.run([sys.executable, str(ROOT / "eval" / "peakrss.py"), str(out), "--", sys.executable, "-c", code],
                   check=True)
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_peak_is_the_commands_own(tmp_path):
    # This process made large (pages touched): a child waited for from here directly reads >= 400 MB
    # (ru_maxrss keeps the high-water mark of the memory it was forked from; 411 MB for `print(1)`).
    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = _measure(tmp_path, "print('hi')")
    big = _measure(tmp_path, "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])")
    del ballast
    assert small["returncode"] == 0 and small["peak_rss_mb"] < 60
    assert 200 < big["peak_rss_mb"] < 300 and big["wall_s"] > 0
    assert (tmp_path / "m.json.stdout").read_text() == ""  # the last command printed nothing


def test_the_exit_code_and_output_are_kept(tmp_path):
    m = _measure(tmp_path, "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)")
    assert m["returncode"] == 3
    assert (tmp_path / "m.json.stdout").read_text().strip() == "out"
    assert (tmp_path / "m.json.stderr").read_text().strip() == "err"
