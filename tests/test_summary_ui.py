"""Summaries in the browser, with fakes: a request typed in the chat and a document row's
"Samenvatten" button each put a summary turn into the conversation whose [n] open the section."""

import pytest

from test_summary import CopyingGenerator
from test_ui import CHROMIUM, _browser, _fake_server, _wait_language

AMERSFOORT = "seeds/002_13e9976e58154e2c.txt"
ALTENA = "seeds/004_cdb15e3e631d770e.txt"


def _last_done_turn(page, n: int):
    page.wait_for_selector(f'#conversation .turn[data-turn="{n}"][data-state="done"]', timeout=60_000)
    turn = page.locator("#conversation .turn").nth(n)
    assert turn.locator(".error").count() == 0, turn.inner_text()
    return turn


def _open(page, turn, n: int):
    turn.locator(f'.answer-text button.cite[data-cite="{n}"]').first.click()
    page.wait_for_selector(f'#source-panel .source[data-n="{n}"]', timeout=10_000)
    return page.locator("#source-panel .source")


def test_browser_summary_from_the_chat_and_from_the_document_panel_with_fakes(tmp_path, seeds_dir):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    runtime, demo, url = _fake_server(tmp_path, seeds_dir, CopyingGenerator())
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                page = browser.new_context(locale="nl-NL", viewport={"width": 1300, "height": 900}).new_page()
                page.goto(url)
                _wait_language(page, "nl")
                page.wait_for_function("document.querySelectorAll('#documents-list tr.doc-row').length === 5")

                page.fill("#question textarea", "Vat de brief over Amersfoort samen")
                page.click("#send")
                turn = _last_done_turn(page, 0)
                assert "Samengevatte delen" in turn.locator("details.passages summary").inner_text()
                cites = turn.locator(".answer-text button.cite")
                assert cites.count() >= 3
                source = _open(page, turn, 2)
                assert source.get_attribute("data-source") == AMERSFOORT
                section = runtime.pipeline.index.docs[AMERSFOORT].text[
                    int(source.get_attribute("data-start")):int(source.get_attribute("data-end"))]
                assert " ".join(section.split())[:60] in " ".join(source.locator(".cited-span").inner_text().split())

                row = page.locator(f'#documents-list tr.doc-row[data-source="{ALTENA}"]')
                row.locator("button.doc-summarize").click()
                turn2 = _last_done_turn(page, 1)
                assert turn2.locator(".q").inner_text().endswith("Vat samen: " + runtime.pipeline.index.docs[ALTENA].title)
                assert _open(page, turn2, 1).get_attribute("data-source") == ALTENA
            finally:
                browser.close()
    finally:
        demo.close()
