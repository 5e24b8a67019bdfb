"""One gold question: its retrieval metrics (a separate top-RETRIEVAL_K search), then either the
answer's metrics (`Assistant.answer()`, the path of `ask` and the chat UI) or, in a retrieval-only
run, the evidence the model would read at each budget. The result is the question's record in
records.jsonl."""

from __future__ import annotations

import re
import time

from .. import cite as cite_mod
from .. import lang as lang_mod
from .. import metrics as M
from ..question import restates as restates_question
from .gold import GoldItem

RETRIEVAL_K = 10
# Evidence budgets (tokens) for the context-recall curve of --retrieval-only runs.
BUDGETS = (150, 200, 250, 300, 400, 500, 600, 800)


def _span(p: dict) -> M.Span:
    return (p["source"], p["start"], p["end"])


def evaluate_one(pipe, item: GoldItem, evidence: M.Evidence, retrieval_only: bool, where=None) -> dict:
    """Run one question; return its record (JSON-ready). Raises on failure. `where` (filters.Where)
    restricts retrieval as `assistant ask --where` does."""
    assistant = pipe.assistant
    t0 = time.perf_counter()
    hits = assistant.search(item.question, k=RETRIEVAL_K, where=where)
    search_s = time.perf_counter() - t0
    passages = [h.to_json(i + 1) for i, h in enumerate(hits)]
    spans = [_span(p) for p in passages]
    flags = M.relevant_flags(spans, evidence)
    n_relevant = sum(
        1 for c in pipe.index.chunks if any(M.covers((c.source, c.start, c.end), ev) for ev in evidence)
    )
    m: dict = {"lang": item.lang, "answerable": item.answerable, "multi_passage": item.multi_passage}
    for k in M.RETRIEVAL_KS:
        m[f"recall@{k}"] = M.evidence_recall_at_k(spans, evidence, k)
    m["mrr@10"] = M.mrr_at_k(flags, RETRIEVAL_K) if evidence else None
    m["ndcg@10"] = M.ndcg_at_k(flags, n_relevant, RETRIEVAL_K) if evidence else None
    m["first_relevant_rank"] = next((i + 1 for i, f in enumerate(flags) if f), None) if evidence else None
    ask = None
    if retrieval_only:
        m.update(abstained=None, keyword_accuracy=None, citation_precision=None, citation_recall=None,
                 language_match=None, answer_language=None,
                 retrieve_s=round(search_s, 4), first_token_s=None, total_s=None)
        m["context"], m["context_recall"], m["prompt_tokens"] = context_at_budgets(assistant, item, evidence, where)
    else:
        answer = assistant.answer(item.question, where=where)
        ask = answer.to_json()
        cited = [_span(c) if c["valid"] else None for c in ask["citations"]]
        # A terse answer ("In Eemnes [1].") has no language of its own: it is not counted as wrong.
        detected = lang_mod.guess(cite_mod.MARKER.sub(" ", ask["answer"]))
        m.update(
            abstained=bool(ask["abstained"]),
            # An abstention answers nothing, even if the not-found text happens to contain a keyword.
            keyword_accuracy=(0.0 if ask["abstained"] and item.keywords else M.keyword_match(ask["answer"], item.keywords))
            if item.answerable else None,
            citation_precision=M.citation_precision(cited, evidence),
            citation_recall=M.citation_recall(cited, evidence),
            context_recall=M.context_recall([_span(e) for e in ask["evidence"]], evidence) if not ask["abstained"] or ask["evidence"] else None,
            prompt_tokens_total=ask.get("prompt_tokens"),  # whole prompt; its fixed part is cached
            prompt_tokens_evaluated=ask["timings"].get("prompt_tokens_evaluated"),
            language_match=None if detected is None else detected == item.lang,
            answer_language=detected,
            citations=len(ask["citations"]),
            citations_attributed=sum(1 for c in ask["citations"] if c.get("origin") == "attributed"),
            retrieve_s=ask["timings"].get("retrieve_s"),
            quote_s=ask["timings"].get("quote_s"),
            first_token_s=ask["timings"].get("first_token_s"),
            total_s=ask["timings"].get("total_s"),
        )
        m.update(answer_metrics(item, ask, evidence))
    for p, f in zip(passages, flags):
        p["relevant"] = f
        p.pop("text", None)  # the text is in the index (and in "ask" for the passages the model saw)
    return {
        "id": item.id,
        "question": item.question,
        "lang": item.lang,
        "answerable": item.answerable,
        "multi_passage": item.multi_passage,
        "doc": item.raw.get("doc"),
        "reference_answer": item.reference_answer,
        "yesno": item.yesno,
        "evidence_locations": [[{"source": s, "start": a, "end": b} for s, a, b in ev] for ev in evidence],
        "retrieval": {"k": RETRIEVAL_K, "search_s": round(search_s, 4), "relevant_in_index": n_relevant, "passages": passages},
        "ask": ask,
        "metrics": m,
        "error": None,
    }


