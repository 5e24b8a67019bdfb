"""Saved conversations in the browser chat (ui/conversations.py): every answer is saved under the
tab's login, a reload reopens the tab's conversation with working citations, the Conversations panel
opens / renames / deletes, and two logins never see each other's conversations while sharing the
documents. Browser tests run real Chromium against a real Gradio server; the models are the fakes
(hashed embedder, echo generator), as in test_ui.py's fake-model browser tests."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from fakes import seeds_runtime
from test_ui import UPLOAD_Q, UPLOAD_TEXT  # the upload test_ui.py finds with the fakes

from assistant import ui, users
from assistant.conversation import SavedTurn, SourceRef
from assistant.history import History, path_for
from assistant.ui.conversations import browser_turn, render_conversations
from assistant.ui.render import render_source, render_turn

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
Q1 = "Waarom is er voor Traject Sezen geen projectplan opgesteld?"
Q2 = "Wat is Regisserend Lochem?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- fast: a saved turn shown again ----------------------------------------------------------------------
def test_a_saved_turn_renders_with_working_citations():
    src1 = SourceRef(n=1, source="gone.pdf", title="Brief", start=100, end=140, text="Er is geen projectplan. Wel een notitie.",
                     cited="Er is geen projectplan.", page=3, label="Lochem · brief")
    src3 = SourceRef(n=3, source="gone.pdf", title="Brief", start=500, end=520, text="Tweede uittreksel hier", cited="",
                     supported=False)
    saved = SavedTurn(question="Waarom?", answer="Er is geen plan [1]. Zie ook [3].", quote="Er is geen projectplan.",
                      quote_n=1, sources=(src1, src3))
    t = browser_turn(saved, docs={})
    html = render_turn(0, t, "nl")
    assert 'data-cite="1"' in html and 'data-cite="3"' in html
    assert 'class="cite unsupported" data-cite="3"' in html  # its flag is kept
    assert 'class="quote" data-n="1"' in html and "Er is geen projectplan." in html
    panel = render_source([t], 0, 3, "en")
    assert 'data-n="3"' in panel and "Tweede uittreksel hier" in panel
    panel = render_source([t], 0, 1, "en")
    assert '<b class="match">Er is geen projectplan.</b>' in panel and "Lochem · brief" in panel
    assert "changed" in panel  # the document is not in the index any more: the excerpt alone
    rows = render_conversations([], None, "nl")
    assert "Nog geen bewaarde gesprekken" in rows


def test_a_saved_turn_gets_its_context_back_from_the_live_index(tmp_path, seeds_dir):
    runtime = seeds_runtime(tmp_path / "index", seeds_dir)
    docs = runtime.pipeline.index.docs
    source, doc = next(iter(docs.items()))
    text = doc.text[40:200]
    saved = SavedTurn(question="q", answer="a [1]", sources=(SourceRef(n=1, source=source, title=doc.title, start=40,
                                                                       end=200, text=text, cited=text[:30]),))
    p = browser_turn(saved, docs)["passages"][0]
    assert p["exact"] and doc.text[:40].endswith(p["before"]) and p["after"] and doc.text[200:].startswith(p["after"])
    assert p["matches"] == [[40, 70]]
    assert "changed" not in render_source([browser_turn(saved, docs)], 0, 1, "en")


# -- the browser -----------------------------------------------------------------------------------------
def _browser(pw):
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _ask(page, question: str) -> None:
    n = page.locator("#conversation .turn").count()
    page.fill("#question textarea", question)
    page.click("#send")
    page.wait_for_selector(f'#conversation .turn[data-turn="{n}"][data-state="done"]', timeout=60_000)
    # saved: the panel lists the conversation with this many questions
    page.wait_for_function(
        f"[...document.querySelectorAll('#conversations-list .conv-row.current .conv-meta')]"
        f".some(e => e.textContent.includes('{n + 1} question'))", timeout=30_000)


def _answers(page) -> list[str]:
    return [t.inner_text() for t in page.locator("#conversation .turn .answer-text").all()]


def _check_citation(page, turn_index: int) -> None:
    turn = page.locator(f'#conversation .turn[data-turn="{turn_index}"]')
    cite = turn.locator(".answer-text button.cite").first
    n = cite.get_attribute("data-cite")
    cite.click()
    page.wait_for_selector(f'#source-panel .source[data-n="{n}"][data-turn="{turn_index}"] mark')


@pytest.mark.real
def test_browser_reload_restores_the_conversation_and_the_panel_works(tmp_path, seeds_dir):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium for the browser test")
    from playwright.sync_api import sync_playwright

    runtime = seeds_runtime(tmp_path / "index", seeds_dir)
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port(), lang="en")
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
                page.goto(url)
                page.wait_for_selector("#conversations-list .convs-empty")
                _ask(page, Q1)
                _ask(page, Q2)
                before = _answers(page)
                assert len(before) == 2 and all(before)
                page.reload()
                page.wait_for_selector('#conversation .turn[data-turn="1"]', timeout=30_000)
                assert _answers(page) == before
                questions = [q.text_content() for q in page.locator("#conversation .turn .q").all()]
                assert len(questions) == 2 and questions[0].endswith(Q1) and questions[1].endswith(Q2)
                _check_citation(page, 0)
                _check_citation(page, 1)
                # A follow-up continues the same saved conversation.
                _ask(page, "En wat kost het?")
                with History(path_for(tmp_path / "index")) as h:
                    (only,) = h.list("")
                    assert only.turns == 3 and only.title.startswith("Waarom is er voor Traject Sezen")
                    conv_id = only.id

                # New conversation, then reopen the first one from the panel.
                page.click("#new-conversation")
                page.wait_for_selector("#conversation .conv .empty")
                _ask(page, Q2)
                rows = page.locator("#conversations-list .conv-row")
                assert rows.count() == 2
                row = page.locator(f'#conversations-list .conv-row[data-id="{conv_id}"]')
                row.locator("button.conv-open").click()
                page.wait_for_selector('#conversation .turn[data-turn="2"]')
                assert _answers(page)[:2] == before
                _check_citation(page, 1)

                # Rename in the row.
                row.locator("button.conv-rename").click()
                row.locator("input.conv-title").fill("Sezen en Lochem")
                row.locator("button.conv-rename-save").click()
                page.wait_for_selector(f'#conversations-list .conv-row[data-id="{conv_id}"] .conv-open:text-is("Sezen en Lochem")')

                # Delete it: gone from the panel and from the file.
                row = page.locator(f'#conversations-list .conv-row[data-id="{conv_id}"]')
                row.locator("button.conv-delete").click()
                row.locator("button.conv-delete-yes").click()
                page.wait_for_selector(f'#conversations-list .conv-row[data-id="{conv_id}"]', state="detached")
                with History(path_for(tmp_path / "index")) as h:
                    assert [r.id for r in h.list("")] != [] and conv_id not in [r.id for r in h.list("")]
                # A reload now does not bring back the deleted one.
                page.reload()
                page.wait_for_selector("#conversations-list .conv-row")
                page.wait_for_timeout(500)
                assert "Sezen en Lochem" not in page.locator("body").inner_text()

                # The panel follows the language switch.
                page.locator("#lang-switch").get_by_text("NL", exact=True).click()
                page.wait_for_function("document.querySelector('#conversations')?.innerText.startsWith('Gesprekken')")
                assert "1 vraag" in page.locator("#conversations-list").inner_text()
            finally:
                browser.close()
    finally:
        demo.close()




@pytest.mark.real
def test_browser_reload_after_a_restart_reopens_the_conversation(tmp_path, seeds_dir):
    """The tab's conversation id is encrypted with the index's own secret (index/browser-secret), not
    one made at each start: a reload after the chat restarted (same address) reopens it."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium for the browser test")
    from playwright.sync_api import sync_playwright

    port = _free_port()
    demo, url = ui.serve(seeds_runtime(tmp_path / "index", seeds_dir), "127.0.0.1", port, lang="en")
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
                page.goto(url)
                page.wait_for_selector("#conversations-list .convs-empty")
                _ask(page, Q1)
                before = _answers(page)
                demo.close()
                demo, url = ui.serve(seeds_runtime(tmp_path / "index", seeds_dir), "127.0.0.1", port, lang="en")
                page.reload()
                page.wait_for_selector('#conversation .turn[data-turn="0"][data-state="done"]', timeout=30_000)
                assert _answers(page) == before and len(before) == 1
                _check_citation(page, 0)
            finally:
                browser.close()
    finally:
        demo.close()


