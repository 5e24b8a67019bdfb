"""Open the source: a cited passage in its original document, served by the chat server itself.

Routes (added to Gradio's FastAPI app by `install`, under /viewer/):
- open?source=ID&start=A&end=B[&page=N][&view=text][&lang=nl|en]: a small HTML page. A PDF shows
  page N (default: the page the span starts on) as an image drawn on the server (pdfpage.py, no
  pdf.js, nothing from outside) with boxes over the cited sentence (highlight.py), "page N of M",
  previous/next links and a link to the original file. Any other document (and `view=text`) shows
  its indexed text with the span in <mark id="cited">, scrolled into view.
- image?source=ID&page=N: the page as PNG.  file?source=ID: the original PDF (application/pdf).

Only documents in the live index can be opened, by their source id: the file is found from the id
the index holds (documents.source_file), never from a path in the URL, and must lie inside its
folder. A Woo bundle's part opens its bundle at its own pages (the part's page numbers are the
bundle's, woo.py); a mail's attachment, or a document whose folder the index does not record,
shows its indexed text. With a login (serve(auth=...)) these routes need the page's login too
(Gradio's session cookie), else 401.
"""

from __future__ import annotations

import functools
import html
import inspect
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from .. import documents
from ..errors import InputError
from ..pages import page_at
from ..types import Document
from . import highlight, i18n, pdfpage
from .i18n import t as _t

PREFIX = "/viewer"
MAX_PAGE = 100_000  # a page number beyond any real document: refused before a child process is started
RENDERS = threading.BoundedSemaphore(2)  # children at once (2 cores); more wait up to RENDER_TIMEOUT_S, then 503
# Characters of a text document sent at most (~0.5 MB of HTML): a longer one shows the part around the
# cited span and says which part, so a huge file never stalls the browser or the server.
MAX_TEXT_CHARS = 400_000
CACHE_PAGES = 32  # pages' images and text layers kept (the page and its image are asked for together)


@dataclass(frozen=True)
class Located:
    """A document of the live index and where its pages are: `pdf` is the PDF file its page numbers
    refer to (its own, or its Woo bundle's), None when only its indexed text can be shown."""
    source: str
    doc: Document
    pdf: Path | None


class NotInIndex(LookupError):
    """The id names no document of the live index (answered 404)."""


def locate(idx, index_dir: Path, seeds_dir: Path, source: str) -> Located:
    """The document `source` names in `idx` (the live index) and its PDF file, when it has one we may
    serve; NotInIndex for any other id (a path, a traversal, a removed document)."""
    doc = idx.docs.get(source) if isinstance(source, str) else None
    if doc is None:
        raise NotInIndex(f"no document {source!r} in the index")
    return Located(source, doc, _pdf_of(doc, index_dir, seeds_dir))


def _pdf_of(doc: Document, index_dir: Path, seeds_dir: Path) -> Path | None:
    # A bundle's part lives in its bundle (meta.part_of); a mail's attachment has part_of the mail,
    # which is not a PDF: text view.
    file_source = doc.meta.part_of or doc.source
    if not doc.pages or not file_source.lower().endswith(".pdf"):
        return None
    try:
        folder, path = documents.source_file(index_dir, seeds_dir, file_source)
    except InputError:
        return None  # a folder the index does not record, or the file is gone
    folder, real = Path(folder).resolve(), path.resolve()
    if not real.is_relative_to(folder) or not real.is_file():
        return None  # a symlink out of the folder: never served
    return real


def span_of(p: dict, quote_: dict | None) -> tuple[int, int]:
    """The span of passage `p` to highlight: the answer's quote when it lies in it, else the first
    sentence that matched the question, else the whole passage (as conversation.cited_sentence)."""
    lo, hi = p["start"], p["end"]
    if quote_ and quote_.get("source") == p["source"] and lo <= quote_["start"] and quote_["end"] <= hi:
        return quote_["start"], quote_["end"]
    for a, b in p.get("matches") or ():
        if lo <= a < b <= hi:
            return a, b
    return lo, hi


def open_href(p: dict, quote_: dict | None, lang: str) -> str:
    """The link (relative to the chat page) that opens passage `p` in the viewer."""
    start, end = span_of(p, quote_)
    query = {"source": p["source"], "start": start, "end": end, "lang": lang}
    if p.get("page") is not None:
        query["page"] = p["page"]
    return f"viewer/open?{urlencode(query)}"


