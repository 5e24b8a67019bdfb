"""What one browser tab remembers: its turns (question, passages, answer), as plain dicts in gr.State.

Everything the page later shows about a turn's passages (the source panel) is copied into the turn
when the answer is made, so a later index swap never mixes generations.
"""

from __future__ import annotations

import re
import time
import traceback

from ..conversation import SavedTurn, SourceRef, cited_sentence
from ..errors import AssistantError
from ..filters import Where, resolve
from .runtime import Runtime

CONTEXT_CHARS = 1200  # document text shown on each side of a cited span


def new_turn(question: str) -> dict:
    # "passages": what [n] refers to: the evidence excerpts given to the model, or (when it was not
    # asked) the nearest retrieved chunks. "evidence": whether they are excerpts.
    # "error": what went wrong, in words; "error_key": "stopped" / "crash" when the page wrote it
    # (shown in the tab's language; a crash's "error" is then the exception, for the message).
    return {"question": question, "query": "", "text": "", "state": "searching", "abstained": False,
            "passages": [], "evidence": False, "citations": {}, "invalid": [], "timings": {}, "error": "",
            "error_key": "", "where": "", "quote": None, "language": "", "asked_at": time.time()}


def passage_record(n: int, hit, docs: dict) -> dict:
    """A retrieved chunk with the text around it, copied out of the index generation that answered."""
    return _record(n, hit.chunk, docs, score=hit.score, dense=hit.dense)


def excerpt_record(e, docs: dict) -> dict:
    """An evidence excerpt with the text around it and the spans of its matching sentences."""
    rec = _record(e.n, e, docs, score=e.score, dense=None)
    rec["context"] = e.context
    rec["matches"] = [[a, b] for a, b in e.matches]
    return rec


def _record(n: int, c, docs: dict, score, dense) -> dict:
    doc = docs.get(c.source)
    before = after = ""
    cut_before = cut_after = False
    exact = doc is not None and doc.text[c.start:c.end] == c.text
    if exact:
        lo = max(0, c.start - CONTEXT_CHARS)
        hi = min(len(doc.text), c.end + CONTEXT_CHARS)
        before, after = doc.text[lo:c.start], doc.text[c.end:hi]
        if lo > 0:  # start at a word boundary
            cut_before = True
            m = re.search(r"\s", before)
            before = before[m.end():] if m else before
        if hi < len(doc.text):
            cut_after = True
            m = re.search(r"\s\S*$", after)
            after = after[: m.start()] if m else after
    # "page": the PDF page the span starts on (None for documents without pages, or an index
    # written before pages were recorded).
    return {"n": n, "source": c.source, "title": c.title, "start": c.start, "end": c.end, "text": c.text,
            "page": getattr(c, "page", None),
            "date": doc.meta.date if doc is not None else None,
            # the document's municipality · type · date (metadata.py), shown beside its source
            "meta": doc.meta.label() if doc is not None else "",
            "score": score, "dense": dense, "before": before, "after": after,
            "cut_before": cut_before, "cut_after": cut_after, "exact": exact, "matches": [], "context": ""}


def finish_turn(turn: dict, answer) -> None:
    turn["text"] = answer.text
    turn["language"] = answer.language
    if answer.quote is None:
        turn["quote"] = None  # an answer that ended in "not found" shows no quote
    turn["abstained"] = answer.abstained
    turn["timings"] = dict(answer.timings)
    turn["query"] = answer.query or turn["query"]
    turn["citations"] = {
        c.n: {"supported": c.supported, "sentence": c.sentence, "origin": getattr(c, "origin", "model")}
        for c in answer.citations if c.excerpt is not None
    }
    turn["invalid"] = [c.n for c in answer.citations if c.excerpt is None]
    turn["state"] = "done"


