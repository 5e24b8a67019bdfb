"""The "Conversations" panel: a login's saved conversations (history.py), and a saved conversation
turned back into the browser's turns so it shows, cites and continues like a live one.

Each finished turn is saved under the tab's login (gr.Request.username; "" without logins). The
tab's current conversation id lives in the browser (gr.BrowserState, localStorage), so a reload
reopens it (a new tab starts a new one); it is only ever opened for the login that owns it
(History checks the owner).
static/conversations.js sends a row's open / rename / delete to the server.
"""

from __future__ import annotations

import time

from ..cite import MARKER
from ..conversation import SavedTurn
from ..history import Summary
from . import i18n
from .i18n import DEFAULT, t as _t
from .render import _e
from .turns import _record


def owner_of(request) -> str:
    """The tab's login name ("" where the chat has no logins)."""
    return str(getattr(request, "username", None) or "")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else ""


def render_conversations(rows: list[Summary], current: str | None = None, lang: str = DEFAULT) -> str:
    if not rows:
        return f'<div class="convs"><div class="convs-empty">{_e(_t(lang, "convs.empty"))}</div></div>'
    items = []
    for r in rows:
        turns = _t(lang, "convs.turns.one") if r.turns == 1 else _t(lang, "convs.turns", n=r.turns)
        cls = "conv-row current" if r.id == current else "conv-row"
        items.append(
            f'<li class="{cls}" data-id="{_e(r.id)}">'
            f'<button type="button" class="conv-open" data-action="open" title="{_e(_t(lang, "convs.open"))}">'
            f'{_e(r.title)}</button>'
            f'<div class="conv-meta">{_e(_when(r.updated))} · {_e(turns)}</div>'
            f'<div class="conv-actions">'
            f'<button type="button" class="conv-rename" data-action="ask-rename">{_e(_t(lang, "convs.rename"))}</button> '
            f'<button type="button" class="conv-delete" data-action="ask-delete">{_e(_t(lang, "convs.delete"))}</button>'
            f'<div class="conv-rename-form" hidden><input type="text" class="conv-title" maxlength="200" '
            f'value="{_e(r.title)}" aria-label="{_e(_t(lang, "convs.rename"))}"> '
            f'<button type="button" class="conv-rename-save" data-action="rename">{_e(_t(lang, "convs.save"))}</button> '
            f'<button type="button" class="conv-cancel" data-action="cancel">{_e(_t(lang, "convs.cancel"))}</button></div>'
            f'<div class="conv-confirm" hidden>{_e(_t(lang, "convs.confirm"))} '
            f'<button type="button" class="conv-delete-yes" data-action="delete">{_e(_t(lang, "convs.yes"))}</button> '
            f'<button type="button" class="conv-cancel" data-action="cancel">{_e(_t(lang, "convs.cancel"))}</button></div>'
            f'</div></li>')
    return f'<div class="convs"><ul class="conv-list">{"".join(items)}</ul></div>'


class _Span:
    """A saved source as turns._record reads a chunk (source, title, span, text, page)."""

    def __init__(self, s):
        self.source, self.title, self.start, self.end, self.text, self.page = s.source, s.title, s.start, s.end, s.text, s.page


