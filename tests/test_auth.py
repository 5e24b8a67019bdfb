"""`assistant chat` on the network: a login or an explicit --no-auth, and the login really guards
the page, its /config and the /gradio_api routes (queue, uploads, files). Fast: no models; the
server test starts a real Gradio app on 127.0.0.1 with a stand-in pipeline."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from assistant import cli, ui
from assistant.config import Settings
from assistant.errors import InputError


@pytest.fixture
def no_server(monkeypatch):
    """build / warm_up / serve (as `launch` in ui/server.py sees them) replaced by recorders; the
    serve loop ends at once."""
    calls: dict = {}

    def fake_build(settings, with_llm=True, **kw):
        calls["build"] = True
        return SimpleNamespace(settings=settings)

    def fake_serve(runtime, host, port, open_browser=False, *, auth=None, no_auth=False, queue_max_size=None,
                   lang="auto", users=None):
        ui.check_exposure(host, auth or users, no_auth)  # the real serve checks too
        calls["serve"] = {"host": host, "port": port, "auth": auth, "no_auth": no_auth}
        calls["users"] = users
        calls["lang"] = lang
        calls["queue_max_size"] = queue_max_size
        return SimpleNamespace(close=lambda: calls.setdefault("closed", True)), f"http://{host}:{port}/"

    def stop(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(ui.server, "build", fake_build)
    monkeypatch.setattr(ui.server, "warm_up", lambda pipeline: None)
    monkeypatch.setattr(ui.server, "serve", fake_serve)
    monkeypatch.setattr(ui.server.time, "sleep", stop)
    monkeypatch.delenv("ASSISTANT_AUTH", raising=False)
    monkeypatch.delenv("ASSISTANT_USERS", raising=False)
    return calls


def _chat(tmp_path, *args):
    return cli.main(["--index-dir", str(tmp_path / "index"), "chat", *args])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "assistant.example.org"])
def test_non_loopback_host_without_login_is_refused(tmp_path, no_server, capsys, host):
    rc = _chat(tmp_path, "--host", host)
    err = capsys.readouterr().err
    assert rc == 2
    assert f"refusing to serve the chat on {host} without a login" in err
    assert "--auth USER:PASSWORD" in err and "ASSISTANT_AUTH=USER:PASSWORD" in err and "--no-auth" in err
    assert no_server == {}  # no model loaded, no server started


def test_refusal_from_a_real_process_starts_nothing(tmp_path):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_AUTH"}
    env["PYTHONPATH"] = str(root)
    run = subprocess.run([sys.executable, "-m", "assistant", "--index-dir", str(tmp_path / "nope"), "chat",
                          "--host", "0.0.0.0", "--port", "1"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2
    assert "refusing to serve the chat on 0.0.0.0" in run.stderr and "--no-auth" in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_login(tmp_path, no_server, host):
    assert _chat(tmp_path, "--host", host) == 0
    assert no_server["serve"] == {"host": host, "port": 7860, "auth": None, "no_auth": False}


def test_default_host_is_loopback_without_login(tmp_path, no_server):
    assert _chat(tmp_path) == 0
    assert no_server["serve"]["host"] == "127.0.0.1" and no_server["serve"]["auth"] is None


def test_chat_lang_is_the_pages_start_language(tmp_path, no_server, capsys):
    assert _chat(tmp_path) == 0 and no_server["lang"] == "auto"  # the browser's language
    assert _chat(tmp_path, "--lang", "nl") == 0 and no_server["lang"] == "nl"
    with pytest.raises(SystemExit):
        _chat(tmp_path, "--lang", "fr")
    assert "invalid choice: 'fr'" in capsys.readouterr().err


def test_no_auth_is_accepted_with_a_warning(tmp_path, no_server, capsys):
    assert _chat(tmp_path, "--host", "0.0.0.0", "--no-auth") == 0
    assert no_server["serve"] == {"host": "0.0.0.0", "port": 7860, "auth": None, "no_auth": True}
    assert "without a login (--no-auth)" in capsys.readouterr().err


def test_login_from_flag_or_environment(tmp_path, no_server, monkeypatch, capsys):
    assert _chat(tmp_path, "--host", "0.0.0.0", "--auth", "ana:ge:heim") == 0
    assert no_server["serve"]["auth"] == ("ana", "ge:heim")  # the password may contain ':'
    assert "login required (user 'ana')" in capsys.readouterr().out
    monkeypatch.setenv("ASSISTANT_AUTH", "bob:s3cret")
    assert _chat(tmp_path, "--host", "10.0.0.5") == 0
    assert no_server["serve"]["auth"] == ("bob", "s3cret")
    assert _chat(tmp_path, "--host", "10.0.0.5", "--auth", "ana:x") == 0  # the flag wins
    assert no_server["serve"]["auth"] == ("ana", "x")
    assert _chat(tmp_path, "--host", "10.0.0.5", "--no-auth") == 0  # explicit: the environment is ignored
    assert no_server["serve"]["auth"] is None and "ASSISTANT_AUTH is ignored" in capsys.readouterr().err


@pytest.mark.parametrize("value, message", [
    ("anageheim", "no ':' found"),
    (":geheim", "the user name is empty"),
    ("  :geheim", "the user name is empty"),
    ("ana:", "the password is empty"),
    ("", "no ':' found"),
])
def test_malformed_login_is_a_clear_error(tmp_path, no_server, capsys, monkeypatch, value, message):
    assert _chat(tmp_path, "--host", "0.0.0.0", "--auth", value) == 2
    err = capsys.readouterr().err
    assert "--auth must be USER:PASSWORD" in err and message in err
    assert "geheim" not in err  # the password is never echoed
    monkeypatch.setenv("ASSISTANT_AUTH", value)
    rc = _chat(tmp_path, "--host", "127.0.0.1")
    err = capsys.readouterr().err
    if value:  # an empty variable counts as unset
        assert rc == 2 and "ASSISTANT_AUTH must be USER:PASSWORD" in err and "geheim" not in err
    else:
        assert rc == 0
    assert "serve" not in no_server or value == ""


def test_auth_and_no_auth_together_is_an_error(tmp_path, no_server, capsys):
    assert _chat(tmp_path, "--host", "0.0.0.0", "--auth", "a:b", "--no-auth") == 2
    assert "contradict" in capsys.readouterr().err and no_server == {}


def test_a_users_file_is_a_login_on_the_network(tmp_path, no_server, monkeypatch):
    from assistant import users

    path = tmp_path / "users.toml"
    users.add(path, "ana", "pw")
    assert _chat(tmp_path, "--host", "0.0.0.0", "--users", str(path)) == 0
    assert no_server["users"].path == path and no_server["serve"]["auth"] is None
    monkeypatch.setenv("ASSISTANT_USERS", str(path))  # the environment names it too
    no_server.clear()
    assert _chat(tmp_path, "--host", "0.0.0.0") == 0
    assert no_server["users"].path == path
    no_server.clear()
    assert _chat(tmp_path, "--host", "0.0.0.0", "--users", str(tmp_path / "empty.toml")) == 2
    assert "serve" not in no_server  # no users in it: refused before any model loads


def test_policy_helpers():
    assert ui.is_loopback("127.0.0.1") and ui.is_loopback("[::1]") and ui.is_loopback("LOCALHOST")
    assert not ui.is_loopback("0.0.0.0") and not ui.is_loopback("") and not ui.is_loopback("127.0.0.1.example.org")
    assert ui.parse_auth("ana:a:b") == ("ana", "a:b")
    with pytest.raises(InputError, match="refusing"):
        ui.check_exposure("0.0.0.0", None)
    ui.check_exposure("0.0.0.0", ("a", "b"))
    ui.check_exposure("0.0.0.0", None, no_auth=True)


# -- a real Gradio server with a login ---------------------------------------------------------------
class _Index:
    docs: dict = {}
    chunks: list = []
    manifest: dict = {}

    def stats(self):
        return {"documents": 0, "chunks": 0, "updated": "never"}

    def chunk_counts(self):
        return {}


def _runtime(tmp_path) -> ui.Runtime:
    settings = Settings().with_(index_dir=tmp_path / "index")
    pipeline = SimpleNamespace(settings=settings, index=_Index(), embedder=None,
                               assistant=SimpleNamespace(generator=None))
    return ui.Runtime(settings, pipeline)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PROTECTED = [  # (method, path): the app's config and API, the queue, uploads and files
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("GET", "/gradio_api/openapi.json"),
    ("POST", "/gradio_api/queue/join"),
    ("GET", "/gradio_api/queue/data?session_hash=x"),
    ("POST", "/gradio_api/upload"),
    ("POST", "/gradio_api/call/ask"),
    ("POST", "/gradio_api/run/ask"),
    ("GET", "/gradio_api/file=/etc/passwd"),
]


def _join(client: httpx.Client):
    # the "ask" event with an empty question: answered with skips, the pipeline is never touched
    return client.post("/gradio_api/queue/join", json={
        "data": ["", 5, [], "en"], "fn_index": 0, "session_hash": "testsession", "event_data": None, "trigger_id": None})


def test_login_guards_page_config_and_api(tmp_path):
    demo, url = ui.serve(_runtime(tmp_path), "127.0.0.1", _free_port(), auth=("ana", "ge:heim"))
    try:
        with httpx.Client(base_url=url.rstrip("/"), follow_redirects=False, timeout=30) as anon:
            page = anon.get("/")
            assert page.status_code == 200
            assert '"auth_required":true' in page.text and "Ask the documents" not in page.text  # login form only
            for method, path in PROTECTED:
                r = anon.request(method, path, json={} if method == "POST" else None)
                assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
                assert "Not authenticated" in r.text
            assert _join(anon).status_code == 401

            wrong = anon.post("/login", data={"username": "ana", "password": "fout"})
            assert wrong.status_code == 400 and not anon.cookies
            assert anon.get("/config").status_code == 401

        with httpx.Client(base_url=url.rstrip("/"), follow_redirects=False, timeout=30) as user:
            r = user.post("/login", data={"username": "ana", "password": "ge:heim"})
            assert r.status_code == 200 and r.json() == {"success": True}
            assert any(name.startswith("access-token") for name in user.cookies)
            page = user.get("/")
            assert page.status_code == 200 and "Ask the documents" in page.text
            assert user.get("/config").status_code == 200
            assert user.get("/gradio_api/info").status_code == 200
            joined = _join(user)
            assert joined.status_code == 200 and "event_id" in joined.json()
    finally:
        demo.close()


def test_loopback_without_login_is_open_as_before(tmp_path):
    demo, url = ui.serve(_runtime(tmp_path), "127.0.0.1", _free_port())
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=30) as anon:
            assert "Ask the documents" in anon.get("/").text
            assert anon.get("/config").status_code == 200
            assert anon.get("/gradio_api/info").status_code == 200
    finally:
        demo.close()


def test_serve_itself_refuses_an_open_network_host(tmp_path):
    with pytest.raises(InputError, match="refusing to serve the chat on 0.0.0.0"):
        ui.serve(_runtime(tmp_path), "0.0.0.0", _free_port())
