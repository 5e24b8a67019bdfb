"""The browser's exports (assistant/ui/export_controls.py): "Copy with sources" and the Markdown and
DOCX downloads of the current conversation, in real Chromium (Playwright) with the fakes (hashed
embedder, echo generator) on the seeds plus a generated two-page PDF, so a cited source has a page."""

from __future__ import annotations

import copy
import shutil

import pytest
from docx import Document
from fakes import seeds_runtime
from pdfgen import text_pdf
from test_ui import CHROMIUM, _ask, _browser, _free_port, _wait_language

from assistant import export, ui
from assistant.ui import export_controls, i18n

QUESTION = "Hoeveel elektrische deelfietsen staan er in de proef van Zuiderzee?"
PAGE_2 = ["De gemeente Zuiderzee heeft in 2025 een proef met deelfietsen gestart.",
          "Op twaalf plekken in de gemeente staan samen 140 elektrische deelfietsen.",
          "De proef kost 85.000 euro en loopt tot 1 juli 2026."]
SOURCE = "docs/zuiderzee_fietsbrief.pdf"


@pytest.fixture
def runtime(tmp_path, seeds_dir):
    docs = tmp_path / "docs"
    docs.mkdir()
    for p in seeds_dir.iterdir():
        shutil.copy(p, docs / p.name)
    (docs / "zuiderzee_fietsbrief.pdf").write_bytes(text_pdf([
        ["Raadsinformatiebrief gemeente Zuiderzee", "Datum: 12 maart 2025", "Onderwerp: proef met deelfietsen"],
        PAGE_2]))
    return seeds_runtime(tmp_path / "index", docs)


def _answered(runtime, question=QUESTION) -> list[dict]:
    turns = None
    for turns in ui.run_turn(runtime, question, 3, []):
        turns = copy.deepcopy(turns)
    return turns


def test_conversation_of_the_tab_keeps_finished_turns_with_pages(runtime):
    turns = _answered(runtime)
    conv = export_controls.conversation(runtime, turns)
    assert conv.title == QUESTION and len(conv.turns) == 1
    t = conv.turns[0]
    assert t.quote and t.quote_n == 1 and t.sources[0].source == SOURCE and t.sources[0].page == 2
    assert t.models["llm"].endswith("(echo)")
    running = turns + [{**turns[0], "state": "streaming", "question": "Nog bezig?"}]
    assert len(export_controls.conversation(runtime, running).turns) == 1  # only finished turns


def test_copy_html_holds_the_markdown_as_text_in_both_languages():
    md = "# Q <script>alert(1)</script>\n"
    for lang in i18n.LANGUAGES:
        h = export_controls.copy_html(lang, md)
        assert i18n.t(lang, "export.copy") in h and "<script>" not in h and "&lt;script&gt;" in h
        assert " disabled" not in h.split(">")[0]
        assert " disabled" in export_controls.copy_html(lang, "").split(">")[0]


def test_files_are_replaced_per_tab_and_removed(runtime):
    files = export_controls.Files()
    conv = export_controls.conversation(runtime, _answered(runtime))
    md1, docx1 = files.write("tab", conv, "nl")
    assert md1.is_file() and docx1.is_file() and md1.parent.parent == files.root
    md2, _ = files.write("tab", conv, "en")
    assert md2.is_file() and not md1.exists() and not docx1.exists()  # a tab keeps one set of files
    other, _ = files.write("other", conv, "en")
    files.forget("tab")
    assert not md2.exists() and other.is_file()
    shutil.rmtree(files.root)


