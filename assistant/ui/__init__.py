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
- uploads (.txt .md .pdf .docx .html .odt .ods .xlsx .pptx .eml) are copied to <index_dir>/uploads and synced into the index
  (scope "uploads") with visible progress; the pipeline is then rebuilt and swapped in, so the new
  documents are searchable at once. Bad files get a message and are not kept;
- a document panel: the indexed documents (title, pages, chunks, date added), each removable (its
  passages leave the index at once; an upload's file leaves index/uploads) or re-indexable;
- a settings area: number of passages, models in use, index statistics;
- every word of the page itself in Dutch or English (i18n.py): a tab starts in the browser's language
  (or `assistant chat --lang`), and the NL | EN switch changes it at once, keeping the conversation.

Where it lives: runtime.py (the live pipeline; uploads, removals, re-indexing), turns.py (what one
tab remembers, one answer as it streams), render.py and docs_view.py (HTML), i18n.py (the words in
both languages), export_controls.py (copy / download the conversation with its sources: export.py),
app.py (the Gradio page and its events; styles and scripts in static/), auth.py
(who may reach it), server.py (queue limit, `serve`, `launch`), viewer.py (a citation opened in its
original document: the PDF page with the sentence marked, or the text; pdfpage.py, highlight.py).
"""

from __future__ import annotations

from . import i18n, server
from .app import CONVERSATION_JS, CSS, DOCUMENTS_JS, MAX_K, SOURCE_JS, build_app, header_html, theme
from .auth import AUTH_ENV, FAILED_LOGIN_DELAY_S, check_exposure, is_loopback, parse_auth
from .docs_view import render_docs_status, render_documents
from .render import (EMPTY_SOURCE, SNIPPET_CHARS, _e, empty_source, linkify, model_label, render_conversation,
                     render_source, render_stats, render_turn, render_upload_status)
from .runtime import UPLOAD_SCOPE, Runtime, UploadResult, safe_name
from .server import BUSY_MESSAGE, LOGIN_MESSAGE, QUEUE_MAX_SIZE, launch, serve, warm_up
from .turns import (CONTEXT_CHARS, excerpt_record, finish_turn, history_of, new_turn, passage_record,
                    run_turn)

__all__ = [
    "AUTH_ENV", "BUSY_MESSAGE", "CONTEXT_CHARS", "CONVERSATION_JS", "CSS", "DOCUMENTS_JS", "EMPTY_SOURCE",
    "FAILED_LOGIN_DELAY_S", "LOGIN_MESSAGE", "MAX_K", "QUEUE_MAX_SIZE", "SNIPPET_CHARS", "SOURCE_JS", "UPLOAD_SCOPE",
    "Runtime", "UploadResult", "build_app", "check_exposure", "empty_source", "excerpt_record", "finish_turn",
    "header_html", "history_of", "i18n", "is_loopback", "launch", "linkify", "model_label", "new_turn", "parse_auth",
    "passage_record", "render_conversation", "render_docs_status", "render_documents", "render_source",
    "render_stats", "render_turn", "render_upload_status", "run_turn", "safe_name", "serve", "server", "theme",
    "warm_up",
]
