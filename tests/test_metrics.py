"""Metric functions on hand-made cases: each one reaches both 0 and 1, and the in-between values."""

import math

import pytest

from assistant import metrics as M

DOC = "doc.txt"
# Two evidence quotes in one document: one at [100, 150), one occurring twice ([300, 320) and [500, 520)).
EVIDENCE = [[(DOC, 100, 150)], [(DOC, 300, 320), (DOC, 500, 520)]]
HIT_A = (DOC, 90, 110)  # overlaps evidence 1
HIT_B = (DOC, 510, 600)  # overlaps the second location of evidence 2
MISS = (DOC, 150, 300)  # touches both evidence spans but half-open: no shared character
OTHER = ("other.txt", 100, 150)  # same offsets, other document


def test_locate_finds_every_occurrence_including_overlapping():
    assert M.locate("abcabcab", "abc") == [(0, 3), (3, 6)]
    assert M.locate("aaaa", "aa") == [(0, 2), (1, 3), (2, 4)]
    assert M.locate("abc", "x") == []
    assert M.locate("abc", "") == []


def test_overlap_is_half_open_and_per_source():
    assert M.overlaps((DOC, 0, 10), (DOC, 9, 20))
    assert not M.overlaps((DOC, 0, 10), (DOC, 10, 20))
    assert not M.overlaps(OTHER, (DOC, 100, 150))
    assert M.relevant_flags([HIT_A, MISS, OTHER, HIT_B], EVIDENCE) == [True, False, False, True]


def test_evidence_recall_at_k():
    assert M.evidence_recall_at_k([HIT_A, HIT_B], EVIDENCE, 2) == 1.0
    assert M.evidence_recall_at_k([HIT_A, HIT_B], EVIDENCE, 1) == 0.5
    assert M.evidence_recall_at_k([MISS, OTHER, HIT_A], EVIDENCE, 2) == 0.0
    assert M.evidence_recall_at_k([HIT_A, HIT_A], EVIDENCE, 10) == 0.5  # the same quote twice is still one
    assert M.evidence_recall_at_k([HIT_A], [], 5) is None


def test_recall_at_k_classic():
    assert M.recall_at_k([True, False, True], 2, 10) == 1.0
    assert M.recall_at_k([False, True, False], 2, 10) == 0.5
    assert M.recall_at_k([False, False, True], 1, 2) == 0.0
    assert M.recall_at_k([True], 0, 10) is None


def test_mrr():
    assert M.mrr_at_k([True, False], 10) == 1.0
    assert M.mrr_at_k([False, False, True], 10) == pytest.approx(1 / 3)
    assert M.mrr_at_k([False, False, True], 2) == 0.0
    assert M.mrr_at_k([], 10) == 0.0


def test_ndcg():
    assert M.ndcg_at_k([True, True, False], 2, 10) == pytest.approx(1.0)
    assert M.ndcg_at_k([False] * 10, 3, 10) == 0.0
    # One relevant item at rank 2 of 1 relevant overall: 1/log2(3).
    assert M.ndcg_at_k([False, True], 1, 10) == pytest.approx(1 / math.log2(3))
    # Two relevant in the collection, one found at rank 1: 1 / (1 + 1/log2(3)).
    assert M.ndcg_at_k([True, False], 2, 10) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    # n_relevant is raised to what was actually seen, so the score never exceeds 1.
    assert M.ndcg_at_k([True, True], 1, 10) == pytest.approx(1.0)
    assert M.ndcg_at_k([False], 0, 10) is None


def test_keyword_match():
    groups = [["2 tot 3", "two to three"], ["jaar", "years"]]
    assert M.keyword_match("It takes Two  to THREE years.", groups) == 1.0  # case and whitespace
    assert M.keyword_match("Ongeveer 2 tot 3 jaar [1].", groups) == 1.0
    assert M.keyword_match("About three years.", groups) == 0.0  # first group missing
    assert M.keyword_match("two to three", groups) == 0.0  # second group missing
    assert M.keyword_match("anything", []) is None


def test_citation_precision():
    assert M.citation_precision([HIT_A, HIT_B], EVIDENCE) == 1.0
    assert M.citation_precision([HIT_A, MISS], EVIDENCE) == 0.5
    assert M.citation_precision([HIT_A, None], EVIDENCE) == 0.5  # an invalid [n] counts as wrong
    assert M.citation_precision([MISS, OTHER, None], EVIDENCE) == 0.0
    assert M.citation_precision([HIT_A], []) == 0.0  # citing anything for an unanswerable question
    assert M.citation_precision([], EVIDENCE) is None


def test_citation_recall():
    assert M.citation_recall([HIT_A, HIT_B], EVIDENCE) == 1.0
    assert M.citation_recall([HIT_B, None, MISS], EVIDENCE) == 0.5
    assert M.citation_recall([], EVIDENCE) == 0.0
    assert M.citation_recall([None, OTHER], EVIDENCE) == 0.0
    assert M.citation_recall([HIT_A], []) is None


