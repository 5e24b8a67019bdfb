"""The browser's filter dropdowns (assistant/ui/filter_controls.py): the logic with fakes, and the
page in real headless Chromium (the fake pipeline: hashed embedder, echo generator)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import seeds_runtime
from test_ui import CHROMIUM, _browser, _free_port

from assistant import ui
from assistant.ui import filter_controls

SEZEN_NL = "Waarom is er voor Traject Sezen geen projectplan opgesteld?"
LOCHEM = "seeds/001_df41d20decff5aed.txt"
SEZEN_DOC = "seeds/000_a4ba55a0b15ccb7c.txt"


@pytest.fixture
def runtime(tmp_path, seeds_dir):
    return seeds_runtime(tmp_path / "index", seeds_dir)


def _last(gen):
    out = None
    for out in gen:
        pass
    return out


def test_choices_come_from_the_index_and_follow_uploads(runtime, tmp_path):
    now = filter_controls.choices(runtime)
    assert now["municipality"] == ["Altena", "Amersfoort", "Blaricum", "Eemnes", "Laren", "Lochem", "Noordoostpolder"]
    assert now["year"] == ["2007", "2014"] and "startgesprek" in now["type"]
    f = tmp_path / "zwolle.txt"
    f.write_text("RAADSVOORSTEL\nDatum: 3 maart 2021\n\nDe gemeente Zwolle vraagt de raad om een besluit over de fietsbrug.",
                 encoding="utf-8")
    runtime.add_files([f])
    now = filter_controls.choices(runtime)
    assert "Zwolle" in now["municipality"] and "2021" in now["year"] and "raadsvoorstel" in now["type"]


def test_a_turn_with_filters_cites_only_matching_documents(runtime):
    where = filter_controls.where_of(municipality=["lochem"])  # checked (and spelled) by run_turn
    turns = _last(ui.run_turn(runtime, SEZEN_NL, 5, [], where=where))
    t = turns[-1]
    assert t["state"] == "done" and not t["error"] and t["passages"]
    assert {p["source"] for p in t["passages"]} == {LOCHEM}
    assert t["where"] == "municipality=Lochem"
    unfiltered = _last(ui.run_turn(runtime, SEZEN_NL, 5, []))[-1]
    assert unfiltered["passages"][0]["source"] == SEZEN_DOC  # without the filter the answer is elsewhere
    assert "Noordoostpolder" in unfiltered["passages"][0]["meta"]


def test_an_impossible_combination_is_a_message_in_the_turn(runtime):
    where = filter_controls.where_of(municipality=["Lochem"], year=["2014"])
    t = _last(ui.run_turn(runtime, SEZEN_NL, 5, [], where=where))[-1]
    assert t["state"] == "done" and t["passages"] == []
    assert "no document matches municipality=Lochem, year=2014" in t["error"]


def _choose(page, key: str, value: str) -> None:
    """Pick a value in a Gradio multiselect dropdown the way a person does: type, then Enter."""
    from playwright.sync_api import expect

    box = page.locator(f"#filter-{key} input")
    box.click()
    box.fill(value)
    page.get_by_role("option", name=value, exact=True).wait_for()  # the option is offered
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(page.locator(f"#filter-{key}")).to_contain_text(value)  # chosen: shown as a token


def _ask(page, question: str) -> None:
    n = page.locator("#conversation .turn").count()
    page.fill("#question textarea", question)
    page.click("#send")
    page.wait_for_selector(f'#conversation .turn:nth-child({n + 1})[data-state="done"]', timeout=60_000)


def test_browser_choosing_a_municipality_restricts_the_cited_sources(runtime):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    demo, url = ui.serve(runtime, "127.0.0.1", _free_port())
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                page = browser.new_page(viewport={"width": 1300, "height": 1000})
                page.goto(url)
                page.wait_for_selector("#filter-municipality")
                _ask(page, SEZEN_NL)  # no filter: the Noordoostpolder document answers
                first = page.locator("#conversation .turn").nth(0)
                assert SEZEN_DOC in first.locator(".evidence-item .src").first.text_content()

                _choose(page, "municipality", "Lochem")
                page.click("#new-conversation")  # the same question again, not as a follow-up
                page.wait_for_selector("#conversation .conv .empty")
                _ask(page, SEZEN_NL)
                second = page.locator("#conversation .turn").nth(0)
                assert second.locator(".query-text").text_content() == SEZEN_NL
                sources = [s.text_content() for s in second.locator(".evidence-item .src").all()]
                assert sources and all(LOCHEM in s for s in sources), sources
                assert "municipality=Lochem" in second.locator(".filters-note").text_content()
                (ARTIFACTS := Path(__file__).resolve().parent / "artifacts").mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "ui-filters.png"), full_page=True)  # to look at
                cited = second.locator(".answer-text button.cite").first
                cited.click()
                page.wait_for_selector("#source-panel .source mark")
                assert page.locator("#source-panel .source").get_attribute("data-source") == LOCHEM
            finally:
                browser.close()
    finally:
        demo.close()
