"""Filters on the real seeds with the real embedder (EmbeddingGemma), through the CLI and in-process.

Uses the same cached index as tests/test_real.py ($ASSISTANT_HOME/test-index; a warm run embeds
nothing). Fails, not skips, when the embedding model is missing: `./run.sh test` fetches it.
"""

import json
import os
import subprocess
import sys

import pytest

from assistant.filters import Where, resolve
from assistant.pipeline import build

pytestmark = pytest.mark.real

SEZEN_EN = "Why was there no projectplan for Sezen?"
MUNICIPALITIES = ("Noordoostpolder", "Lochem", "Amersfoort", "Altena", "Blaricum", "Eemnes", "Laren")


@pytest.fixture(scope="module")
def settings(real_settings):
    return real_settings


@pytest.fixture(scope="module")
def pipe(settings):
    return build(settings, with_llm=False)


def _cli(settings, *args):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(settings.storage.index_dir), ASSISTANT_HOME=str(settings.storage.home))
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.parametrize("name", MUNICIPALITIES)
def test_filtered_search_returns_only_that_municipality(pipe, name):
    where = resolve(Where.parse([f"municipality={name}"]), pipe.index.docs)
    hits = pipe.assistant.search(SEZEN_EN, 5, where)
    assert len(hits) == 5  # the top-k is filled from the municipality's own passages
    for h in hits:
        assert name in pipe.index.docs[h.chunk.source].meta.municipalities, (name, h.chunk.source)


def test_the_filter_changes_what_is_found(pipe):
    """Unfiltered, the Sezen question finds Noordoostpolder's answer first; filtered to Lochem, no
    Noordoostpolder passage can appear, and the top passage is Lochem's best match instead."""
    top = pipe.assistant.search(SEZEN_EN, 5)
    assert "Noordoostpolder" in top[0].meta.municipalities
    lochem = pipe.assistant.search(SEZEN_EN, 5, Where.parse(["municipality=Lochem"]))
    assert {h.chunk.source for h in lochem}.isdisjoint({h.chunk.source for h in top if "Noordoostpolder" in h.meta.municipalities})


def test_cli_search_with_municipality_and_year(settings):
    out = _cli(settings, "search", "--json", "Hoe ontwikkelt de ambtelijke organisatie zich?",
               "--where", "municipality=amersfoort", "--where", "year=2014")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["where"] == {"municipality": ["Amersfoort"], "year": [2014]}
    assert len(data["passages"]) == 5
    for p in data["passages"]:
        assert p["meta"]["municipalities"] == ["Amersfoort"] and p["meta"]["year"] == 2014
        assert p["meta"]["type"] == "raadsinformatiebrief" and p["source"].endswith("002_13e9976e58154e2c.txt")


def test_cli_unknown_value_lists_known_values_and_exits_2(settings):
    out = _cli(settings, "search", SEZEN_EN, "--where", "municipality=Lohem")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert ("error: unknown municipality 'Lohem'; known: Altena, Amersfoort, Blaricum, Eemnes, Laren, Lochem, "
            "Noordoostpolder") in out.stderr
    out = _cli(settings, "search", SEZEN_EN, "--where", "year=1999")
    assert out.returncode == 2 and "unknown year '1999'; known: 2007, 2014" in out.stderr


def test_cli_ask_with_a_filter_reads_and_cites_only_that_municipality(settings):
    """The whole answer path with the small real LLM: every excerpt the model reads and every valid
    citation is from the filtered municipality, and each carries its document's metadata."""
    out = _cli(settings, "--llm", "qwen2.5-coder-0.5b", "ask", "--json", "Wat is een regiegemeente?",
               "--where", "gemeente=Lochem")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["where"] == {"municipality": ["Lochem"]}
    assert data["passages"] and all(p["meta"]["municipalities"] == ["Lochem"] for p in data["passages"])
    assert data["evidence"] and all(e["meta"]["municipalities"] == ["Lochem"] for e in data["evidence"])
    for c in data["citations"]:
        if c["valid"]:
            assert c["meta"]["municipalities"] == ["Lochem"] and c["meta"]["type"] == "plan van aanpak"
