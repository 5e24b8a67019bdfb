"""The gold-file validator, the bundled gold set, and small end-to-end `assistant eval` runs on fakes."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from assistant import evaluate
from assistant import evaluation as E
from assistant import index as index_mod
from assistant import ingest
from assistant import metrics as M
from assistant.config import Settings
from assistant.errors import InputError
from fakes import EchoGenerator, HashEmbedder, ScriptedGenerator

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "gold.jsonl"
SEEDS = ROOT / "seeds"
PROMPTS = ROOT / "prompts"

ASK_KEYS = {"question", "language", "answer", "abstained", "citations", "passages", "timings", "query"}


def _seed_texts() -> dict[str, str]:
    docs, problems = ingest.load_folder(SEEDS)
    assert not problems
    by_source = {d.source: d.text for d in docs}
    return {name: by_source[src] for name, src in E.doc_names(by_source).items()}


def _gold_rows() -> list[dict]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- the bundled gold set ------------------------------------------------------------------------
def test_every_gold_evidence_span_occurs_verbatim_in_seeds():
    texts = _seed_texts()
    rows = _gold_rows()
    assert len(rows) >= 100
    checked = 0
    for row in rows:
        docs = [row["doc"]] if isinstance(row["doc"], str) else (row["doc"] or [])
        for quote in row["evidence"]:
            assert any(quote in texts[d] for d in docs), f"{row['id']}: evidence not in {docs}: {quote[:60]!r}"
            checked += 1
        assert bool(row["evidence"]) == row["answerable"], row["id"]
    assert checked >= 100


def test_bundled_gold_file_validates():
    items = E.validate_gold(GOLD, _seed_texts())
    assert len(items) == len(_gold_rows())
    assert {i.lang for i in items} == {"en", "nl"}
    assert any(not i.answerable for i in items) and any(len(i.docs) > 1 for i in items)


def test_doc_names_accepts_full_source_and_unique_relative_name():
    names = E.doc_names(["seeds/a.txt", "seeds/b.txt", "uploads/b.txt"])
    assert names["a.txt"] == "seeds/a.txt"
    assert names["seeds/b.txt"] == "seeds/b.txt"
    assert "b.txt" not in names  # ambiguous: two folders have it


# -- validator on bad files ----------------------------------------------------------------------
DOCS = {"a.txt": "De gemeente besloot in 2014 tot een nieuwe aanpak.\nDe raad   stemde in.", "b.txt": "Tweede document."}
GOOD = {
    "id": "q1", "question": "Wat besloot de gemeente?", "lang": "nl", "answerable": True,
    "reference_answer": "Een nieuwe aanpak.", "evidence": ["besloot in 2014 tot een nieuwe aanpak"],
    "keywords": [["aanpak", "approach"]], "doc": "a.txt", "multi_passage": False,
}
UNANSWERABLE = {"id": "q2", "question": "Who paid?", "lang": "en", "answerable": False, "evidence": [],
                "keywords": [], "doc": None}


def _write(tmp_path, rows, name="gold.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return p


def _errors(tmp_path, rows) -> str:
    with pytest.raises(E.GoldError) as exc:
        E.validate_gold(_write(tmp_path, rows), DOCS)
    assert isinstance(exc.value, InputError)  # the CLI prints it without a traceback
    return str(exc.value)


def test_validator_accepts_good_file(tmp_path):
    multi = {**GOOD, "id": "q3", "doc": ["a.txt", "b.txt"], "evidence": ["Tweede document.", "De raad   stemde in."],
             "pair": "p", "multi_passage": True}
    items = E.validate_gold(_write(tmp_path, [GOOD, "", UNANSWERABLE, multi]), DOCS)
    assert [i.id for i in items] == ["q1", "q2", "q3"]
    assert [i.line for i in items] == [1, 3, 4]
    assert items[0].keywords == (("aanpak", "approach"),) and items[0].docs == ("a.txt",)
    assert items[1].docs == () and not items[1].answerable
    assert items[2].docs == ("a.txt", "b.txt") and items[2].multi_passage


def test_validator_reports_bad_json_and_missing_fields_by_line(tmp_path):
    missing = {k: v for k, v in GOOD.items() if k not in ("lang", "doc")}
    msg = _errors(tmp_path, [GOOD, "{not json", {**missing, "id": "q9"}, "[1, 2]"])
    assert "line 2: not valid JSON" in msg
    assert "line 3 (id 'q9'): missing field(s) 'lang', 'doc'" in msg
    assert "line 4: expected a JSON object" in msg
    assert "gold.jsonl line 1:" not in msg and "gold.jsonl line 1 " not in msg
    assert "3 problem(s)" in msg


def test_validator_carries_the_yesno_answer(tmp_path):
    items = E.validate_gold(_write(tmp_path, [
        {**GOOD, "yesno": "yes"}, {**GOOD, "id": "q2", "yesno": "no"}, {**GOOD, "id": "q3"}]), DOCS)
    assert [i.yesno for i in items] == ["yes", "no", None]


def test_validator_rejects_a_yesno_that_is_not_yes_or_no(tmp_path):
    msg = _errors(tmp_path, [
        {**GOOD, "yesno": "Yes"},
        {**GOOD, "id": "q2", "yesno": True},
        {**GOOD, "id": "q3", "yesno": "ja"},
        {**GOOD, "id": "q4", "yesno": None},
    ])
    fix = "'yesno' must be \"yes\" or \"no\" (or left out for a question that is not yes/no), got"
    assert f"line 1 (id 'q1'): {fix} 'Yes'" in msg
    assert f"line 2 (id 'q2'): {fix} True" in msg
    assert f"line 3 (id 'q3'): {fix} 'ja'" in msg
    assert f"line 4 (id 'q4'): {fix} None" in msg
    assert "4 problem(s)" in msg


def test_validator_reports_wrong_types(tmp_path):
    msg = _errors(tmp_path, [
        {**GOOD, "answerable": "yes"},
        {**GOOD, "id": "q2", "lang": "de"},
        {**GOOD, "id": "q3", "keywords": ["aanpak"]},
        {**GOOD, "id": "q4", "evidence": "besloot"},
        {**GOOD, "id": "q5", "question": ""},
        {**GOOD, "id": "q6", "doc": 7},
        {**GOOD, "id": "q7", "multi_passage": "no"},
        {**GOOD, "id": 8},
    ])
    assert "line 1 (id 'q1'): 'answerable' must be true or false" in msg
    assert "line 2 (id 'q2'): 'lang' must be one of en, nl, got 'de'" in msg
    assert "line 3 (id 'q3'): 'keywords' must be a list of groups" in msg
    assert "line 4 (id 'q4'): 'evidence' must be a list of non-empty strings" in msg
    assert "line 5 (id 'q5'): 'question' must be a non-empty string" in msg
    assert "line 6 (id 'q6'): 'doc' must be" in msg
    assert "line 7 (id 'q7'): 'multi_passage' must be true or false" in msg
    assert "line 8: 'id' must be a non-empty string" in msg


def test_validator_refuses_a_question_the_assistant_would_refuse(tmp_path):
    from assistant.answer import MAX_QUESTION_CHARS

    ok = {**GOOD, "question": "x" * MAX_QUESTION_CHARS}
    assert E.validate_gold(_write(tmp_path, [ok]), DOCS)[0].question == ok["question"]
    msg = _errors(tmp_path, [{**GOOD, "question": "x" * (MAX_QUESTION_CHARS + 1)}])
    assert f"line 1 (id 'q1'): 'question' is longer than {MAX_QUESTION_CHARS} characters" in msg


def test_validator_reports_evidence_not_found_and_unknown_docs(tmp_path):
    msg = _errors(tmp_path, [
        {**GOOD, "evidence": ["besloot in 2014 tot een nieuwe aanpak", "besloot in 2015"]},
        {**GOOD, "id": "q2", "evidence": ["De raad stemde in."]},  # the document has three spaces
        {**GOOD, "id": "q3", "doc": "missing.txt"},
        {**GOOD, "id": "q4", "doc": "b.txt"},  # the quote is in a.txt, not in b.txt
    ])
    assert "line 1 (id 'q1'): evidence 2 not found verbatim in a.txt: 'besloot in 2015'" in msg
    assert "line 2 (id 'q2'): evidence 1 not found verbatim in a.txt (it does match when whitespace is ignored" in msg
    assert "line 3 (id 'q3'): doc 'missing.txt' is not among the indexed documents" in msg
    assert "line 4 (id 'q4'): evidence 1 not found verbatim in b.txt" in msg


def test_validator_reports_inconsistent_and_duplicate_rows(tmp_path):
    msg = _errors(tmp_path, [
        GOOD,
        {**GOOD, "evidence": []},
        {**GOOD, "id": "q3", "evidence": [], "doc": None},
        {**UNANSWERABLE, "evidence": ["Tweede document."], "doc": "b.txt"},
    ])
    assert "line 2 (id 'q1'): duplicate id (first on line 1)" in msg
    assert "line 3 (id 'q3'): answerable question without evidence" in msg
    assert "line 3 (id 'q3'): answerable question without 'doc'" in msg
    assert "line 4 (id 'q2'): unanswerable question with evidence" in msg


def test_validator_rejects_empty_and_unreadable_files(tmp_path):
    with pytest.raises(E.GoldError, match="no questions"):
        E.validate_gold(_write(tmp_path, [""]), DOCS)
    with pytest.raises(E.GoldError, match="cannot read"):
        E.validate_gold(tmp_path / "nope.jsonl", DOCS)


def test_validator_lists_at_most_25_problems(tmp_path):
    msg = _errors(tmp_path, ["{"] * 30)
    assert "30 problem(s)" in msg and "... and 5 more" in msg


# -- end to end on fakes -------------------------------------------------------------------------
SUBSET = ["sezen-projectplan-en", "sezen-projectplan-nl", "sezen-duration-en", "sezen-duration-nl",
          "cross-advisers-en", "una-sezen-final-cost-en", "una-vanboven-severance-nl"]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("eval_index")
    docs, _ = ingest.load_folder(SEEDS)
    index_mod.sync(folder, docs, HashEmbedder(), 900, 150, scope="seeds")
    return folder


@pytest.fixture
def gold(tmp_path) -> Path:
    by_id = {r["id"]: r for r in _gold_rows()}
    return _write(tmp_path, [by_id[i] for i in SUBSET], "subset.jsonl")


def _settings(index_dir, **kw) -> Settings:
    return Settings().with_(index_dir=index_dir, prompts_dir=PROMPTS, seeds_dir=SEEDS, **kw)


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()]


class ReplyByQuestion(ScriptedGenerator):
    """Replies replies[question] (or the default, NOT_FOUND), with {first} replaced by the first sentence of at
    least 8 words of source [1] (so the answer's support check passes) and {first_no_numbers} by the same without
    digits and number words."""

    def __init__(self, replies: dict[str, str], default: str = "NOT_FOUND"):
        super().__init__("", name="by-question")
        self.replies, self.default = replies, default

    def stream(self, prompt, max_tokens, temperature):
        system, user, examples = prompt.system, prompt.user, prompt.examples
        self.prompts.append((system, user))
        q = re.search(r"^(?:Question|Vraag): (.*)\n", user, re.M)
        src = re.search(r"^\[1\] (?:\([^)]*\) )?(.*)$", user, re.M)
        sentences = re.split(r"(?<=[.!?])\s+|\n+", src.group(1)) if src else []
        first = next((t.strip().rstrip(".!?: ") for t in sentences if len(t.split()) >= 8), "")
        no_numbers = re.sub(r"\d|twee|drie|two|three", "", first, flags=re.I)
        yield self.replies.get(q.group(1) if q else "", self.default).format(first=first, first_no_numbers=no_numbers)


def test_retrieval_only_run_writes_consistent_outputs(index_dir, gold, tmp_path):
    out = tmp_path / "run"
    report = E.run(_settings(index_dir), gold, out, retrieval_only=True, embedder=HashEmbedder(), show_progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["records.jsonl", "report.json", "report.md", "report.png"]
    records = _records(out)
    assert [r["id"] for r in records] == SUBSET
    texts = _seed_texts()
    gold_rows = {r["id"]: r for r in _gold_rows()}
    for r in records:
        m = r["metrics"]
        assert r["ask"] is None and r["error"] is None
        passages = r["retrieval"]["passages"]
        assert len(passages) == 10 and [p["rank"] for p in passages] == list(range(1, 11))
        if not r["answerable"]:
            assert m["recall@5"] is None and m["ndcg@10"] is None and r["evidence_locations"] == []
            continue
        # every evidence quote was located, and the located text really is the quote
        assert len(r["evidence_locations"]) == len(gold_rows[r["id"]]["evidence"])
        for locs in r["evidence_locations"]:
            assert locs
            for loc in locs:
                assert loc["source"].startswith("seeds/")
        evidence = [[(l["source"], l["start"], l["end"]) for l in locs] for locs in r["evidence_locations"]]
        # relevance flags agree with the span overlap definition
        for p in passages:
            assert p["relevant"] == any(M.covers((p["source"], p["start"], p["end"]), ev) for ev in evidence)
        assert 0 <= m["recall@1"] <= m["recall@5"] <= m["recall@10"] <= 1
        assert (m["mrr@10"] > 0) == any(p["relevant"] for p in passages)
        assert r["retrieval"]["relevant_in_index"] >= sum(p["relevant"] for p in passages)
    for r in records:
        for quote, locs in zip(gold_rows[r["id"]]["evidence"], r["evidence_locations"]):
            assert all(texts[l["source"]][l["start"]:l["end"]] == quote for l in locs)

    saved = json.loads((out / "report.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["meta"]["mode"] == "retrieval-only" and saved["meta"]["questions"] == len(SUBSET)
    assert saved["metrics"]["all"]["recall@5"] == pytest.approx(
        M.mean(r["metrics"]["recall@5"] for r in records))
    assert saved["metrics"]["en"]["questions"] == 4 and saved["metrics"]["nl"]["questions"] == 3
    md = (out / "report.md").read_text()
    assert "| recall@5 |" in md and "| nDCG@10 |" in md and "keyword accuracy" not in md
    assert "](report.png)" in md
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_full_run_metrics_follow_the_answers(index_dir, gold, tmp_path):
    by_id = {r["id"]: r for r in _gold_rows()}
    replies = {  # all quote source [1] and cite it
        by_id["sezen-projectplan-en"]["question"]: "Contextgedreven: {first} [1].",  # keyword, but Dutch
        by_id["sezen-projectplan-nl"]["question"]: "Contextgedreven: {first} [1].",
        by_id["sezen-duration-en"]["question"]: "{first_no_numbers} [1].",  # no keyword can match
        by_id["una-sezen-final-cost-en"]["question"]: "{first} [1].",  # should have abstained
    }
    gen = ReplyByQuestion(replies)
    out = tmp_path / "full"
    report = E.run(_settings(index_dir, min_similarity=0.0), gold, out, embedder=HashEmbedder(), generator=gen,
                   show_progress=False)
    recs = {r["id"]: r for r in _records(out)}
    for r in recs.values():
        assert ASK_KEYS <= set(r["ask"])  # the stable `ask --json` shape (extra debug keys allowed)
        assert {"retrieve_s", "first_token_s", "total_s"} <= set(r["ask"]["timings"])
    m = {i: r["metrics"] for i, r in recs.items()}
    assert m["sezen-projectplan-en"]["keyword_accuracy"] == 1.0
    assert m["sezen-projectplan-nl"]["keyword_accuracy"] == 1.0
    assert m["sezen-duration-en"]["keyword_accuracy"] == 0.0
    assert m["sezen-duration-nl"]["abstained"] and m["sezen-duration-nl"]["keyword_accuracy"] == 0.0
    assert m["una-sezen-final-cost-en"]["keyword_accuracy"] is None
    assert [m[i]["abstained"] for i in SUBSET] == [False, False, False, True, True, False, True], [recs[i]["ask"]["raw"] for i in SUBSET]
    # citation [1] is the first evidence excerpt the model was given; its precision is whether it holds evidence
    for i in ("sezen-projectplan-en", "sezen-projectplan-nl", "sezen-duration-en"):
        first = recs[i]["ask"]["evidence"][0]
        cited = recs[i]["ask"]["citations"]
        assert len(cited) == 1 and cited[0]["n"] == 1 and (cited[0]["start"], cited[0]["end"]) == (first["start"], first["end"])
        evidence = [[(l["source"], l["start"], l["end"]) for l in locs] for locs in recs[i]["evidence_locations"]]
        holds = any(M.covers((first["source"], first["start"], first["end"]), ev) for ev in evidence)
        assert m[i]["citation_precision"] == (1.0 if holds else 0.0)
        assert m[i]["citation_recall"] == M.citation_recall(
            [(cited[0]["source"], cited[0]["start"], cited[0]["end"])],
            [[(l["source"], l["start"], l["end"]) for l in locs] for locs in recs[i]["evidence_locations"]])
    assert m["una-sezen-final-cost-en"]["citation_precision"] == 0.0
    assert m["sezen-duration-nl"]["citation_recall"] == 0.0  # abstained: nothing cited
    # answer language: a Dutch answer to an English question does not match; the Dutch not-found text does
    assert m["sezen-projectplan-en"]["language_match"] is False and m["sezen-projectplan-nl"]["language_match"]
    assert m["sezen-projectplan-en"]["answer_language"] == "nl"
    assert m["una-vanboven-severance-nl"]["language_match"]

    a = report["metrics"]["all"]
    assert a["abstention_precision"] == pytest.approx(1 / 3)  # 3 abstentions, 1 on an unanswerable
    assert a["abstention_recall"] == 0.5
    assert a["false_abstention_rate"] == pytest.approx(2 / 5)
    assert report["metrics"]["en"]["keyword_accuracy"] == pytest.approx(1 / 3)  # projectplan yes, duration no, cross no
    assert report["metrics"]["nl"]["keyword_accuracy"] == 0.5
    assert a["total_p50_s"] is not None and a["first_token_p95_s"] >= a["first_token_p50_s"]
    md = (out / "report.md").read_text()
    assert "| keyword accuracy (the answer alone) |" in md and "| total p95 (s) |" in md
    assert "answered an unanswerable question (1): `una-sezen-final-cost-en`" in md
    assert report["meta"]["llm"] == "by-question" and report["meta"]["errors"] == 0


def test_compare_lists_better_and_worse_questions(index_dir, gold, tmp_path):
    settings = _settings(index_dir, min_similarity=0.0)
    first, second = tmp_path / "first", tmp_path / "second"
    E.run(settings, gold, first, embedder=HashEmbedder(), generator=ScriptedGenerator("NOT_FOUND"), show_progress=False)
    before = _records(first)
    assert all(r["metrics"]["abstained"] for r in before)
    assert all(r["metrics"]["keyword_accuracy"] == 0.0 for r in before if r["answerable"])  # abstaining answers nothing
    quote = ReplyByQuestion({}, default="{first} [1].")
    report = E.run(settings, gold, second, compare=first, embedder=HashEmbedder(), generator=quote, show_progress=False)
    cmp = report["compare"]
    assert cmp["common"] == len(SUBSET) and cmp["only_previous"] == [] and cmp["only_current"] == []
    abst = cmp["abstention_correct"]
    # The first run abstained everywhere; the quoting run answers everything.
    assert sorted(e["id"] for e in abst["better"]) == sorted(SUBSET[:5])
    assert sorted(e["id"] for e in abst["worse"]) == SUBSET[5:]
    assert cmp["recall@5"] == {"better": [], "worse": []}  # same retriever
    assert cmp["overall"]["abstention_recall"] == {"before": 1.0, "after": 0.0, "delta": -1.0}
    kw_better = {e["id"] for e in cmp["keyword_accuracy"]["better"]}
    recs = {r["id"]: r for r in _records(second)}
    assert kw_better == {i for i, r in recs.items() if r["metrics"]["keyword_accuracy"] == 1.0}
    assert cmp["keyword_accuracy"]["worse"] == []
    md = (second / "report.md").read_text()
    assert "## Compared with the previous run" in md
    assert "abstention (correct = abstained iff unanswerable): better 5" in md
    assert "worse 2 `una-sezen-final-cost-en`, `una-vanboven-severance-nl`" in md


def test_failed_question_is_recorded_and_the_run_goes_on(index_dir, gold, tmp_path):
    class Flaky(EchoGenerator):
        def stream(self, prompt, max_tokens, temperature):
            system, user, examples = prompt.system, prompt.user, prompt.examples
            if "Question: Why was there no projectplan" in user:
                raise RuntimeError("llama_decode returned -3")
            yield from super().stream(prompt, max_tokens, temperature)

    out = tmp_path / "flaky"
    report = E.run(_settings(index_dir, min_similarity=0.0), gold, out, embedder=HashEmbedder(), generator=Flaky(),
                   show_progress=False)
    recs = _records(out)
    assert len(recs) == len(SUBSET)
    failed = [r for r in recs if r["error"]]
    assert [r["id"] for r in failed] == ["sezen-projectplan-en"]
    assert "llama_decode returned -3" in failed[0]["error"]
    assert report["meta"]["errors"] == 1
    assert report["metrics"]["all"]["questions"] == len(SUBSET)
    assert "## Errors" in (out / "report.md").read_text()


def test_crash_keeps_finished_questions_and_writes_no_report(index_dir, gold, tmp_path):
    class Crash(EchoGenerator):
        def stream(self, prompt, max_tokens, temperature):
            system, user, examples = prompt.system, prompt.user, prompt.examples
            if "Vraag: Hoeveel tijd" in user:  # the 4th question
                raise KeyboardInterrupt
            yield from super().stream(prompt, max_tokens, temperature)

    out = tmp_path / "crash"
    out.mkdir()
    (out / "report.md").write_text("stale report of an older run")
    with pytest.raises(KeyboardInterrupt):
        E.run(_settings(index_dir, min_similarity=0.0), gold, out, embedder=HashEmbedder(), generator=Crash(),
              show_progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".run-meta.json", "records.jsonl.partial"]
    done = [json.loads(line) for line in (out / "records.jsonl.partial").read_text().splitlines()]
    assert [r["id"] for r in done] == SUBSET[:3]
    # an unfinished run can still serve as the baseline of a comparison
    assert set(E.load_run(out)["records"]) == set(SUBSET[:3])
    # ... and be reported (python -m assistant.evaluate DIR), marked as partial
    assert evaluate.main([str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["meta"]["partial"] and report["meta"]["questions"] == 3 and report["meta"]["llm"] == "echo"
    assert report["metrics"]["all"]["questions"] == 3
    assert "**partial run**: built from the 3 questions finished so far" in (out / "report.md").read_text()
    assert (out / "report.png").is_file()

    # Running the same evaluation again resumes: only the unfinished questions are asked.
    gen = EchoGenerator()
    report = E.run(_settings(index_dir, min_similarity=0.0), gold, out, embedder=HashEmbedder(), generator=gen,
                   show_progress=False)
    asked = [re.search(r"^(?:Question|Vraag): (.*)$", user, re.M).group(1) for _, user in gen.prompts
             if re.search(r"^(?:Question|Vraag): ", user, re.M)]
    by_id = {r["id"]: r for r in _gold_rows()}
    assert asked == [by_id[i]["question"] for i in SUBSET[3:]]
    assert [r["id"] for r in _records(out)] == SUBSET
    assert report["meta"]["resumed"] == 3 and report["metrics"]["all"]["questions"] == len(SUBSET)
    # the code is recorded, also that of the run whose questions were kept (same code here)
    assert report["meta"]["code"] == E.code_version() and report["meta"]["resumed_from"] == report["meta"]["code"]
    assert f"(resumed 3 finished questions of a run by `{report['meta']['code'] or 'unknown'}`)" in (out / "report.md").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["records.jsonl", "report.json", "report.md", "report.png"]

    # An interrupted run with other settings (here: k) is not resumed: it starts from scratch.
    with pytest.raises(KeyboardInterrupt):
        E.run(_settings(index_dir, min_similarity=0.0), gold, out, embedder=HashEmbedder(), generator=Crash(),
              show_progress=False)
    assert len((out / "records.jsonl.partial").read_text().splitlines()) == 3
    gen = EchoGenerator()
    E.run(_settings(index_dir, min_similarity=0.0, top_k=3), gold, out, embedder=HashEmbedder(), generator=gen,
          show_progress=False)
    assert len([u for _, u in gen.prompts if re.search(r"^(?:Question|Vraag): ", u, re.M)]) == len(SUBSET)


def test_bad_gold_fails_before_anything_is_written(index_dir, tmp_path):
    bad = _write(tmp_path, [{**GOOD, "doc": "000_a4ba55a0b15ccb7c.txt"}])
    out = tmp_path / "never"
    with pytest.raises(E.GoldError, match=r"line 1 \(id 'q1'\): evidence 1 not found verbatim"):
        E.run(_settings(index_dir), bad, out, retrieval_only=True, embedder=HashEmbedder(), show_progress=False)
    assert not out.exists()


def test_limit_and_compare_with_missing_folder(index_dir, gold, tmp_path):
    settings = _settings(index_dir)
    report = E.run(settings, gold, tmp_path / "lim", retrieval_only=True, limit=2, embedder=HashEmbedder(),
                   show_progress=False)
    assert [r["id"] for r in _records(tmp_path / "lim")] == SUBSET[:2]
    assert report["meta"]["limit"] == 2 and report["metrics"]["all"]["questions"] == 2
    with pytest.raises(InputError, match="--compare: no records.jsonl"):
        E.run(settings, gold, tmp_path / "x", compare=tmp_path / "nothing", retrieval_only=True,
              embedder=HashEmbedder(), show_progress=False)
    with pytest.raises(InputError, match="--limit"):
        E.run(settings, gold, tmp_path / "y", retrieval_only=True, limit=0, embedder=HashEmbedder(), show_progress=False)


def test_cli_eval_command(index_dir, gold, tmp_path, monkeypatch, capsys):
    from assistant import cli, pipeline

    monkeypatch.setattr(pipeline, "make_embedder", lambda settings, *a: HashEmbedder())
    out = tmp_path / "cli"
    rc = cli.main(["--index-dir", str(index_dir), "eval", "--gold", str(gold), "--out", str(out),
                   "--retrieval-only", "--limit", "3"])
    assert rc == 0
    printed = capsys.readouterr()
    assert "| recall@5 |" in printed.out and "report.md" in printed.err
    assert len(_records(out)) == 3
    # a malformed gold file is a clean CLI error (exit code 2), not a traceback
    rc = cli.main(["--index-dir", str(index_dir), "eval", "--gold", str(_write(tmp_path, ["{"], "bad.jsonl")),
                   "--out", str(tmp_path / "cli2"), "--retrieval-only"])
    assert rc == 2
    assert "bad.jsonl line 1: not valid JSON" in capsys.readouterr().err


# -- eval/legalqa.py on a tiny hand-made corpus -------------------------------------------------
def _load_legalqa():
    import importlib.util

    spec = importlib.util.spec_from_file_location("legalqa", ROOT / "eval" / "legalqa.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write_legalqa(folder, legalqa, corpus, questions):
    """The two LegalQA-NL CSV files: corpus rows (DOC_ID, law name, article, text) and questions
    (id, question, human answer, gold DOC_IDs)."""
    import csv

    with open(folder / legalqa.CORPUS_FILE, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["DOC_ID", "law_id", "law_name", "artikel", "text"])
        for doc_id, law, art, text in corpus:
            w.writerow([doc_id, "BWBR0000000", law, art, text])
    with open(folder / legalqa.QUESTIONS_FILE, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["question_id", "question", "human_answer", "human_attribution", "model_answer", "model_attribution"])
        for qid, question, answer, gold in questions:
            w.writerow([qid, question, answer, gold, "", ""])


def test_legalqa_one_passage_per_chunk_cached_index_and_scores(tmp_path, monkeypatch, capsys):
    from assistant import pipeline

    legalqa = _load_legalqa()
    long_text = "de huurtoeslag wordt berekend naar het inkomen van de huurder. " * 30  # > 900 characters
    corpus = [
        ("DOC0001", "Wet op de huurtoeslag", "Artikel 1", long_text),
        ("DOC0002", "Opiumwet", "Artikel 2", "het is verboden een middel als bedoeld in lijst i te telen of te verkopen."),
        ("DOC0003", "Grondwet", "Artikel 1", "allen die zich in nederland bevinden, worden in gelijke gevallen gelijk behandeld."),
        ("DOC0004", "Jeugdwet", "Artikel 3", "het college is verantwoordelijk voor jeugdhulp aan jeugdigen in de gemeente."),
    ]
    _write_legalqa(tmp_path, legalqa, corpus, [
        ("1", "Hoe wordt de huurtoeslag berekend naar het inkomen?", "", "DOC0001"),
        ("2", "Is het verboden een middel uit lijst i te telen of te verkopen?", "", "DOC0002, DOC0004"),
    ])

    emb = HashEmbedder()
    monkeypatch.setattr(pipeline, "make_embedder", lambda settings, *a: emb)
    args = ["--data-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "res.json")]
    assert legalqa.main(args) == 0
    folder = next((tmp_path / "cache").iterdir())
    idx = index_mod.load(folder)
    texts = {(c.title, index_mod.chunk_text(c)) for c in idx.chunks}
    texts |= {(idx.docs[sp.source].title, idx.sentence_text(j)) for j, sp in enumerate(idx.sentences)}
    # Four passages and their sentences embedded; a one-sentence passage is one text, embedded once.
    assert emb.calls == len(texts) < 4 + len(idx.sentences)
    assert len(idx.chunks) == 4 and all(c.text == idx.docs[c.source].text for c in idx.chunks)
    assert max(len(c.text) for c in idx.chunks) > 1500  # the long article was not split

    res = json.loads((tmp_path / "res.json").read_text())["results"]
    bm25 = res["bm25"]["per_question"]
    assert bm25["1"]["top10"][0] == "DOC0001" and bm25["1"]["ndcg@10"] == 1.0
    assert bm25["2"]["top10"][0] == "DOC0002" and bm25["2"]["recall@10"] in (0.5, 1.0)
    for mode in ("dense", "dense+sentences", "bm25", "hybrid"):
        r = res[mode]
        assert 0 <= r["ndcg@10"] <= 1 and 0 <= r["recall@10"] <= 1
        assert r["recall@10"] == pytest.approx(M.mean(q["recall@10"] for q in r["per_question"].values()))
    table = capsys.readouterr().out
    assert "chunk + best sentence + BM25" in table and "0.726" in table and "0.687" in table

    calls = emb.calls
    assert legalqa.main(args + ["--limit", "1"]) == 0
    assert emb.calls == calls  # the cached index was reused: nothing embedded again
    assert "SUBSET" in capsys.readouterr().out


def test_legalqa_quotes_scores_the_quote_choice_against_the_human_answer(tmp_path, monkeypatch, capsys):
    from assistant import pipeline

    legalqa = _load_legalqa()
    corpus = [
        ("DOC0001", "Wet A", "Artikel 1", "Deze wet regelt de subsidie voor dorpshuizen. De subsidie bedraagt ten hoogste "
                                          "vijfduizend euro per jaar voor elk dorpshuis."),
        ("DOC0002", "Wet B", "Artikel 2", "Het college besluit binnen acht weken over een aanvraag voor een vergunning."),
    ]
    _write_legalqa(tmp_path, legalqa, corpus, [
        ("1", "Hoeveel bedraagt de subsidie voor een dorpshuis per jaar?",
         "De subsidie bedraagt ten hoogste vijfduizend euro per jaar voor elk dorpshuis.", "DOC0001"),
    ])
    monkeypatch.setattr(pipeline, "make_embedder", lambda settings, *a: HashEmbedder())
    out = tmp_path / "res.json"
    assert legalqa.main(["--data-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"), "--out", str(out),
                         "--quotes"]) == 0
    quotes = json.loads(out.read_text())["quotes"]
    assert quotes["questions"] == 1 and quotes["reachable"] == 1
    # The first sentence of excerpt [1] names the law, not the amount; the chooser's quote holds the answer.
    first, default = quotes["per_question"]["1"]["first sentence of excerpt [1]"], quotes["per_question"]["1"]["the assistant's default"]
    assert first == {"best": False, "in_gold": True, "quote": False}
    assert default["quote"] is True and default["in_gold"] is True
    assert quotes["choosers"]["the assistant's default"]["quote"] == 1.0
    assert "LegalQA-NL quote choice" in capsys.readouterr().out


def test_legalqa_repairs_mojibake_questions():
    legalqa = _load_legalqa()
    assert legalqa.fix_mojibake("financiÃ«le belangen") == "financiële belangen"
    assert legalqa.fix_mojibake("gewoon ë en é") == "gewoon ë en é"


def test_code_version_names_the_commit():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(E.__file__).parent,
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        head = ""
    if not head:
        pytest.skip("not a git checkout")
    v = E.code_version()
    assert v is not None and v.removesuffix("-dirty").startswith(head[:7])


def _item(**kw):
    base = dict(line=1, id="q", question="Is de ontwikkeling een reorganisatie?", lang="nl", answerable=True,
                evidence=("Het is geen reorganisatie.",), keywords=(("herprioriter", "geen reorganisatie"),), docs=("a",),
                yesno="no")
    base.update(kw)
    return E.GoldItem(**base)


def _ask(answer, verdict=None, abstained=False, quote=None, p_nf=0.1, p_yes=None, p_null=None, reason=None):
    return {"answer": answer, "abstained": abstained, "quote": quote,
            "evidence": [{"title": "Lochem", "text": "Het is geen reorganisatie, wel herprioritering.",
                          "source": "a", "start": 0, "end": 10}],
            "decision": {"verdict": verdict, "p_not_found": p_nf, "p_yes": p_yes, "p_yes_null": p_null,
                         "abstain_reason": reason, "follow_ups": []}}


def test_answer_metrics_score_the_verdict_the_quote_and_the_failure():
    from assistant.evaluation.score import answer_metrics, verdict_of

    quote = {"n": 1, "source": "a", "start": 0, "end": 10, "text": "Het is geen reorganisatie, wel herprioritering."}
    ev = [[("a", 0, 26)]]
    m = answer_metrics(_item(), _ask("Nee, het is een herprioritering [1].", "no", quote=quote), ev)
    assert m["yesno_accuracy"] == 1.0 and m["quote_in_evidence"] == 1.0 and m["failure"] == "right"
    assert m["evidence_held"] and m["quote_keyword_accuracy"] == 1.0
    m = answer_metrics(_item(), _ask("Ja, zo is het [1].", "yes", quote=quote), ev)
    assert m["yesno_accuracy"] == 0.0 and m["failure"] == "verdict_wrong"
    assert m["quote_keyword_accuracy"] == 1.0  # the reader still sees the quote that says it
    # Without a decided verdict (older runs, backends without logits) the answer's first word counts.
    assert verdict_of({"answer": "No, it is temporary [1].", "decision": {}}) == "no"
    assert verdict_of({"answer": "Ja. Het is zo.", "decision": None}) == "yes"
    assert verdict_of({"answer": "Het is zo.", "decision": {}}) is None


def test_report_sweeps_the_thresholds_from_the_recorded_probabilities(tmp_path):
    from assistant.evaluation.report import abstention_curve, yes_curve

    def rec(i, answerable, p_nf, kw, yesno=None, p_yes=None, p_null=None, abstained=False, reason=None):
        return {"id": f"q{i}", "error": None, "yesno": yesno, "ask": _ask("x", abstained=abstained, reason=reason),
                "metrics": {"answerable": answerable, "abstained": abstained, "p_not_found": p_nf,
                            "keyword_accuracy": kw if answerable else None, "p_yes": p_yes, "p_yes_null": p_null}}

    records = [rec(1, True, 0.2, 1.0), rec(2, True, 0.6, 1.0), rec(3, False, 0.9, None), rec(4, False, 0.4, None),
               rec(5, False, None, None, abstained=True, reason="similarity")]
    curve = {c["threshold"]: c for c in abstention_curve(records)}
    assert curve[0.5]["abstention_recall"] == pytest.approx(2 / 3) and curve[0.5]["false_abstention_rate"] == 0.5
    assert curve[0.5]["keyword_accuracy"] == 0.5
    assert curve[0.95]["abstention_recall"] == pytest.approx(1 / 3) and curve[0.95]["false_abstention_rate"] == 0.0
    yn = [rec(1, True, 0.1, 1.0, "no", 0.9, 0.97), rec(2, True, 0.1, 1.0, "yes", 0.95, 0.8)]
    c = {x["threshold"]: x for x in yes_curve(yn)}
    assert c[0.5]["accuracy_raw"] == 0.5 and c[0.5]["accuracy_calibrated"] == 1.0
