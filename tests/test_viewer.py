"""Open the source (assistant/ui/viewer.py): a citation opens its document at its page, the cited
sentence marked. Box finding on real PDF pages (PDFium in a child process), the id -> file mapping
and its refusals, the routes of a really served app (fakes for the models) with and without a
login, and the whole click path in headless Chromium."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fakes import seeds_runtime
from pdfgen import text_pdf

from assistant import ui
from assistant.metadata import DocMeta
from assistant.types import Document
from assistant.ui import highlight, pdfpage, viewer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SENTENCE = "De gemeente Zuiderzee bouwt in 2027 een fietsbrug van zeventig meter over de Vaart."
PAGES = [  # the distinctive sentence on page 3, over two lines with a hyphenated word
    ["Pagina een: de begroting van de gemeente voor het komende jaar.", "Er zijn geen bijzonderheden."],
    ["Pagina twee: het verslag van de raadsvergadering over de bibliotheek.", "De raad stemt in met het voorstel."],
    ["Inleiding bij de plannen.", "De gemeente Zuiderzee bouwt in 2027 een fiets-", "brug van zeventig meter over de Vaart.",
     "Daarna volgt de aanbesteding."],
    ["Pagina vier: bijlagen en ondertekening."],
]
QUESTION = "Hoe lang wordt de fietsbrug over de Vaart in Zuiderzee?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def brief(tmp_path) -> Path:
    path = tmp_path / "in" / "fietsbrug.pdf"
    path.parent.mkdir()
    path.write_bytes(text_pdf(PAGES))
    return path


# -- box finding -------------------------------------------------------------------------------------
def test_boxes_cover_the_sentence_across_a_line_break_and_a_hyphen(brief):
    info = pdfpage.page_info(brief, 3)
    assert info.pages == 4 and (info.width, info.height) == (595.0, 842.0)
    # The index's text of the sentence: pypdf's line break and hyphen, not PDFium's.
    found = highlight.find(info.text, info.boxes, "De gemeente Zuiderzee bouwt in 2027 een fiets-\nbrug van zeventig "
                           "meter over de Vaart.", info.width, info.height)
    assert found.exact and len(found.boxes) == 2  # one box per line
    first, second = found.boxes
    for b in found.boxes:
        assert 0 <= b.left < b.left + b.width <= 1 and 0 <= b.top < b.top + b.height <= 1
    # The lines are the page's 2nd and 3rd (text from y=800 down, 14 pt apart), the first below the second.
    assert first.top < second.top
    assert abs(first.top - (842 - 786 - 8) / 842) < 0.01, first  # line 2: baseline 786, ~8 pt high
    assert first.left == pytest.approx(50 / 595, abs=0.01)
    # Case, spacing and punctuation do not matter; a sentence that is not there gives no boxes.
    assert highlight.find(info.text, info.boxes, "de GEMEENTE zuiderzee bouwt", info.width, info.height).boxes
    missing = highlight.find(info.text, info.boxes, "De bibliotheek gaat dicht op zondag.", info.width, info.height)
    assert missing.boxes == () and not missing.exact


def test_a_sentence_that_differs_a_little_is_marked_where_it_agrees(brief):
    info = pdfpage.page_info(brief, 3)
    changed = "De gemeente Zuiderzee bouwt in 2028 een fietsbrug van zeventig meter over de Vaart."
    found = highlight.find(info.text, info.boxes, changed, info.width, info.height)
    assert found.boxes and not found.exact
    # Too little in common: nothing marked rather than something wrong.
    assert highlight.find(info.text, info.boxes, "Zuiderzee bouwt een tunnel onder het IJ bij Amsterdam-Noord.",
                          info.width, info.height).boxes == ()


def test_synthetic_boxes_merge_per_line_and_skip_generated_characters():
    text = "ab cd\nef"
    boxes = [(10, 100, 20, 110), (20, 100, 30, 110), (0, 0, 0, 0), (40, 100, 50, 110), (50, 100, 60, 110),
             (0, 0, 0, 0), (10, 80, 20, 90), (20, 80, 30, 90)]
    found = highlight.find(text, boxes, "bc d e", 200, 200)
    assert found.exact and len(found.boxes) == 2
    line1, line2 = found.boxes
    assert line1.left == pytest.approx((20 - highlight.PAD) / 200) and line1.width == pytest.approx((40 + 2 * highlight.PAD) / 200)
    assert line2.top == pytest.approx((200 - 90 - highlight.PAD) / 200)


# -- rendering, bounded -------------------------------------------------------------------------------
def test_page_image_is_a_png_of_the_page_and_its_size_is_capped(brief, tmp_path):
    png = pdfpage.page_png(brief, 3)
    assert png.startswith(b"\x89PNG")
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (w, h) == (round(595 * pdfpage.MAX_SCALE), round(842 * pdfpage.MAX_SCALE))
    huge = tmp_path / "huge.pdf"  # a 5 m square page (PDFium repairs the shifted xref)
    huge.write_bytes(text_pdf([["Groot"]]).replace(b"/MediaBox [0 0 595 842]", b"/MediaBox [0 0 14400 14400]"))
    png = pdfpage.page_png(huge, 1)
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert max(w, h) <= pdfpage.MAX_IMAGE_PX and w == h


def test_rendering_is_bounded_in_time_and_pages(brief, monkeypatch):
    with pytest.raises(pdfpage.RenderError, match="page 9 is not in the file") as e:
        pdfpage.page_info(brief, 9)
    assert e.value.no_such_page
    monkeypatch.setattr(pdfpage, "RENDER_TIMEOUT_S", 0.01)  # less than starting Python takes
    with pytest.raises(pdfpage.RenderError, match="took longer than"):
        pdfpage.page_png(brief, 1)
    monkeypatch.undo()
    # The memory limit is really set on the child: with too little, PDFium cannot even load.
    monkeypatch.setattr(pdfpage, "MEMORY_LIMIT_BYTES", 24 * 1024 * 1024)
    with pytest.raises(pdfpage.RenderError, match="could not be read"):
        pdfpage.page_png(brief, 1)
    monkeypatch.undo()
    assert pdfpage.page_png(brief, 1).startswith(b"\x89PNG")


def test_a_damaged_file_is_an_error_not_a_crash(tmp_path):
    bad = tmp_path / "kapot.pdf"
    bad.write_bytes(b"%PDF-1.4\n garbage")
    with pytest.raises(pdfpage.RenderError, match="kapot.pdf could not be read") as e:
        pdfpage.page_info(bad, 1)
    assert not e.value.no_such_page


# -- which file a source id opens ---------------------------------------------------------------------
def _doc(source, pages=(0,), part_of=None, text="tekst", ocr_pages=()):
    return Document(source=source, title=source, text=text, sha256="x", pages=tuple(pages), ocr_pages=ocr_pages,
                    meta=DocMeta(part_of=part_of))


@pytest.fixture
def folders(tmp_path):
    index_dir, seeds = tmp_path / "index", tmp_path / "seeds"
    (index_dir / "uploads").mkdir(parents=True)
    seeds.mkdir()
    (index_dir / "uploads" / "brief.pdf").write_bytes(text_pdf(PAGES))
    (index_dir / "uploads" / "notitie.txt").write_text("tekst", encoding="utf-8")
    (seeds / "bundel.pdf").write_bytes(text_pdf(PAGES))
    (tmp_path / "geheim.pdf").write_bytes(text_pdf([["geheim"]]))
    (index_dir / "uploads" / "link.pdf").symlink_to(tmp_path / "geheim.pdf")
    docs = [_doc("uploads/brief.pdf", (0, 10, 20, 30)), _doc("uploads/notitie.txt", ()),
            _doc("seeds/bundel.pdf#3", (0, 0, 0, 5), part_of="seeds/bundel.pdf"),
            _doc("uploads/mail.eml#bijlage.pdf", (0, 10), part_of="uploads/mail.eml"),
            _doc("uploads/link.pdf"), _doc("elders/los.pdf"), _doc("uploads/weg.pdf")]
    idx = SimpleNamespace(docs={d.source: d for d in docs})
    return idx, index_dir, seeds


def test_a_source_id_maps_to_its_file_or_to_its_text(folders):
    idx, index_dir, seeds = folders
    loc = viewer.locate(idx, index_dir, seeds, "uploads/brief.pdf")
    assert loc.pdf == (index_dir / "uploads" / "brief.pdf").resolve() and loc.doc is idx.docs["uploads/brief.pdf"]
    # A Woo bundle's part opens its bundle (its page numbers are the bundle's).
    assert viewer.locate(idx, index_dir, seeds, "seeds/bundel.pdf#3").pdf == (seeds / "bundel.pdf").resolve()
    # Text view: no pages, a mail's attachment, a folder the index does not record, a file that is gone,
    # and a symlink out of the uploads folder (never served).
    for source in ("uploads/notitie.txt", "uploads/mail.eml#bijlage.pdf", "elders/los.pdf", "uploads/weg.pdf",
                   "uploads/link.pdf"):
        assert viewer.locate(idx, index_dir, seeds, source).pdf is None, source


@pytest.mark.parametrize("source", ["../../etc/passwd", "/etc/passwd", "uploads/../../../etc/passwd",
                                    "uploads/%2e%2e/brief.pdf", "uploads/brief.pdf/", "uploads\\brief.pdf",
                                    "", "uploads/onbekend.pdf", "seeds/bundel.pdf"])
def test_only_documents_of_the_index_open(folders, source):
    idx, index_dir, seeds = folders
    with pytest.raises(viewer.NotInIndex, match="no document"):
        viewer.locate(idx, index_dir, seeds, source)


def test_the_link_marks_the_quote_else_the_matching_sentence():
    p = {"n": 1, "source": "uploads/a.pdf", "start": 100, "end": 300, "page": 3, "matches": [[150, 200]]}
    assert viewer.span_of(p, None) == (150, 200)
    assert viewer.span_of(p, {"source": "uploads/a.pdf", "start": 210, "end": 260}) == (210, 260)
    assert viewer.span_of(p, {"source": "uploads/b.pdf", "start": 210, "end": 260}) == (150, 200)
    assert viewer.span_of({**p, "matches": []}, None) == (100, 300)
    link = viewer.open_link(p, None, "nl")
    assert 'href="viewer/open?source=uploads%2Fa.pdf&amp;start=150&amp;end=200&amp;lang=nl&amp;page=3"' in link
    assert "Openen op pagina 3" in link and 'target="_blank"' in link and 'rel="noopener"' in link
    assert "Open document" in viewer.open_link({**p, "page": None}, None, "en")


def test_an_ocr_page_is_shown_without_boxes_and_says_why(brief):
    text = "\n\n".join("\n".join(lines) for lines in PAGES)
    starts = [0]
    for lines in PAGES[:-1]:
        starts.append(starts[-1] + len("\n".join(lines)) + 2)
    doc = Document("uploads/scan.pdf", "Scan", text, "x", tuple(starts), ocr_pages=(3,))
    loc = viewer.Located(doc.source, doc, brief)
    a = text.index("De gemeente Zuiderzee")
    info = pdfpage.page_info(brief, 3)
    page = viewer.pdf_view(loc, 3, info, a, a + 40, "en", "n")
    assert "read by OCR" in page and 'class="hl"' not in page
    plain = viewer.pdf_view(viewer.Located(doc.source, Document(**{**doc.__dict__, "ocr_pages": ()}), brief),
                            3, info, a, a + 40, "en", "n")
    assert plain.count('class="hl"') == 1 and "OCR" not in plain
    # Another page than the cited one: no boxes, and where the passage is.
    other = viewer.pdf_view(loc, 2, pdfpage.page_info(brief, 2), a, a + 40, "nl", "n")
    assert "staat op pagina 3" in other and 'class="hl"' not in other


# -- the routes of a served app ---------------------------------------------------------------------
@pytest.fixture
def served(tmp_path, seeds_dir, brief):
    runtime = seeds_runtime(tmp_path / "index", seeds_dir)
    assert runtime.add_files([brief]).report.added == ["uploads/fietsbrug.pdf"]
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port())
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=60) as client:
            yield runtime, client
    finally:
        demo.close()


def test_served_pdf_page_image_and_original(served):
    runtime, client = served
    doc = runtime.pipeline.index.docs["uploads/fietsbrug.pdf"]
    a = doc.text.index("De gemeente Zuiderzee")
    b = doc.text.index("Vaart.") + len("Vaart.")
    r = client.get("/viewer/open", params={"source": doc.source, "start": a, "end": b, "lang": "nl"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert '<span id="page-label">pagina 3 van 4</span>' in r.text  # the page the span starts on
    assert r.text.count('class="hl"') == 2 and 'id="prev"' in r.text and 'id="next"' in r.text
    img = client.get("/viewer/image", params={"source": doc.source, "page": 3})
    assert img.status_code == 200 and img.headers["content-type"] == "image/png" and img.content.startswith(b"\x89PNG")
    pdf = client.get("/viewer/file", params={"source": doc.source})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == (runtime.uploads_dir / "fietsbrug.pdf").read_bytes()
    assert '#page=3"' in r.text  # the original, opened at the page in the browser's own viewer
    # Page 4 (next): shown, no boxes, says where the passage is.
    r4 = client.get("/viewer/open", params={"source": doc.source, "start": a, "end": b, "page": 4})
    assert "page 4 of 4" in r4.text and 'class="hl"' not in r4.text and "is on page 3" in r4.text


def test_served_text_document_marks_the_span(served):
    runtime, client = served
    source = next(s for s in runtime.pipeline.index.docs if s.startswith("seeds/"))
    doc = runtime.pipeline.index.docs[source]
    a = doc.text.index(". ") + 2
    r = client.get("/viewer/open", params={"source": source, "start": a, "end": a + 60})
    assert r.status_code == 200
    import html

    marked = re.search(r'<mark id="cited">(.*?)</mark>', r.text, re.S).group(1)
    assert html.unescape(marked) == doc.text[a:a + 60]
    assert "scrollIntoView" in r.text
    # The PDF as text too (view=text), with a way back to the page.
    pdf = runtime.pipeline.index.docs["uploads/fietsbrug.pdf"]
    r = client.get("/viewer/open", params={"source": pdf.source, "start": 5, "end": 20, "view": "text"})
    assert '<mark id="cited">' in r.text and 'id="as-page"' in r.text
    # A text document has no image or original PDF.
    assert client.get("/viewer/image", params={"source": source, "page": 1}).status_code == 404
    assert client.get("/viewer/file", params={"source": source}).status_code == 404


@pytest.mark.parametrize("path,params,status", [
    ("/viewer/open", {"source": "../../../../etc/passwd"}, 404),
    ("/viewer/file", {"source": "/etc/passwd"}, 404),
    ("/viewer/image", {"source": "uploads/../uploads/fietsbrug.pdf", "page": 1}, 404),
    ("/viewer/open", {"source": "uploads/nergens.pdf"}, 404),
    ("/viewer/open", {}, 404),
    ("/viewer/open", {"source": "uploads/fietsbrug.pdf", "page": 9}, 404),
    ("/viewer/image", {"source": "uploads/fietsbrug.pdf", "page": 9}, 404),
    ("/viewer/image", {"source": "uploads/fietsbrug.pdf", "page": 0}, 400),
    ("/viewer/image", {"source": "uploads/fietsbrug.pdf", "page": 10 ** 9}, 400),
    ("/viewer/open", {"source": "uploads/fietsbrug.pdf", "page": "drie"}, 400),
    ("/viewer/open", {"source": "uploads/fietsbrug.pdf", "start": 50, "end": 10}, 400),
    ("/viewer/open", {"source": "uploads/fietsbrug.pdf", "start": -1, "end": 10}, 400),
    ("/viewer/open", {"source": "uploads/fietsbrug.pdf", "start": 0, "end": 10 ** 9}, 400),
])
def test_served_refusals(served, path, params, status):
    _, client = served
    r = client.get(path, params=params)
    assert r.status_code == status, (path, params, r.status_code, r.text[:200])
    assert "root:" not in r.text


def test_a_woo_bundle_part_opens_its_bundle_at_its_page(tmp_path, seeds_dir):
    from test_woo import _bundle

    runtime = seeds_runtime(tmp_path / "index", seeds_dir)
    bundle = _bundle(tmp_path) / "woo-besluit.pdf"
    runtime.add_files([bundle])
    part = runtime.pipeline.index.docs["uploads/woo-besluit.pdf#3"]
    assert part.meta.part_of == "uploads/woo-besluit.pdf"
    a = part.text.index("De provincie steunt")
    loc = viewer.locate(runtime.pipeline.index, runtime.settings.storage.index_dir, runtime.settings.storage.seeds_dir,
                        part.source)
    assert loc.pdf == (runtime.uploads_dir / "woo-besluit.pdf").resolve()
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port())
    try:
        r = httpx.get(url.rstrip("/") + "/viewer/open", params={"source": part.source, "start": a, "end": a + 52})
        assert r.status_code == 200 and "page 5 of 9" in r.text and r.text.count('class="hl"') == 1, r.text[-800:]
    finally:
        demo.close()


def test_with_a_login_the_viewer_needs_it_too(tmp_path, seeds_dir, brief):
    runtime = seeds_runtime(tmp_path / "index", seeds_dir)
    runtime.add_files([brief])
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port(), auth=("ana", "ge:heim"))
    paths = [("/viewer/open", {"source": "uploads/fietsbrug.pdf", "start": 0, "end": 10}),
             ("/viewer/image", {"source": "uploads/fietsbrug.pdf", "page": 1}),
             ("/viewer/file", {"source": "uploads/fietsbrug.pdf"}),
             ("/viewer/open", {"source": "../../etc/passwd"})]  # 401 before anything is looked up
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=60) as anon:
            for path, params in paths:
                r = anon.get(path, params=params)
                assert r.status_code == 401 and "Not authenticated" in r.text, (path, r.status_code)
            anon.cookies.set(f"access-token-{demo.app.cookie_id}", "guessed")
            assert anon.get(*paths[0][:1], params=paths[0][1]).status_code == 401
        with httpx.Client(base_url=url.rstrip("/"), timeout=60) as user:
            assert user.post("/login", data={"username": "ana", "password": "ge:heim"}).status_code == 200
            for path, params in paths[:3]:
                assert user.get(path, params=params).status_code == 200, path
            assert user.get(*paths[3][:1], params=paths[3][1]).status_code == 404
    finally:
        demo.close()


# -- the whole path in a real browser -----------------------------------------------------------------
def _check_pdf_tab(context, link, label: str) -> None:
    """Click `link` (an "open at page 3" link): the new tab shows page 3 of 4 (`label`), its image
    loaded, and boxes over the sentence inside it; its original is served as a PDF at #page=3."""
    with context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state("load")
    assert "3" in tab.locator("#page-label").inner_text() and tab.locator("#page-label").inner_text() == label
    tab.wait_for_function("document.getElementById('page-image').complete")
    assert tab.evaluate("document.getElementById('page-image').naturalWidth") > 0
    img = tab.locator("#page-image").bounding_box()
    boxes = [b.bounding_box() for b in tab.locator(".hl").all()]
    assert boxes
    for b in boxes:
        assert img["x"] <= b["x"] and b["x"] + b["width"] <= img["x"] + img["width"] + 1, (b, img)
        assert img["y"] <= b["y"] and b["y"] + b["height"] <= img["y"] + img["height"] + 1, (b, img)
        # Placed where the sentence is: a line high, in the page's top tenth (the test PDF writes
        # from 42 pt below the top, 14 pt a line), starting at the left margin.
        assert 0.005 < b["height"] / img["height"] < 0.03 and b["width"] > img["width"] * 0.15, (b, img)
        assert b["y"] - img["y"] < img["height"] * 0.1, (b, img)
        assert abs(b["x"] - img["x"] - img["width"] * 50 / 595) < img["width"] * 0.01, (b, img)
    href = tab.locator("#original").get_attribute("href")
    assert href.endswith("#page=3")
    served = tab.request.get(tab.url.split("/viewer/")[0] + "/viewer/" + href.split("#")[0])
    assert served.headers["content-type"] == "application/pdf" and served.body().startswith(b"%PDF")
    tab.close()