_VERDICT = re.compile(r"^\W*(yes|ja|no|nee)\b", re.IGNORECASE)


def verdict_of(ask: dict) -> str | None:
    """The yes/no an answer gives: decided by the answer step (decision.verdict), else the answer's
    first word (answers of older runs and of backends without logits)."""
    decided = (ask.get("decision") or {}).get("verdict")
    if decided:
        return decided
    m = _VERDICT.match(ask.get("answer") or "")
    return None if m is None else ("yes" if m.group(1).lower() in ("yes", "ja") else "no")


def answer_metrics(item: GoldItem, ask: dict, evidence: M.Evidence) -> dict:
    """What the answer step decided and how it turned out, judge-free (issue 21): the keywords in the
    quote + answer (what the reader sees), whether the excerpts held every keyword group (utilisation
    is measured over those questions), the yes/no verdict, whether the quote lies in the gold evidence,
    p(NOT_FOUND), and why a wrong answer is wrong (metrics.failure_mode). Works on old records too."""
    abstained = bool(ask["abstained"])
    quote = ask.get("quote") or {}
    answer = ask["answer"]
    excerpts = " ".join(f"{e.get('title', '')} {e['text']}" for e in ask.get("evidence") or [])
    keywords = item.keywords if item.answerable else ()
    verdict = None if abstained else verdict_of(ask)
    decision = ask.get("decision") or {}
    out = {
        "quote_keyword_accuracy": (0.0 if abstained else M.keyword_match(f"{quote.get('text', '')} {answer}", keywords))
        if keywords else None,
        "evidence_held": M.keyword_match(excerpts, keywords) == 1.0 if keywords else None,
        "yesno_accuracy": (float(verdict == item.yesno)) if item.yesno else None,
        "verdict": verdict,
        "quote_in_evidence": (float(any(M.covers((quote["source"], quote["start"], quote["end"]), ev) for ev in evidence))
                              if quote and evidence else None),
        "p_not_found": decision.get("p_not_found"),
        "p_yes": decision.get("p_yes"),
        "p_yes_null": decision.get("p_yes_null"),
        "follow_ups": len(decision.get("follow_ups") or []),
    }
    restates = not abstained and restates_question(answer, item.question)
    out["restates"] = restates if keywords else None
    out["failure"] = M.failure_mode(answer, abstained, keywords, excerpts, restates, item.yesno, verdict) \
        if item.answerable else None
    return out


def rescore(records: list[dict], items: dict[str, GoldItem]) -> list[dict]:
    """The answer metrics of an earlier run's records computed again against a gold file (by id):
    so a run made before a metric existed (or before the gold gained yes/no labels) can be compared."""
    out = []
    for r in records:
        item = items.get(r["id"])
        if item is None or r.get("ask") is None:
            out.append(r)
            continue
        evidence = [[(loc["source"], loc["start"], loc["end"]) for loc in ev] for ev in r.get("evidence_locations") or []]
        metrics = {**r["metrics"], **answer_metrics(item, r["ask"], evidence)}
        if item.answerable and item.keywords:
            metrics["keyword_accuracy"] = 0.0 if r["ask"]["abstained"] else M.keyword_match(r["ask"]["answer"], item.keywords)
        out.append({**r, "yesno": item.yesno, "metrics": metrics})
    return out


def context_at_budgets(assistant, item: GoldItem, evidence: M.Evidence, where=None) -> tuple[dict, float | None, int | None]:
    """The evidence the model would get at each budget in BUDGETS: its context recall and the tokens of
    the question part of the prompt (the part that is not cached). Judge-free, no LLM: seconds for the
    whole gold set. Also returns the recall and tokens at the configured budget."""
    retrieval = (assistant.retriever.retrieve(item.question, assistant.top_k, where) if where
                 else assistant.retriever.retrieve(item.question, assistant.top_k))
    language = lang_mod.detect(item.question)
    count = assistant.selector.count_tokens
    curve = {}
    for budget in sorted({*BUDGETS, assistant.selector.settings.budget}):
        excerpts = assistant.selector.select(retrieval, budget)
        _, _, user = assistant.messages(item.question, language, excerpts)
        spans = [(e.source, e.start, e.end) for e in excerpts]
        curve[str(budget)] = {"recall": M.context_recall(spans, evidence), "tokens": count(user)}
    default = curve[str(assistant.selector.settings.budget)]
    return curve, default["recall"], default["tokens"]


def error_record(item: GoldItem, exc: BaseException) -> dict:
    """The record of a question that failed: its error instead of metrics, so the run goes on."""
    m = {"lang": item.lang, "answerable": item.answerable, "multi_passage": item.multi_passage, "abstained": None}
    return {
        "id": item.id, "question": item.question, "lang": item.lang, "answerable": item.answerable,
        "multi_passage": item.multi_passage, "doc": item.raw.get("doc"), "reference_answer": item.reference_answer,
        "evidence_locations": [], "retrieval": None, "ask": None, "metrics": m,
        "error": f"{type(exc).__name__}: {exc}",
    }