def open_link(p: dict, quote_: dict | None, lang: str, short: bool = False) -> str:
    """<a> opening passage `p` in a new tab: "Open at page N" (a PDF) or "Open document"."""
    page = p.get("page")
    label = _t(lang, "viewer.open_short") if short else (
        _t(lang, "viewer.open_page", page=page) if page is not None else _t(lang, "viewer.open"))
    return (f'<a class="open-source" href="{html.escape(open_href(p, quote_, lang))}" target="_blank" '
            f'rel="noopener">{html.escape(label)} ↗</a>')


# -- the pages and their parts, bounded --------------------------------------------------------------
class Busy(Exception):
    """All render slots stayed taken (answered 503)."""


def _bounded(fn, path: Path, page: int):
    if not RENDERS.acquire(timeout=pdfpage.RENDER_TIMEOUT_S):
        raise Busy("the page viewer is busy drawing other pages: try again in a moment")
    try:
        st = path.stat()
        return fn(str(path), st.st_mtime_ns, st.st_size, page)
    finally:
        RENDERS.release()


@functools.lru_cache(maxsize=CACHE_PAGES)
def _info(path: str, mtime_ns: int, size: int, page: int) -> pdfpage.PageInfo:
    return pdfpage.page_info(Path(path), page)


@functools.lru_cache(maxsize=CACHE_PAGES)
def _png(path: str, mtime_ns: int, size: int, page: int) -> bytes:
    return pdfpage.page_png(Path(path), page)


def page_text_range(doc: Document, page: int) -> tuple[int, int]:
    """[lo, hi) of `doc.text` on 1-based `page` (empty for a page the document does not have)."""
    if not 1 <= page <= len(doc.pages):
        return 0, 0
    hi = doc.pages[page] if page < len(doc.pages) else len(doc.text)
    return doc.pages[page - 1], hi