def _check_text_tab(context, link, runtime, source: str) -> None:
    """Click `link` (a text document's "open" link): its indexed text, the span the link names in
    <mark id="cited">, scrolled into view."""
    from urllib.parse import parse_qs, urlparse

    query = parse_qs(urlparse(link.get_attribute("href")).query)
    assert query["source"] == [source]
    start, end = int(query["start"][0]), int(query["end"][0])
    with context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state("load")
    doc = runtime.pipeline.index.docs[source]
    assert tab.locator("mark#cited").inner_text() == doc.text[start:end] and end > start
    assert tab.evaluate("(() => { const r = document.getElementById('cited').getBoundingClientRect();"
                        " return r.top >= 0 && r.bottom <= window.innerHeight; })()")  # scrolled into view
    tab.close()


def _open_passages(turn) -> None:
    """Unfold a turn's passage list (a <details>) if it is folded."""
    details = turn.locator("details.passages")
    if details.get_attribute("open") is None:
        details.locator("summary").click()


def passage_on_page(turn, source: str, page: int) -> int:
    """The number [n] of the turn's passage of `source` on `page` (its list entry says "p. 3"); the
    passage list is opened if folded (also used by test_keep_share.py)."""
    _open_passages(turn)
    for li in turn.locator("li.evidence-item").all():
        if li.locator(".src").text_content().startswith(source + " ") and \
                f"p. {page}" in li.locator("button.passage-link").text_content():
            return int(li.locator("button.passage-link").get_attribute("data-cite"))
    raise AssertionError(f"no passage of {source} on page {page}: {turn.inner_text()[:500]}")


