"""End-to-end on the real components: EmbeddingGemma, FAISS, llama.cpp, the real seed documents.

The index is kept in $ASSISTANT_HOME/test-index between runs (ingest is incremental, so a warm
run re-embeds nothing). These tests fail, not skip, when a model is missing: `./run.sh test`
fetches them first.
"""

import json
import os
import subprocess
import sys

import pytest

from assistant import index, lang
from assistant.config import Settings
from assistant.ingest import load_folder
from assistant.pipeline import build, make_embedder

pytestmark = pytest.mark.real

SEZEN_EN = "Why was there no projectplan for Sezen?"
SEZEN_NL = "Waarom is er geen projectplan voor Sezen opgesteld?"
SEZEN_SPAN = "is er geen projectplan opgesteld"


@pytest.fixture(scope="session")
def real_settings(seeds_dir_session):
    s = Settings.from_env(llm="qwen2.5-coder-0.5b")
    s = s.with_(index_dir=s.home / "test-index")
    docs, problems = load_folder(seeds_dir_session)
    assert problems == []
    index.sync(s.index_dir, docs, make_embedder(s), s.chunk_size, s.chunk_overlap, scope="seeds")
    return s


@pytest.fixture(scope="session")
def seeds_dir_session():
    from conftest import SEEDS

    return SEEDS


@pytest.fixture(scope="session")
def small(real_settings):
    return build(real_settings)


def _env(settings):
    env = dict(os.environ)
    env.update(ASSISTANT_INDEX_DIR=str(settings.index_dir), ASSISTANT_HOME=str(settings.home))
    return env


def test_search_json_ranks_the_projectplan_passage_first(real_settings):
    out = subprocess.run(
        [sys.executable, "-m", "assistant", "search", "--json", SEZEN_EN, "-k", "5"],
        capture_output=True, text=True, env=_env(real_settings), timeout=600,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["question"] == SEZEN_EN and len(data["passages"]) == 5
    first = data["passages"][0]
    assert set(first) == {"rank", "source", "title", "start", "end", "text", "score"}
    assert SEZEN_SPAN in first["text"] and first["rank"] == 1
    assert first["title"].startswith("Noordoostpolder")
    doc = (real_settings.index_dir and index.load(real_settings.index_dir)).docs[first["source"]]
    assert doc.text[first["start"]:first["end"]] == first["text"]


@pytest.mark.parametrize(
    "question,needle",
    [
        ("Waarom is er geen projectplan voor Sezen?", SEZEN_SPAN),
        ("When did the Lochem council adopt its motion about becoming a directing municipality?", "2 juli 2012"),
        ("Which municipalities took part in the InAxis experiment?", "Blaricum"),
        ("Who designed the development team in Altena?", "Zet"),
        ("Who is Amersfoort's new town clerk?", "Herke Elbers"),
    ],
)
def test_cross_language_retrieval_finds_the_dutch_passage(small, question, needle):
    hits = small.assistant.search(question, 5)
    assert any(needle in h.chunk.text for h in hits), [h.chunk.text[:80] for h in hits]


def test_off_topic_question_is_abstained(small):
    a = small.assistant.answer("What is the capital of Australia?")
    assert a.abstained and a.language == "en" and a.citations == ()
    assert "could not find" in a.text and len(a.hits) == 5


def _check_grounded(a, index_dir):
    """What must hold for any real answer, whatever the model's quality: it came from the model,
    and every citation points at a passage it was given, with exact character spans."""
    assert a.raw.strip(), "the model produced no text"
    assert a.hits and a.timings["retrieve_s"] <= a.timings["first_token_s"] <= a.timings["total_s"]
    docs = index.load(index_dir).docs
    given = {h.chunk.id for h in a.hits}
    for c in a.citations:
        if c.hit is None:
            assert f"[{c.n}]" not in a.text
            continue
        assert c.hit.chunk.id in given and 1 <= c.n <= len(a.hits)
        assert docs[c.hit.chunk.source].text[c.hit.chunk.start:c.hit.chunk.end] == c.hit.chunk.text
    if a.abstained:
        assert a.citations == () and "[" not in a.text
    else:
        assert any(c.supported for c in a.citations), "a non-abstained answer needs a supported citation"


def test_small_llm_end_to_end_on_sezen(small, real_settings):
    a = small.assistant.answer(SEZEN_EN)
    assert SEZEN_SPAN in a.hits[0].chunk.text  # the model was given the right passage as [1]
    _check_grounded(a, real_settings.index_dir)
    assert a.language == "en" and (a.abstained or lang.detect(a.text) == "en"), a.text


def test_cli_ask_json_with_small_model(real_settings):
    out = subprocess.run(
        [sys.executable, "-m", "assistant", "--llm", "qwen2.5-coder-0.5b", "ask", "--json", SEZEN_NL],
        capture_output=True, text=True, env=_env(real_settings), timeout=1800,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"question", "language", "answer", "abstained", "citations", "passages", "timings", "query"}
    assert data["language"] == "nl" and data["raw"].strip()
    assert [p["rank"] for p in data["passages"]] == [1, 2, 3, 4, 5]
    assert any(SEZEN_SPAN in p["text"] for p in data["passages"])
    for c in data["citations"]:
        assert set(c) >= {"n", "source", "title", "start", "end", "text", "supported", "valid", "origin"}
    if data["abstained"]:
        assert "niet in de documenten" in data["answer"]


def test_default_model_end_to_end_on_sezen(real_settings):
    """The default 1.5B model, exercised once per CI run: grounding mechanics only. Its wording is
    not a contract: with identical prompts and settings it answered the Sezen question correctly
    from `assistant eval` and the browser (tests/test_ui.py asserts that answer and its [1]) but
    said NOT_FOUND inside this pytest process. Quality is measured by `assistant eval` (README)."""
    p = build(real_settings.with_(llm="qwen2.5-coder-1.5b"))
    a = p.assistant.answer(SEZEN_EN)
    assert p.assistant.generator.name.startswith("qwen2.5-coder-1.5b")
    _check_grounded(a, real_settings.index_dir)
    assert a.language == "en" and (a.abstained or lang.detect(a.text) == "en"), a.text
    if not a.abstained:
        assert any(c.supported and SEZEN_SPAN in c.hit.chunk.text for c in a.citations), (a.text, a.citations)
