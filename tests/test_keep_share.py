"""Issue 25's browser acceptance in one flow, with the real embedder, the tests' 0.5B LLM and real
Chromium: two questions (a PDF's page-3 passage and a text document), a reload brings the saved
conversation back, its Markdown and DOCX downloads hold the quotes, the answers and the sources with
their pages, and a citation of the restored conversation opens the PDF at its page, the sentence boxed.

The pieces have their own faster tests with fakes (test_history_ui.py, test_ui_export.py,
test_viewer.py); this one checks they work together on real answers."""

from __future__ import annotations

import re

import pytest
from docx import Document
from test_ui import UPLOAD_Q, _ask, _wait_language
from test_viewer import CHROMIUM, CHROMIUM_ARGS, QUESTION, _check_pdf_tab, _free_port, passage_on_page, real_runtime

from assistant import ui

PDF = "uploads/fietsbrug.pdf"
TIMEOUT_MS = 600_000


def _sources(md: str) -> list[tuple[str, str]]:
    """(source line, its document id) of each numbered source of the Markdown export."""
    lines = md.splitlines()
    out = []
    for i, line in enumerate(lines):
        if re.match(r"^- \[\d+\] ", line):
            doc = next((re.search(r"document: `([^`]+)`", l).group(1) for l in lines[i + 1:i + 3]
                        if "document: `" in l), "")
            out.append((line, doc))
    return out


def _lines(answers: list[str]) -> list[str]:
    return [line.strip() for a in answers for line in a.splitlines() if line.strip()]


@pytest.mark.real
def test_ask_reload_export_and_open_the_pdf_page_real(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    runtime = real_runtime(tmp_path)
    docs = runtime.pipeline.index.docs
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port())
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(locale="nl-NL", viewport={"width": 1300, "height": 1000})
                page = context.new_page()
                page.goto(url)
                _wait_language(page, "nl")
                _ask(page, QUESTION, TIMEOUT_MS)
                _ask(page, UPLOAD_Q, TIMEOUT_MS)
                answers = [t.inner_text() for t in page.locator("#conversation .turn .answer-text").all()]
                assert len(answers) == 2 and all(a.strip() for a in answers), answers
                page.wait_for_function("document.querySelectorAll('#conversations-list .conv-row').length === 1",
                                       timeout=60_000)

                # A reload: the same two questions and answers, from the saved conversation.
                page.reload()
                _wait_language(page, "nl")
                page.wait_for_selector('#conversation .turn[data-turn="1"][data-state="done"]', timeout=60_000)
                assert [t.inner_text() for t in page.locator("#conversation .turn .answer-text").all()] == answers
                questions = [q.text_content() for q in page.locator("#conversation .turn .q").all()]
                assert questions[0].endswith(QUESTION) and questions[1].endswith(UPLOAD_Q)

                # The exports of the restored conversation: quote, answer, sources with their pages.
                page.wait_for_selector("#export-md:not([disabled])", timeout=60_000)
                with page.expect_download() as got:
                    page.click("#export-md")
                md_path = tmp_path / "gesprek.md"
                got.value.save_as(md_path)
                md = md_path.read_text(encoding="utf-8")
                assert f"## 1. {QUESTION}" in md and f"## 2. {UPLOAD_Q}" in md
                assert sum(line.startswith("> «") for line in md.splitlines()) >= 1  # a quote, with its [n]
                for line in _lines(answers):  # as the page shows them (paragraphs apart in the file)
                    assert line in md, line
                sources = _sources(md)
                assert sources and all(doc in docs for _, doc in sources), sources
                pdf_lines = [line for line, doc in sources if doc == PDF]
                assert pdf_lines, md  # the first answer rests on the PDF
                for line in pdf_lines:  # each with the page its passage starts on
                    assert re.search(r", p\. [1-4]: «", line), line
                with page.expect_download() as got:
                    page.click("#export-docx")
                docx_path = tmp_path / "gesprek.docx"
                got.value.save_as(docx_path)
                paragraphs = Document(str(docx_path)).paragraphs
                text = "\n".join(p.text for p in paragraphs)
                assert QUESTION in text and UPLOAD_Q in text and all(line in text for line in _lines(answers))
                assert any(p.style.name == "Quote" and p.text.startswith("«") for p in paragraphs)
                assert re.search(r"^\[\d+\]\t.*, p\. [1-4]: «", text, re.M), text

                # A citation of the restored first answer opens the PDF at page 3, the sentence boxed.
                turn = page.locator('#conversation .turn[data-turn="0"]')
                n = passage_on_page(turn, PDF, 3)
                cite = turn.locator(f'.answer-text button.cite[data-cite="{n}"]')
                (cite.first if cite.count() else turn.locator(f'button.passage-link[data-cite="{n}"]')).click()
                page.wait_for_selector(f'#source-panel .source[data-n="{n}"][data-source="{PDF}"]')
                link = page.locator("#source-panel a.open-source")
                assert link.inner_text().startswith("Openen op pagina 3")
                _check_pdf_tab(context, link, "pagina 3 van 4")
            finally:
                browser.close()
    finally:
        demo.close()
