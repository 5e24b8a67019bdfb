"""The browser chat (assistant/ui/).

Fast tests drive the UI's own logic with the fakes (hashed embedder, echo generator). The
acceptance test (marked real) starts `assistant chat` with the real embedder and the default real
LLM (what a user gets) on a temporary index of seeds/, and drives it in headless Chromium with Playwright.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fakes import EchoGenerator, HashEmbedder, seeds_runtime

from assistant import index, ui
from assistant.config import Settings
from assistant.ingest import load_folder
from assistant.pipeline import build

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
UI_LLM = "qwen2.5-coder-1.5b"  # the default model: the test is the user's main job
SEZEN_Q = "Why was there no projectplan for Sezen?"
UPLOAD_TEXT = """Proef met deelfietsen in Zuiderzee

De gemeente Zuiderzee heeft in 2025 een proef met deelfietsen gestart. Op twaalf plekken in de
gemeente staan samen 140 elektrische deelfietsen, die inwoners met een pasje van de bibliotheek
gratis mogen gebruiken. De proef kost 85.000 euro en loopt tot 1 juli 2026.

Wethouder Marit Kloosterboer wil met de proef het autogebruik voor korte ritten verminderen. Na
afloop beslist de gemeenteraad of de deelfietsen blijven.
"""
UPLOAD_Q = "Hoeveel deelfietsen zijn er in de proef van de gemeente Zuiderzee?"


# -- fast tests with fakes --------------------------------------------------------------------------
@pytest.fixture
def runtime(tmp_path, seeds_dir):
    return seeds_runtime(tmp_path / "index", seeds_dir)


def test_turn_streams_and_renders_clickable_citations(runtime):
    states = [copy.deepcopy(s) for s in ui.run_turn(runtime, "Waarom is er voor Traject Sezen geen projectplan opgesteld?", 3, [])]
    turns = states[-1]
    t = turns[0]
    assert t["state"] == "done" and not t["abstained"] and not t["error"]
    assert t["evidence"] and t["passages"] and 1 in t["citations"]
    assert any(s[0]["text"] and s[0]["state"] == "streaming" for s in states[:-1])  # tokens shown before the end
    # The evidence is on the page before the first answer token.
    first_evidence = next(i for i, s in enumerate(states) if s[0]["evidence"])
    first_text = next(i for i, s in enumerate(states) if s[0]["text"])
    assert first_evidence < first_text and not states[first_evidence][0]["text"]
    assert "Evidence given to the model" in ui.render_conversation(states[first_evidence])
    page = ui.render_conversation(turns)
    assert 'class="cite" data-cite="1" data-turn="0"' in page
    assert 'data-state="done"' in page and "Search query:" in page
    # The quote (the sentence the answer starts from) is on the page before the answer, highlighted.
    first_quote = next(i for i, s in enumerate(states) if s[0]["quote"])
    assert first_quote <= first_text and not states[first_quote][0]["text"]
    q = t["quote"]
    assert runtime.pipeline.index.docs[q["source"]].text[q["start"]:q["end"]] == q["text"]
    assert page.index('class="quote"') < page.index('class="answer-text"')
    import html as _html

    assert _html.escape(" ".join(q["text"].split())) in page and f'data-cite="{q["n"]}"' in page

    panel = ui.render_source(turns, 0, 1)
    p = t["passages"][0]
    doc = runtime.pipeline.index.docs[p["source"]]
    mark = re.search(r'<mark class="cited-span">(.*?)</mark>', panel, re.S).group(1)
    import html

    assert html.unescape(re.sub(r"<[^>]+>", "", mark)) == doc.text[p["start"]:p["end"]] == p["text"]
    assert '<b class="match">' in mark  # the sentences that matched the question are highlighted
    assert html.escape(doc.title) in panel
    assert p["before"] and doc.text[: p["start"]].endswith(p["before"])  # surrounding text, exact


def test_follow_up_sends_history_and_shows_the_query(runtime):
    turns = list(ui.run_turn(runtime, "Waarom is er geen projectplan voor Sezen?", 3, []))[-1]
    seen = {}
    original = runtime.pipeline.assistant.stream

    def spy(question, k=None, history=None):
        seen["history"] = history
        yield from original(question, k, history)

    runtime.pipeline.assistant.stream = spy
    turns = list(ui.run_turn(runtime, "En wie heeft dat besloten?", 3, turns))[-1]
    assert seen["history"] == [(turns[0]["question"], turns[0]["text"])]
    assert turns[1]["query"]  # the echo generator "rewrites" too: the query used is recorded and shown
    assert ui._e(turns[1]["query"]) in ui.render_conversation(turns)


def test_unsupported_and_abstained_are_visible():
    passage = {"n": 1, "source": "s/a.txt", "title": "A <b>", "start": 0, "end": 5, "text": "hallo",
               "score": 1.0, "dense": 0.5, "before": "", "after": " wereld", "cut_before": False,
               "cut_after": False, "exact": True}
    t = ui.new_turn("q?")
    t.update(state="done", text="Iets [1] en [2].", passages=[passage],
             citations={1: {"supported": False, "sentence": "Iets [1]"}}, invalid=[7])
    page = ui.render_conversation([t])
    assert 'class="cite unsupported"' in page and "not supported" in page and "[7]" in page
    assert 'data-cite="2"' not in page  # a number outside the passages is never a link
    assert "A &lt;b&gt;" in page  # titles are escaped
    assert "Not supported" in ui.render_source([t], 0, 1)

    t2 = ui.new_turn("q?")
    t2.update(state="done", text="Niet gevonden.", abstained=True, passages=[passage], evidence=True)
    page = ui.render_conversation([t2])
    assert "Nearest passages (1)" in page and "<details class=\"passages\" data-kind=\"evidence\" open>" in page


def test_upload_is_indexed_swapped_and_bad_files_reported(runtime, tmp_path):
    before = runtime.pipeline
    good = tmp_path / "in" / "zuiderzee.txt"
    good.parent.mkdir()
    good.write_text(UPLOAD_TEXT, encoding="utf-8")
    binary = tmp_path / "in" / "kapot.txt"
    binary.write_bytes(b"\x00\x01\x02garbage")
    exe = tmp_path / "in" / "tool.exe"
    exe.write_bytes(b"MZ")
    stages = []
    result = runtime.add_files([good, binary, exe], progress=lambda *a: stages.append(a))
    assert result.accepted == ["zuiderzee.txt"]
    assert {p.source for p in result.problems} == {"kapot.txt", "tool.exe"}
    assert result.report.added == ["uploads/zuiderzee.txt"]
    assert (runtime.settings.storage.index_dir / "uploads" / "zuiderzee.txt").is_file()
    assert not (runtime.settings.storage.index_dir / "uploads" / "kapot.txt").exists()
    assert {s[0] for s in stages} >= {"checking", "embedding", "loading"}
    assert runtime.pipeline is not before and before.index.docs.get("uploads/zuiderzee.txt") is None
    hits = runtime.pipeline.assistant.search(UPLOAD_Q, 3)
    assert hits[0].chunk.source == "uploads/zuiderzee.txt"
    status = ui.render_upload_status("", result=result)
    assert "Skipped kapot.txt" in status and "Skipped tool.exe" in status and "searchable now" in status
    assert "(1 uploaded)" in ui.render_stats(runtime)


def test_concurrent_uploads_keep_every_document(runtime, tmp_path):
    files = []
    for i in range(3):
        f = tmp_path / f"doc{i}.md"
        f.write_text(f"# Notitie {i}\n\nDe gemeente Zuiderzee noteert feit nummer {i} over fietsen.\n", encoding="utf-8")
        files.append(f)
    errors = []

    def go(f):
        try:
            runtime.add_files([f])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=go, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    on_disk = index.load(runtime.settings.storage.index_dir)
    live = runtime.pipeline.index
    for i in range(3):
        assert f"uploads/doc{i}.md" in on_disk.docs and f"uploads/doc{i}.md" in live.docs
    assert len(on_disk.docs) == 8


def test_safe_name():
    assert ui.safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert ui.safe_name(".hidden.md") == "hidden.md"
    assert ui.safe_name("rapport (1).pdf") == "rapport _1_.pdf"


def test_catalogue_has_every_text_in_both_languages():
    from assistant.ui import i18n

    assert set(i18n.MESSAGES["nl"]) == set(i18n.MESSAGES["en"])
    # Every message key the page's code names (string literals like "docs.col.title") is in the catalogue.
    named = set()
    for f in (ROOT / "assistant" / "ui").glob("*.py"):
        named |= set(re.findall(r"[\"']([a-z_]+(?:\.[a-z_]+)+)[\"']", f.read_text(encoding="utf-8")))
    named = {k for k in named if k.rsplit(".", 1)[-1] not in ("css", "js", "py", "txt")}
    named |= {f"docs.working.{a}" for a in ("remove", "reindex")}  # built from the action's name
    assert named and named <= set(i18n.MESSAGES["en"]), named - set(i18n.MESSAGES["en"])
    same = {k for k in i18n.MESSAGES["en"] if i18n.MESSAGES["en"][k] == i18n.MESSAGES["nl"][k]}
    assert same == {"page", "docs.unknown_date"}  # everything else is really translated
    with pytest.raises(KeyError, match="add it to MESSAGES"):
        i18n.t("nl", "no.such.key")


def test_browser_language_decides_the_start_language():
    from assistant.ui import i18n

    f = i18n.from_accept_language
    assert f("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7") == "nl" and f("nl-BE") == "nl" and f("NL") == "nl"
    assert f("en-US,en;q=0.9,nl;q=0.8") == "en" and f("de-DE") == "en" and f("") == "en" and f(None) == "en"
    assert f("de-DE,nl;q=0.5") == "nl"  # the most preferred language the page has
    assert f("nl;q=0,en;q=0.5") == "en" and f("*") == "en"
    assert i18n.start_language("en", "nl-NL") == "en" and i18n.start_language("nl", "en") == "nl"
    assert i18n.start_language("auto", "nl-NL,nl") == "nl" and i18n.start_language("auto", None) == "en"
    with pytest.raises(ValueError, match="use one of auto, nl, en"):
        i18n.start_language("fr", None)


def test_the_page_renders_in_dutch(runtime, tmp_path):
    turns = list(ui.run_turn(runtime, "Waarom is er voor Traject Sezen geen projectplan opgesteld?", 3, []))[-1]
    nl, en = ui.render_conversation(turns, "nl"), ui.render_conversation(turns, "en")
    assert "Zoekvraag:" in nl and ">Jij<" in nl and ">Assistent<" in nl and "toon passage 1" in nl
    assert "Search query:" not in nl and ">You<" not in nl
    assert "Search query:" in en and ui.render_conversation(turns) == en  # English unless asked
    assert "tekens" in ui.render_source(turns, 0, 1, lang="nl") and "Klik op een" in ui.empty_source("nl")
    stats = ui.render_stats(runtime, "nl")
    assert "Documenten" in stats and "(0 geüpload)" in stats and "class='stat-documents'" in stats
    bad = tmp_path / "kapot.txt"
    bad.write_bytes(b"\x00\x01")
    status = ui.render_upload_status("", result=runtime.add_files([bad]), lang="nl")
    assert "Overgeslagen: kapot.txt" in status
    assert "Bestanden controleren 1/2" in ui.render_upload_status("checking", 1, 2, lang="nl")
    stopped = ui.new_turn("q?")
    stopped.update(state="done", error="Stopped.", error_key="stopped")
    crashed = ui.new_turn("q?")
    crashed.update(state="done", error="ValueError: x", error_key="crash")
    page = ui.render_conversation([stopped, crashed], "nl")
    assert "Gestopt." in page and "Er ging iets mis bij het beantwoorden (ValueError: x)." in page
    assert "Something went wrong while answering (ValueError: x)." in ui.render_conversation([crashed])


def test_page_number_next_to_the_source_title():
    from types import SimpleNamespace

    passage = {"n": 1, "source": "uploads/scan.pdf", "title": "Scan", "start": 0, "end": 5, "text": "hallo",
               "score": 1.0, "dense": 0.5, "before": "", "after": "", "cut_before": False, "cut_after": False,
               "exact": True, "page": 3}
    t = ui.new_turn("q?")
    t.update(state="done", text="Iets [1].", passages=[passage], citations={1: {"supported": True, "sentence": "Iets [1]"}})
    page = ui.render_conversation([t])
    assert '[1] Scan <span class="page">p. 3</span></button> <span class="src">' in page
    assert '<span class="page">p. 3</span>' in ui.render_source([t], 0, 1)
    t["passages"] = [{**passage, "page": None}]
    assert 'class="page"' not in ui.render_conversation([t]) + ui.render_source([t], 0, 1)
    # Records copy the page of a chunk or excerpt that has one (None for others and older indexes).
    chunk = SimpleNamespace(source="s", title="T", start=0, end=1, text="x", page=7)
    assert ui.passage_record(1, SimpleNamespace(chunk=chunk, score=1.0, dense=0.5), {})["page"] == 7
    plain = SimpleNamespace(source="s", title="T", start=0, end=1, text="x")
    assert ui.passage_record(1, SimpleNamespace(chunk=plain, score=1.0, dense=0.5), {})["page"] is None


def test_document_panel_lists_and_reports_in_both_languages(runtime, tmp_path):
    html_en = ui.render_documents(runtime.list_documents())
    html_nl = ui.render_documents(runtime.list_documents(), "nl")
    assert html_en.count('class="doc-row"') == 5 == html_nl.count('class="doc-row"')
    assert "Re-index" in html_en and "Opnieuw indexeren" in html_nl and "Toegevoegd" in html_nl
    source = next(iter(runtime.pipeline.index.docs))
    assert f'data-source="{source}"' in html_en
    report = runtime.remove_document(source)
    assert "is verwijderd" in ui.render_docs_status("remove", source, report, lang="nl")
    assert "Its file stays in its folder" in ui.render_docs_status("remove", source, report)
    assert "The file was deleted from /x" in ui.render_docs_status("remove", source, report, file_deleted="/x")
    assert "Could not change a: boom" in ui.render_docs_status("remove", "a", error="boom")
    assert "Er staan nog geen documenten" in ui.render_documents([], "nl")


class EchoWithBadCitation(EchoGenerator):
    """Quotes the first sentence of source [1] citing [1], then adds a sentence citing [2] that
    passage [2] does not support."""

    def stream(self, prompt, max_tokens, temperature):
        system, user, examples = prompt.system, prompt.user, prompt.examples
        first = "".join(super().stream(prompt, max_tokens, temperature))
        first = re.sub(r"[.!?]?\s*\[1\]$", "", first)
        time.sleep(1.0)  # a model reads its prompt before the first token
        for piece in re.findall(r"\S+\s*", f"{first} [1]. Kangoeroes springen hoog boven Canberra [2]."):
            yield piece


def _browser(pw):
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _external(urls: list[str]) -> list[str]:
    return [u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss")
            and urlparse(u).hostname not in ("127.0.0.1", "localhost")]


def test_browser_with_fakes(tmp_path, seeds_dir):
    """The page itself, fast: citations open the source panel, unsupported ones are flagged, tabs
    keep their own conversations, and nothing is fetched from outside hosts."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    settings = Settings().with_(index_dir=tmp_path / "index", min_similarity=0.0)
    emb = HashEmbedder()
    docs, _ = load_folder(seeds_dir)
    index.sync(settings.storage.index_dir, docs, emb, settings.storage.chunk_size, settings.storage.chunk_overlap, scope="seeds")
    runtime = ui.Runtime(settings, build(settings, embedder=emb, generator=EchoWithBadCitation()))
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port())
    requests: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                context = browser.new_context(viewport={"width": 1300, "height": 900})
                context.on("request", lambda r: requests.append(r.url))
                page = context.new_page()
                page.goto(url)
                r = _ask(page, "Waarom is er voor Traject Sezen geen projectplan opgesteld?", 60_000)
                turn = r["turn"]
                # The evidence is on the page before the answer's first word, within a second (1.5 s
                # allowed: measured 0.2-0.4 s alone, 1.1 s with two benchmarks on the same 2 cores).
                assert r["evidence_first"] and r["evidence_s"] < 1.5, r
                assert turn.locator('.answer-text button.cite[data-cite="1"]:not(.unsupported)').count() == 1
                assert turn.locator('.answer-text button.cite.unsupported[data-cite="2"]').count() == 1
                assert "not supported" in turn.locator(".unsupported-note").text_content()

                turn.locator('.answer-text button.cite[data-cite="1"]').click()
                page.wait_for_selector('#source-panel .source[data-n="1"] mark')
                _check_source_panel(page, settings.storage.index_dir, turn, 1)
                turn.locator('.answer-text button.cite[data-cite="2"]').click()
                page.wait_for_selector('#source-panel .source[data-n="2"] mark')
                assert "Not supported" in page.locator("#source-panel .warn").text_content()
                _check_source_panel(page, settings.storage.index_dir, turn, 2)

                other = context.new_page()
                other.goto(url)
                _ask(other, "Wat is Regisserend Lochem?", 60_000)
                assert other.locator("#conversation .turn").count() == 1
                assert page.locator("#conversation .turn").count() == 1
                assert "Lochem" not in page.locator("#conversation").text_content()
                page.click("#new-conversation")
                page.wait_for_selector("#conversation .conv .empty")
                assert other.locator("#conversation .turn").count() == 1

                # A hostile HTML upload shows as text: no script runs, no dialog, no outside request.
                dialogs = []
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                hostile = tmp_path / "hostile.html"
                hostile.write_text(HOSTILE_HTML, encoding="utf-8")
                page.set_input_files("#upload input[type=file]", [str(hostile)])
                page.wait_for_selector("#upload-status .done", timeout=60_000)
                assert "1 added" in page.locator("#upload-status").text_content()
                r = _ask(page, "Welke kleur heeft de zeppelin van de gemeente Quirijnsdorp?", 60_000)
                details = r["turn"].locator("details.passages")
                if details.get_attribute("open") is None:
                    details.locator("summary").click()
                r["turn"].locator('button.passage-link[data-cite="1"]').click()
                page.wait_for_selector('#source-panel .source[data-n="1"] mark')
                panel = page.locator("#source-panel").text_content()
                assert "<img src=x onerror=alert(1)>" in panel  # the document's text, shown as text
                assert "alert(2)" not in page.content()  # the script element's content is not text
                page.wait_for_timeout(500)
                assert dialogs == [] and page.evaluate("window.__pwned === undefined")
            finally:
                browser.close()
    finally:
        demo.close()
    assert not _external(requests), _external(requests)[:5]


