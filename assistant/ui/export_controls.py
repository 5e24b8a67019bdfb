"""The current conversation out of the page: "Copy with sources" (its Markdown to the clipboard) and
downloads as Markdown and DOCX (export.py), refreshed after each answer, a new conversation and a
language switch.

The finished turns of the tab are converted with turns.saved_turn. The files are written to a
temporary folder of this process (one folder per tab, replaced at each refresh; Gradio serves a copy
from its own cache), removed when the process ends.
"""

from __future__ import annotations

import atexit
import html
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .. import export
from ..conversation import Conversation, title_of
from ..history import models_of
from .i18n import t as _t
from .runtime import Runtime
from .turns import saved_turn

JS = (Path(__file__).resolve().parent / "static" / "export.js").read_text(encoding="utf-8")
MAX_TABS = 1000  # tabs whose files are kept (the oldest tab's files go first)


def conversation(runtime: Runtime, turns: list[dict]) -> Conversation:
    """The tab's finished turns as a Conversation titled by its first question."""
    models = models_of(runtime.pipeline)  # named as the saved conversations name them
    saved = tuple(saved_turn(t, models=models) for t in turns or () if t.get("state") == "done")
    first = saved[0] if saved else None
    return Conversation(id="", title=title_of(first.question) if first else "",
                        created=first.asked_at if first else 0.0, updated=saved[-1].asked_at if saved else 0.0,
                        turns=saved)


def copy_html(lang: str, markdown: str) -> str:
    """The copy button and the Markdown it copies (hidden), or a disabled button with no answer yet."""
    disabled = "" if markdown else " disabled"
    return (f'<button class="copy-sources lg secondary" type="button"{disabled} '
            f'data-copied="{html.escape(_t(lang, "export.copied"))}" '
            f'data-failed="{html.escape(_t(lang, "export.copy_failed"))}">{html.escape(_t(lang, "export.copy"))}'
            f'</button><span class="copy-status" aria-live="polite"></span>'
            f'<textarea class="export-markdown" hidden readonly aria-hidden="true">{html.escape(markdown)}</textarea>')


def _slug(title: str) -> str:
    slug = re.sub(r"[^\w]+", "-", title.lower(), flags=re.UNICODE).strip("-")[:60].strip("-")
    return slug or "conversation"


class Files:
    """Each tab's current export files, in one temporary folder of this process."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="assistant-export-"))
        atexit.register(shutil.rmtree, self.root, True)
        self._lock = threading.Lock()
        self._tabs: dict[str, Path] = {}

    def write(self, tab: str, conv: Conversation, lang: str) -> tuple[Path, Path]:
        folder = Path(tempfile.mkdtemp(dir=self.root))
        name, now = _slug(conv.title), time.time()  # one export date in both files
        md = export.write(conv, folder / f"{name}.md", lang=lang, now=now)
        docx = export.write(conv, folder / f"{name}.docx", lang=lang, now=now)
        self._replace(tab, folder)
        return md, docx

    def forget(self, tab: str) -> None:
        self._replace(tab, None)

    def _replace(self, tab: str, folder: Path | None) -> None:
        with self._lock:
            old = [self._tabs.pop(tab, None)]
            if folder is not None:
                self._tabs[tab] = folder
            while len(self._tabs) > MAX_TABS:
                old.append(self._tabs.pop(next(iter(self._tabs))))
        for f in old:
            if f is not None:
                shutil.rmtree(f, ignore_errors=True)


def components(gr, lang: str) -> list:
    """The copy button (gr.HTML, elem_id export-copy) and the two downloads (export-md, export-docx)."""
    with gr.Row(equal_height=True, elem_id="export"):
        copy = gr.HTML(copy_html(lang, ""), elem_id="export-copy", js_on_load=JS, container=False)
        md = gr.DownloadButton(_t(lang, "export.markdown"), value=None, interactive=False, size="sm",
                               elem_id="export-md")
        docx = gr.DownloadButton(_t(lang, "export.docx"), value=None, interactive=False, size="sm",
                                 elem_id="export-docx")
    return [copy, md, docx]


def handler(gr, runtime: Runtime):
    """refresh(turns, lang, request) -> updates for `components`: the conversation's Markdown in the
    copy button, the two files in the download buttons (none while nothing is answered)."""
    files = Files()

    def refresh(turns: list[dict], lang: str, request: gr.Request):
        tab = getattr(request, "session_hash", None) or ""
        conv = conversation(runtime, turns)
        if not conv.turns:
            files.forget(tab)
            return (copy_html(lang, ""),
                    gr.DownloadButton(label=_t(lang, "export.markdown"), value=None, interactive=False),
                    gr.DownloadButton(label=_t(lang, "export.docx"), value=None, interactive=False))
        md, docx = files.write(tab, conv, lang)
        return (copy_html(lang, md.read_text(encoding="utf-8")),
                gr.DownloadButton(label=_t(lang, "export.markdown"), value=str(md), interactive=True),
                gr.DownloadButton(label=_t(lang, "export.docx"), value=str(docx), interactive=True))

    # Gradio finds the Request parameter by its annotation (app.py does the same).
    refresh.__annotations__["request"] = gr.Request
    return refresh