def test_browser_copy_and_downloads_with_fakes(runtime, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    demo, url = ui.serve(runtime, "127.0.0.1", _free_port())
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                # Dutch: the page is built in English, so the Dutch labels show that the tab's load event
                # has run (typing before it ran would race its re-render of the question box).
                context = browser.new_context(locale="nl-NL", viewport={"width": 1300, "height": 900},
                                              permissions=["clipboard-read", "clipboard-write"], accept_downloads=True)
                page = context.new_page()
                page.goto(url)
                _wait_language(page, "nl")
                page.wait_for_function("document.querySelector('#export-copy button.copy-sources').textContent"
                                       f" === {i18n.t('nl', 'export.copy')!r}")
                assert page.locator("#export-copy button.copy-sources").is_disabled()  # nothing to copy yet
                _ask(page, QUESTION, 60_000)
                page.wait_for_selector("#export-copy button.copy-sources:not([disabled])")
                page.wait_for_selector("#export-md:not([disabled])")

                with page.expect_download() as got:
                    page.click("#export-md")
                md_path = tmp_path / "downloaded.md"
                got.value.save_as(md_path)
                assert got.value.suggested_filename.endswith(".md")
                md = md_path.read_text(encoding="utf-8")
                assert md.startswith(f"# {QUESTION}\n") and "Geëxporteerd op " in md  # the header in the tab's language
                assert f"## 1. {QUESTION}" in md
                quote_line = next(line for line in md.splitlines() if line.startswith("> «"))
                assert "140 elektrische deelfietsen" in quote_line and quote_line.endswith("» [1]")
                answer = page.locator("#conversation .turn .answer-text").first.inner_text().strip()
                assert answer.endswith("[1]") and answer in md  # the answer as the page shows it, with its [1]
                source_line = next(line for line in md.splitlines() if line.startswith("- [1] "))
                assert "Raadsinformatiebrief gemeente Zuiderzee" in source_line and "2025-03-12" in source_line
                assert ", p. 2: «" in source_line and "140 elektrische deelfietsen" in source_line
                assert f"document: `{SOURCE}`" in md

                with page.expect_download() as got:
                    page.click("#export-docx")
                docx_path = tmp_path / "downloaded.docx"
                got.value.save_as(docx_path)
                assert got.value.suggested_filename.endswith(".docx")
                doc = Document(str(docx_path))
                text = "\n".join(p.text for p in doc.paragraphs)
                quote = next(p for p in doc.paragraphs if p.style.name == "Quote")
                assert "140 elektrische deelfietsen" in quote.text and quote.text.endswith("» [1]")
                assert answer in text
                s1 = next(p.text for p in doc.paragraphs if p.text.startswith("[1]\t"))
                assert "Raadsinformatiebrief gemeente Zuiderzee" in s1 and "2025-03-12" in s1 and ", p. 2: «" in s1
                assert SOURCE in s1

                page.click("#export-copy button.copy-sources")
                page.wait_for_function("document.querySelector('#export-copy .copy-status').textContent.length > 0")
                assert page.locator("#export-copy .copy-status").inner_text() == i18n.t("nl", "export.copied")
                assert page.evaluate("navigator.clipboard.readText()") == md  # the same Markdown as the download

                # The labels follow the language switch; the next conversation starts with nothing to export.
                page.locator("#lang-switch label").filter(has_text="EN").click()
                _wait_language(page, "en")
                page.wait_for_function("document.querySelector('#export-copy button.copy-sources').textContent"
                                       f" === {i18n.t('en', 'export.copy')!r}")
                assert i18n.t("en", "export.markdown") in page.locator("#export-md").inner_text()
                page.wait_for_function("document.querySelector('#export-copy textarea').value.includes('Exported ')")
                page.click("#export-copy button.copy-sources")
                page.wait_for_function("document.querySelector('#export-copy .copy-status').textContent"
                                       f" === {i18n.t('en', 'export.copied')!r}")
                assert page.evaluate("navigator.clipboard.readText()").startswith(f"# {QUESTION}\n\n_Exported ")
                page.click("#new-conversation")
                page.wait_for_selector("#conversation .conv .empty")
                page.wait_for_selector("#export-copy button.copy-sources[disabled]")
                page.wait_for_selector("#export-md[disabled]")
            finally:
                browser.close()
    finally:
        demo.close()


def test_browser_copy_falls_back_without_the_clipboard_api_with_fakes(runtime):
    """On a plain-http address in the network there is no navigator.clipboard (not a secure
    context): the textarea fallback copies the same Markdown."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    demo, url = ui.serve(runtime, "127.0.0.1", _free_port())
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                context = browser.new_context(locale="nl-NL", viewport={"width": 1300, "height": 900},
                                              permissions=["clipboard-read", "clipboard-write"])
                page = context.new_page()
                # As on a non-secure page: the page's scripts see no clipboard API.
                page.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined})")
                page.goto(url)
                _wait_language(page, "nl")
                page.wait_for_function("document.querySelector('#export-copy button.copy-sources').textContent"
                                       f" === {i18n.t('nl', 'export.copy')!r}")
                _ask(page, QUESTION, 60_000)
                page.wait_for_selector("#export-copy button.copy-sources:not([disabled])")
                assert page.evaluate("navigator.clipboard === undefined")
                page.click("#export-copy button.copy-sources")
                page.wait_for_function("document.querySelector('#export-copy .copy-status').textContent"
                                       f" === {i18n.t('nl', 'export.copied')!r}")
                expected = page.evaluate("document.querySelector('#export-copy textarea.export-markdown').value")
                assert expected.startswith(f"# {QUESTION}") and ", p. 2: «" in expected
                reader = context.new_page()  # a page with the clipboard API reads what was copied
                reader.goto(url)
                assert reader.evaluate("navigator.clipboard.readText()") == expected
            finally:
                browser.close()
    finally:
        demo.close()