def browser_turn(saved: SavedTurn, docs: dict) -> dict:
    """A saved turn as the page's turn dict (turns.new_turn's keys), its [n] buttons opening the saved
    sources: with their surrounding text when the live index still holds the document unchanged,
    else the saved excerpt alone (the panel then says the document changed)."""
    passages = []
    for s in saved.sources:
        p = _record(s.n, _Span(s), docs, score=None, dense=None)
        p["meta"] = s.label or p["meta"]
        p["date"] = s.date or p["date"]
        at = s.text.find(s.cited) if s.cited and s.cited != s.text else -1
        if at >= 0:
            p["matches"] = [[s.start + at, s.start + at + len(s.cited)]]
        passages.append(p)
    in_answer = {int(n) for m in MARKER.finditer(saved.answer) for n in m.group(1).split(",")}
    citations = {s.n: {"supported": s.supported, "sentence": "", "origin": "model"}
                 for s in saved.sources if s.n in in_answer}
    quote = None
    if saved.quote and saved.quote_n is not None:
        src = next((s for s in saved.sources if s.n == saved.quote_n), None)
        if src is not None:
            at = max(src.text.find(saved.quote), 0)
            quote = {"n": src.n, "text": saved.quote, "title": src.title, "source": src.source,
                     "start": src.start + at, "end": src.start + at + len(saved.quote), "page": src.page}
    return {"question": saved.question, "query": "", "text": saved.answer, "state": "done",
            "abstained": saved.abstained, "passages": passages, "evidence": bool(passages), "citations": citations,
            "invalid": [], "timings": dict(saved.timings), "error": saved.error, "error_key": "", "where": "",
            "quote": quote, "language": saved.language, "asked_at": saved.asked_at, "saved": True}


STORAGE_KEY = "assistant-conversation"  # localStorage key of the tab's current conversation id
RELOAD_ONLY_JS = """(current, lang) => {
  const nav = performance.getEntriesByType('navigation')[0];
  return [nav && nav.type === 'reload' ? current : null, lang];
}"""


SECRET_FILE = "browser-secret"


def browser_secret(index_dir) -> str:
    """The key gr.BrowserState encrypts the tab's conversation id with: made once per index (readable by
    its owner only) so it outlives a restart; Gradio's default is new at every start."""
    import os
    import secrets
    from pathlib import Path

    path = Path(index_dir) / SECRET_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    try:  # O_EXCL: two servers starting at once agree on the first one written
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError:  # the other writer may not have written it yet
        for _ in range(50):
            value = path.read_text(encoding="ascii").strip()
            if value:
                return value
            time.sleep(0.02)
        raise
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value)
        f.flush()
        os.fsync(f.fileno())
    return value