class GatedEcho(EchoGenerator):
    """The echo generator, holding its answer until the test opens the gate."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    def stream(self, prompt, max_tokens, temperature):
        system, user, examples = prompt.system, prompt.user, prompt.examples
        assert self.gate.wait(60), "the test never opened the gate"
        yield from super().stream(prompt, max_tokens, temperature)


def _fake_server(tmp_path, seeds_dir, generator=None, lang="auto"):
    runtime = seeds_runtime(tmp_path / "index", seeds_dir, generator)
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port(), lang=lang)
    return runtime, demo, url


# What the page itself says, per language (the assertions of the two language runs).
PAGE_WORDS = {
    "nl": {"title": "Vraag het de documenten", "send": "Verstuur", "new": "Nieuw gesprek", "source": "Bron",
           "add": "Documenten toevoegen", "docs": "Documenten", "settings": "Instellingen",
           "k": "Passages per vraag (k)", "placeholder": "Stel een vraag", "empty": "Stel een vraag over de documenten",
           "query": "Zoekvraag:", "remove": "Verwijderen", "col": "Toegevoegd"},
    "en": {"title": "Ask the documents", "send": "Send", "new": "New conversation", "source": "Source",
           "add": "Add documents", "docs": "Documents", "settings": "Settings",
           "k": "Passages per question (k)", "placeholder": "Ask a question", "empty": "Ask a question about the documents",
           "query": "Search query:", "remove": "Remove", "col": "Added"},
}


def _wait_language(page, lang: str) -> None:
    title = PAGE_WORDS[lang]["title"]
    # data-ready: the tab's load has re-rendered the page (the labels alone do not say so for a tab that
    # starts in the language the page is built in, and a question typed before it could be lost).
    page.wait_for_function(f"document.querySelector('#page-header h2')?.dataset.ready === {json.dumps(lang)}"
                           f" && document.querySelector('#page-header h2')?.textContent === {json.dumps(title)}"
                           f" && document.querySelector('#send')?.textContent.trim() === {json.dumps(PAGE_WORDS[lang]['send'])}")


def _check_page_words(page, lang: str) -> None:
    """Every label of the page is in `lang`: buttons, headings, accordions, the slider, the placeholder,
    the document panel; and none of the other language's."""
    w = PAGE_WORDS[lang]
    # Gradio may show a pending-event timer ("0.1s") inside a re-rendered block for a moment after
    # page load or a switch (CI once read "0.1s\nSource"): wait until none is visible.
    page.wait_for_function("![...document.querySelectorAll('.progress-text')].some(e => e.offsetParent !== null)")
    assert page.locator("#page-header h2").inner_text() == w["title"]
    assert page.locator("#send").inner_text().strip() == w["send"]
    assert page.locator("#new-conversation").inner_text().strip() == w["new"]
    assert page.locator("#source-heading h3").inner_text().strip() == w["source"]
    for acc, key in (("#add-documents", "add"), ("#documents", "docs"), ("#settings", "settings")):
        assert page.locator(acc).inner_text().startswith(w[key]), (acc, page.locator(acc).inner_text()[:80])
    assert w["k"] in page.locator("#k").inner_text()
    assert page.locator("#question textarea").get_attribute("placeholder").startswith(w["placeholder"])
    # The document panel is an HTML block re-rendered on load and on a switch: wait for its words.
    page.wait_for_function(f"document.querySelector('#documents-list')?.textContent.includes({json.dumps(w['col'])})")
    assert page.locator("#documents-list button.doc-remove").first.inner_text() == w["remove"]
    assert page.locator("#lang-switch input:checked").get_attribute("value") == lang
    other = PAGE_WORDS["en" if lang == "nl" else "nl"]
    body = page.locator("body").inner_text()
    for key in ("send", "new", "add", "title"):  # ("Settings" is also Gradio's own footer link)
        assert other[key] not in body, (key, other[key])