# -- HTML ------------------------------------------------------------------------------------------
STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f3f4f6; color: #111; }
header { background: #fff; padding: 0.6em 1em; border-bottom: 1px solid #ddd; position: sticky; top: 0; z-index: 2; }
h1 { font-size: 1.15em; margin: 0 0 0.3em 0; }
nav a, nav span { margin-right: 1em; }
.note { margin-top: 0.4em; color: #92400e; }
#page { position: relative; margin: 1em auto; background: #fff; box-shadow: 0 1px 4px #0003; }
#page img { display: block; width: 100%; height: auto; }
.hl { position: absolute; background: rgba(250, 204, 21, 0.38); outline: 2px solid rgba(217, 119, 6, 0.9);
      mix-blend-mode: multiply; pointer-events: none; }
#text { white-space: pre-wrap; line-height: 1.55; max-width: 52em; margin: 1em auto; background: #fff; padding: 1.5em; }
mark { background: #fde68a; }
"""


def _q(**values) -> str:
    return html.escape(urlencode({k: v for k, v in values.items() if v is not None}))


def _page_html(lang: str, title: str, head: str, body: str, nonce: str, script: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
            f'<style>{STYLE}</style></head><body><header>{head}</header>{body}'
            f'<script nonce="{nonce}">{script}</script></body></html>')


def window(length: int, start: int, end: int, text: str = "", limit: int | None = None) -> tuple[int, int]:
    """The part [lo, hi) of a text of `length` characters to send: all of it up to the limit, else
    `limit` characters centred on [start, end) (the span whole, even when it alone is longer), its
    edges moved to whitespace so no word is cut."""
    limit = MAX_TEXT_CHARS if limit is None else limit
    if length <= limit:
        return 0, length
    room = max(0, limit - (end - start)) // 2
    lo = max(0, start - room)
    hi = min(length, max(end + room, lo + limit))
    lo = max(0, min(lo, hi - max(limit, end - start)))
    if text and lo > 0:
        ws = text.find(" ", lo, start) if start > lo else -1
        lo = ws + 1 if ws >= 0 else lo
    if text and hi < length:
        ws = text.rfind(" ", end, hi)
        hi = ws if ws >= 0 else hi
    return lo, hi


def text_view(loc: Located, start: int | None, end: int | None, lang: str, nonce: str, note: str = "") -> str:
    doc = loc.doc
    text = doc.text
    nav = ""
    if loc.pdf is not None:
        page = page_at(doc.pages, start or 0)
        nav = f'<nav><a id="as-page" href="open?{_q(source=loc.source, start=start, end=end, page=page, lang=lang)}">' \
              f'{html.escape(_t(lang, "viewer.as_page"))}</a></nav>'
    elif doc.pages and not note:  # a paged document whose file is not ours to show (a mail's attachment)
        note = _t(lang, "viewer.text_only")
    cited = start is not None and end is not None and 0 <= start < end <= len(text)
    lo, hi = window(len(text), start if cited else 0, end if cited else 0, text)
    if (lo, hi) != (0, len(text)):
        part = _t(lang, "viewer.window", first=f"{lo + 1:,}", last=f"{hi:,}", total=f"{len(text):,}")
        note = f"{note} {part}".strip()
    if cited:
        body = (html.escape(text[lo:start]) + f'<mark id="cited">{html.escape(text[start:end])}</mark>'
                + html.escape(text[end:hi]))
    else:
        body = html.escape(text[lo:hi])
    head = f'<h1>{html.escape(doc.title)}</h1>{nav}' + (f'<div class="note">{html.escape(note)}</div>' if note else "")
    script = "const m = document.getElementById('cited'); if (m) m.scrollIntoView({block: 'center'});"
    return _page_html(lang, doc.title, head, f'<div id="text">{body}</div>', nonce, script)


def pdf_view(loc: Located, page: int, info: pdfpage.PageInfo, start: int | None, end: int | None, lang: str,
             nonce: str) -> str:
    doc = loc.doc
    notes, boxes = [], ()
    lo, hi = page_text_range(doc, page)
    a, b = (max(start, lo), min(end, hi)) if start is not None and end is not None else (0, 0)
    if b > a:
        if page in doc.ocr_pages:
            notes.append(_t(lang, "viewer.ocr"))
        elif info.rotation % 360:
            notes.append(_t(lang, "viewer.rotated"))
        else:
            found = highlight.find(info.text, info.boxes, doc.text[a:b], info.width, info.height)
            boxes = found.boxes
            if not boxes:
                notes.append(_t(lang, "viewer.not_found"))
            elif not found.exact:
                notes.append(_t(lang, "viewer.partly"))
    elif start is not None and end is not None and end > start and doc.pages:
        notes.append(_t(lang, "viewer.elsewhere", page=page_at(doc.pages, start)))
    keep = dict(source=loc.source, start=start, end=end, lang=lang)
    nav = [f'<span id="page-label">{html.escape(_t(lang, "viewer.page_of", page=page, pages=info.pages))}</span>']
    if page > 1:
        nav.append(f'<a id="prev" href="open?{_q(**keep, page=page - 1)}">{html.escape(_t(lang, "viewer.prev"))}</a>')
    if page < info.pages:
        nav.append(f'<a id="next" href="open?{_q(**keep, page=page + 1)}">{html.escape(_t(lang, "viewer.next"))}</a>')
    nav.append(f'<a id="original" href="file?{_q(source=loc.source)}#page={page}" target="_blank" rel="noopener">'
               f'{html.escape(_t(lang, "viewer.original"))}</a>')
    nav.append(f'<a id="as-text" href="open?{_q(**keep, view="text")}">{html.escape(_t(lang, "viewer.as_text"))}</a>')
    head = (f'<h1>{html.escape(doc.title)}</h1><nav>{"".join(nav)}</nav>'
            + "".join(f'<div class="note">{html.escape(n)}</div>' for n in notes))
    scale = info.scale()
    w, h = max(1, round(info.width * scale)), max(1, round(info.height * scale))
    marks = "".join(f'<div class="hl" style="left:{x.left * 100:.3f}%;top:{x.top * 100:.3f}%;'
                    f'width:{x.width * 100:.3f}%;height:{x.height * 100:.3f}%"></div>' for x in boxes)
    alt = _t(lang, "viewer.image_alt", page=page, title=doc.title)
    body = (f'<div id="page" style="max-width:{w}px"><img id="page-image" src="image?{_q(source=loc.source, page=page)}" '
            f'width="{w}" height="{h}" alt="{html.escape(alt)}">{marks}</div>')
    script = "const m = document.querySelector('.hl'); if (m) m.scrollIntoView({block: 'center'});"
    title = f"{doc.title} · {_t(lang, 'viewer.page_of', page=page, pages=info.pages)}"
    return _page_html(lang, title, head, body, nonce, script)


# -- the routes --------------------------------------------------------------------------------------
def _csp(nonce: str) -> str:
    # Our own markup only: the page image from this server, our script by nonce. Inline styles are
    # allowed (the boxes are placed by style attributes, which a nonce cannot allow; with a nonce in
    # style-src, 'unsafe-inline' would be ignored): every text from a document is escaped anyway.
    return (f"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
            f"script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


async def _logged_in(app, request) -> bool:
    """The page's own login (Gradio's session cookie, as gradio/routes.py get_current_user reads
    it); always true when the chat has no login."""
    if getattr(app, "auth", None) is None and getattr(app, "auth_dependency", None) is None:
        return True
    if getattr(app, "auth_dependency", None) is not None:
        user = app.auth_dependency(request)
        return (await user if inspect.isawaitable(user) else user) is not None
    cookie_id = getattr(app, "cookie_id", "")
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(f"access-token-unsecure-{cookie_id}")
    return bool(token) and app.tokens.get(token) is not None


def _int(value: str | None, name: str, lo: int = 0, hi: int | None = None) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number") from None
    if n < lo or (hi is not None and n > hi):
        raise ValueError(f"{name}={n} is out of range ({lo}..{hi if hi is not None else ''})")
    return n


def install(app, runtime) -> None:
    """Add the viewer's routes to Gradio's FastAPI `app` (demo.app after launch)."""
    from fastapi import Request
    from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
    from starlette.concurrency import run_in_threadpool

    security = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

    def plain(status: int, message: str) -> Response:
        return PlainTextResponse(message, status_code=status, headers=security)

    def guarded(handler):
        async def route(request: Request):
            if not await _logged_in(app, request):
                return plain(401, "Not authenticated: log in to the chat first, then open the link again.")
            q = request.query_params
            settings = runtime.settings
            try:
                loc = locate(runtime.pipeline.index, Path(settings.storage.index_dir), Path(settings.storage.seeds_dir),
                             q.get("source", ""))
                return await run_in_threadpool(handler, loc, q)
            except NotInIndex as e:
                return plain(404, f"{e}: open documents from a citation in the chat")
            except ValueError as e:
                return plain(400, str(e))
            except Busy as e:
                return plain(503, str(e))
            except pdfpage.RenderError as e:
                return plain(404 if e.no_such_page else 500, str(e))
        # FastAPI finds the Request parameter by its annotation; postponed annotations are strings
        # it would look up in this module's globals, where Request (imported here) is not.
        route.__annotations__["request"] = Request
        return route

    def lang_of(q) -> str:
        lang = q.get("lang")
        return lang if lang in i18n.LANGUAGES else i18n.DEFAULT

    def open_page(loc: Located, q) -> Response:
        lang = lang_of(q)
        text_len = len(loc.doc.text)
        start, end = _int(q.get("start"), "start", 0, text_len), _int(q.get("end"), "end", 0, text_len)
        if start is not None and end is not None and end < start:
            raise ValueError(f"end={end} is before start={start}")
        nonce = secrets.token_urlsafe(16)
        headers = {**security, "Content-Security-Policy": _csp(nonce)}
        if loc.pdf is None or q.get("view") == "text":
            return HTMLResponse(text_view(loc, start, end, lang, nonce), headers=headers)
        page = _int(q.get("page"), "page", 1, MAX_PAGE)
        if page is None:
            page = page_at(loc.doc.pages, start or 0)
        try:
            info = _bounded(_info, loc.pdf, page)
        except pdfpage.RenderError as e:
            if e.no_such_page:
                raise
            note = _t(lang, "viewer.render_failed", why=str(e))  # a damaged file: its text instead
            return HTMLResponse(text_view(loc, start, end, lang, nonce, note), headers=headers)
        return HTMLResponse(pdf_view(loc, page, info, start, end, lang, nonce), headers=headers)

    def image(loc: Located, q) -> Response:
        if loc.pdf is None:
            raise NotInIndex(f"{loc.source!r} has no pages to show")
        page = _int(q.get("page"), "page", 1, MAX_PAGE) or 1
        return Response(_bounded(_png, loc.pdf, page), media_type="image/png",
                        headers={**security, "Cache-Control": "private, max-age=300"})

    def original(loc: Located, q) -> Response:
        if loc.pdf is None:
            raise NotInIndex(f"{loc.source!r} has no original PDF the chat can serve")
        return FileResponse(loc.pdf, media_type="application/pdf", filename=loc.pdf.name,
                            content_disposition_type="inline", headers=security)

    for path, handler in (("open", open_page), ("image", image), ("file", original)):
        app.add_api_route(f"{PREFIX}/{path}", guarded(handler), methods=["GET"], include_in_schema=False)
