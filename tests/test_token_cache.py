"""The evidence step's token counts: per-line sums, trusted only once they have matched the whole
count (assistant/token_cache.py), and exact with the real model's tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import token_cache
from assistant.token_cache import LineSumCounter

ROOT = Path(__file__).resolve().parent.parent


def _words(text: str) -> int:  # additive over lines: words and newline runs
    import re

    return len(re.findall(r"\S+|\n+", text))


def test_sums_are_used_once_they_have_matched_and_lines_are_counted_once():
    calls = []

    def count(text):
        calls.append(text)
        return _words(text)

    c = LineSumCounter(count)
    texts = [f"[{i}] Document {i}\nregel een {i}.\n\nregel twee" for i in range(token_cache.CHECKS + 10)]
    for t in texts[:token_cache.CHECKS]:
        assert c(t) == _words(t)
    assert c.additive is True
    before = len(calls)
    for t in texts[token_cache.CHECKS:]:
        assert c(t) == _words(t)
    assert texts[-1] not in calls[before:]  # no whole counts any more
    assert c("regel twee") == 2 and len(calls) == len(set(calls))  # each line counted once


def test_a_tokenizer_that_joins_across_lines_gets_whole_counts():
    def count(text):  # "\nX" is one token: not additive over lines
        return _words(text) - text.count("\nX")

    c = LineSumCounter(count)
    assert c("a\nX b") == count("a\nX b") and c.additive is False
    assert c("a\nX c\nX d") == count("a\nX c\nX d")


@pytest.mark.real
def test_the_real_models_tokenizer_counts_evidence_renders_as_line_sums(real_settings):
    """Qwen2.5's pre-tokenizer: the whole count of every rendered evidence of the gold questions
    equals the sum of its lines' counts."""
    from assistant.pipeline import build

    p = build(real_settings, with_llm=False)
    c = p.assistant.selector.count_tokens
    assert isinstance(c, LineSumCounter)
    questions = [json.loads(x)["question"] for x in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
                 if x.strip()][:40]
    for q in questions:
        excerpts = p.assistant.selector.select(p.assistant.retriever.retrieve(q, real_settings.answer.top_k))
        text = p.assistant.selector.render(excerpts)
        assert c.count(text) == sum(c.count(x) for x in token_cache._LINE.findall(text) if x), q
    assert c.additive is True
