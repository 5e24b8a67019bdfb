"""HTML of the page's dynamic parts: the conversation, the source panel, index statistics and upload status.

Every text from a document or a user is escaped (`_e`); the only markup is ours. Every function takes
the tab's language (`lang`, "en" or "nl"; i18n.py): the page re-renders from the same tab state when
the reader switches language.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from ..cite import MARKER
from ..pipeline import model_label
from .i18n import DEFAULT, t as _t
from .runtime import UPLOAD_SCOPE, Runtime, UploadResult
from .viewer import open_link

SNIPPET_CHARS = 220


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def linkify(text: str, turn_index: int, turn: dict, lang: str = DEFAULT) -> str:
    """Escape the answer and turn each [n] (or [1, 2]) into citation buttons."""
    # A reopened saved turn keeps only its cited sources, under their own numbers ([1], [3]).
    numbers = {p["n"] for p in turn["passages"]}
    done = turn["state"] == "done"

    def button(m: re.Match) -> str:
        out = []
        for raw in m.group(1).split(","):
            n = int(raw)
            if n not in numbers:
                continue
            info = turn["citations"].get(n)
            bad = done and info is not None and not info["supported"]
            added = done and info is not None and info.get("origin") == "attributed"
            cls = "cite unsupported" if bad else "cite attributed" if added else "cite"
            tip = _t(lang, "cite.unsupported" if bad else "cite.attributed" if added else "cite.show", n=n)
            flag = '<span class="flag" aria-hidden="true">?</span>' if bad else ""
            out.append(f'<button type="button" class="{cls}" data-cite="{n}" data-turn="{turn_index}" '
                       f'title="{_e(tip)}">[{n}]{flag}</button>')
        return "".join(out)

    return MARKER.sub(button, _e(text))


def _error_text(t: dict, lang: str) -> str:
    key = t.get("error_key")
    if key == "stopped":
        return _t(lang, "error.stopped")
    if key == "crash":
        return _t(lang, "error.crash", what=t["error"])
    if key and key.startswith("summary."):  # a summary turn's own messages (summary_turn.py)
        return _t(lang, key)
    return t["error"]  # the answer path's own message (an AssistantError)


def _page(p: dict, lang: str) -> str:
    """"p. N" after a source title when the passage knows its page (inside the title's button: the
    tests and the page find a passage's location as the button's next sibling)."""
    page = p.get("page")
    return f' <span class="page">{_e(_t(lang, "page", page=page))}</span>' if page is not None else ""


def render_turn(i: int, t: dict, lang: str = DEFAULT) -> str:
    parts = [f'<div class="turn" data-turn="{i}" data-state="{t["state"]}" data-abstained="{str(t["abstained"]).lower()}">']
    parts.append(f'<div class="q"><span class="who">{_t(lang, "who.you")}</span>{_e(t["question"])}</div>')
    if t["query"]:
        rewritten = t["query"].strip() != t["question"].strip()
        note = f' <span class="rewritten">{_t(lang, "query.rewritten")}</span>' if rewritten else ""
        parts.append(f'<div class="query">{_t(lang, "query")} <span class="query-text">{_e(t["query"])}</span>{note}</div>')
    if t.get("where"):
        parts.append(f'<div class="filters-note">{_e(_t(lang, "filters.note", where=t["where"]))}</div>')
    parts.append(f'<div class="a"><span class="who">{_t(lang, "who.assistant")}</span>')
    q = t.get("quote")
    if q and not t["error"]:
        # The source sentence first, highlighted; its [n] opens the source panel like a citation.
        parts.append(f'<blockquote class="quote" data-n="{q["n"]}"><span class="quote-label">{_t(lang, "quote.label")}</span> '
                     f'<button type="button" class="cite" data-cite="{q["n"]}" data-turn="{i}" '
                     f'title="{_e(_t(lang, "cite.show", n=q["n"]))}">[{q["n"]}]</button> '
                     f'<q>{_e(" ".join(q["text"].split()))}</q>'
                     f'<span class="quote-src">{_e(q["title"])}{_page(q, lang)}</span></blockquote>')
    if t["error"]:
        parts.append(f'<div class="error">{_e(_error_text(t, lang))}</div>')
    elif t["text"]:
        cls = "answer-text abstained" if t["abstained"] else "answer-text"
        parts.append(f'<div class="{cls}">{linkify(t["text"], i, t, lang)}</div>')
    elif not t.get("progress"):
        msg = _t(lang, "pending.searching" if t["state"] == "searching" else "pending.writing")
        parts.append(f'<div class="pending">{msg}</div>')
    if not t["error"] and t.get("progress"):  # a summary being written: which section the model reads
        done, total = t["progress"]
        parts.append(f'<div class="pending summary-progress">{_e(_t(lang, "summary.progress", done=done, total=total))}</div>')
    if t["state"] == "done" and not t["error"]:
        bad = [n for n, c in sorted(t["citations"].items()) if not c["supported"]]
        if bad:
            refs = ", ".join(f"[{n}]" for n in bad)
            what = _t(lang, "note.unsupported.one" if len(bad) == 1 else "note.unsupported.many")
            parts.append(f'<div class="warn unsupported-note">⚠ {refs}: {what}. {_t(lang, "note.unsupported.check")}</div>')
        if t["invalid"]:
            refs = ", ".join(f"[{n}]" for n in t["invalid"])
            parts.append(f'<div class="warn invalid-note">⚠ {_e(_t(lang, "note.invalid", refs=refs))}</div>')
        if t.get("omitted"):
            parts.append(f'<div class="meta summary-omitted">{_e(_t(lang, "summary.omitted", n=t["omitted"]))}</div>')
        tm = t["timings"]
        if t.get("cached"):
            parts.append(f'<div class="meta">{_e(_t(lang, "summary.cached"))}</div>')
        elif tm:
            timing = _t(lang, "timings", first=tm.get("first_token_s", 0), total=tm.get("total_s", 0))
            parts.append(f'<div class="meta">{timing}</div>')
    parts.append("</div>")
    if t["passages"]:
        evidence = t.get("evidence") and not (t["abstained"] and t["state"] == "done")
        label = _t(lang, "passages.sections" if t.get("kind") == "summary" else
                   "passages.evidence" if evidence else "passages.nearest")
        # Open while the answer is written (the reader checks the evidence meanwhile) and on abstention.
        is_open = " open" if t["state"] != "done" or t["abstained"] else ""
        kind = "evidence" if t.get("evidence") else "chunks"
        parts.append(f'<details class="passages" data-kind="{kind}"{is_open}><summary>{label} ({len(t["passages"])})</summary><ol>')
        for p in t["passages"]:
            parts.append(
                f'<li class="evidence-item"><button type="button" class="passage-link" data-cite="{p["n"]}" data-turn="{i}">'
                f'[{p["n"]}] {_e(p["title"])}{_page(p, lang)}</button> '
                f'<span class="src">{_e(p["source"])} · {p["start"]}–{p["end"]}</span>'
                f' {open_link(p, t.get("quote"), lang, short=True)}'
                + (f' <span class="doc-meta">{_e(p["meta"])}</span>' if p.get("meta") else "") +
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


def render_conversation(turns: list[dict], lang: str = DEFAULT) -> str:
    if not turns:
        return f'<div class="conv"><div class="empty">{_t(lang, "conv.empty")}</div></div>'
    return '<div class="conv">' + "".join(render_turn(i, t, lang) for i, t in enumerate(turns)) + "</div>"


def empty_source(lang: str = DEFAULT) -> str:
    return f'<div class="source-empty">{_t(lang, "source.empty")}</div>'


EMPTY_SOURCE = empty_source()


def render_source(turns: list[dict], turn_index: int, n: int, lang: str = DEFAULT) -> str:
    try:
        t = turns[turn_index]
        p = next(p for p in t["passages"] if p["n"] == n)  # passages are 1..N, or a saved turn's cited ones
    except (IndexError, TypeError, StopIteration):
        return empty_source(lang)
    cited = t["citations"].get(n)
    parts = [f'<div class="source" data-turn="{turn_index}" data-n="{n}" data-source="{_e(p["source"])}" '
             f'data-start="{p["start"]}" data-end="{p["end"]}">']
    parts.append(f'<div class="src-head"><span class="badge">[{n}]</span> <span class="src-title">{_e(p["title"])}</span>'
                 f'{_page(p, lang)}</div>')
    chars = _t(lang, "source.chars", start=p["start"], end=p["end"])
    meta = f' · <span class="doc-meta">{_e(p["meta"])}</span>' if p.get("meta") else ""
    parts.append(f'<div class="src-path">{_e(p["source"])} · {chars}{meta}</div>')
    parts.append(f'<div class="src-open">{open_link(p, t.get("quote"), lang)}</div>')
    if cited is not None and not cited["supported"] and t["state"] == "done":
        parts.append(f'<div class="warn">{_t(lang, "source.unsupported")}</div>')
    if cited is not None and cited["sentence"]:
        parts.append(f'<div class="cited-by">{_t(lang, "source.cited_for")} '
                     f'“{_e(MARKER.sub("", cited["sentence"]).strip())}”</div>')
    before = ("… " if p["cut_before"] else "") + p["before"]
    after = p["after"] + (" …" if p["cut_after"] else "")
    note = "" if p["exact"] else f'<div class="warn">{_t(lang, "source.changed")}</div>'
    marked = _highlight(p["text"], p["start"], p.get("matches"))
    parts.append(f'{note}<div class="doc">{_e(before)}<mark class="cited-span">{marked}</mark>{_e(after)}</div></div>')
    return "".join(parts)


def render_stats(runtime: Runtime, lang: str = DEFAULT) -> str:
    p = runtime.pipeline
    s = runtime.settings
    st = p.index.stats()
    uploads = sum(1 for src in p.index.docs if src.startswith(UPLOAD_SCOPE + "/"))
    emb = s.embedder_key() or Path(s.embedding.model).name
    rows = [  # (css class: the same in every language, label, value)
        ("model", "stats.model", model_label(s, p)),
        ("embedder", "stats.embedder", emb),
        ("documents", "stats.documents", _t(lang, "stats.documents.value", n=st["documents"], uploaded=uploads)),
        ("chunks", "stats.chunks", str(st["chunks"])),
        ("last-update", "stats.updated", st["updated"]),
        ("index-folder", "stats.folder", str(s.storage.index_dir)),
    ]
    if st.get("shared"):  # the documents are the database's (index/shared/); the folder keeps history and uploads
        rows.append(("shared-index", "stats.shared", st["shared"]))
    body = "".join(f"<tr><th>{_e(_t(lang, key))}</th><td class='stat-{cls}'>{_e(v)}</td></tr>" for cls, key, v in rows)
    return f'<table class="stats">{body}</table>'


def render_upload_status(stage: str, done: int = 0, total: int = 0, result: UploadResult | None = None,
                         error: str = "", lang: str = DEFAULT) -> str:
    if error:
        return f'<div class="upload-status"><div class="problem">{_e(_t(lang, "upload.failed", error=error))}</div></div>'
    if result is None:
        key = {"checking": "upload.checking", "ocr": "upload.ocr", "embedding": "upload.embedding",
               "loading": "upload.loading"}.get(stage)
        label = _t(lang, key) if key else stage
        count = f" {done}/{total}" if total else ""
        bar = f'<progress value="{done}" max="{total or 1}"></progress>'
        return f'<div class="upload-status working"><div>{_e(label)}{count}…</div>{bar}</div>'
    parts = ['<div class="upload-status done">']
    r = result.report
    if r is not None:
        added = ", ".join(r.added) or _t(lang, "upload.none")
        parts.append('<div class="ok">' + _e(_t(
            lang, "upload.indexed", added=len(r.added), updated=len(r.updated), embedded=r.chunks_embedded,
            total=r.chunks_total, seconds=r.seconds)) + "</div>")
        parts.append(f'<div class="files">{_e(_t(lang, "upload.new", names=added))}</div>')
        if r.updated:
            parts.append(f'<div class="files">{_e(_t(lang, "upload.replaced", names=", ".join(r.updated)))}</div>')
    for pr in result.problems:
        name = Path(pr.source).name
        reason = pr.reason[len(name) + 1:].strip() if pr.reason.startswith(name + ":") else pr.reason
        key = "upload.kept" if getattr(pr, "kept", False) else "upload.skipped"  # kept: indexed all the same (woo.py)
        parts.append(f'<div class="problem">{_e(_t(lang, key, name=name, reason=reason))}</div>')
    if r is None and not result.problems:
        parts.append(f"<div>{_t(lang, 'upload.no_files')}</div>")
    parts.append("</div>")
    return "".join(parts)