def _list_link(turn, source: str):
    """The "open" link of the first passage of `source` in a turn's list (opened if folded)."""
    _open_passages(turn)
    item = turn.locator("li.evidence-item").filter(has=turn.page.locator(f'.src:text-matches("^{re.escape(source)} ")'))
    return item.first.locator("a.open-source")


def _browse(runtime, url: str, folder_scope: str, real: bool) -> None:
    from playwright.sync_api import sync_playwright
    from test_ui import UPLOAD_Q, _ask, _wait_language

    timeout = 600_000 if real else 120_000
    pdf_source, txt_source = "uploads/fietsbrug.pdf", f"{folder_scope}/deelfietsen.txt"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # Dutch: the page is built in English and turns Dutch when its load event is done (a
            # question typed before that could be lost), and the viewer follows the tab's language.
            context = browser.new_context(locale="nl-NL", viewport={"width": 1300, "height": 900})
            page = context.new_page()
            page.goto(url)
            _wait_language(page, "nl")
            turn = _ask(page, QUESTION, timeout)["turn"]
            # The passage of the PDF on page 3: its citation when the answer has one, else its entry in the list.
            n = passage_on_page(turn, pdf_source, 3)
            cite = turn.locator(f'.answer-text button.cite[data-cite="{n}"]')
            if not real:
                assert n == 1 and cite.count() == 1, n  # the echo generator cites [1]
            if cite.count():
                cite.first.click()
            else:
                _open_passages(turn)
                turn.locator(f'button.passage-link[data-cite="{n}"]').click()
            page.wait_for_selector(f'#source-panel .source[data-n="{n}"][data-source="{pdf_source}"]')
            link = page.locator("#source-panel a.open-source")
            assert link.inner_text().startswith("Openen op pagina 3")
            _check_pdf_tab(context, link, "pagina 3 van 4")

            # A text document, from its "open" link in the passage list.
            turn = _ask(page, UPLOAD_Q, timeout)["turn"]
            link = _list_link(turn, txt_source)
            assert link.inner_text().startswith("openen")
            _check_text_tab(context, link, runtime, txt_source)
        finally:
            browser.close()