def _switch(page, lang: str) -> None:
    page.locator("#lang-switch").get_by_text(lang.upper(), exact=True).click()
    _wait_language(page, lang)


def test_browser_in_dutch_and_in_english_with_fakes(tmp_path, seeds_dir):
    """The page follows the browser's language (Dutch for nl-NL, English for en-US); the NL | EN
    switch changes every label and the conversation at once, without reloading the page."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    gen = GatedEcho()
    runtime, demo, url = _fake_server(tmp_path, seeds_dir, generator=gen)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                nl = browser.new_context(locale="nl-NL", viewport={"width": 1300, "height": 900})
                page = nl.new_page()
                page.goto(url)
                _wait_language(page, "nl")
                _check_page_words(page, "nl")
                assert PAGE_WORDS["nl"]["empty"] in page.locator("#conversation").inner_text()
                r = _ask(page, "Waarom is er voor Traject Sezen geen projectplan opgesteld?", 60_000)
                assert "Zoekvraag:" in r["turn"].inner_text() and "Bewijs dat het model kreeg" in r["turn"].inner_text()
                r["turn"].locator('.answer-text button.cite[data-cite="1"]').click()
                page.wait_for_selector('#source-panel .source[data-n="1"] mark')
                assert "tekens" in page.locator("#source-panel .src-path").inner_text()
                page.screenshot(path=str(ARTIFACTS / "fakes-nl.png"), full_page=True)

                page.evaluate("window.__samePage = 1")  # gone if the switch reloaded the page
                _switch(page, "en")
                _check_page_words(page, "en")
                turn = page.locator("#conversation .turn").first
                assert "Search query:" in turn.inner_text() and "Evidence given to the model" in turn.inner_text()
                assert "characters" in page.locator("#source-panel .src-path").inner_text()  # the open passage too
                assert page.locator("#conversation .turn").count() == 1 and page.evaluate("window.__samePage") == 1

                # Switched while an answer is being written: the rest of it comes in the new language.
                page.click("#new-conversation")
                page.wait_for_selector("#conversation .conv .empty")
                gen.gate.clear()
                page.fill("#question textarea", "Wat is Regisserend Lochem?")
                page.click("#send")
                page.wait_for_selector('#conversation .turn[data-turn="0"] details.passages .evidence-item')
                assert "Search query:" in page.locator("#conversation .turn").first.inner_text()
                _switch(page, "nl")
                gen.gate.set()
                page.wait_for_selector('#conversation .turn[data-turn="0"][data-state="done"] .answer-text')
                done = page.locator("#conversation .turn").first.inner_text()
                assert "Zoekvraag:" in done and "Bewijs dat het model kreeg" in done and "Search query" not in done
                _check_page_words(page, "nl")

                en = browser.new_context(locale="en-US", viewport={"width": 1300, "height": 900})
                other = en.new_page()
                other.goto(url)
                _wait_language(other, "en")
                _check_page_words(other, "en")
                other.screenshot(path=str(ARTIFACTS / "fakes-en.png"), full_page=True)
                assert page.locator("#send").inner_text().strip() == "Verstuur"  # each tab keeps its own language
            finally:
                browser.close()
    finally:
        demo.close()


def test_browser_chat_lang_fixes_the_start_language(tmp_path, seeds_dir):
    """`assistant chat --lang nl`: a tab starts in Dutch whatever the browser says; the switch still works."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    runtime, demo, url = _fake_server(tmp_path, seeds_dir, lang="nl")
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                page = browser.new_context(locale="en-US").new_page()
                page.goto(url)
                _wait_language(page, "nl")
                _switch(page, "en")
                _check_page_words(page, "en")
            finally:
                browser.close()
    finally:
        demo.close()


