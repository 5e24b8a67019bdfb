"""A scanned Dutch PDF end to end, with the real Tesseract, the real embedder and the small real LLM:
ingested through the CLI and through the browser's upload path, a question about its second page
retrieves that page's text with page 2 in `search --json` and in `ask --json` evidence and citations.

Skipped (with the install command) only when Tesseract or its Dutch model is missing; `./run.sh
test` installs them. A fresh $ASSISTANT_HOME (the models linked in) keeps the OCR cache empty, so
Tesseract really runs in every test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from scans import BRIDGE_QUESTION, BRIDGE_WORDS, PAGE_1, PAGE_2, scanned_pdf
from test_ocr import needs_tesseract

from assistant import index, ocr
from assistant.config import Settings

pytestmark = [pytest.mark.real, needs_tesseract]


@pytest.fixture
def home(tmp_path):
    """A fresh ASSISTANT_HOME with the real models linked in (and so an empty OCR cache)."""
    real = Settings.from_env().storage.models_dir
    h = tmp_path / "home"
    h.mkdir()
    (h / "models").symlink_to(real.resolve(), target_is_directory=True)
    return h


@pytest.fixture
def scan_folder(tmp_path):
    folder = tmp_path / "woo"
    folder.mkdir()
    (folder / "raadsbrief-scan.pdf").write_bytes(scanned_pdf([PAGE_1, PAGE_2]))
    return folder


def _run(home, index_dir, *args, timeout=1800):
    env = dict(os.environ, ASSISTANT_HOME=str(home), ASSISTANT_INDEX_DIR=str(index_dir))
    out = subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_scanned_pdf_through_the_cli(tmp_path, home, scan_folder):
    idx_dir = tmp_path / "index"
    out = _run(home, idx_dir, "ingest", str(scan_folder))
    assert "read by OCR: woo/raadsbrief-scan.pdf, pages 1-2 of 2" in out.stderr, out.stderr
    assert "OCR raadsbrief-scan.pdf" in out.stderr  # the per-page progress bar
    doc = index.load(idx_dir).docs["woo/raadsbrief-scan.pdf"]
    assert doc.ocr_pages == (1, 2) and len(doc.pages) == 2

    found = json.loads(_run(home, idx_dir, "search", BRIDGE_QUESTION, "-k", "3", "--json").stdout)
    top = found["passages"][0]
    assert top["page"] == 2 and all(w in top["text"] for w in BRIDGE_WORDS), top
    assert doc.text[top["start"]:top["end"]] == top["text"] and top["start"] >= doc.pages[1]

    plain = _run(home, idx_dir, "search", BRIDGE_QUESTION, "-k", "1").stdout
    assert "(woo/raadsbrief-scan.pdf, p. 2, " in plain.splitlines()[0]

    data = json.loads(_run(home, idx_dir, "--llm", "qwen2.5-coder-0.5b", "ask", BRIDGE_QUESTION, "--json").stdout)
    assert data["passages"][0]["page"] == 2
    ev = [e for e in data["evidence"] if any(w in e["text"] for w in BRIDGE_WORDS)]
    assert ev and all(e["page"] == 2 for e in ev), data["evidence"]
    for e in data["evidence"]:  # each excerpt lies on one page: the one its start is on
        assert e["page"] == (1 if e["end"] <= doc.pages[1] else 2) and (e["start"] >= doc.pages[1]) == (e["page"] == 2)
    for c in data["citations"]:
        if c["valid"]:
            assert c["page"] == data["evidence"][c["n"] - 1]["page"]
    if not data["abstained"]:
        assert any(c["page"] == 2 for c in data["citations"] if c["valid"]), data


def test_scanned_pdf_through_the_upload_path(tmp_path, home, scan_folder, monkeypatch):
    """The browser's upload handler calls Runtime.add_files: the same function here, real models."""
    from fakes import EchoGenerator

    from assistant import ui
    from assistant.pipeline import build, make_embedder

    s = Settings.from_env(home=home).with_(index_dir=tmp_path / "index")
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "notitie.txt").write_text("Notitie over het parkeerbeleid in de binnenstad van Zutphen.", encoding="utf-8")
    from assistant.ingest import load_folder

    docs, _ = load_folder(seed)
    embedder = make_embedder(s)
    index.sync(s.storage.index_dir, docs, embedder, s.storage.chunk_size, s.storage.chunk_overlap, scope="seed")

    runs = []
    real = ocr.recognise
    monkeypatch.setattr(ocr, "recognise", lambda image, name="", page=1: runs.append(page) or real(image, name, page))
    runtime = ui.Runtime(s, build(s.with_(min_similarity=0.0), embedder=embedder, generator=EchoGenerator()))
    stages = []
    result = runtime.add_files([scan_folder / "raadsbrief-scan.pdf"], progress=lambda *a: stages.append(a))
    assert result.accepted == ["raadsbrief-scan.pdf"] and not result.problems, result.problems
    # checked once before it is kept, read again for the index: Tesseract ran once a page (the cache)
    assert sorted(runs) == [1, 2]
    assert ("ocr", 1, 2) in stages, stages  # per-page progress reaches the page

    p = runtime.pipeline
    doc = p.index.docs["uploads/raadsbrief-scan.pdf"]
    assert doc.ocr_pages == (1, 2)
    hits = p.assistant.retriever.retrieve(BRIDGE_QUESTION, 3).hits
    assert hits[0].chunk.source == "uploads/raadsbrief-scan.pdf" and hits[0].chunk.page == 2
    answer = p.assistant.answer(BRIDGE_QUESTION)
    bridge = [e for e in answer.evidence if "fietsbrug" in e.text]
    assert bridge and all(e.page == 2 for e in bridge) and answer.evidence[0] in bridge, answer.evidence
    assert answer.citations and answer.citations[0].page == 2  # the echo model cites [1]
