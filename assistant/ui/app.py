"""The page: Gradio components and the events that connect them to the runtime, turns and rendering.

Several tabs may ask at once: each has its own conversation (gr.State); see runtime.py for how index
writes and pipeline swaps are kept apart. Each tab also keeps its language and what its status areas
last said, so the NL | EN switch re-renders everything from that state (nothing is reloaded). Offline: no analytics, a theme with system fonts only (no
font or CDN hosts), no share link. Styles and scripts are files in static/.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from pathlib import Path

from .. import documents, summary_intent
from ..errors import AssistantError
from . import conversations, export_controls, filter_controls, i18n
from .docs_view import render_docs_status, render_documents
from .i18n import t as _t
from .render import _e, empty_source, render_conversation, render_source, render_stats, render_upload_status
from .runtime import Runtime
from .summary_turn import run_summary_turn
from .turns import run_turn

STATIC = Path(__file__).resolve().parent / "static"
MAX_K = 10
MAX_TABS = 10_000  # tabs whose current language is remembered (the oldest are forgotten first)


def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


CSS = _asset("style.css")
CONVERSATION_JS = _asset("conversation.js")
SOURCE_JS = _asset("source.js")
DOCUMENTS_JS = _asset("documents.js")
CONVERSATIONS_JS = _asset("conversations.js")


def header_html(lang: str, ready: bool = False) -> str:
    """The page's title. `ready`: rendered by the tab's load (or a switch), not at build time; its
    data-ready tells scripts and tests the load's re-render of the page has happened (text typed
    before it could be replaced)."""
    mark = f" data-ready='{_e(lang)}'" if ready else ""
    return (f"<h2 style='margin:0.2em 0'{mark}>{_e(_t(lang, 'page.title'))}</h2>"
            f"<div style='color:var(--body-text-color-subdued)'>{_e(_t(lang, 'page.subtitle'))}</div>")


def build_app(runtime: Runtime, lang: str = "auto"):
    """lang: the language a new tab starts in: "nl", "en", or "auto" (the browser's Accept-Language)."""
    import gradio as gr

    if lang not in i18n.CHOICES:
        raise ValueError(f"unknown interface language {lang!r}: use one of {', '.join(i18n.CHOICES)}")
    settings = runtime.settings
    start_choice = lang  # (the handlers below take the tab's own `lang`)
    first = lang if lang in i18n.LANGUAGES else i18n.DEFAULT  # what the page is built with, before a tab loads

    # Each tab's language as it is now. An event's `lang` input is the value when it started; an
    # answer or upload still running when the reader switches renders its next update in the new one.
    live_lang: dict[str, str] = {}

    def remember(request, lang: str) -> None:
        key = getattr(request, "session_hash", None)
        if key:
            live_lang.pop(key, None)
            live_lang[key] = lang
            while len(live_lang) > MAX_TABS:  # the oldest tabs first
                live_lang.pop(next(iter(live_lang)))

    def current(request, lang: str) -> str:
        return live_lang.get(getattr(request, "session_hash", None) or "", lang)

    def ask(question: str, k: float, turns: list[dict], lang: str, shown, municipality, year, type_, request: gr.Request):
        if not (question or "").strip():
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        if turns and turns[-1]["state"] != "done":
            gr.Warning(_t(current(request, lang), "busy.previous"))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        clear_box = ""
        where = filter_controls.where_of(municipality, year, type_)
        wanted = summary_intent.match(question)  # "vat dit document samen": a summary turn, not an answer
        steps = (run_summary_turn(runtime, question, wanted, turns, shown) if wanted is not None
                 else run_turn(runtime, question, int(k), turns, where=where))
        for now in steps:
            yield render_conversation(now, current(request, lang)), clear_box, now, gr.skip()
            clear_box = gr.skip()
        yield gr.skip(), gr.skip(), gr.skip(), render_stats(runtime, current(request, lang))

    def show_source(turns: list[dict], lang: str, evt: gr.EventData):
        data = getattr(evt, "_data", None) or {}
        try:
            where = [int(data.get("turn", -1)), int(data.get("n", 0))]
        except (TypeError, ValueError):
            return empty_source(lang), None
        return render_source(turns or [], *where, lang=lang), where

    # Gradio finds the EventData parameter by its annotation; with postponed annotations it would
    # see only the string, so give it the class.
    show_source.__annotations__["evt"] = gr.EventData

    def new_conversation(lang: str):
        return render_conversation([], lang), [], empty_source(lang), None

    def upload(files, lang: str, request: gr.Request):
        paths = [files] if isinstance(files, (str, Path)) else list(files or [])
        paths = [str(getattr(f, "name", f)) for f in paths]
        if not paths:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
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
        yield (render_upload_status("checking", 0, len(paths), lang=current(request, lang)),
               gr.skip(), gr.skip(), gr.skip(), gr.skip())
        last = 0.0
        while True:
            item = events.get()
            if item is None:
                break
            if time.monotonic() - last >= 0.2 or item[1] == item[2]:
                last = time.monotonic()
                yield render_upload_status(*item, lang=current(request, lang)), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        said = {"error": box["error"]} if "error" in box else {"result": box["result"]}
        lang = current(request, lang)
        yield (render_upload_status("", **said, lang=lang), None, render_stats(runtime, lang),
               render_documents(runtime.list_documents(), lang), said)

    def change_document(action: str, lang: str, data: dict, request):
        """Remove or re-index the document a row's button names; yields (status, documents, stats, said)."""
        source = str((data or {}).get("source") or "")
        working = {"action": action, "name": source}
        yield render_docs_status(**working, lang=lang), gr.skip(), gr.skip(), working
        said = dict(working)
        try:
            if action == "remove":
                said["report"] = runtime.remove_document(source)
                if documents.is_upload(source):
                    said["file_deleted"] = str(runtime.uploads_dir)
            else:
                said["report"] = runtime.reindex_document(source)
        except Exception as e:  # AssistantError (an unknown document, a missing file, a full disk) or a bug
            if not isinstance(e, AssistantError):
                traceback.print_exc()
            said["error"] = str(e) or type(e).__name__
        lang = current(request, lang)
        yield (render_docs_status(**said, lang=lang), render_documents(runtime.list_documents(), lang),
               render_stats(runtime, lang), said)

    def remove_document(lang: str, evt: gr.EventData, request: gr.Request):
        yield from change_document("remove", lang, getattr(evt, "_data", None), request)

    def reindex_document(lang: str, evt: gr.EventData, request: gr.Request):
        yield from change_document("reindex", lang, getattr(evt, "_data", None), request)

    def summarize_document(turns: list[dict], lang: str, evt: gr.EventData, request: gr.Request):
        """A document row's "Summarise" button: the summary as a turn of the conversation."""
        if turns and turns[-1]["state"] != "done":
            gr.Warning(_t(current(request, lang), "busy.previous"))
            yield gr.skip(), gr.skip()
            return
        source = str((getattr(evt, "_data", None) or {}).get("source") or "")
        doc = runtime.pipeline.index.docs.get(source)
        lang = current(request, lang)
        question = _t(lang, "summary.question", title=doc.title if doc is not None else source)
        for now in run_summary_turn(runtime, question, summary_intent.SummaryRequest(lang, ""), turns, source=source):
            yield render_conversation(now, current(request, lang)), now

    def relabel(lang: str, turns: list[dict], shown, upload_said, docs_said):
        """Every text on the page in `lang`, from the tab's own state (no index or model work)."""
        lang = lang if lang in i18n.LANGUAGES else i18n.DEFAULT
        source_html = render_source(turns or [], *shown, lang=lang) if shown else empty_source(lang)
        return (
            lang, gr.Radio(value=lang, label=_t(lang, "lang.label")), header_html(lang, ready=True),
            render_conversation(turns or [], lang),
            gr.Textbox(placeholder=_t(lang, "question.placeholder")),
            gr.Button(value=_t(lang, "send")),
            gr.Button(value=_t(lang, "new_conversation")),
            gr.Markdown(value=_t(lang, "source.heading")),
            source_html,
            gr.Accordion(label=_t(lang, "add.heading")),
            gr.File(label=_t(lang, "add.label")),
            render_upload_status("", **upload_said, lang=lang) if upload_said else "",
            gr.Accordion(label=_t(lang, "docs.heading")),
            render_documents(runtime.list_documents(), lang),
            render_docs_status(**docs_said, lang=lang) if docs_said else "",
            gr.Accordion(label=_t(lang, "settings.heading")),
            gr.Slider(label=_t(lang, "k.label")),
            render_stats(runtime, lang),
            gr.Accordion(label=_t(lang, "filters.heading")),
            gr.Markdown(value=_t(lang, "filters.info")),
            *filter_controls.updated(gr, runtime, lang),
        )

    saved = conversations.Saved(runtime, gr)

    def on_load(turns, shown, upload_said, docs_said, request: gr.Request):
        headers = getattr(request, "headers", None) or {}
        start = i18n.start_language(start_choice, headers.get("accept-language"))
        remember(request, start)
        return relabel(start, turns, shown, upload_said, docs_said)

    def switch(choice: str, turns, shown, upload_said, docs_said, request: gr.Request):
        remember(request, choice if choice in i18n.LANGUAGES else i18n.DEFAULT)
        return relabel(choice, turns, shown, upload_said, docs_said)

    # Gradio finds the Request and EventData parameters by their annotations (see show_source).
    for fn in (ask, upload, remove_document, reindex_document, summarize_document, on_load, switch):
        fn.__annotations__["request"] = gr.Request
    for fn in (remove_document, reindex_document, summarize_document):
        fn.__annotations__["evt"] = gr.EventData

    with gr.Blocks(title="Document assistant · Documentassistent", analytics_enabled=False) as demo:
        turns_state = gr.State([])
        lang_state = gr.State(first)
        shown_state = gr.State(None)  # [turn, n] in the source panel
        upload_said = gr.State(None)  # what the upload status last said (re-rendered on a switch)
        docs_said = gr.State(None)  # what the document panel's status last said
        with gr.Row(equal_height=False):
            header = gr.HTML(header_html(first), elem_id="page-header", js_on_load=None, scale=8)
            # The label is not shown (NL | EN says it) but names the control for screen readers.
            lang_switch = gr.Radio([("NL", "nl"), ("EN", "en")], value=first, label=_t(first, "lang.label"),
                                   show_label=False, container=False, elem_id="lang-switch", scale=1, min_width=120)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                conversation = gr.HTML(render_conversation([], first), elem_id="conversation", js_on_load=CONVERSATION_JS,
                                       autoscroll=True, padding=True, container=True)
                with gr.Row(equal_height=True):
                    question = gr.Textbox(show_label=False, placeholder=_t(first, "question.placeholder"),
                                          elem_id="question", scale=6, lines=1, max_lines=4, autofocus=True)
                    send = gr.Button(_t(first, "send"), variant="primary", elem_id="send", scale=1, min_width=90)
                clear = gr.Button(_t(first, "new_conversation"), size="sm", elem_id="new-conversation")
                exports = export_controls.components(gr, first)
                saved.components(first, CONVERSATIONS_JS)
            with gr.Column(scale=2):
                source_heading = gr.Markdown(_t(first, "source.heading"), elem_id="source-heading")
                source = gr.HTML(empty_source(first), elem_id="source-panel", js_on_load=SOURCE_JS, padding=True,
                                 container=True)
                with gr.Accordion(_t(first, "filters.heading"), open=True, elem_id="filters") as filters_acc:
                    filters_info = gr.Markdown(_t(first, "filters.info"), elem_id="filters-info")
                    filters = filter_controls.components(gr, runtime, first)
                with gr.Accordion(_t(first, "add.heading"), open=True, elem_id="add-documents") as add_acc:
                    files = gr.File(label=_t(first, "add.label"), file_count="multiple",
                                    type="filepath", elem_id="upload")
                    upload_status = gr.HTML("", elem_id="upload-status", js_on_load=None)
                with gr.Accordion(_t(first, "docs.heading"), open=True, elem_id="documents") as docs_acc:
                    docs = gr.HTML(render_documents(runtime.list_documents(), first), elem_id="documents-list",
                                   js_on_load=DOCUMENTS_JS, padding=True, container=False)
                    docs_status = gr.HTML("", elem_id="documents-status", js_on_load=None)
                with gr.Accordion(_t(first, "settings.heading"), open=True, elem_id="settings") as settings_acc:
                    k = gr.Slider(1, MAX_K, value=min(MAX_K, settings.answer.top_k), step=1, label=_t(first, "k.label"),
                                  elem_id="k")
                    stats = gr.HTML(render_stats(runtime, first), elem_id="stats", js_on_load=None)

        # Several tabs may ask at once: each retrieves and shows its passages at once; the generator's
        # own lock then lets one answer stream at a time (two would both crawl on a small CPU).
        ask_io = dict(fn=ask, inputs=[question, k, turns_state, lang_state, shown_state, *filters],
                      outputs=[conversation, question, turns_state, stats],
                      concurrency_id="ask", concurrency_limit=4, show_progress="hidden")
        # A document row's "Summarise" adds a turn like a question does: it is saved, exported and
        # stopped by "New conversation" the same way (`asks` below means both).
        summarised = docs.summarize_doc(summarize_document, inputs=[turns_state, lang_state],
                                        outputs=[conversation, turns_state], concurrency_id="ask", show_progress="hidden")
        asks = [send.click(**ask_io), question.submit(**ask_io), summarised]
        # The exports follow the conversation: after each answer, a new conversation, a language switch.
        export_io = dict(fn=export_controls.handler(gr, runtime), inputs=[turns_state, lang_state], outputs=exports,
                         show_progress="hidden", concurrency_id="export", concurrency_limit=4)
        for a in asks:
            a.then(**export_io)
        conversation.cite(show_source, inputs=[turns_state, lang_state], outputs=[source, shown_state],
                          show_progress="hidden", queue=False)
        clear.click(new_conversation, inputs=[lang_state], outputs=[conversation, turns_state, source, shown_state],
                    cancels=asks).then(**export_io)
        uploaded = files.upload(upload, inputs=[files, lang_state], outputs=[upload_status, files, stats, docs, upload_said],
                                concurrency_id="upload", show_progress="hidden")
        # A new or removed document can add or take away a municipality, year or type.
        refresh_filters = dict(fn=lambda: filter_controls.updated(gr, runtime), outputs=filters, queue=False,
                               show_progress="hidden")
        uploaded.then(**refresh_filters)
        # Document changes share the uploads' queue slot: one index write at a time (the runtime's
        # lock would serialise them anyway; this keeps them from holding a worker while they wait).
        change_io = dict(inputs=[lang_state], outputs=[docs_status, docs, stats, docs_said], concurrency_id="upload",
                         show_progress="hidden")
        docs.remove_doc(remove_document, **change_io).then(**refresh_filters)
        docs.reindex_doc(reindex_document, **change_io).then(**refresh_filters)
        page_io = [lang_state, lang_switch, header, conversation, question, send, clear, source_heading, source,
                   add_acc, files, upload_status, docs_acc, docs, docs_status, settings_acc, k, stats,
                   filters_acc, filters_info, *filters]
        tab_state = [turns_state, shown_state, upload_said, docs_said]
        lang_switch.input(switch, inputs=[lang_switch, *tab_state], outputs=page_io, queue=False,
                          show_progress="hidden").then(**export_io)
        loaded = demo.load(on_load, inputs=tab_state, outputs=page_io, queue=False, show_progress="hidden")
        shown_another = saved.connect(asks=asks, clear=clear, loaded=loaded, lang_state=lang_state,
                                      lang_switch=lang_switch, turns_state=turns_state, conversation=conversation,
                                      source=source, shown_state=shown_state)
        for event in shown_another:  # a reload's restored conversation, one opened from the list
            event.then(**export_io)
    return demo


def theme():
    import gradio as gr

    # System fonts only: the default themes can point at font hosts, and this must work offline.
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