def _remove_in_panel(page, source: str) -> str:
    """Remove a document with the panel's buttons (Remove, then the row's confirmation); returns the status."""
    row = page.locator(f'#documents-list tr.doc-row[data-source="{source}"]')
    row.locator("button.doc-remove").click()
    row.locator(".doc-confirm").wait_for(state="visible")
    row.locator("button.doc-remove-yes").click()
    page.wait_for_selector('#documents-status .done[data-action="remove"]', timeout=120_000)
    page.wait_for_selector(f'#documents-list tr.doc-row[data-source="{source}"]', state="detached")
    return page.locator("#documents-status").inner_text()


def _upload(page, path, source: str, timeout: int):
    """Upload one file through the page and return its row in the document panel, once it is there."""
    page.set_input_files("#upload input[type=file]", [str(path)])
    page.wait_for_selector("#upload-status .done", timeout=timeout)
    row = page.locator(f'#documents-list tr.doc-row[data-source="{source}"]')
    row.wait_for()
    return row


def _cited_sources(turn) -> list[str]:
    return [turn.locator(f'button.passage-link[data-cite="{b.get_attribute("data-cite")}"] + .src').text_content()
            for b in turn.locator(".answer-text button.cite").all()]


def test_browser_removing_an_upload_removes_it_from_the_next_answer_with_fakes(tmp_path, seeds_dir):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    runtime, demo, url = _fake_server(tmp_path, seeds_dir)
    source = "uploads/zuiderzee_deelfietsen.txt"
    good = tmp_path / "zuiderzee_deelfietsen.txt"
    good.write_text(UPLOAD_TEXT, encoding="utf-8")
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                page = browser.new_context(locale="en-US", viewport={"width": 1300, "height": 900}).new_page()
                page.goto(url)
                _wait_language(page, "en")
                # The panel is re-rendered in the page's language on load: wait for it, do not race it.
                page.wait_for_function("document.querySelectorAll('#documents-list tr.doc-row').length === 5")
                row = _upload(page, good, source, 60_000)
                assert "Zuiderzee" in row.locator(".doc-title").inner_text()
                assert int(row.locator(".doc-chunks").inner_text()) >= 1
                assert row.locator(".doc-added").inner_text()[:2] == "20"  # a date

                r = _ask(page, UPLOAD_Q, 60_000)
                # (The echo generator cites only [1]; which excerpt is [1] is up to the hashed embedder:
                # what counts here is that the uploaded document is in what the answer was made from.)
                before = [x.text_content() for x in r["turn"].locator("button.passage-link + .src").all()]
                assert any(s.startswith(source) for s in before), before

                # Re-index reads the file again: unchanged text, nothing embedded.
                row.locator("button.doc-reindex").click()
                page.wait_for_selector('#documents-status .done[data-action="reindex"]', timeout=60_000)
                assert "its text is unchanged" in page.locator("#documents-status").inner_text()

                # Cancel first: nothing happens.
                row.locator("button.doc-remove").click()
                row.locator("button.doc-remove-no").click()
                assert row.locator(".doc-confirm").is_hidden() and (runtime.uploads_dir / good.name).is_file()
                status = _remove_in_panel(page, source)
                assert "Removed uploads/zuiderzee_deelfietsen.txt" in status and "deleted from" in status
                assert not (runtime.uploads_dir / good.name).exists()
                page.wait_for_function("document.querySelector('#stats .stat-documents').textContent.startsWith('5 ')")

                page.click("#new-conversation")
                page.wait_for_selector("#conversation .conv .empty")
                r2 = _ask(page, UPLOAD_Q, 60_000)
                turn2 = r2["turn"]
                listed = [x.text_content() for x in turn2.locator("button.passage-link + .src").all()]
                assert listed and not any(s.startswith(source) for s in listed), listed
                assert not any(s.startswith(source) for s in _cited_sources(turn2))
                assert "deelfietsen" not in turn2.locator(".answer-text").inner_text().lower()
            finally:
                browser.close()
    finally:
        demo.close()


