"""The page: Gradio components and the events that connect them to the runtime, turns and rendering.

Several tabs may ask at once: each has its own conversation (gr.State); see runtime.py for how index
writes and pipeline swaps are kept apart. Offline: no analytics, a theme with system fonts only (no
font or CDN hosts), no share link. Styles and scripts are files in static/.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from pathlib import Path

from ..errors import AssistantError
from .render import EMPTY_SOURCE, render_conversation, render_source, render_stats, render_upload_status
from .runtime import Runtime
from .turns import run_turn

STATIC = Path(__file__).resolve().parent / "static"
MAX_K = 10


def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


CSS = _asset("style.css")
CONVERSATION_JS = _asset("conversation.js")
SOURCE_JS = _asset("source.js")


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