def test_abstention_scores():
    # abstained, answerable
    perfect = M.abstention_scores([True, False, False], [False, True, True])
    assert perfect == {"abstention_precision": 1.0, "abstention_recall": 1.0, "false_abstention_rate": 0.0}
    worst = M.abstention_scores([False, True], [False, True])
    assert worst == {"abstention_precision": 0.0, "abstention_recall": 0.0, "false_abstention_rate": 1.0}
    mixed = M.abstention_scores([True, True, False, True], [False, True, False, True])
    assert mixed["abstention_precision"] == pytest.approx(1 / 3)
    assert mixed["abstention_recall"] == 0.5
    assert mixed["false_abstention_rate"] == 1.0
    never = M.abstention_scores([False, False], [True, True])
    assert never == {"abstention_precision": None, "abstention_recall": None, "false_abstention_rate": 0.0}


def test_mean_and_percentile():
    assert M.mean([1, None, 0, True]) == pytest.approx(2 / 3)
    assert M.mean([None]) is None
    assert M.percentile([5.0], 95) == 5.0
    assert M.percentile([1, 2, 3, 4], 50) == 2.5
    assert M.percentile([0, 10], 95) == pytest.approx(9.5)
    assert M.percentile([3, None, 1, 2], 0) == 1
    assert M.percentile([3, 1, 2], 100) == 3
    assert M.percentile([], 50) is None


def _row(lang, answerable, abstained, r5, kw, total):
    return {"lang": lang, "answerable": answerable, "abstained": abstained, "recall@5": r5,
            "keyword_accuracy": kw, "total_s": total, "retrieve_s": total / 10, "first_token_s": total / 2}


def test_summarize_and_split_by_language():
    rows = [
        _row("en", True, False, 1.0, 1.0, 2.0),
        _row("en", False, True, None, None, 4.0),
        _row("nl", True, True, 0.0, 0.0, 6.0),
        _row("nl", True, False, 0.5, 1.0, 8.0),
    ]
    s = M.by_language(rows)
    assert set(s) == {"all", "en", "nl"}
    assert s["all"]["questions"] == 4 and s["all"]["answerable"] == 3 and s["all"]["unanswerable"] == 1
    assert s["all"]["recall@5"] == pytest.approx(0.5)
    assert s["en"]["recall@5"] == 1.0 and s["nl"]["recall@5"] == 0.25
    assert s["en"]["keyword_accuracy"] == 1.0 and s["nl"]["keyword_accuracy"] == 0.5
    assert s["en"]["abstention_precision"] == 1.0 and s["en"]["abstention_recall"] == 1.0
    assert s["nl"]["abstention_precision"] == 0.0 and s["nl"]["abstention_recall"] is None
    assert s["all"]["false_abstention_rate"] == pytest.approx(1 / 3)
    assert s["all"]["total_p50_s"] == 5.0 and s["all"]["total_p95_s"] == pytest.approx(7.7)
    assert s["en"]["retrieve_p50_s"] == pytest.approx(0.3)
    assert s["all"]["ndcg@10"] is None  # no row has it


def test_summarize_retrieval_only_has_no_abstention():
    rows = [{"lang": "en", "answerable": True, "abstained": None, "recall@1": 1.0}]
    s = M.summarize(rows)
    assert s["recall@1"] == 1.0
    assert s["abstention_precision"] is None and s["abstention_recall"] is None
    assert s["total_p50_s"] is None


def test_failure_mode_names_why_an_answer_is_wrong():
    kw = [["Elbers"], ["maart", "march"]]
    ex = "Nadat op 1 maart 2014 onze gemeentesecretaris Herke Elbers is aangetreden"
    fm = M.failure_mode
    assert fm("Herke Elbers, since March 2014 [1].", False, kw, ex, False) == "right"
    assert fm("Herke Elbers [1].", False, kw, ex, False) == "part_missing"
    assert fm("The mayor [1].", False, kw, ex, False) == "wrong_fact"
    assert fm("Wie is de nieuwe secretaris [1].", False, kw, ex, True) == "restates"
    assert fm("not found", True, kw, ex, False) == "false_not_found"
    assert fm("not found", True, kw, "iets anders", False) == "evidence_missing"
    assert fm("Herke Elbers [1].", False, kw, "iets anders", False) == "evidence_missing"
    assert fm("Ja, Elbers in maart [1].", False, kw, ex, False, yesno_gold="no", verdict="yes") == "verdict_wrong"
    assert fm("x", False, [], ex, False) is None


def test_threshold_curve_and_utilisation():
    curve = M.threshold_curve([0.9, 0.2, 0.7, 0.1], [True, False, True, False], [0.5, 0.8])
    assert curve[0] == {"threshold": 0.5, "precision": 1.0, "recall": 1.0, "false_rate": 0.0}
    assert curve[1]["recall"] == 0.5 and curve[1]["false_rate"] == 0.0
    rows = [{"evidence_held": True, "keyword_accuracy": 1.0}, {"evidence_held": True, "keyword_accuracy": 0.0},
            {"evidence_held": False, "keyword_accuracy": 0.0}]
    assert M.utilisation(rows) == 0.5
    s = M.summarize([{"answerable": True, "failure": "right"}, {"answerable": True, "failure": "restates"}])
    assert s["failures"]["right"] == 1 and s["failures"]["restates"] == 1 and s["failures"]["wrong_fact"] == 0
