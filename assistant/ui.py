"""Browser chat (Gradio) on the same answer path as the CLI: `Assistant.stream()`.

What the page does:
- shows the evidence excerpts the model reads as soon as they are chosen (well before the first
  answer token: the reader can start checking), each with its document title and the sentences
  that matched the question highlighted;
- streams the answer; every [n] in it is a button that opens excerpt n in the source panel, with
  the document title and the excerpt <mark>ed inside its surrounding text (exact offsets);
  citations whose sentence is not supported by the excerpt are flagged;
- an abstained answer ("not found in the documents") lists the nearest passages instead;
- follow-up questions send the conversation to `stream()`, and the search query it used is shown;
- uploads (.txt .md .pdf .docx .html) are copied to <index_dir>/uploads and synced into the index
  (scope "uploads") with visible progress; the pipeline is then rebuilt and swapped in, so the new
  documents are searchable at once. Bad files get a message and are not kept;
- a settings area: number of passages, models in use, index statistics.

Concurrency: each browser tab has its own conversation (gr.State). Index writes are serialised by
one lock here (copy + sync + reload as a unit) and by `index.sync`'s file lock. The live Pipeline is
swapped under a lock; a question in flight keeps the Pipeline it started with, and everything the
page later shows about its passages (the source panel) was copied into that tab's state when the
answer was made, so a swap never mixes generations.

Load: at most QUEUE_MAX_SIZE events wait in Gradio's queue (besides the ones being processed); one
more is refused at once with HTTP 503 and BUSY_MESSAGE (the page shows Gradio's "This application is
currently busy. Please try again."), so a crowd gets a quick "try again" instead of a request that
hangs for minutes behind a single LLM.

Offline: no analytics, a theme with system fonts only (no font or CDN hosts), no share link.

Network: on a loopback host (127.0.0.1, ::1, localhost) the page needs no login, as before. On any
other host `serve`/`launch` refuse to start without a login (`auth=(user, password)`, which makes
Gradio require it for the page, its /config and every /gradio_api route including the queue and
uploads) unless `no_auth=True` says to serve it openly on purpose. A login crosses the network in
the clear unless a TLS reverse proxy sits in front.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import ipaddress
import os
import queue
import re
import shutil
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import index as index_mod
from .cite import MARKER
from .config import Settings
from .errors import AssistantError, InputError
from .ingest import MAX_FILE_BYTES, SUFFIXES, Problem, load_file, load_folder
from .pipeline import Pipeline, build

UPLOAD_SCOPE = "uploads"
CONTEXT_CHARS = 1200  # document text shown on each side of a cited span
SNIPPET_CHARS = 220
MAX_K = 10
QUEUE_MAX_SIZE = 16  # questions/uploads waiting for a worker; more are refused at once (busy)
BUSY_MESSAGE = "The assistant is busy answering other questions: try again in a moment."


# -- runtime: the live pipeline and index writes ---------------------------------------------------
@dataclass
class UploadResult:
    accepted: list[str] = field(default_factory=list)  # file names stored in uploads/
    problems: list[Problem] = field(default_factory=list)
    report: index_mod.IngestReport | None = None


class Runtime:
    """The live Pipeline, shared by all tabs, and the one way to add documents to it."""

    def __init__(self, settings: Settings, pipeline: Pipeline):
        self.settings = settings
        self._pipeline = pipeline
        self._swap = threading.Lock()  # guards the reference
        self._write = threading.Lock()  # one upload (copy + sync + reload) at a time

    @property
    def pipeline(self) -> Pipeline:
        with self._swap:
            return self._pipeline

    def _replace(self, pipeline: Pipeline) -> None:
        with self._swap:
            self._pipeline = pipeline

    @property
    def uploads_dir(self) -> Path:
        return Path(self.settings.index_dir) / UPLOAD_SCOPE

    def add_files(self, paths: list[str | Path], progress: Callable[[str, int, int], None] | None = None) -> UploadResult:
        """Check, store and index uploaded files; then swap in a pipeline that can search them."""
        say = progress or (lambda stage, done, total: None)
        result = UploadResult()
        with self._write:
            up = self.uploads_dir
            up.mkdir(parents=True, exist_ok=True)
            say("checking", 0, len(paths))
            for i, raw in enumerate(paths):
                src = Path(raw)
                name = safe_name(src.name)
                if src.suffix.lower() not in SUFFIXES:
                    result.problems.append(Problem(src.name, f"unsupported file type {src.suffix or '(none)'}; "
                                                             f"use {', '.join(SUFFIXES)}"))
                    continue
                try:
                    load_file(src, f"{UPLOAD_SCOPE}/{name}")  # reject unreadable files before keeping them
                except InputError as e:
                    result.problems.append(Problem(src.name, str(e)))
                    continue
                tmp = up / f".part-{name}"
                shutil.copyfile(src, tmp)
                os.replace(tmp, up / name)
                result.accepted.append(name)
                say("checking", i + 1, len(paths))
            if not result.accepted:
                return result
            docs, problems = load_folder(up, scope=UPLOAD_SCOPE)
            result.problems.extend(problems)
            current = self.pipeline
            s = self.settings
            result.report = index_mod.sync(
                s.index_dir, docs, current.embedder, s.chunk_size, s.chunk_overlap, scope=UPLOAD_SCOPE,
                progress=lambda done, total: say("embedding", done, total), vector_store=s.vector_store,
            )
            say("loading", 0, 1)
            fresh = build(s, with_llm=current.assistant.generator is not None, embedder=current.embedder,
                          generator=current.assistant.generator)
            self._replace(fresh)
            say("loading", 1, 1)
        return result


def safe_name(name: str) -> str:
    """A plain file name: no folders, no leading dot (hidden files are not ingested)."""
    name = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip().lstrip(".")
    return name or "upload.txt"


# -- turns: what one tab remembers --------------------------------------------------------------------
def new_turn(question: str) -> dict:
    # "passages": what [n] refers to: the evidence excerpts given to the model, or (when it was not
    # asked) the nearest retrieved chunks. "evidence": whether they are excerpts.
    return {"question": question, "query": "", "text": "", "state": "searching", "abstained": False,
            "passages": [], "evidence": False, "citations": {}, "invalid": [], "timings": {}, "error": ""}


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
    return {"n": n, "source": c.source, "title": c.title, "start": c.start, "end": c.end, "text": c.text,
            "score": score, "dense": dense, "before": before, "after": after,
            "cut_before": cut_before, "cut_after": cut_after, "exact": exact, "matches": [], "context": ""}


def finish_turn(turn: dict, answer) -> None:
    turn["text"] = answer.text
    turn["abstained"] = answer.abstained
    turn["timings"] = dict(answer.timings)
    turn["query"] = answer.query or turn["query"]
    turn["citations"] = {
        c.n: {"supported": c.supported, "sentence": c.sentence, "origin": getattr(c, "origin", "model")}
        for c in answer.citations if c.excerpt is not None
    }
    turn["invalid"] = [c.n for c in answer.citations if c.excerpt is None]
    turn["state"] = "done"


def history_of(turns: list[dict]) -> list[tuple[str, str]]:
    return [(t["question"], t["text"]) for t in turns if t["state"] == "done" and not t["error"]]


def run_turn(runtime: Runtime, question: str, k: int | None, turns: list[dict] | None,
             every: float = 0.1):
    """Answer one question of a conversation, yielding the updated list of turns as it goes
    (at most every `every` seconds while tokens stream, and always at the first token and the end)."""
    turns = list(turns or [])
    pipeline = runtime.pipeline  # the answer keeps the pipeline it started with
    history = history_of(turns)
    turn = new_turn((question or "").strip())
    turns.append(turn)
    last = 0.0
    try:
        yield turns
        for event in pipeline.assistant.stream(question, k, history or None):
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
        turn["error"] = f"Something went wrong while answering ({type(e).__name__}: {e})."
    finally:  # also when the tab cancels the answer ("New conversation"), so the next one may start
        if turn["state"] != "done":
            turn["state"] = "done"
            turn["error"] = turn["error"] or ("" if turn["text"] else "Stopped.")
    yield turns


# -- rendering ------------------------------------------------------------------------------------------
def _e(text) -> str:
    return html.escape(str(text), quote=True)


def linkify(text: str, turn_index: int, turn: dict) -> str:
    """Escape the answer and turn each [n] (or [1, 2]) into citation buttons."""
    n_passages = len(turn["passages"])
    done = turn["state"] == "done"

    def button(m: re.Match) -> str:
        out = []
        for raw in m.group(1).split(","):
            n = int(raw)
            if not 1 <= n <= n_passages:
                continue
            info = turn["citations"].get(n)
            bad = done and info is not None and not info["supported"]
            added = done and info is not None and info.get("origin") == "attributed"
            cls = "cite unsupported" if bad else "cite attributed" if added else "cite"
            tip = ("not supported by this passage: check it" if bad
                   else f"show passage {n} (added by the support check: the model did not cite it)" if added
                   else f"show passage {n}")
            flag = '<span class="flag" aria-hidden="true">?</span>' if bad else ""
            out.append(f'<button type="button" class="{cls}" data-cite="{n}" data-turn="{turn_index}" '
                       f'title="{_e(tip)}">[{n}]{flag}</button>')
        return "".join(out)

    return MARKER.sub(button, _e(text))


def render_turn(i: int, t: dict) -> str:
    parts = [f'<div class="turn" data-turn="{i}" data-state="{t["state"]}" data-abstained="{str(t["abstained"]).lower()}">']
    parts.append(f'<div class="q"><span class="who">You</span>{_e(t["question"])}</div>')
    if t["query"]:
        rewritten = t["query"].strip() != t["question"].strip()
        note = ' <span class="rewritten">(rewritten from your follow-up)</span>' if rewritten else ""
        parts.append(f'<div class="query">Search query: <span class="query-text">{_e(t["query"])}</span>{note}</div>')
    parts.append('<div class="a"><span class="who">Assistant</span>')
    if t["error"]:
        parts.append(f'<div class="error">{_e(t["error"])}</div>')
    elif t["text"]:
        cls = "answer-text abstained" if t["abstained"] else "answer-text"
        parts.append(f'<div class="{cls}">{linkify(t["text"], i, t)}</div>')
    else:
        msg = "Searching the documents…" if t["state"] == "searching" else "Writing the answer…"
        parts.append(f'<div class="pending">{msg}</div>')
    if t["state"] == "done" and not t["error"]:
        bad = [n for n, c in sorted(t["citations"].items()) if not c["supported"]]
        if bad:
            refs = ", ".join(f"[{n}]" for n in bad)
            what = ("the sentence citing this passage is not supported by it" if len(bad) == 1
                    else "the sentences citing these passages are not supported by them")
            parts.append(f'<div class="warn unsupported-note">⚠ {refs}: {what}. '
                         'Check the passages before relying on the answer.</div>')
        if t["invalid"]:
            refs = ", ".join(f"[{n}]" for n in t["invalid"])
            parts.append(f'<div class="warn invalid-note">⚠ The model cited {refs}, which it was not given; removed.</div>')
        tm = t["timings"]
        if tm:
            parts.append(f'<div class="meta">first token {tm.get("first_token_s", 0):.1f} s · '
                         f'total {tm.get("total_s", 0):.1f} s</div>')
    parts.append("</div>")
    if t["passages"]:
        evidence = t.get("evidence") and not (t["abstained"] and t["state"] == "done")
        label = "Evidence given to the model" if evidence else "Nearest passages"
        # Open while the answer is written (the reader checks the evidence meanwhile) and on abstention.
        is_open = " open" if t["state"] != "done" or t["abstained"] else ""
        kind = "evidence" if t.get("evidence") else "chunks"
        parts.append(f'<details class="passages" data-kind="{kind}"{is_open}><summary>{label} ({len(t["passages"])})</summary><ol>')
        for p in t["passages"]:
            parts.append(
                f'<li class="evidence-item"><button type="button" class="passage-link" data-cite="{p["n"]}" data-turn="{i}">'
                f'[{p["n"]}] {_e(p["title"])}</button> <span class="src">{_e(p["source"])} · {p["start"]}–{p["end"]}</span>'
                f'<div class="snippet">{_snippet(p)}</div></li>'
            )
        parts.append("</ol></details>")
    parts.append("</div>")
    return "".join(parts)


def _highlight(text: str, offset: int, matches) -> str:
    """Escape `text` (starting at document offset `offset`) with the matching sentences in <b class="match">."""
    out, cursor = [], 0
    for a, b in sorted(tuple(m) for m in matches or ()):
        a, b = max(a - offset, cursor), min(b - offset, len(text))
        if b <= a:
            continue
        out.append(_e(text[cursor:a]) + f'<b class="match">{_e(text[a:b])}</b>')
        cursor = b
    return "".join(out) + _e(text[cursor:])


def _snippet(p: dict) -> str:
    """An excerpt in the list: its label and text, matching sentences highlighted (a chunk: its start)."""
    if p.get("matches"):
        label = f'<span class="label">({_e(p["context"])})</span> ' if p.get("context") else ""
        return label + _highlight(p["text"], p["start"], p["matches"])
    return _e(p["text"][:SNIPPET_CHARS] + ("…" if len(p["text"]) > SNIPPET_CHARS else ""))


def render_conversation(turns: list[dict]) -> str:
    if not turns:
        return ('<div class="conv"><div class="empty">Ask a question about the documents, in Dutch or English. '
                'Answers cite numbered passages: click a <b>[n]</b> to read it in its document.</div></div>')
    return '<div class="conv">' + "".join(render_turn(i, t) for i, t in enumerate(turns)) + "</div>"


EMPTY_SOURCE = '<div class="source-empty">Click a citation <b>[n]</b> or a passage to read it here, highlighted in its document.</div>'


def render_source(turns: list[dict], turn_index: int, n: int) -> str:
    try:
        t = turns[turn_index]
        p = t["passages"][n - 1]
    except (IndexError, TypeError):
        return EMPTY_SOURCE
    cited = t["citations"].get(n)
    parts = [f'<div class="source" data-turn="{turn_index}" data-n="{n}" data-source="{_e(p["source"])}" '
             f'data-start="{p["start"]}" data-end="{p["end"]}">']
    parts.append(f'<div class="src-head"><span class="badge">[{n}]</span> <span class="src-title">{_e(p["title"])}</span></div>')
    parts.append(f'<div class="src-path">{_e(p["source"])} · characters {p["start"]}–{p["end"]}</div>')
    if cited is not None and not cited["supported"] and t["state"] == "done":
        parts.append('<div class="warn">⚠ Not supported: the answer sentence citing this passage does not match it well. '
                     'Check it before relying on it.</div>')
    if cited is not None and cited["sentence"]:
        parts.append(f'<div class="cited-by">Cited for: “{_e(MARKER.sub("", cited["sentence"]).strip())}”</div>')
    before = ("… " if p["cut_before"] else "") + p["before"]
    after = p["after"] + (" …" if p["cut_after"] else "")
    note = "" if p["exact"] else '<div class="warn">The document changed since this answer; showing the passage alone.</div>'
    marked = _highlight(p["text"], p["start"], p.get("matches"))
    parts.append(f'{note}<div class="doc">{_e(before)}<mark class="cited-span">{marked}</mark>{_e(after)}</div></div>')
    return "".join(parts)


def model_label(settings: Settings, pipeline: Pipeline) -> str:
    gen = pipeline.assistant.generator
    if settings.llm_base_url:
        return f"{settings.llm_api_model} at {settings.llm_base_url}"
    name = settings.llm_key() or Path(settings.llm).name
    return name if gen is None or getattr(gen, "name", name) == name else f"{name} ({gen.name})"


def render_stats(runtime: Runtime) -> str:
    p = runtime.pipeline
    s = runtime.settings
    st = p.index.stats()
    uploads = sum(1 for src in p.index.docs if src.startswith(UPLOAD_SCOPE + "/"))
    emb = s.embedder_key() or Path(s.embedder).name
    rows = [
        ("Model", model_label(s, p)),
        ("Embedder", emb),
        ("Documents", f"{st['documents']} ({uploads} uploaded)"),
        ("Chunks", str(st["chunks"])),
        ("Last update", st["updated"]),
        ("Index folder", str(s.index_dir)),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td class='stat-{_e(k.lower().replace(' ', '-'))}'>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="stats">{body}</table>'


def render_upload_status(stage: str, done: int = 0, total: int = 0, result: UploadResult | None = None,
                         error: str = "") -> str:
    if error:
        return f'<div class="upload-status"><div class="problem">Upload failed: {_e(error)}</div></div>'
    if result is None:
        label = {"checking": "Checking files", "embedding": "Embedding new passages",
                 "loading": "Reloading the search index"}.get(stage, stage)
        count = f" {done}/{total}" if total else ""
        bar = f'<progress value="{done}" max="{total or 1}"></progress>'
        return f'<div class="upload-status working"><div>{_e(label)}{count}…</div>{bar}</div>'
    parts = ['<div class="upload-status done">']
    r = result.report
    if r is not None:
        added = ", ".join(r.added) or "none"
        parts.append(f'<div class="ok">Indexed: {len(r.added)} added, {len(r.updated)} updated '
                     f'({r.chunks_embedded} passages embedded, {r.chunks_total} in the index, {r.seconds:.1f} s). '
                     'They are searchable now.</div>')
        parts.append(f'<div class="files">New: {_e(added)}</div>')
        if r.updated:
            parts.append(f'<div class="files">Replaced: {_e(", ".join(r.updated))}</div>')
    for pr in result.problems:
        name = Path(pr.source).name
        reason = pr.reason[len(name) + 1:].strip() if pr.reason.startswith(name + ":") else pr.reason
        parts.append(f'<div class="problem">Skipped {_e(name)}: {_e(reason)}</div>')
    if r is None and not result.problems:
        parts.append("<div>No files.</div>")
    parts.append("</div>")
    return "".join(parts)


# -- the page ---------------------------------------------------------------------------------------------
CSS = """
.gradio-container { max-width: 1400px !important; }
#conversation { min-height: 420px; }
.conv .empty, .source-empty { color: var(--body-text-color-subdued); padding: 1em 0; }
.turn { border-bottom: 1px solid var(--border-color-primary); padding: 0.6em 0 0.9em; }
.turn .who { display: block; font-size: 0.75em; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.05em; color: var(--body-text-color-subdued); margin-bottom: 0.15em; }
.turn .q { font-weight: 600; margin-bottom: 0.3em; white-space: pre-wrap; }
.turn .query { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 0.5em; }
.turn .query-text { font-family: var(--font-mono); }
.turn .rewritten { font-style: italic; }
.turn .a { background: var(--background-fill-secondary); border-radius: 8px; padding: 0.6em 0.8em; }
.answer-text { white-space: pre-wrap; line-height: 1.55; }
.answer-text.abstained { font-style: italic; }
.pending { color: var(--body-text-color-subdued); font-style: italic; }
.error, .problem { color: #b42318; }
.warn { color: #9a3412; background: #fff7ed; border: 1px solid #fdba74; border-radius: 6px; padding: 0.3em 0.6em;
  margin-top: 0.5em; font-size: 0.9em; }
.meta { font-size: 0.75em; color: var(--body-text-color-subdued); margin-top: 0.4em; }
button.cite { display: inline; border: none; background: none; padding: 0 1px; margin: 0; cursor: pointer;
  color: var(--link-text-color, #2563eb); font-weight: 600; font: inherit; font-weight: 600; }
button.cite:hover, button.cite.active { text-decoration: underline; background: #dbeafe; border-radius: 3px; }
button.cite.unsupported { color: #b42318; text-decoration: underline dashed; }
button.cite.attributed { font-style: italic; }
button.cite .flag { font-size: 0.75em; vertical-align: super; margin-left: 1px; }
details.passages { margin-top: 0.5em; font-size: 0.9em; }
details.passages summary { cursor: pointer; color: var(--body-text-color-subdued); }
details.passages ol { list-style: none; padding-left: 0; margin: 0.3em 0 0; }
details.passages li { margin: 0.35em 0; }
button.passage-link { border: none; background: none; padding: 0; cursor: pointer; font: inherit; font-weight: 600;
  color: var(--link-text-color, #2563eb); text-align: left; }
button.passage-link:hover, button.passage-link.active { text-decoration: underline; }
.passages .src, .src-path { font-size: 0.8em; color: var(--body-text-color-subdued); font-family: var(--font-mono); }
.passages .snippet { color: var(--body-text-color-subdued); font-size: 0.9em; white-space: pre-wrap; }
#source-panel .src-head { font-size: 1.05em; font-weight: 600; margin-bottom: 0.2em; }
#source-panel .badge { color: var(--link-text-color, #2563eb); }
#source-panel .cited-by { font-size: 0.9em; margin: 0.4em 0; font-style: italic; }
#source-panel .doc { white-space: pre-wrap; line-height: 1.5; max-height: 520px; overflow-y: auto; position: relative;
  border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em 0.8em; margin-top: 0.5em;
  font-size: 0.92em; }
#source-panel mark { background: #fde68a; color: #111; padding: 1px 0; border-radius: 2px; }
b.match { background: #fde68a; color: #111; font-weight: 600; border-radius: 2px; }
#source-panel mark b.match { background: #fbbf24; }
.passages .label { font-style: italic; }
.upload-status progress { width: 100%; }
.upload-status .ok { color: #166534; }
.upload-status .files { font-size: 0.85em; font-family: var(--font-mono); }
table.stats { font-size: 0.85em; width: 100%; border-collapse: collapse; border: none !important; }
#stats, #stats > div, table.stats tr { border: none !important; }
table.stats th, table.stats td { border: none !important; border-bottom: 1px solid var(--border-color-primary) !important;
  padding: 0.25em 0.4em !important; background: none !important; }
table.stats th { text-align: left; font-weight: 600; white-space: nowrap; vertical-align: top; }
table.stats td { word-break: break-word; }
"""

CONVERSATION_JS = """
element.addEventListener('click', (e) => {
  const b = e.target.closest('[data-cite]');
  if (!b || !element.contains(b)) return;
  e.preventDefault();
  element.querySelectorAll('.active').forEach((x) => x.classList.remove('active'));
  b.classList.add('active');
  trigger('cite', {turn: Number(b.dataset.turn), n: Number(b.dataset.cite)});
});
"""

SOURCE_JS = """
watch('value', () => {
  const doc = element.querySelector('.doc');
  const m = element.querySelector('mark');
  if (doc && m) doc.scrollTop = Math.max(0, m.offsetTop - doc.clientHeight / 4);
});
"""


def build_app(runtime: Runtime):
    import gradio as gr

    settings = runtime.settings

    def ask(question: str, k: float, turns: list[dict]):
        if not (question or "").strip():
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        if turns and turns[-1]["state"] != "done":
            gr.Warning("Still answering the previous question: ask again when it is done.")
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        clear_box = ""
        for now in run_turn(runtime, question, int(k), turns):
            yield render_conversation(now), clear_box, now, gr.skip()
            clear_box = gr.skip()
        yield gr.skip(), gr.skip(), gr.skip(), render_stats(runtime)

    def show_source(turns: list[dict], evt: gr.EventData):
        data = getattr(evt, "_data", None) or {}
        try:
            return render_source(turns or [], int(data.get("turn", -1)), int(data.get("n", 0)))
        except (TypeError, ValueError):
            return EMPTY_SOURCE

    # Gradio finds the EventData parameter by its annotation; with postponed annotations it would
    # see only the string, so give it the class.
    show_source.__annotations__["evt"] = gr.EventData

    def new_conversation():
        return render_conversation([]), [], EMPTY_SOURCE

    def upload(files):
        paths = [files] if isinstance(files, (str, Path)) else list(files or [])
        paths = [str(getattr(f, "name", f)) for f in paths]
        if not paths:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        events: queue.Queue = queue.Queue()
        box: dict = {}

        def work():
            try:
                box["result"] = runtime.add_files(paths, progress=lambda *a: events.put(a))
            except Exception as e:  # AssistantError or anything else: show it, keep the page alive
                if not isinstance(e, AssistantError):
                    traceback.print_exc()
                box["error"] = str(e) or type(e).__name__
            finally:
                events.put(None)

        threading.Thread(target=work, name="upload", daemon=True).start()
        yield render_upload_status("checking", 0, len(paths)), gr.skip(), gr.skip()
        last = 0.0
        while True:
            item = events.get()
            if item is None:
                break
            if time.monotonic() - last >= 0.2 or item[1] == item[2]:
                last = time.monotonic()
                yield render_upload_status(*item), gr.skip(), gr.skip()
        if "error" in box:
            yield render_upload_status("", error=box["error"]), None, render_stats(runtime)
        else:
            yield render_upload_status("", result=box["result"]), None, render_stats(runtime)

    with gr.Blocks(title="Document assistant", analytics_enabled=False) as demo:
        turns_state = gr.State([])
        gr.HTML("<h2 style='margin:0.2em 0'>Ask the documents</h2>"
                "<div style='color:var(--body-text-color-subdued)'>Answers come only from the indexed Dutch "
                "government documents, with numbered citations you can check.</div>", js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                conversation = gr.HTML(render_conversation([]), elem_id="conversation", js_on_load=CONVERSATION_JS,
                                       autoscroll=True, padding=True, container=True)
                with gr.Row(equal_height=True):
                    question = gr.Textbox(show_label=False, placeholder="Ask a question, e.g. Why was there no projectplan for Sezen?",
                                          elem_id="question", scale=6, lines=1, max_lines=4, autofocus=True)
                    send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=90)
                clear = gr.Button("New conversation", size="sm", elem_id="new-conversation")
            with gr.Column(scale=2):
                gr.Markdown("### Source")
                source = gr.HTML(EMPTY_SOURCE, elem_id="source-panel", js_on_load=SOURCE_JS, padding=True, container=True)
                with gr.Accordion("Add documents", open=True):
                    files = gr.File(label="Upload .txt, .md, .pdf, .docx or .html", file_count="multiple",
                                    type="filepath", elem_id="upload")
                    upload_status = gr.HTML("", elem_id="upload-status", js_on_load=None)
                with gr.Accordion("Settings", open=True):
                    k = gr.Slider(1, MAX_K, value=min(MAX_K, settings.top_k), step=1, label="Passages per question (k)",
                                  elem_id="k")
                    stats = gr.HTML(render_stats(runtime), elem_id="stats", js_on_load=None)

        # Several tabs may ask at once: each retrieves and shows its passages at once; the generator's
        # own lock then lets one answer stream at a time (two would both crawl on a small CPU).
        ask_io = dict(fn=ask, inputs=[question, k, turns_state], outputs=[conversation, question, turns_state, stats],
                      concurrency_id="ask", concurrency_limit=4, show_progress="hidden")
        asks = [send.click(**ask_io), question.submit(**ask_io)]
        conversation.cite(show_source, inputs=[turns_state], outputs=[source], show_progress="hidden", queue=False)
        clear.click(new_conversation, outputs=[conversation, turns_state, source], cancels=asks)
        files.upload(upload, inputs=[files], outputs=[upload_status, files, stats], concurrency_id="upload",
                     show_progress="hidden")
        demo.load(lambda: render_stats(runtime), outputs=[stats], queue=False)
    return demo


def theme():
    import gradio as gr

    # System fonts only: the default themes can point at font hosts, and this must work offline.
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def warm_up(pipeline: Pipeline) -> None:
    """Load the embedder and the LLM now, so the first question is answered at full speed."""
    pipeline.assistant.search("warm up", 1)  # embedder + lexical index
    gen = pipeline.assistant.generator
    if gen is not None and not pipeline.settings.llm_base_url:
        for _ in gen.stream("Reply with OK.", "OK?", 1, 0.0):
            pass


# -- network exposure ---------------------------------------------------------------------------
AUTH_ENV = "ASSISTANT_AUTH"
FAILED_LOGIN_DELAY_S = 0.5  # slows password guessing a little (async: other requests are not held)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost": reachable from this machine only."""
    h = (host or "").strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def parse_auth(value: str, where: str = "--auth") -> tuple[str, str]:
    """"user:password" -> (user, password); the password may contain ':'. Errors never echo it."""
    user, sep, password = (value or "").partition(":")
    user = user.strip()
    if not sep:
        raise InputError(f"{where} must be USER:PASSWORD (no ':' found)")
    if not user:
        raise InputError(f"{where} must be USER:PASSWORD: the user name is empty")
    if not password:
        raise InputError(f"{where} must be USER:PASSWORD: the password is empty")
    return user, password


def check_exposure(host: str, auth: tuple[str, str] | None, no_auth: bool = False) -> None:
    """Refuse to serve the chat beyond this machine without a login, unless asked to on purpose."""
    if auth is not None and no_auth:
        raise InputError("--auth (or ASSISTANT_AUTH) and --no-auth contradict each other: give one of them")
    if auth is None and not no_auth and not is_loopback(host):
        raise InputError(
            f"refusing to serve the chat on {host} without a login: anyone who can reach this machine "
            f"could read the indexed documents and upload new ones. Either set a login with --auth USER:PASSWORD "
            f"(or the environment variable {AUTH_ENV}=USER:PASSWORD), or pass --no-auth to serve it without "
            "one on purpose (e.g. behind a proxy that does its own login). Use --host 127.0.0.1 for this machine only."
        )


def _login_checker(user: str, password: str):
    want_user, want_password = user.encode("utf-8"), password.encode("utf-8")

    async def check(username: str, given: str) -> bool:
        ok_user = hmac.compare_digest(username.encode("utf-8"), want_user)
        ok = hmac.compare_digest(given.encode("utf-8"), want_password) and ok_user
        if not ok:
            await asyncio.sleep(FAILED_LOGIN_DELAY_S)
        return ok

    return check


def _busy_when_full(demo) -> None:
    """Refuse a join to a full queue with BUSY_MESSAGE instead of Gradio's "Queue is full. Max size
    is N and size is M." (HTTP 503 either way; API clients see the message, the page its own)."""
    q = getattr(demo, "_queue", None)
    push = getattr(q, "push", None)
    if push is None:
        return

    async def push_or_busy(*args, **kwargs):
        ok, detail, state = await push(*args, **kwargs)
        return (ok, BUSY_MESSAGE, state) if not ok and state == "queue_full" else (ok, detail, state)

    q.push = push_or_busy


def serve(runtime: Runtime, host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False,
          *, auth: tuple[str, str] | None = None, no_auth: bool = False, queue_max_size: int | None = QUEUE_MAX_SIZE):
    """Start the app in background threads; returns (demo, local URL). demo.close() stops it.
    With auth=(user, password) the page and its API need that login (see check_exposure).
    queue_max_size: events that may wait for a worker; one more is refused at once as busy."""
    check_exposure(host, auth, no_auth)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    demo = build_app(runtime)
    demo.queue(default_concurrency_limit=1, max_size=queue_max_size)
    _busy_when_full(demo)
    try:
        _, url, _ = demo.launch(
            server_name=host, server_port=port, inbrowser=open_browser, share=False, prevent_thread_lock=True,
            quiet=True, show_error=True, theme=theme(), css=CSS, footer_links=["api", "settings"],
            run_history=False, enable_monitoring=False, mcp_server=False, ssr_mode=False,
            max_file_size=MAX_FILE_BYTES,
            auth=_login_checker(*auth) if auth else None,
            auth_message="Log in with the user name and password the assistant was started with." if auth else None,
        )
    except OSError as e:
        raise AssistantError(f"cannot start the web server on {host}:{port} ({e}); try another --port") from e
    demo.runtime = runtime
    return demo, url


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False,
           *, warm: bool = True, auth: tuple[str, str] | None = None, no_auth: bool = False,
           queue_max_size: int | None = QUEUE_MAX_SIZE) -> int:
    """`assistant chat`: load the models, start the app, print its local URL, serve until Ctrl+C."""
    check_exposure(host, auth, no_auth)  # before minutes of model loading
    if no_auth and not is_loopback(host):
        print(f"warning: serving on {host} without a login (--no-auth): anyone who can reach this machine "
              "can read the indexed documents and upload new ones", file=sys.stderr, flush=True)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    pipeline = build(settings, with_llm=True)
    if warm:
        print("loading the models (first start can take a minute)…", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        warm_up(pipeline)
        print(f"models ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    demo, url = serve(Runtime(settings, pipeline), host, port, open_browser, auth=auth, no_auth=no_auth,
                      queue_max_size=queue_max_size)
    login = f", login required (user {auth[0]!r})" if auth else ""
    print(f"Assistant chat running on {url}{login}  (Ctrl+C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0
