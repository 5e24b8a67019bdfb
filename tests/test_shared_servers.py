"""Two chat servers on one shared index (assistant/index/shared/), for real: the index published to
a real PostgreSQL + pgvector server by `assistant ingest`, two `assistant chat` processes that have
no index folder of their own answering at the same time through their HTTP API (real embedder, the
0.5B model), and a document published later found by both."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "eval"))

from load import last_turn  # noqa: E402

pytestmark = pytest.mark.real


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(env, *args) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _serve(env, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "chat", "--port", str(port)], env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.kill()
    raise AssertionError(f"chat did not start: {log.read_text()[-3000:]}")


def _ask(url: str, question: str, out: dict, start: threading.Barrier) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    start.wait()
    t0 = time.time()
    job = client.submit(question, 5, api_name="/ask")
    job.result(timeout=600)
    pages = [o[0] for o in job.outputs() if isinstance(o, (list, tuple)) and o and isinstance(o[0], str)]
    out[url] = {"start": t0, "end": time.time(), "turn": last_turn(pages[-1]), "page": pages[-1]}
    client.close()


def test_two_chat_servers_answer_from_one_database(real_settings, pg_dsn, tmp_path):
    shared = f"{pg_dsn}#two-servers"
    writer_dir = tmp_path / "writer"
    # the seeds index the real tests share (nothing to embed), without the history they saved there
    shutil.copytree(real_settings.storage.index_dir, writer_dir, ignore=shutil.ignore_patterns("history.sqlite*"))
    base = {**os.environ, "ASSISTANT_HOME": str(real_settings.storage.home), "ASSISTANT_SHARED_INDEX": shared,
            "ASSISTANT_LLM": real_settings.llm_key() or str(real_settings.generation.model)}
    out = _cli({**base, "ASSISTANT_INDEX_DIR": str(writer_dir)}, "ingest", str(ROOT / "seeds"))
    assert "published to" in out.stdout and "#two-servers" in out.stdout and "secret" not in out.stdout

    procs = []
    try:
        urls = []
        for name in ("a", "b"):  # each with an empty folder of its own (history, uploads): the index is the database's
            env = {**base, "ASSISTANT_INDEX_DIR": str(tmp_path / name)}
            proc, url = _serve(env, tmp_path / f"{name}.log")
            procs.append(proc)
            urls.append(url)
        assert not any((tmp_path / n / "CURRENT").exists() for n in ("a", "b"))

        got: dict = {}
        start = threading.Barrier(2)
        questions = ["Waarom is er geen projectplan opgesteld voor Sezen?", "Welke motie nam de gemeenteraad van Lochem aan?"]
        threads = [threading.Thread(target=_ask, args=(u, q, got, start)) for u, q in zip(urls, questions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=900)
        assert set(got) == set(urls), [p.read_text()[-2000:] for p in tmp_path.glob("*.log")]
        a, b = (got[u] for u in urls)
        assert a["start"] < b["end"] and b["start"] < a["end"]  # both questions were being answered at once
        for (question, answer, error), q in zip((a["turn"], b["turn"]), questions):
            assert question == q and answer.strip() and not error, answer
        assert "[1]" in a["page"] and "[1]" in b["page"]  # cited sources, read from the database

        # A document published later: both servers find it (they follow the database's live generation)
        extra = tmp_path / "extra"
        extra.mkdir()
        (extra / "parkeren.txt").write_text(
            "Parkeerbeleid Zuiderveen 2026.\n\nDe gemeente Zuiderveen verhoogt het tarief van de bewonersvergunning "
            "per 1 maart 2026 naar 95 euro per jaar. De opbrengst gaat naar fietsenstallingen bij het station.",
            encoding="utf-8")
        out = _cli({**base, "ASSISTANT_INDEX_DIR": str(writer_dir)}, "ingest", str(extra))
        assert "1 added" in out.stdout and "1 segments copied" in out.stdout
        time.sleep(6)  # the servers look for a new generation every 5 s (ui/runtime.FOLLOW_SECONDS)
        got = {}
        start = threading.Barrier(2)
        q = "Wat kost de bewonersvergunning in Zuiderveen vanaf maart 2026?"
        threads = [threading.Thread(target=_ask, args=(u, q, got, start)) for u in urls]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=900)
        for u in urls:
            assert "Parkeerbeleid Zuiderveen" in got[u]["page"], got[u]["turn"]  # the new document is a source
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
