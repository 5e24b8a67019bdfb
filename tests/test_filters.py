"""--where filters (assistant/filters.py) and the retriever honouring them, with the fake embedder."""

import pytest
from fakes import EchoGenerator, hashed_index

from assistant import cli, retrieve
from assistant.answer import Assistant
from assistant.evidence import EvidenceSelector, EvidenceSettings, approx_tokens
from assistant.filters import FilterError, Where, known_values, resolve
from assistant.prompts import Prompts
from assistant.retrieve import HybridRetriever, RetrievalSettings

SEZEN_Q = "Waarom is er voor Traject Sezen geen projectplan opgesteld?"


@pytest.fixture
def world(tmp_path, seeds_dir):
    return hashed_index(tmp_path / "index", seeds_dir)


def _municipalities(idx, hits):
    return [set(idx.docs[h.chunk.source].meta.municipalities) for h in hits]


# -- parsing -----------------------------------------------------------------------------------
def test_parse_keys_repeats_and_aliases():
    w = Where.parse(["municipality=Lochem", "year=2014", "municipality=Altena", "gemeente=Laren", "soort=motie"])
    assert w.municipality == ("Lochem", "Altena", "Laren") and w.year == (2014,) and w.type == ("motie",)
    assert w.describe() == "municipality=Lochem, municipality=Altena, municipality=Laren, year=2014, type=motie"
    assert w.to_json() == {"municipality": ["Lochem", "Altena", "Laren"], "year": [2014], "type": ["motie"]}
    assert not Where.parse([]) and not Where() and Where.parse(["source=seeds"])
    assert Where.parse([" year = 2014 "]).year == (2014,)
    assert Where.parse(["type=plan van aanpak"]).type == ("plan van aanpak",)  # spaces in a value


def test_from_the_browser_dropdowns():
    w = Where.from_choices(municipality=["Lochem", "Laren"], year=["2014"], type=None)
    assert w == Where(municipality=("Lochem", "Laren"), year=(2014,))
    assert not Where.from_choices([], [], [])


@pytest.mark.parametrize("item,message", [
    ("Lochem", "--where expects KEY=VALUE, got 'Lochem'; keys: municipality, year, type, source"),
    ("city=Lochem", "unknown filter key 'city'; known: municipality, year, type, source"),
    ("year=2014a", "year must be a four-digit year like 2014, got '2014a'"),
    ("municipality=", "--where municipality= needs a value"),
])
def test_parse_errors_name_the_bad_part(item, message):
    with pytest.raises(FilterError) as e:
        Where.parse([item])
    assert message in str(e.value)


# -- against the index -------------------------------------------------------------------------
def test_known_values_and_case_insensitive_resolution(world):
    idx, _ = world
    known = known_values(idx.docs)
    assert known["municipality"] == ["Altena", "Amersfoort", "Blaricum", "Eemnes", "Laren", "Lochem", "Noordoostpolder"]
    assert known["year"] == ["2007", "2014"]
    assert "raadsinformatiebrief" in known["type"] and "seeds" in known["source"]
    w = resolve(Where.parse(["municipality=lochem", "type=PLAN VAN AANPAK"]), idx.docs)
    assert w.municipality == ("Lochem",) and w.type == ("plan van aanpak",)


def test_unknown_value_lists_the_known_ones(world):
    idx, _ = world
    with pytest.raises(FilterError) as e:
        resolve(Where.parse(["municipality=Lohem"]), idx.docs)
    assert str(e.value) == ("unknown municipality 'Lohem'; known: Altena, Amersfoort, Blaricum, Eemnes, Laren, "
                            "Lochem, Noordoostpolder")
    with pytest.raises(FilterError, match=r"unknown year '2013'; known: 2007, 2014"):
        resolve(Where.parse(["year=2013"]), idx.docs)
    with pytest.raises(FilterError, match="no document matches municipality=Lochem, year=2014"):
        resolve(Where.parse(["municipality=Lochem", "year=2014"]), idx.docs)


def test_a_joint_document_matches_each_of_its_municipalities(world):
    idx, _ = world
    bel = next(d for d in idx.docs.values() if "Eemnes" in d.meta.municipalities)
    for name in ("Blaricum", "eemnes", "LAREN"):
        assert Where.parse([f"municipality={name}"]).matches(bel)
    assert not Where.parse(["municipality=Lochem"]).matches(bel)
    # AND across keys, OR within one
    assert Where.parse(["municipality=Lochem", "municipality=Laren", "year=2007"]).matches(bel)
    assert not Where.parse(["municipality=Laren", "year=2014"]).matches(bel)
    assert Where.parse(["source=seeds"]).matches(bel) and Where.parse([f"source={bel.source}"]).matches(bel)
    assert not Where.parse(["source=seed"]).matches(bel)  # a folder, not a prefix of a name


# -- retrieval ---------------------------------------------------------------------------------
def test_filtered_search_fills_the_top_k_from_allowed_documents(world):
    idx, emb = world
    r = HybridRetriever(idx, emb)
    unfiltered = r.search(SEZEN_Q, 5)
    assert "Noordoostpolder" in _municipalities(idx, unfiltered)[0]  # the question is about Noordoostpolder
    lochem = Where.parse(["municipality=Lochem"])
    hits = r.search(SEZEN_Q, 5, lochem)
    assert len(hits) == 5 and all(m == {"Lochem"} for m in _municipalities(idx, hits))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.meta.municipalities == ("Lochem",) for h in hits)  # the metadata travels with the hit
    # the same five as ranking only Lochem's chunks: filtering happens before ranking
    only = set(idx.rows_where(lochem).tolist())
    assert all(idx.row_of(h.chunk) in only for h in hits)
    assert len(r.search(SEZEN_Q, len(only) + 10, lochem)) == len(only)  # k past the allowed chunks: all of them


