"""`assistant summarize` end to end on the real components: the small LLM (0.5B), EmbeddingGemma for the
support check, a real seed document from the test index ($ASSISTANT_HOME/test-index)."""

import json
import os
import subprocess
import sys

import pytest

from assistant import index
from assistant.pipeline import build
from assistant.types import Excerpt

pytestmark = pytest.mark.real

SOURCE = "seeds/004_cdb15e3e631d770e.txt"  # the shortest seed: five sections


def _summarize(settings, *flags):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(settings.storage.index_dir), ASSISTANT_HOME=str(settings.storage.home))
    out = subprocess.run([sys.executable, "-m", "assistant", "--llm", "qwen2.5-coder-0.5b", "summarize", SOURCE,
                          "--lang", "en", "--json", *flags], capture_output=True, text=True, env=env, timeout=1800)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), out.stderr


def test_cli_summary_cites_supporting_sections_and_comes_from_the_cache_the_second_time(real_settings):
    first, err = _summarize(real_settings, "--no-cache")
    sections = first["sections"]
    assert f"section 1/{len(sections)}" in err and f"section {len(sections)}/{len(sections)}" in err
    assert not first["cached"] and first["language"] == "en" and first["sentences"]
    doc = index.load(real_settings.storage.index_dir).docs[SOURCE]
    # The support check again, here, on the stored spans: cite.py's lexical test and the answer
    # path's embedding similarity (an English sentence about a Dutch section).
    score = build(real_settings).assistant._support_score()
    for s in first["sentences"]:
        sec = sections[s["n"] - 1]
        assert (s["start"], s["end"]) == (sec["start"], sec["end"])
        text = doc.text[sec["start"]:sec["end"]]
        assert f"[{s['n']}]" in first["text"]
        excerpt = Excerpt(s["n"], SOURCE, doc.title, sec["start"], sec["end"], text)
        assert s["supported"] == (score(s["text"], excerpt) >= 1.0), s
    supported = sum(s["supported"] for s in first["sentences"])
    assert supported == len(first["sentences"]), first["sentences"]

    second, err = _summarize(real_settings)
    assert second["cached"] and "section 1/" not in err
    assert second["text"] == first["text"] and second["sections"] == sections
