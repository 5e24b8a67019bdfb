"""One gold question: its retrieval metrics (a separate top-RETRIEVAL_K search), then either the
answer's metrics (`Assistant.answer()`, the path of `ask` and the chat UI) or, in a retrieval-only
run, the evidence the model would read at each budget. The result is the question's record in
records.jsonl."""

from __future__ import annotations

import time

from .. import cite as cite_mod
from .. import lang as lang_mod
from .. import metrics as M
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
            first_token_s=ask["timings"].get("first_token_s"),
            total_s=ask["timings"].get("total_s"),
        )
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
        "evidence_locations": [[{"source": s, "start": a, "end": b} for s, a, b in ev] for ev in evidence],
        "retrieval": {"k": RETRIEVAL_K, "search_s": round(search_s, 4), "relevant_in_index": n_relevant, "passages": passages},
        "ask": ask,
        "metrics": m,
        "error": None,
    }


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
