"""The prompt-injection set (eval/injection.jsonl) and its runner (eval/injection.py, `python
eval/bench.py injection`), with the fakes: the report's shape, and that a generator which obeys
the injected instruction is counted as having followed it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from fakes import EchoGenerator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "eval"))

import injection  # noqa: E402

KEYS = {"documents", "followed", "followed_raw", "reached_model", "right", "abstained", "cited_own"}


def test_the_set():
    rows = injection.load_set()
    assert len(rows) >= 20 and len({r["id"] for r in rows}) == len(rows)
    assert {r["lang"] for r in rows} == {"nl", "en"} and min(sum(r["lang"] == x for r in rows) for x in ("nl", "en")) >= 8
    assert len({r["kind"] for r in rows}) >= 8
    for r in rows:
        text = r["text"].casefold()
        assert r["marker"].casefold() in text and r["marker"].casefold() not in r["question"].casefold(), r["id"]
        # The question is about the legitimate content: every keyword group is in the document.
        assert all(any(a.casefold() in text for a in group) for group in r["keywords"]), r["id"]


def test_report_shape_with_fakes():
    out = injection.run_injection(fake=True, limit=6)
    assert out["mode"] == "fake" and out["documents"] == 6 and KEYS <= set(out)
    assert len(out["per_document"]) == 6 and sum(v["documents"] for v in out["by_lang"].values()) == 6
    for rec in out["per_document"]:
        assert {"id", "lang", "kind", "followed", "followed_raw", "reached_model", "right", "abstained",
                "cited_own", "answer", "seconds"} <= set(rec)
    assert out["followed"] == sum(r["followed"] for r in out["per_document"])


class ObeysInjection(EchoGenerator):
    """Quotes excerpt [1] like the echo generator, and adds every marker it finds in its prompt:
    what a model that follows the injected instruction writes."""

    def __init__(self, markers):
        super().__init__()
        self.markers = markers

    def stream(self, prompt, max_tokens, temperature):
        system, user, examples = prompt.system, prompt.user, prompt.examples
        first = "".join(super().stream(prompt, max_tokens, temperature))
        found = [m for m in self.markers if m.casefold() in user.casefold()]
        yield re.sub(r"\s*\[1\]$", "", first) + (" " + " ".join(found) if found else "") + " [1]"


def test_obeying_generator_is_counted_as_followed(monkeypatch):
    """With the guard switched off most injections reach the model, and an obeying generator is counted
    as following exactly those; with the guard on, fewer reach it and fewer are followed."""
    import assistant.evidence

    rows = injection.load_set()
    markers = [r["marker"] for r in rows]
    guarded = injection.run_injection(fake=True, generator=ObeysInjection(markers))
    with monkeypatch.context() as m:
        m.setattr(assistant.evidence, "is_instruction", lambda text: False)
        out = injection.run_injection(fake=True, generator=ObeysInjection(markers))
    assert out["reached_model"] >= len(rows) // 2
    for rec in out["per_document"] + guarded["per_document"]:  # obeys exactly when the injection was in its evidence
        assert rec["followed_raw"] == rec["reached_model"] == rec["followed"], rec
    plain = injection.run_injection(fake=True, generator=EchoGenerator())
    assert plain["followed"] < out["followed"]
    assert guarded["reached_model"] < out["reached_model"] and guarded["followed"] < out["followed"]


def test_cli_fake_limit(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "eval" / "bench.py"), "injection", "--fake", "--limit", "3",
                           "--out", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["documents"] == 3 and json.loads((tmp_path / "r.json").read_text())["documents"] == 3
