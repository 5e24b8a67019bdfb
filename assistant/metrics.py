"""Pure evaluation metrics: no I/O, no models. Used by `assistant eval` and eval/legalqa.py.

Vocabulary
    span       (source, start, end): a character range [start, end) in one indexed document.
    evidence   list of evidence spans; each is a list of *locations* (the places its text occurs
               verbatim, normally one), so a quote that occurs twice counts as found at either place.
    flags      per ranked passage: is it relevant? (True/False, best rank first)

A metric that does not apply to a question (no evidence, no keywords, no citations) returns None,
and averages skip None, so "not applicable" never counts as 0 or 1.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Iterable, Sequence

Span = tuple[str, int, int]
Evidence = list[list[Span]]

RETRIEVAL_KS = (1, 5, 10)


# -- spans ---------------------------------------------------------------------------------------
def locate(text: str, quote: str) -> list[tuple[int, int]]:
    """Every [start, end) where quote occurs verbatim in text (overlapping occurrences included)."""
    out: list[tuple[int, int]] = []
    if not quote:
        return out
    i = text.find(quote)
    while i != -1:
        out.append((i, i + len(quote)))
        i = text.find(quote, i + 1)
    return out


def overlaps(a: Span, b: Span) -> bool:
    """Same source and the half-open ranges share at least one character."""
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def covers(passage: Span, evidence_span: Sequence[Span]) -> bool:
    """Does the passage overlap any location of one evidence span?"""
    return any(overlaps(passage, loc) for loc in evidence_span)


def relevant_flags(passages: Sequence[Span], evidence: Evidence) -> list[bool]:
    """Per ranked passage: does it overlap any evidence span?"""
    return [any(covers(p, ev) for ev in evidence) for p in passages]


# -- retrieval -----------------------------------------------------------------------------------
def evidence_recall_at_k(passages: Sequence[Span], evidence: Evidence, k: int) -> float | None:
    """Share of evidence spans overlapped by at least one of the top-k passages.

    For a question with one evidence span this is the hit rate; a multi-passage question only
    scores 1 when every piece of its evidence was retrieved."""
    if not evidence:
        return None
    top = list(passages[:k])
    return sum(any(covers(p, ev) for p in top) for ev in evidence) / len(evidence)


def recall_at_k(flags: Sequence[bool], n_relevant: int, k: int) -> float | None:
    """Classic IR recall: relevant items in the top k / all relevant items (None if there are none)."""
    if n_relevant <= 0:
        return None
    return min(1.0, sum(bool(f) for f in flags[:k]) / n_relevant)


def mrr_at_k(flags: Sequence[bool], k: int) -> float:
    """1 / rank of the first relevant passage within the top k, else 0."""
    for i, f in enumerate(flags[:k]):
        if f:
            return 1.0 / (i + 1)
    return 0.0


def ndcg_at_k(flags: Sequence[bool], n_relevant: int, k: int) -> float | None:
    """Binary-relevance nDCG@k. The ideal ranking puts min(n_relevant, k) relevant items on top.

    n_relevant is the number of relevant items in the whole collection (e.g. index chunks that
    overlap the evidence); it is raised to the number seen in `flags` if that is larger."""
    n_relevant = max(n_relevant, sum(bool(f) for f in flags))
    if n_relevant <= 0:
        return None
    dcg = sum(1.0 / math.log2(i + 2) for i, f in enumerate(flags[:k]) if f)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(n_relevant, k)))
    return dcg / idcg


# -- answers -------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return re.sub(r"\s+", " ", text)


def keyword_match(answer: str, groups: Sequence[Sequence[str]]) -> float | None:
    """1.0 when every keyword group has at least one alternative in the answer (case-insensitive
    substring, whitespace collapsed), else 0.0; None when there are no groups."""
    if not groups:
        return None
    text = _norm(answer)
    return 1.0 if all(any(_norm(alt) in text for alt in group if alt) for group in groups) else 0.0


def citation_precision(cited: Sequence[Span | None], evidence: Evidence) -> float | None:
    """Valid cited passages that overlap evidence / all citations (invalid ones, None, count as
    wrong). None when the answer cites nothing."""
    if not cited:
        return None
    good = sum(1 for c in cited if c is not None and any(covers(c, ev) for ev in evidence))
    return good / len(cited)


def citation_recall(cited: Sequence[Span | None], evidence: Evidence) -> float | None:
    """Evidence spans covered by at least one valid cited passage / evidence spans.
    None when the question has no evidence (unanswerable)."""
    if not evidence:
        return None
    valid = [c for c in cited if c is not None]
    return sum(any(covers(c, ev) for c in valid) for ev in evidence) / len(evidence)


def covered_fraction(spans: Sequence[Span], location: Span) -> float:
    """Share of the characters of `location` that lie inside the union of `spans`."""
    src, a, b = location
    if b <= a:
        return 0.0
    parts = sorted((max(a, s), min(b, e)) for (ss, s, e) in spans if ss == src and s < b and a < e)
    covered, cursor = 0, a
    for s, e in parts:
        s = max(s, cursor)
        if e > s:
            covered += e - s
            cursor = e
    return covered / (b - a)


def context_recall(spans: Sequence[Span], evidence: Evidence, min_cover: float = 0.8) -> float | None:
    """Share of evidence quotes that lie inside the excerpts given to the model: at least `min_cover`
    of the quote's characters (at one of its locations) are inside the union of `spans`.
    None for a question without evidence."""
    if not evidence:
        return None
    return sum(any(covered_fraction(spans, loc) >= min_cover for loc in ev) for ev in evidence) / len(evidence)


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> dict:
    """Positive class = abstained. Precision: abstentions that were on unanswerable questions;
    recall: unanswerable questions abstained on; false_abstention_rate: answerable questions
    abstained on. Each is None when its denominator is 0."""
    pairs = list(zip(abstained, answerable))
    tp = sum(1 for a, ok in pairs if a and not ok)
    n_abstained = sum(1 for a, _ in pairs if a)
    n_unanswerable = sum(1 for _, ok in pairs if not ok)
    n_answerable = len(pairs) - n_unanswerable
    false_abst = sum(1 for a, ok in pairs if a and ok)
    return {
        "abstention_precision": tp / n_abstained if n_abstained else None,
        "abstention_recall": tp / n_unanswerable if n_unanswerable else None,
        "false_abstention_rate": false_abst / n_answerable if n_answerable else None,
    }


# -- why an answer is wrong (issue 21's failure table, computed) --------------------------------------
FAILURES = ("right", "verdict_wrong", "false_not_found", "evidence_missing", "restates", "part_missing", "wrong_fact")


def failure_mode(answer: str, abstained: bool, keywords: Sequence[Sequence[str]], excerpts_text: str,
                 restates: bool, yesno_gold: str | None = None, verdict: str | None = None) -> str | None:
    """The first that applies, for an answerable question with keywords (None otherwise):
    right; verdict_wrong (a yes/no question answered with the wrong verdict); false_not_found (abstained
    although the excerpts hold every keyword group); evidence_missing (the excerpts the model read do not
    hold every keyword group: retrieval or selection); restates (the answer says nothing the question
    does not: `restates`, from question.says_something); part_missing (some keyword groups are in the
    answer, not all); wrong_fact (the evidence was there, the answer has none of it)."""
    if not keywords:
        return None
    if yesno_gold and verdict and verdict != yesno_gold:
        return "verdict_wrong"
    if not abstained and keyword_match(answer, keywords) == 1.0:
        return "right"
    held = keyword_match(excerpts_text, keywords) == 1.0
    if abstained:
        return "false_not_found" if held else "evidence_missing"
    if not held:
        return "evidence_missing"
    if restates:
        return "restates"
    text = _norm(answer)
    if any(any(_norm(alt) in text for alt in group if alt) for group in keywords):
        return "part_missing"
    return "wrong_fact"


def utilisation(rows: Sequence[dict]) -> float | None:
    """Right answers among the questions whose excerpts hold every keyword group: how well the model
    uses what it is given (rows: per-question metrics with "evidence_held" and "keyword_accuracy")."""
    held = [r for r in rows if r.get("evidence_held")]
    return mean(r.get("keyword_accuracy") for r in held) if held else None


def threshold_curve(scores: Sequence[float], positive: Sequence[bool], thresholds: Sequence[float]) -> list[dict]:
    """For each threshold t, deciding "positive" when score >= t: precision, recall, and the false
    positive rate (for abstention: positive = unanswerable, score = p(NOT_FOUND))."""
    pairs = [(s, p) for s, p in zip(scores, positive) if s is not None]
    n_pos = sum(1 for _, p in pairs if p)
    n_neg = len(pairs) - n_pos
    out = []
    for t in thresholds:
        tp = sum(1 for s, p in pairs if s >= t and p)
        fp = sum(1 for s, p in pairs if s >= t and not p)
        out.append({"threshold": t, "precision": tp / (tp + fp) if tp + fp else None,
                    "recall": tp / n_pos if n_pos else None, "false_rate": fp / n_neg if n_neg else None})
    return out


# -- aggregation ---------------------------------------------------------------------------------
def mean(values: Iterable[float | bool | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """q in [0, 100], linear interpolation between closest ranks (numpy's default)."""
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


# Per-question metric keys that are averaged as they are.
MEAN_KEYS = (
    *(f"recall@{k}" for k in RETRIEVAL_KS),
    "mrr@10",
    "ndcg@10",
    "keyword_accuracy",
    "citation_precision",
    "citation_recall",
    "context_recall",
    "language_match",
    "quote_keyword_accuracy",  # quote + answer: what the reader sees
    "yesno_accuracy",
    "quote_in_evidence",  # the quote lies in the gold evidence
)
LATENCY_KEYS = ("retrieve_s", "quote_s", "first_token_s", "total_s")
COUNT_KEYS = ("prompt_tokens", "prompt_tokens_evaluated", "prompt_tokens_total")  # reported as p50 / p95


def summarize(rows: Sequence[dict]) -> dict:
    """Aggregate per-question metric dicts into one flat dict.

    Each row may hold the MEAN_KEYS and LATENCY_KEYS (value or None), plus `answerable` (bool) and
    `abstained` (bool, or None in retrieval-only runs)."""
    out: dict = {
        "questions": len(rows),
        "answerable": sum(1 for r in rows if r.get("answerable")),
        "unanswerable": sum(1 for r in rows if not r.get("answerable")),
    }
    for key in MEAN_KEYS:
        out[key] = mean(r.get(key) for r in rows)
    judged = [r for r in rows if r.get("abstained") is not None]
    if judged:
        out.update(abstention_scores([r["abstained"] for r in judged], [bool(r.get("answerable")) for r in judged]))
    else:
        out.update({"abstention_precision": None, "abstention_recall": None, "false_abstention_rate": None})
    out["utilisation"] = utilisation([r for r in rows if r.get("answerable")])
    modes = [r.get("failure") for r in rows if r.get("failure")]
    out["failures"] = {m: sum(1 for x in modes if x == m) for m in FAILURES} if modes else None
    for key in LATENCY_KEYS:
        vals = [r.get(key) for r in rows]
        out[f"{key[:-2]}_p50_s"] = percentile(vals, 50)
        out[f"{key[:-2]}_p95_s"] = percentile(vals, 95)
    for key in COUNT_KEYS:
        vals = [r.get(key) for r in rows]
        out[f"{key}_p50"] = percentile(vals, 50)
        out[f"{key}_p95"] = percentile(vals, 95)
    return out


def context_curve(rows: Sequence[dict]) -> list[dict]:
    """Per evidence budget (from each row's "context" {budget: {"recall", "tokens"}}): context recall
    over answerable questions and the prompt's question-part tokens p50 / p95 over all questions."""
    budgets = sorted({int(b) for r in rows for b in (r.get("context") or {})})
    out = []
    for b in budgets:
        cells = [(r, (r.get("context") or {}).get(str(b)) or (r.get("context") or {}).get(b)) for r in rows]
        cells = [(r, c) for r, c in cells if c]
        entry = {"budget": b,
                 "context_recall": mean(c["recall"] for r, c in cells if r.get("answerable")),
                 "tokens_p50": percentile([c["tokens"] for _, c in cells], 50),
                 "tokens_p95": percentile([c["tokens"] for _, c in cells], 95)}
        for lang in ("en", "nl"):
            entry[f"context_recall_{lang}"] = mean(c["recall"] for r, c in cells if r.get("answerable") and r.get("lang") == lang)
        out.append(entry)
    return out


def by_language(rows: Sequence[dict], languages: Sequence[str] = ("en", "nl")) -> dict:
    """{"all": summary, "en": summary, "nl": summary} (plus any other language present)."""
    langs = list(languages) + sorted({r.get("lang") for r in rows} - set(languages) - {None})
    out = {"all": summarize(rows)}
    for lang in langs:
        out[lang] = summarize([r for r in rows if r.get("lang") == lang])
    return out