class Saved:
    """The panel's components and events, wired into app.py's page with two calls (components, connect)."""

    def __init__(self, runtime, gr):
        from ..history import History

        self.runtime, self.gr = runtime, gr
        self.history = History.for_index(runtime.settings.storage.index_dir)

    def components(self, lang: str, js: str) -> None:
        gr = self.gr
        # The id only (encrypted by Gradio with the index's secret, kept beside it so a reload after a
        # restart still opens it; the server checks the owner anyway): the turns stay on the server.
        self.current = gr.BrowserState(None, storage_key=STORAGE_KEY,
                                       secret=browser_secret(self.runtime.settings.storage.index_dir))
        with gr.Accordion(_t(lang, "convs.heading"), open=True, elem_id="conversations") as self.accordion:
            self.listing = gr.HTML(render_conversations([], None, lang), elem_id="conversations-list", js_on_load=js,
                                   padding=True, container=False)

    def _list(self, request, current, lang):
        return render_conversations(self.history.list(owner_of(request)), current, lang)

    def _turns(self, conv) -> list[dict]:
        docs = self.runtime.pipeline.index.docs
        return [browser_turn(t, docs) for t in conv.turns]

    def connect(self, *, asks, clear, loaded, lang_state, lang_switch, turns_state, conversation, source,
                shown_state) -> tuple:
        """Wire the panel's events; returns the events after which the tab shows another conversation
        (restored on a reload, opened from the list), for what follows the conversation (the exports)."""
        from ..errors import AssistantError
        from ..history import models_of
        from .render import empty_source, render_conversation
        from .turns import saved_turn

        gr, history = self.gr, self.history

        def save(turns, current, lang, request: gr.Request):
            """Keep the tab's last turn once it is finished (each ask's .then; a skipped ask saves nothing)."""
            last = (turns or [None])[-1]
            if not last or last.get("state") != "done" or last.get("saved"):
                return gr.skip(), gr.skip(), gr.skip()
            owner = owner_of(request)
            if not history.owns(owner, current):  # none yet, deleted meanwhile, or not this login's
                current = None
            p = self.runtime.pipeline
            current = history.save(owner, current, saved_turn(last, models=models_of(p), generation=p.index.generation))
            last["saved"] = True
            return turns, current, self._list(request, current, lang)

        def restore(current, lang, request: gr.Request):
            """A reload: reopen the tab's conversation, if it is this login's."""
            owner = owner_of(request)
            label = gr.Accordion(label=_t(lang, "convs.heading"))
            if not history.owns(owner, current):
                return gr.skip(), gr.skip(), None, label, self._list(request, None, lang)
            turns = self._turns(history.get(owner, current))
            return render_conversation(turns, lang), turns, current, label, self._list(request, current, lang)

        def open_(lang, evt: gr.EventData, request: gr.Request):
            conv_id = str((getattr(evt, "_data", None) or {}).get("id") or "")
            try:
                conv = history.get(owner_of(request), conv_id)
            except AssistantError:
                gr.Warning(_t(lang, "convs.gone"))
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), self._list(request, None, lang)
            turns = self._turns(conv)
            return (render_conversation(turns, lang), turns, empty_source(lang), None, conv.id,
                    self._list(request, conv.id, lang))

        def rename(current, lang, evt: gr.EventData, request: gr.Request):
            data = getattr(evt, "_data", None) or {}
            try:
                history.rename(owner_of(request), str(data.get("id") or ""), str(data.get("title") or ""))
            except AssistantError as e:
                gr.Warning(str(e))
            return self._list(request, current, lang)

        def delete(current, lang, evt: gr.EventData, request: gr.Request):
            conv_id = str((getattr(evt, "_data", None) or {}).get("id") or "")
            try:
                history.delete(owner_of(request), conv_id)
            except AssistantError as e:
                gr.Warning(str(e))
            # The conversation on screen stays; its next question starts a new saved one.
            current = None if current == conv_id else current
            return current, self._list(request, current, lang)

        def new(lang, request: gr.Request):
            return None, self._list(request, None, lang)

        def relabel(current, lang, request: gr.Request):
            lang = lang if lang in i18n.LANGUAGES else i18n.DEFAULT
            return gr.Accordion(label=_t(lang, "convs.heading")), self._list(request, current, lang)

        # Gradio finds the Request and EventData parameters by their annotations.
        for fn in (save, restore, open_, rename, delete, new, relabel):
            fn.__annotations__["request"] = gr.Request
        for fn in (open_, rename, delete):
            fn.__annotations__["evt"] = gr.EventData

        quiet = dict(show_progress="hidden")
        for event in asks:
            event.then(save, inputs=[turns_state, self.current, lang_state],
                       outputs=[turns_state, self.current, self.listing], **quiet)
        clear.click(new, inputs=[lang_state], outputs=[self.current, self.listing], queue=False, **quiet)
        # Only a reload reopens the conversation: localStorage is shared by the browser's tabs, and a
        # new tab (or the page opened again) starts a new conversation (the panel lists the others).
        restored = loaded.then(restore, inputs=[self.current, lang_state],
                               outputs=[conversation, turns_state, self.current, self.accordion, self.listing],
                               queue=False, js=RELOAD_ONLY_JS, **quiet)
        opened = self.listing.open_conv(open_, inputs=[lang_state],
                                        outputs=[conversation, turns_state, source, shown_state, self.current,
                                                 self.listing], cancels=asks, **quiet)
        self.listing.rename_conv(rename, inputs=[self.current, lang_state], outputs=[self.listing], **quiet)
        self.listing.delete_conv(delete, inputs=[self.current, lang_state], outputs=[self.current, self.listing], **quiet)
        lang_switch.input(relabel, inputs=[self.current, lang_switch], outputs=[self.accordion, self.listing],
                          queue=False, **quiet)
        return restored, opened