def _folder(tmp_path) -> Path:
    from test_ui import UPLOAD_TEXT

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "deelfietsen.txt").write_text(UPLOAD_TEXT, encoding="utf-8")
    return folder


def test_browser_citation_opens_the_pdf_at_its_page_with_fakes(tmp_path, brief):
    """Ask about a sentence on page 3 of an uploaded PDF, click the citation, click "Openen op pagina 3"
    in the source panel: the new tab shows page 3, its image loaded, boxes over the sentence. Then
    a text document's "open" link in the passage list opens its text with the span in <mark id="cited">."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    # A folder of one text document (the hashing embedder of the fakes ranks by shared words: with
    # the seeds' long documents about other things the PDF's short page would not come first).
    runtime = seeds_runtime(tmp_path / "index", _folder(tmp_path))
    runtime.add_files([brief])
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port())
    try:
        _browse(runtime, url, "docs", real=False)
    finally:
        demo.close()


def real_runtime(tmp_path):
    """The real embedder and the tests' small LLM (0.5B) on a text document plus the 4-page PDF
    uploaded, its pages long enough to be chunks of their own (also used by test_keep_share.py)."""
    from assistant import index
    from assistant.config import Settings
    from assistant.ingest import load_folder
    from assistant.pipeline import build, make_embedder

    s = Settings.from_env(llm="qwen2.5-coder-0.5b").with_(index_dir=tmp_path / "index")
    docs, _ = load_folder(_folder(tmp_path))
    index.sync(s.storage.index_dir, docs, make_embedder(s), s.storage.chunk_size, s.storage.chunk_overlap, scope="docs")
    runtime = ui.Runtime(s, build(s, with_llm=True))
    long_pdf = tmp_path / "in" / "fietsbrug.pdf"
    long_pdf.parent.mkdir()
    topics = ["de begroting", "de bibliotheek", "de aanbesteding", "de ondertekening"]
    long_pdf.write_bytes(text_pdf([lines + [f"Regel {i}: de commissie bespreekt {topics[p]} en punt {i} zonder besluit."
                                            for i in range(14)] for p, lines in enumerate(PAGES)]))
    assert runtime.add_files([long_pdf]).report.added == ["uploads/fietsbrug.pdf"]
    return runtime


@pytest.mark.real
def test_browser_citation_opens_the_pdf_at_its_page_real(tmp_path):
    """The same with the real embedder and the tests' small LLM (0.5B), the PDF uploaded, pages long
    enough to be chunks of their own."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    runtime = real_runtime(tmp_path)
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port())
    try:
        _browse(runtime, url, "docs", real=True)
    finally:
        demo.close()


