"""`assistant ask --export` end to end: the real embedder, the tests' small LLM (qwen2.5-coder-0.5b)
and an index of the seeds plus a generated two-page PDF (so the cited source has a page number).

The seeds' index is the cached one of the other real tests (conftest.real_settings), copied; only the
PDF is embedded here. Fails, not skips, when a model is missing: `./run.sh test` fetches them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from docx import Document
from pdfgen import text_pdf

from assistant import index
from assistant.ingest import load_folder
from assistant.pipeline import make_embedder

pytestmark = pytest.mark.real

QUESTION = "Hoeveel elektrische deelfietsen staan er in de proef van de gemeente Zuiderzee?"
# Page 1 is long enough to be a chunk of its own, so the answer's passage starts on page 2.
PAGE_1 = ["Raadsinformatiebrief gemeente Zuiderzee", "Datum: 12 maart 2025", "Onderwerp: proef met deelfietsen",
          "Geachte leden van de raad,",
          "Met deze brief informeren wij u over de voortgang van het mobiliteitsplan van de gemeente.",
          "In het mobiliteitsplan staan maatregelen voor veilige fietsroutes naar scholen en het station.",
          "De gemeente heeft met inwoners gesproken over parkeren in het centrum en over laadpalen.",
          "Die gesprekken leverden veel reacties op, die wij in een apart verslag aan u sturen.",
          "Ook is de aanbesteding van het openbaar vervoer in de regio voorbereid met de provincie.",
          "De provincie beslist in het najaar over de nieuwe dienstregeling van de buslijnen.",
          "Over de herinrichting van de Dorpsstraat ontvangt u voor de zomer een voorstel.",
          "Het college wil de raad vroeg betrekken bij de keuzes die daar gemaakt moeten worden.",
          "Daarom organiseren wij in april een informatieavond voor raadsleden en bewoners."]
PAGE_2 = ["Proef met deelfietsen",
          "In de proef van de gemeente Zuiderzee staan 140 elektrische deelfietsen.",
          "De fietsen staan op twaalf plekken in de gemeente.",
          "De proef kost 85.000 euro en loopt tot 1 juli 2026."]
FILE = "zuiderzee_fietsbrief.pdf"
SOURCE = f"pdfs/{FILE}"  # the document's id: its folder and name
TITLE = "Raadsinformatiebrief gemeente Zuiderzee"


@pytest.fixture(scope="module")
def index_dir(real_settings, tmp_path_factory):
    """The seeds' index with the PDF added (scope None: added beside the seeds, nothing removed)."""
    root = tmp_path_factory.mktemp("export-real")
    target = root / "index"
    with index.write_lock(real_settings.storage.index_dir):  # (another test run may be writing it)
        shutil.copytree(real_settings.storage.index_dir, target)
    folder = root / "pdfs"
    folder.mkdir()
    (folder / FILE).write_bytes(text_pdf([PAGE_1, PAGE_2]))
    docs, problems = load_folder(folder)
    assert problems == [] and [d.source for d in docs] == [SOURCE]
    s = real_settings.with_(index_dir=target)
    index.sync(target, docs, make_embedder(s), s.storage.chunk_size, s.storage.chunk_overlap, scope=None)
    assert index.load(target).docs[SOURCE].pages  # a document with pages
    return target


def _ask_export(settings, index_dir, path):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(index_dir), ASSISTANT_HOME=str(settings.storage.home))
    return subprocess.run([sys.executable, "-m", "assistant", "--llm", "qwen2.5-coder-0.5b", "ask", QUESTION,
                           "--export", str(path)], capture_output=True, text=True, env=env, timeout=1800)


def test_ask_export_markdown_and_docx(real_settings, index_dir, tmp_path):
    md_path, docx_path = tmp_path / "a.md", tmp_path / "a.docx"
    out = _ask_export(real_settings, index_dir, md_path)
    assert out.returncode == 0, out.stderr
    assert f"exported to {md_path}" in out.stderr
    md = md_path.read_text(encoding="utf-8")
    printed = out.stdout  # the answer is still printed
    assert f"## 1. {QUESTION}" in md
    # The quote: printed first by the CLI (`[n] «sentence»`), a block quote with its [n] in the file.
    quote_line = next(line for line in md.splitlines() if line.startswith("> «"))
    n = quote_line.rsplit("[", 1)[1].rstrip("]")
    quoted = quote_line[3:quote_line.rindex("»")]
    assert f"[{n}] «{quoted}»" in printed
    assert "140 elektrische deelfietsen" in quoted, quote_line  # the PDF's page-2 sentence
    # The answer with its [n] markers, as printed.
    body = md.split(quote_line, 1)[1].split("**Bronnen**", 1)[0].strip()
    assert re.search(r"\[\d+\]", body), body
    assert " ".join(body.replace("\\", "").split()) in " ".join(printed.split())
    # Numbered sources: the PDF with its page, title, date and cited sentence, and its document id.
    sources = [line for line in md.splitlines() if line.startswith("- [")]
    assert sources, md
    pdf = next(line for line in sources if TITLE in line)
    assert pdf.startswith(f"- [{n}] {TITLE} — ") and "2025-03-12" in pdf and ", p. 2: «" in pdf
    assert "140 elektrische deelfietsen" in pdf
    assert f"document: `{SOURCE}`" in md
    assert "taalmodel qwen2.5-coder-0.5b" in md and "index gen-" in md

    out = _ask_export(real_settings, index_dir, docx_path)
    assert out.returncode == 0, out.stderr
    doc = Document(str(docx_path))
    paras = doc.paragraphs
    assert paras[0].text == QUESTION and any(p.text == f"1. {QUESTION}" for p in paras)
    quote = next(p for p in paras if p.style.name == "Quote")
    assert "140 elektrische deelfietsen" in quote.text and quote.text.endswith(f"» [{n}]")
    listed = [p.text for p in paras if p.text.startswith("[") and "\t" in p.text]
    pdf = next(t for t in listed if TITLE in t)
    assert pdf.startswith(f"[{n}]\t{TITLE} — ") and "2025-03-12" in pdf and ", p. 2: «" in pdf
    assert f"document: {SOURCE}" in pdf