def test_browser_upload_of_a_scanned_pdf_is_read_by_ocr_with_pages(tmp_path, seeds_dir):
    """A scanned Dutch PDF (page images only) uploaded in the real browser: Tesseract reads it (real,
    fakes for the models), the document panel lists its 2 pages, and the page-2 passage of the next
    answer is shown with "p. 2"."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from scans import BRIDGE_QUESTION, PAGE_1, PAGE_2, scanned_pdf
    from test_ocr import _has_dutch_tesseract

    from assistant import ocr

    if not _has_dutch_tesseract():
        pytest.skip(f"Tesseract with its Dutch model is not installed: {ocr.INSTALL}")
    from playwright.sync_api import sync_playwright

    runtime, demo, url = _fake_server(tmp_path, seeds_dir)
    scan = tmp_path / "raadsbrief-scan.pdf"
    scan.write_bytes(scanned_pdf([PAGE_1, PAGE_2]))
    source = "uploads/raadsbrief-scan.pdf"
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                page = browser.new_context(locale="nl-NL", viewport={"width": 1300, "height": 900}).new_page()
                page.goto(url)
                _wait_language(page, "nl")
                row = _upload(page, scan, source, 180_000)
                assert row.locator(".doc-pages").inner_text().strip() == "2"
                doc = runtime.pipeline.index.docs[source]
                assert doc.ocr_pages == (1, 2) and "fietsbrug" in doc.text.lower()

                r = _ask(page, BRIDGE_QUESTION, 60_000)
                buttons = r["turn"].locator("button.passage-link").all()
                ours = [(b.text_content(), b.locator("xpath=following-sibling::*[1]").text_content()) for b in buttons]
                scanned = [(label, src) for label, src in ours if src.startswith(source)]
                assert scanned, ours
                assert any("p. 2" in label for label, _ in scanned), scanned
            finally:
                browser.close()
    finally:
        demo.close()


HOSTILE_HTML = """<html><head><title>Zeppelin</title><script>window.__pwned = 1; alert(2)</script></head>
<body onload="alert(4)"><h1>Zeppelin van Quirijnsdorp</h1>
<p>De gemeente Quirijnsdorp heeft een oranje zeppelin gekocht voor toeristische rondvluchten boven de polder.
Een bewoner schreef in zijn brief letterlijk: &lt;img src=x onerror=alert(1)&gt; en dat staat hier als tekst.</p>
<img src="http://evil.example/pixel.png" onerror="alert(3)">
<iframe src="http://evil.example/frame"></iframe>
</body></html>
"""


# -- the acceptance test: real models, real browser -----------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seeds_key(settings: Settings) -> str:
    from assistant.pipeline import make_embedder

    h = hashlib.sha256()
    for p in sorted((ROOT / "seeds").iterdir()):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    h.update(f"{make_embedder(settings).name}|{settings.storage.chunk_size}|{settings.storage.chunk_overlap}|{index.FORMAT}".encode())
    return h.hexdigest()[:16]


@pytest.fixture(scope="module")
def seeds_index(tmp_path_factory) -> Path:
    """A private copy of an index of seeds/ built with the real embedder. The built index is kept
    in the cache folder (keyed by the seeds, embedder and chunking), so reruns skip the embedding."""
    settings = Settings.from_env()
    cache = settings.storage.home / "test-cache" / f"seeds-index-{_seeds_key(settings)}"
    if not index.exists(cache):
        tmp = cache.with_name(cache.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        env = {**os.environ, "ASSISTANT_INDEX_DIR": str(tmp)}
        subprocess.run([sys.executable, "-m", "assistant.cli", "ingest"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
        shutil.rmtree(cache, ignore_errors=True)
        os.replace(tmp, cache)
    target = tmp_path_factory.mktemp("ui") / "index"
    shutil.copytree(cache, target)
    return target


@pytest.fixture(scope="module")
def server(seeds_index):
    """`assistant chat` on a free localhost port with the default settings (fixed seed: deterministic)."""
    port = _free_port()
    log_path = seeds_index.parent / "server.log"
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(seeds_index), "ASSISTANT_LLM": UI_LLM,
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "chat", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 900
        url = None
        while url is None:
            text = log_path.read_text(errors="replace")
            m = re.search(r"running on (http://127\.0\.0\.1:\d+/?)", text)
            if m:
                url = m.group(1)
            elif proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`assistant chat` did not start:\n{text[-3000:]}")
            else:
                time.sleep(0.5)
        yield {"url": url, "index": seeds_index, "log": log_path}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


WATCH_JS = """(n) => {
  // When did the evidence list and the first answer text of turn n appear? (page clock, ms)
  window.__seen = {sent: performance.now()};
  const obs = new MutationObserver(() => {
    const turn = document.querySelector(`#conversation .turn[data-turn="${n}"]`);
    if (!turn) return;
    const t = performance.now();
    if (window.__seen.evidence === undefined && turn.querySelector('details.passages[data-kind="evidence"] .evidence-item'))
      window.__seen.evidence = t;
    const a = turn.querySelector('.answer-text');
    if (window.__seen.answer === undefined && a && a.textContent.trim()) window.__seen.answer = t;
  });
  obs.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _ask(page, question: str, timeout_ms: int) -> dict:
    """Type a question, press Send; returns seconds to the evidence, to the first answer text and to
    the end, measured in the page (a MutationObserver), plus whether the evidence came first."""
    n = page.locator("#conversation .turn").count()
    page.fill("#question textarea", question)
    page.evaluate(WATCH_JS, n)
    t0 = time.perf_counter()
    page.click("#send")
    turn = page.locator("#conversation .turn").nth(n)
    turn.locator(".answer-text, .error").first.wait_for(timeout=timeout_ms)
    first = time.perf_counter() - t0
    page.wait_for_selector(f'#conversation .turn[data-turn="{n}"][data-state="done"]', timeout=timeout_ms)
    assert turn.locator(".error").count() == 0, turn.inner_text()
    seen = page.evaluate("window.__seen")
    evidence_s = (seen["evidence"] - seen["sent"]) / 1000 if "evidence" in seen else None
    answer_s = (seen["answer"] - seen["sent"]) / 1000 if "answer" in seen else None
    return {"turn": turn, "index": n, "first_token_s": round(first, 2), "total_s": round(time.perf_counter() - t0, 2),
            "evidence_s": evidence_s, "answer_s": answer_s,
            "evidence_first": evidence_s is not None and (answer_s is None or evidence_s < answer_s)}


def _last_query(page) -> str:
    """The search query the page says it used for the last question."""
    return page.locator("#conversation .turn").last.locator(".query-text").text_content()


def _open_passage(page, turn, n: int) -> str:
    """Click citation [n] in the answer if the model cited it, else passage [n] in the list."""
    cite = turn.locator(f'.answer-text button.cite[data-cite="{n}"]')
    if cite.count():
        cite.first.click()
        how = "citation"
    else:
        details = turn.locator("details.passages")
        if details.get_attribute("open") is None:
            details.locator("summary").click()
        turn.locator(f'button.passage-link[data-cite="{n}"]').click()
        how = "passage list"
    page.wait_for_selector(f'#source-panel .source[data-n="{n}"] mark')
    return how


def _check_source_panel(page, index_dir: Path, turn, n: int) -> dict:
    panel = page.locator("#source-panel .source")
    source, start, end = panel.get_attribute("data-source"), int(panel.get_attribute("data-start")), int(panel.get_attribute("data-end"))
    live = index.load(index_dir)
    doc = live.docs[source]
    marked = page.locator("#source-panel mark").text_content()
    assert marked == doc.text[start:end]
    assert doc.title in panel.locator(".src-title").text_content()
    around = panel.locator(".doc").text_content()
    assert len(around) > len(marked)  # shown inside its surrounding text
    # It is the passage numbered n in this answer's list.
    assert f"{source} · {start}–{end}" in turn.locator(f'button.passage-link[data-cite="{n}"] + .src').text_content()
    return {"source": source, "start": start, "end": end, "title": doc.title}


@pytest.mark.real
def test_browser_chat_end_to_end(server):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for the browser test")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    answer_timeout = 20 * 60 * 1000  # a loaded 2-core machine can be slow; normally well under a minute
    requests: list[str] = []
    results: dict = {}
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
            context.on("request", lambda r: requests.append(r.url))
            page = context.new_page()
            page.goto(server["url"])
            page.wait_for_selector("#question textarea")
            _wait_language(page, "en")
            page.wait_for_selector("#stats .stat-documents")
            assert page.locator("#stats .stat-model").text_content().startswith(UI_LLM)
            assert page.locator("#stats .stat-documents").text_content().startswith("5 ")

            # 1. A question the seeds answer: streamed answer, citation -> source panel with the span marked.
            r = _ask(page, SEZEN_Q, answer_timeout)
            turn = r["turn"]
            assert turn.locator(".query-text").text_content() == SEZEN_Q
            # The evidence excerpts were on the page before the first answer token.
            assert r["evidence_first"], r
            assert turn.locator("button.passage-link").count() >= 1
            assert turn.locator("details.passages .evidence-item b.match").count() >= 1  # the matching sentence
            cited = turn.locator(".answer-text button.cite").count()
            assert turn.get_attribute("data-abstained") != "true", turn.locator(".answer-text").text_content()
            # The quote comes first, highlighted, with its [n] that opens the source like a citation.
            quote = turn.locator("blockquote.quote")
            assert quote.count() == 1 and quote.locator("button.cite").count() == 1, turn.inner_text()
            assert quote.bounding_box()["y"] < turn.locator(".answer-text").bounding_box()["y"]
            # The answer cites the passage it was built from, and [1] is a link in the answer text.
            assert turn.locator('.answer-text button.cite[data-cite="1"]').count() >= 1, turn.inner_text()
            how = _open_passage(page, turn, 1)
            assert how == "citation"
            page.screenshot(path=str(ARTIFACTS / "01-answer-and-source.png"), full_page=True)
            shown = _check_source_panel(page, server["index"], turn, 1)
            # The same page in both languages (README screenshots): every label switches, the answer stays.
            _check_page_words(page, "en")
            page.screenshot(path=str(ROOT / "docs" / "ui-en.png"), full_page=True)
            _switch(page, "nl")
            _check_page_words(page, "nl")
            assert "Zoekvraag:" in turn.inner_text() and "tekens" in page.locator("#source-panel .src-path").inner_text()
            page.screenshot(path=str(ROOT / "docs" / "ui-nl.png"), full_page=True)
            _switch(page, "en")
            assert "Sezen" in shown["title"]
            assert "is er geen projectplan opgesteld" in page.locator("#source-panel mark").text_content()
            results["sezen"] = {"first_token_s": r["first_token_s"], "total_s": r["total_s"], "citations": cited,
                                "evidence_s": r["evidence_s"], "answer_s": r["answer_s"],
                                "opened_by": how, "abstained": turn.get_attribute("data-abstained") == "true",
                                "answer": turn.locator(".answer-text").text_content(), "source": shown}

            # 2. Upload a new document (and a broken one): progress, a visible problem, then searchable.
            updir = server["index"].parent / "to-upload"
            updir.mkdir(exist_ok=True)
            good = updir / "zuiderzee_deelfietsen.txt"
            good.write_text(UPLOAD_TEXT, encoding="utf-8")
            bad = updir / "kapot.pdf"
            bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
            page.set_input_files("#upload input[type=file]", [str(good), str(bad)])
            page.wait_for_selector("#upload-status .done", timeout=answer_timeout)
            status = page.locator("#upload-status").text_content()
            assert "1 added" in status and "zuiderzee_deelfietsen.txt" in status, status
            assert "Skipped kapot.pdf" in status, status
            page.wait_for_function("document.querySelector('#stats .stat-documents').textContent.startsWith('6 ')")
            assert (server["index"] / "uploads" / "zuiderzee_deelfietsen.txt").is_file()
            assert not (server["index"] / "uploads" / "kapot.pdf").exists()

            page.click("#new-conversation")  # a fresh question, not a follow-up to be rewritten
            page.wait_for_selector("#conversation .conv .empty")
            r2 = _ask(page, UPLOAD_Q, answer_timeout)
            assert _last_query(page) == UPLOAD_Q
            turn2 = r2["turn"]
            cited_sources = [
                turn2.locator(f'button.passage-link[data-cite="{b.get_attribute("data-cite")}"] + .src').text_content()
                for b in turn2.locator(".answer-text button.cite").all()
            ]
            how2 = _open_passage(page, turn2, 1)
            page.screenshot(path=str(ARTIFACTS / "02-uploaded-document.png"), full_page=True)
            results["upload"] = {"first_token_s": r2["first_token_s"], "total_s": r2["total_s"], "opened_by": how2,
                                 "answer": turn2.locator(".answer-text").text_content(), "cited": cited_sources,
                                 "status": status}
            first_src = turn2.locator('button.passage-link[data-cite="1"] + .src').text_content()
            assert first_src.startswith("uploads/zuiderzee_deelfietsen.txt"), first_src  # the top passage
            if cited_sources:  # if the model cites, it cites the uploaded document (too)
                assert any(s.startswith("uploads/zuiderzee_deelfietsen.txt") for s in cited_sources), cited_sources
            shown2 = _check_source_panel(page, server["index"], turn2, 1)
            assert shown2["source"] == "uploads/zuiderzee_deelfietsen.txt"

            # 3. Removing the uploaded document in the panel: the next answer no longer finds or cites it.
            status = _remove_in_panel(page, "uploads/zuiderzee_deelfietsen.txt")
            assert not (server["index"] / "uploads" / "zuiderzee_deelfietsen.txt").exists()
            page.wait_for_function("document.querySelector('#stats .stat-documents').textContent.startsWith('5 ')")
            page.click("#new-conversation")
            page.wait_for_selector("#conversation .conv .empty")
            r3 = _ask(page, UPLOAD_Q, answer_timeout)
            turn3 = r3["turn"]
            listed = [x.text_content() for x in turn3.locator("button.passage-link + .src").all()]
            cited3 = _cited_sources(turn3)
            results["removed"] = {"status": status, "total_s": r3["total_s"], "passages": listed, "cited": cited3,
                                  "answer": turn3.locator(".answer-text").text_content(),
                                  "abstained": turn3.get_attribute("data-abstained") == "true"}
            assert not any(x.startswith("uploads/zuiderzee_deelfietsen.txt") for x in listed + cited3), results["removed"]
            assert "140" not in results["removed"]["answer"], results["removed"]  # the removed document's fact

            # 4. A second tab has its own conversation but sees the same (updated) index.
            other = context.new_page()
            other.goto(server["url"])
            other.wait_for_selector("#conversation .conv .empty")
            other.wait_for_function("document.querySelector('#stats .stat-documents').textContent.startsWith('5 ')")
            assert other.locator("#conversation .turn").count() == 0
            assert page.locator("#conversation .turn").count() == 1
            other.close()
        finally:
            browser.close()

    external = _external(requests)
    assert not external, f"the page reached outside hosts: {external[:5]}"
    results["requests"] = len(requests)
    (ARTIFACTS / "ui_timings.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(json.dumps(results, ensure_ascii=False, indent=2))