def saved_turn(turn: dict, *, models: dict | None = None, generation: str = "") -> SavedTurn:
    """The record a finished browser turn is kept and exported as (conversation.py): the passages it
    cites (all it showed when it cites none and did not abstain), each with its cited sentence."""
    q = turn.get("quote") or None
    span = (q["start"], q["end"], q["text"]) if q else None
    cited = {int(n): c for n, c in (turn.get("citations") or {}).items()}
    sources = []
    if not turn.get("abstained") and not turn.get("error"):
        for p in turn.get("passages") or ():
            if cited and p["n"] not in cited:
                continue
            here = span if q and q.get("source") == p["source"] else None
            sources.append(SourceRef(
                n=p["n"], source=p["source"], title=p["title"], start=p["start"], end=p["end"], text=p["text"],
                cited=cited_sentence(p["text"], p["start"], p.get("matches"), here), page=p.get("page"),
                date=p.get("date"), label=p.get("meta") or "",
                supported=bool(cited[p["n"]]["supported"]) if p["n"] in cited else True))
    return SavedTurn(question=turn["question"], answer=turn.get("text") or "", language=turn.get("language") or "nl",
                     abstained=bool(turn.get("abstained")), quote=q["text"] if q else "",
                     quote_n=q["n"] if q else None, sources=tuple(sources), timings=dict(turn.get("timings") or {}),
                     models=dict(models or {}), generation=generation, error=turn.get("error") or "",
                     asked_at=float(turn.get("asked_at") or time.time()))


def history_of(turns: list[dict]) -> list[tuple[str, str]]:
    return [(t["question"], t["text"]) for t in turns if t["state"] == "done" and not t["error"]]


def run_turn(runtime: Runtime, question: str, k: int | None, turns: list[dict] | None,
             every: float = 0.1, where: Where | None = None):
    """Answer one question of a conversation, yielding the updated list of turns as it goes
    (at most every `every` seconds while tokens stream, and always at the first token and the end).
    `where`: the tab's filters (filter_controls.py), checked against the index that answers; a value
    no document has (any more) is the turn's error message."""
    turns = list(turns or [])
    pipeline = runtime.pipeline  # the answer keeps the pipeline it started with
    history = history_of(turns)
    turn = new_turn((question or "").strip())
    turns.append(turn)
    last = 0.0
    try:
        yield turns
        if where:
            where = resolve(where, pipeline.index.docs)
            turn["where"] = where.describe()
        # `where` only when filtering: an answer path without filters is called as before
        events = (pipeline.assistant.stream(question, k, history or None, where=where) if where
                  else pipeline.assistant.stream(question, k, history or None))
        for event in events:
            if event.kind == "query":
                turn["query"] = event.data
            elif event.kind == "passages":
                docs = pipeline.index.docs
                turn["passages"] = [passage_record(n, h, docs) for n, h in enumerate(event.data, 1)]
                turn["state"] = "streaming"
            elif event.kind == "evidence":  # shown at once: the model has not written a word yet
                docs = pipeline.index.docs
                turn["passages"] = [excerpt_record(e, docs) for e in event.data]
                turn["evidence"] = True
                yield turns
            elif event.kind == "quote":  # the sentence the answer starts from: shown before the answer
                q = event.data
                turn["quote"] = {"n": q.n, "text": q.text, "title": q.title, "source": q.source,
                                 "start": q.start, "end": q.end, "page": q.page}
                yield turns
            elif event.kind == "token":
                first = not turn["text"]
                turn["text"] += event.data
                if first or time.monotonic() - last >= every:
                    last = time.monotonic()
                    yield turns
            elif event.kind == "answer":
                finish_turn(turn, event.data)
    except AssistantError as e:
        turn["error"] = str(e)
    except Exception as e:  # keep the page alive; the terminal gets the traceback
        traceback.print_exc()
        turn["error"], turn["error_key"] = f"{type(e).__name__}: {e}", "crash"
    finally:  # also when the tab cancels the answer ("New conversation"), so the next one may start
        if turn["state"] != "done":
            turn["state"] = "done"
            if not turn["error"] and not turn["text"]:
                turn["error"], turn["error_key"] = "Stopped.", "stopped"
    yield turns