def _login(context, url: str, name: str, password: str) -> None:
    r = context.request.post(url.rstrip("/") + "/login", form={"username": name, "password": password})
    assert r.ok, r.text()


@pytest.mark.real
def test_two_logins_keep_conversations_apart_and_share_documents(tmp_path, seeds_dir):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium for the browser test")
    from playwright.sync_api import sync_playwright

    path = tmp_path / "users.toml"
    users.add(path, "ana", "ana-pw")
    users.add(path, "bob", "bob-pw")
    runtime = seeds_runtime(tmp_path / "index", seeds_dir)
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port(), lang="en", users=users.UsersFile(path))
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                ana = browser.new_context(viewport={"width": 1300, "height": 1000})
                _login(ana, url, "ana", "ana-pw")
                a = ana.new_page()
                a.goto(url)
                _ask(a, Q1)
                upload = tmp_path / "zuiderzee_deelfietsen.txt"
                upload.write_text(UPLOAD_TEXT, encoding="utf-8")
                a.set_input_files("#upload input[type=file]", [str(upload)])
                a.wait_for_selector("#upload-status .done", timeout=60_000)
                with History(path_for(tmp_path / "index")) as h:
                    (ana_conv,) = h.list("ana")
                    assert h.list("bob") == [] and h.list("") == []

                stored = a.evaluate("localStorage.getItem('assistant-conversation')")
                assert stored  # the tab's current conversation, kept by the browser

                bob = browser.new_context(viewport={"width": 1300, "height": 1000})
                _login(bob, url, "bob", "bob-pw")
                # Bob's browser holds ana's conversation id (her tab's localStorage, copied): a reload
                # must not open it for him.
                b = bob.new_page()
                b.goto(url)
                b.wait_for_selector("#conversations-list .convs-empty")
                b.evaluate("(v) => localStorage.setItem('assistant-conversation', v)", stored)
                b.reload()
                b.wait_for_selector("#conversations-list .convs-empty")
                b.wait_for_timeout(1000)
                assert Q1 not in b.locator("body").inner_text()
                # Opening ana's id through the panel's event is refused as "not there".
                b.evaluate("""(id) => {
                    const list = document.querySelector('#conversations-list .convs');
                    list.innerHTML = `<ul class="conv-list"><li class="conv-row" data-id="${id}">
                      <button type="button" class="conv-open" data-action="open">x</button></li></ul>`;
                }""", ana_conv.id)
                b.locator("button.conv-open").click()
                b.wait_for_selector("text=That conversation is not there any more.", timeout=15_000)
                assert Q1 not in b.locator("#conversation").inner_text()
                # Bob finds ana's uploaded document: the documents are shared.
                page_text = b.locator("#documents-list").inner_text()
                assert "zuiderzee_deelfietsen" in page_text or "Proef met deelfietsen" in page_text
                _ask(b, UPLOAD_Q)
                assert "uploads/zuiderzee_deelfietsen.txt" in b.locator("#conversation .turn").last.text_content()
                with History(path_for(tmp_path / "index")) as h:
                    assert [r.id for r in h.list("ana")] == [ana_conv.id]
                    (bob_conv,) = h.list("bob")
                # Ana's panel still lists only hers.
                a.reload()
                a.wait_for_selector(f'#conversations-list .conv-row[data-id="{ana_conv.id}"]')
                a.wait_for_selector('#conversation .turn[data-turn="0"]')  # her own tab does reopen it
                assert Q1 in a.locator("#conversation").inner_text()
                assert a.locator("#conversations-list .conv-row").count() == 1
                assert a.locator(f'#conversations-list .conv-row[data-id="{bob_conv.id}"]').count() == 0
            finally:
                browser.close()
    finally:
        demo.close()


def test_users_file_logins_over_http(tmp_path, seeds_dir):
    """`--users`: no page config or API without a login, one user's password does not open another's login."""
    path = tmp_path / "users.toml"
    users.add(path, "ana", "ana-pw")
    users.add(path, "bob", "bob-pw")
    runtime = seeds_runtime(tmp_path / "index", seeds_dir)
    demo, url = ui.serve(runtime, "127.0.0.1", _free_port(), users=users.UsersFile(path))
    try:
        base = url.rstrip("/")
        with httpx.Client(base_url=base, timeout=30) as anon:
            assert anon.get("/config").status_code == 401
            assert anon.post("/login", data={"username": "ana", "password": "bob-pw"}).status_code == 400
        with httpx.Client(base_url=base, timeout=30) as bob:
            assert bob.post("/login", data={"username": "bob", "password": "bob-pw"}).json() == {"success": True}
            assert bob.get("/config").status_code == 200
        with httpx.Client(base_url=base, timeout=30) as ana:
            assert ana.post("/login", data={"username": "ana", "password": "ana-pw"}).json() == {"success": True}
            assert ana.get("/config").status_code == 200
    finally:
        demo.close()
