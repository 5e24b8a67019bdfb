import json

import pytest
from fakes import hashed_index

from assistant.evidence import EvidenceSelector, EvidenceSettings, approx_tokens
from assistant.prompts import Prompts
from assistant.retrieve import HybridRetriever

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def world(tmp_path_factory, seeds_dir=ROOT / "seeds"):
    idx, emb = hashed_index(tmp_path_factory.mktemp("ev") / "index", seeds_dir)
    return idx, HybridRetriever(idx, emb), Prompts(ROOT / "prompts")


def _questions():
    rows = [json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
    return [r["question"] for r in rows][::3]


@pytest.mark.parametrize("budget", [120, 250, 350, 600])
def test_excerpts_are_exact_spans_within_budget(world, budget):
    idx, retriever, prompts = world
    selector = EvidenceSelector(idx, EvidenceSettings(budget=budget), approx_tokens, prompts.excerpts)
    for q in _questions():
        excerpts = selector.select(retriever.retrieve(q, 5))
        assert excerpts, q
        assert [e.n for e in excerpts] == list(range(1, len(excerpts) + 1))
        for e in excerpts:
            doc = idx.docs[e.source]
            assert doc.text[e.start:e.end] == e.text and e.text == e.text.strip() and e.title == doc.title
            assert all(e.start <= a < b <= e.end for a, b in e.matches) and e.matches
        # Excerpts of one document never overlap or touch (they would have been merged).
        spans = sorted((e.source, e.start, e.end) for e in excerpts)
        for (s1, a1, b1), (s2, a2, b2) in zip(spans, spans[1:]):
            assert s1 != s2 or b1 < a2
        # One document's excerpts are numbered together (its title is printed once).
        sources = [e.source for e in excerpts]
        assert sources == sorted(sources, key=sources.index)
        cost = approx_tokens(prompts.excerpts(excerpts))
        assert cost <= budget or (len(excerpts) == 1 and len(excerpts[0].matches) == 1), (q, cost, budget)


def test_bigger_budget_gives_at_least_the_same_evidence(world):
    idx, retriever, prompts = world
    small = EvidenceSelector(idx, EvidenceSettings(budget=200), approx_tokens, prompts.excerpts)
    large = EvidenceSelector(idx, EvidenceSettings(budget=600), approx_tokens, prompts.excerpts)
    grew = 0
    for q in _questions():
        r = retriever.retrieve(q, 5)
        a = {(m, e.source) for e in small.select(r) for m in e.matches}
        b = {(m, e.source) for e in large.select(r) for m in e.matches}
        chars_a = sum(e.end - e.start for e in small.select(r))
        chars_b = sum(e.end - e.start for e in large.select(r))
        assert chars_b >= chars_a
        grew += chars_b > chars_a
        assert a & b  # the best sentence is in both
    assert grew > len(_questions()) // 2


def test_a_heading_alone_never_starts_an_excerpt(world):
    idx, retriever, prompts = world
    selector = EvidenceSelector(idx, EvidenceSettings(budget=350, before=0, after=0), approx_tokens, prompts.excerpts)
    for q in ["Vragen", "Context van het project", "Doel startgesprek"]:
        for e in selector.select(retriever.retrieve(q, 5)):
            assert len(e.text) >= selector.settings.min_seed_chars


def test_excerpt_vectors_are_its_sentences(world):
    idx, retriever, prompts = world
    selector = EvidenceSelector(idx, EvidenceSettings(budget=350), approx_tokens, prompts.excerpts)
    e = selector.select(retriever.retrieve("Waarom is er geen projectplan voor Sezen?", 5))[0]
    vectors = selector.vectors_of(e)
    inside = [j for j, sp in enumerate(idx.sentences) if sp.source == e.source and e.start <= sp.start and sp.end <= e.end]
    assert vectors.shape[0] == len(inside) > 0
    assert (vectors == idx.sentence_vectors[inside]).all()