def test_the_store_path_gives_the_same_hits_as_exact_scoring(world, monkeypatch):
    """Past EXACT_FILTERED allowed chunks the vector store is asked for ever more neighbours."""
    idx, emb = world
    where = Where.parse(["municipality=Altena"])
    exact = HybridRetriever(idx, emb).search(SEZEN_Q, 5, where)
    monkeypatch.setattr(retrieve, "EXACT_FILTERED", 0)
    deep = HybridRetriever(idx, emb, RetrievalSettings(candidates=8)).search(SEZEN_Q, 5, where)
    assert [h.chunk.id for h in deep] == [h.chunk.id for h in exact]
    assert all(h.chunk.source.startswith("seeds/004") for h in deep)


def test_bm25_only_honours_the_filter(world):
    idx, emb = world
    r = HybridRetriever(idx, emb, use_dense=False)
    hits = r.search("Sezen projectplan gemeentesecretaris", 5, Where.parse(["year=2014"]))
    assert hits and all(idx.docs[h.chunk.source].meta.year == 2014 for h in hits)


def test_answer_path_cites_only_allowed_documents(world, prompts_dir):
    idx, emb = world
    prompts = Prompts(prompts_dir)
    selector = EvidenceSelector(idx, EvidenceSettings(budget=350), approx_tokens, prompts.excerpts)
    a = Assistant(HybridRetriever(idx, emb), EchoGenerator(), prompts, selector, emb, min_similarity=0.0)
    where = resolve(Where.parse(["municipality=Amersfoort"]), idx.docs)
    ans = a.answer(SEZEN_Q, where=where)
    assert ans.hits and ans.evidence
    assert {e.source for e in ans.evidence} == {h.chunk.source for h in ans.hits} == {"seeds/002_13e9976e58154e2c.txt"}
    out = ans.to_json()
    assert out["evidence"][0]["meta"]["municipalities"] == ["Amersfoort"] and out["passages"][0]["meta"]["year"] == 2014
    assert all(c["meta"]["date"] == "2014-09-09" for c in out["citations"] if c["valid"])


# -- the command line --------------------------------------------------------------------------
@pytest.fixture
def fake_cli(world, tmp_path, monkeypatch):
    """The CLI on the fake-embedder index (no model): `assistant.pipeline.make_embedder` swapped."""
    from assistant import pipeline

    idx, emb = world
    monkeypatch.setattr(pipeline, "make_embedder", lambda settings, built_with=None: emb)
    return ["--home", str(tmp_path / "home"), "--index-dir", str(tmp_path / "index")]


def test_cli_unknown_value_exits_2_listing_known_values(fake_cli, capsys):
    assert cli.main([*fake_cli, "search", SEZEN_Q, "--where", "municipality=Lohem"]) == 2
    err = capsys.readouterr().err
    assert "error: unknown municipality 'Lohem'; known: Altena, Amersfoort, Blaricum, Eemnes, Laren, Lochem, Noordoostpolder" in err
    assert cli.main([*fake_cli, "search", SEZEN_Q, "--where", "town=Lochem"]) == 2
    assert "unknown filter key 'town'" in capsys.readouterr().err


def test_cli_search_json_with_filters(fake_cli, capsys):
    import json

    assert cli.main([*fake_cli, "search", SEZEN_Q, "--json", "--where", "municipality=laren", "--where", "year=2007"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["where"] == {"municipality": ["Laren"], "year": [2007]}
    assert len(out["passages"]) == 5
    for p in out["passages"]:
        assert "Laren" in p["meta"]["municipalities"] and p["meta"]["year"] == 2007
        assert set(p) >= {"rank", "source", "title", "start", "end", "text", "score", "meta"}
    assert cli.main([*fake_cli, "search", SEZEN_Q, "--where", "type=raadsinformatiebrief"]) == 0
    text = capsys.readouterr().out
    assert "Amersfoort · raadsinformatiebrief · 2014-09-09" in text and "Noordoostpolder" not in text


def test_eval_with_filters_asks_only_about_matching_documents(world, tmp_path):
    import json
    from pathlib import Path

    from assistant import evaluation
    from assistant.config import Settings

    root = Path(__file__).resolve().parent.parent
    gold = root / "eval" / "gold.jsonl"
    rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines()]
    amersfoort = "002_13e9976e58154e2c.txt"
    expected = [r["id"] for r in rows
                if all(d == amersfoort for d in ([r["doc"]] if isinstance(r["doc"], str) else r["doc"] or []))]
    idx, emb = world
    settings = Settings().with_(index_dir=tmp_path / "index", prompts_dir=root / "prompts", seeds_dir=root / "seeds")
    out = tmp_path / "run"
    report = evaluation.run(settings, gold, out, retrieval_only=True, embedder=emb, show_progress=False,
                          where=["gemeente=amersfoort"])
    assert report["meta"]["where"] == {"municipality": ["Amersfoort"]}
    records = [json.loads(line) for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == expected and len(expected) > 13  # Amersfoort's + the unanswerable
    for r in records:
        assert all(p["source"].endswith(amersfoort) for p in r["retrieval"]["passages"])
    assert "--where municipality=Amersfoort" in (out / "report.md").read_text(encoding="utf-8")
    with pytest.raises(FilterError, match="unknown municipality 'Zwolle'"):
        evaluation.run(settings, gold, tmp_path / "run2", retrieval_only=True, embedder=emb, show_progress=False,
                     where=["municipality=Zwolle"])