def test_the_text_view_shows_a_documents_markup_as_text():
    text = 'Begin <script>alert(1)</script> midden <img src=x onerror="alert(2)"> eind.'
    doc = Document("uploads/boos.html", "<b>Titel</b>", text, "x")
    a = text.index("<img")
    page = viewer.text_view(viewer.Located(doc.source, doc, None), a, len(text), "en", "abc")
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>Titel" not in page
    assert '<mark id="cited">&lt;img src=x onerror=&quot;alert(2)&quot;&gt; eind.</mark>' in page
    assert page.count("<script") == 1 and '<script nonce="abc">' in page  # our own, allowed by its nonce


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_long_text_shows_the_part_around_the_cited_span(where):
    words = [f"woord{i}" for i in range(200_000)]  # ~1.4 M characters
    text = " ".join(words)
    i = {"start": 10, "middle": 100_000, "end": 199_990}[where]
    start = text.index(f" woord{i} ") + 1
    end = start + len(f"woord{i} woord{i + 1}")
    doc = Document("seeds/lang.txt", "Lang", text, "x")
    page = viewer.text_view(viewer.Located(doc.source, doc, None), start, end, "nl", "abc")
    assert f'<mark id="cited">woord{i} woord{i + 1}</mark>' in page
    assert len(page) < viewer.MAX_TEXT_CHARS + 20_000  # not the 1.4 M characters
    lo, hi = viewer.window(len(text), start, end, text)
    assert lo <= start < end <= hi and hi - lo <= viewer.MAX_TEXT_CHARS
    assert (lo == 0 or text[lo - 1] == " ") and (hi == len(text) or text[hi] == " ")  # no word cut
    assert f"tekens {lo + 1:,} tot {hi:,} van {len(text):,}" in page
    short = Document("seeds/kort.txt", "Kort", "Een korte tekst.", "x")
    assert "tekens" not in viewer.text_view(viewer.Located(short.source, short, None), 4, 10, "nl", "abc")


def test_the_window_keeps_a_span_longer_than_the_limit_whole():
    assert viewer.window(1000, 100, 900, limit=300) == (100, 900)
    assert viewer.window(1000, 0, 10, limit=300) == (0, 300)
    assert viewer.window(1000, 990, 1000, limit=300) == (700, 1000)
    assert viewer.window(200, 50, 60, limit=300) == (0, 200)
