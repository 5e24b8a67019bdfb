"""A summary as a turn of the conversation: asked in words (summary_intent.py) or with a document row's
"Summarise" button. The turn is a normal turn dict (turns.new_turn) whose "passages" are the summarised
sections, so its [n] open the section in the source panel like an answer's citations, and whose
"progress" ([done, total]) the page shows while the model works ("deel 3 van 7").

Which document, when the message does not name one it can find: the source shown last in the source
panel, else the one the last answer cited (or quoted), else the last answer's top passage. A named
document ("vat de brief over Amersfoort samen") is matched against the titles; when no title is close,
the words are searched and the top passage's document is taken.
"""

from __future__ import annotations

import time
import traceback

from .. import documents, summary_cache
from ..errors import AssistantError, InputError
from ..summary_intent import SummaryRequest, find_title
from ..types import Excerpt
from .runtime import Runtime
from .turns import excerpt_record, new_turn


def target_source(pipeline, request: SummaryRequest, turns: list[dict], shown=None) -> str | None:
    docs = pipeline.index.docs
    if request.target:
        found = find_title(request.target, {s: d.title for s, d in docs.items()})
        if found is None:
            hits = pipeline.assistant.retriever.search(request.target, 1)
            found = hits[0].chunk.source if hits else None
        return found if found in docs else None
    for source in _recent_sources(turns, shown):
        if source in docs:
            return source
    return None


def _recent_sources(turns: list[dict], shown):
    """Sources in the order the chat prefers them (see the module's docstring)."""
    try:
        turn, n = shown or (None, None)
        yield turns[int(turn)]["passages"][int(n) - 1]["source"]
    except (IndexError, KeyError, TypeError, ValueError):
        pass
    for t in reversed(turns or []):
        if t.get("state") != "done" or t.get("error") or not t.get("passages"):
            continue
        by_n = {p["n"]: p for p in t["passages"]}
        if t.get("kind") == "summary":
            yield t["passages"][0]["source"]
        for n in sorted(int(k) for k in (t.get("citations") or {})):
            if n in by_n:
                yield by_n[n]["source"]
        if t.get("quote"):
            yield t["quote"]["source"]
        yield t["passages"][0]["source"]


def run_summary_turn(runtime: Runtime, question: str, request: SummaryRequest, turns: list[dict] | None,
                     shown=None, source: str | None = None, every: float = 0.1):
    """Summarise (the document `source`, else the one the request points at), yielding the updated
    list of turns as it goes: when the sections are known, after each section's sentence, at the end."""
    turns = list(turns or [])
    pipeline = runtime.pipeline
    turn = new_turn((question or "").strip())
    turn.update(kind="summary", progress=None, language=request.language)
    turns.append(turn)
    last = 0.0
    try:
        yield turns
        source = source or target_source(pipeline, request, turns[:-1], shown)
        if source is None:
            turn["error_key"] = "summary.which"
            raise InputError("no document to summarise")
        source = documents.find(pipeline.index, source)  # gone meanwhile: an error naming the known ones
        docs = pipeline.index.docs
        text: list[str] = []
        t0 = time.perf_counter()
        for event in summary_cache.for_pipeline(pipeline, source, request.language):
            if event.kind == "sections":
                turn["passages"] = [excerpt_record(_excerpt(sec, docs), docs) for sec in event.data.kept]
                turn["evidence"] = True
                turn["state"] = "streaming"
                turn["omitted"] = len(event.data.omitted)
                yield turns
            elif event.kind == "progress":
                turn["progress"] = list(event.data)
                if time.monotonic() - last >= every:
                    last = time.monotonic()
                    yield turns
            elif event.kind == "sentence":
                s = event.data
                turn["timings"].setdefault("first_token_s", round(time.perf_counter() - t0, 3))
                text.append(s.cited())
                turn["text"] = " ".join(text)
                turn["citations"][s.n] = {"supported": s.supported, "sentence": s.cited(), "origin": "model"}
                yield turns
            elif event.kind == "summary":
                summary = event.data
                turn["progress"] = None
                turn["timings"] = {"first_token_s": turn["timings"].get("first_token_s", summary.seconds),
                                   "total_s": round(time.perf_counter() - t0, 3)}
                turn["cached"] = summary.cached
                if not summary.sentences:
                    turn["error_key"] = "summary.empty"
                    turn["error"] = "no usable sentence"
                turn["state"] = "done"
    except AssistantError as e:
        turn["error"] = str(e)
    except Exception as e:  # keep the page alive; the terminal gets the traceback
        traceback.print_exc()
        turn["error"], turn["error_key"] = f"{type(e).__name__}: {e}", "crash"
    finally:
        if turn["state"] != "done":
            turn["state"] = "done"
            if not turn["error"]:
                turn["error"], turn["error_key"] = "Stopped.", "stopped"
    yield turns


def _excerpt(sec, docs) -> Excerpt:
    doc = docs.get(sec.source)
    return Excerpt(sec.n, sec.source, sec.title, sec.start, sec.end, sec.text, sec.heading, page=sec.page,
                   meta=doc.meta if doc is not None else Excerpt.__dataclass_fields__["meta"].default)
