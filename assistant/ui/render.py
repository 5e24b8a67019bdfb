"""HTML of the page's dynamic parts: the conversation, the source panel, index statistics and upload status.

Every text from a document or a user is escaped (`_e`); the only markup is ours.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from ..cite import MARKER
from ..config import Settings
from ..pipeline import Pipeline
from .runtime import UPLOAD_SCOPE, Runtime, UploadResult

SNIPPET_CHARS = 220


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
