"""PDF page numbers: page offsets on documents, a page on every chunk, excerpt and citation, in the
index (and an index written before pages existed), in `assistant check`, and in the CLI's output."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fakes import EchoGenerator, HashEmbedder
from legacy import as_format_2
from scans import PAGE_1, PAGE_2, text_pdf

from assistant import cli, index, ocr
from assistant.check import check
from assistant.evidence import EvidenceSelector, EvidenceSettings
from assistant.ingest import load_folder, sha256_text
from assistant.pages import join_pages, page_at, ranges
from assistant.retrieve import HybridRetriever
from assistant.types import Citation, Document, Excerpt

PAGES = [
    "Begroting. " + "De raad bespreekt de begroting en de reserves van de gemeente in november. " * 4,
    "Zwembad. " + "Het binnenbad De Vijfhoek wordt gerenoveerd en gaat na de zomer weer open. " * 4,
    "Fietsbrug. " + "De fietsbrug over de Berkel wordt in maart vervangen door een stalen brug. " * 4,
]


def _paged_doc(source="docs/brief.pdf") -> Document:
    text, starts = join_pages(PAGES)
    return Document(source, "Raadsbrief", text, sha256_text(text), pages=starts, ocr_pages=(3,))


def _plain_doc() -> Document:
    text = "Een gewone tekst zonder pagina's over de fietsbrug van een andere gemeente, in Lochem. " * 3
    return Document("docs/notitie.txt", "Notitie", text, sha256_text(text))


def test_join_pages_and_page_at():
    text, starts = join_pages(["abc", "", "de"])
    assert text == "abc\n\n\n\nde" and starts == (0, 5, 7)
    assert [page_at(starts, i) for i in range(len(text))] == [1, 1, 1, 1, 1, 2, 2, 3, 3]
    assert page_at((), 5) is None  # a document without pages
    assert join_pages([]) == ("", ())
    assert ranges([3, 1, 2, 7, 9, 10]) == "1-3, 7, 9-10" and ranges([4]) == "4"


def test_chunks_excerpts_and_citations_know_their_page(tmp_path, prompts_dir):
    from test_answer import make

    emb = HashEmbedder()
    doc, plain = _paged_doc(), _plain_doc()
    index.sync(tmp_path / "index", [doc, plain], emb, 200, 40, scope="docs")
    idx = index.load(tmp_path / "index")
    assert idx.docs[doc.source].pages == doc.pages and idx.docs[doc.source].ocr_pages == (3,)
    paged = [c for c in idx.chunks if c.source == doc.source]
    assert {c.page for c in paged} == {1, 2, 3}
    for c in paged:
        assert c.page == page_at(doc.pages, c.start) and doc.pages[c.page - 1] <= c.start
    assert all(c.page is None for c in idx.chunks if c.source == plain.source)

    retriever = HybridRetriever(idx, emb)
    r = retriever.retrieve("Wanneer wordt de fietsbrug over de Berkel vervangen?", 3)
    top = r.hits[0]
    assert top.chunk.source == doc.source and top.chunk.page == 3 and top.to_json(1)["page"] == 3
    excerpts = EvidenceSelector(idx, EvidenceSettings(budget=200)).select(r)
    # the page where the excerpt starts (widened by a neighbour sentence it may begin on the page before
    # the sentence that matched)
    e = excerpts[0]
    assert e.page == page_at(doc.pages, e.start) and e.to_json()["page"] == e.page
    assert page_at(doc.pages, e.matches[0][0]) == 3

    answer = make((idx, emb, retriever), prompts_dir, EchoGenerator()).answer(
        "Wanneer wordt de fietsbrug over de Berkel vervangen?")
    out = answer.to_json()
    first = answer.evidence[0]
    assert answer.citations and answer.citations[0].page == first.page == page_at(doc.pages, first.start)
    assert out["citations"][0]["page"] == out["evidence"][0]["page"] == first.page and out["passages"][0]["page"] == 3


def test_json_shapes_gain_page_and_keep_the_rest():
    e = Excerpt(1, "s", "t", 0, 4, "text", page=2)
    assert set(e.to_json()) == {"n", "source", "title", "start", "end", "text", "context", "score", "matches", "page", "meta"}
    assert Citation(1, e, True).to_json()["page"] == 2 and Citation(1, e, True).page == 2
    invalid = Citation(9, None, False)
    assert invalid.page is None and invalid.to_json()["page"] is None
    assert Excerpt(1, "s", "t", 0, 4, "text").to_json()["page"] is None


def test_index_from_before_pages_is_read_then_migrated_without_re_embedding(tmp_path):
    emb, idx_dir = HashEmbedder(), tmp_path / "index"
    docs = [_paged_doc(), _plain_doc()]
    index.sync(idx_dir, docs, emb, 200, 40, scope="docs")
    as_format_2(index.current_generation(idx_dir))
    assert check(idx_dir).ok, check(idx_dir).text()  # checked as it is (JSON lines)
    old = index.load(idx_dir)  # still searchable, without pages (loading upgraded its files to format 4)
    assert old.manifest["upgraded_from"] == 2 and all(c.page is None for c in old.chunks)
    assert old.docs["docs/brief.pdf"].pages == ()
    assert check(idx_dir).ok, check(idx_dir).text()

    calls = emb.calls
    report = index.sync(idx_dir, docs, emb, 200, 40, scope="docs")  # the next ingest of the folder
    assert emb.calls == calls and report.chunks_embedded == 0 and len(report.unchanged) == 2
    new = index.load(idx_dir)
    assert new.manifest["format"] == index.FORMAT == 4 and "upgraded_from" not in new.manifest
    assert {c.page for c in new.chunks if c.source == "docs/brief.pdf"} == {1, 2, 3}
    assert [c.id for c in new.chunks] == [c.id for c in old.chunks]
    assert check(idx_dir).ok, check(idx_dir).text()


def test_unknown_format_still_says_rebuild(tmp_path):
    from assistant.errors import IndexStoreError

    idx_dir = tmp_path / "index"
    index.sync(idx_dir, [_plain_doc()], HashEmbedder(), 200, 40, scope="docs")
    gen = index.current_generation(idx_dir)
    m = json.loads((gen / "manifest.json").read_text())
    m["format"] = 1
    (gen / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexStoreError, match=r"format 1, this one reads 2, 3 and 4\); run `assistant ingest --rebuild`"):
        index.load(idx_dir)


def test_check_finds_a_chunk_page_that_disagrees_with_its_document(tmp_path):
    idx_dir = tmp_path / "index"
    index.sync(idx_dir, [_paged_doc()], HashEmbedder(), 200, 40, scope="docs")
    conn = sqlite3.connect(index.current_generation(idx_dir) / "texts.sqlite")
    conn.execute("UPDATE chunks SET page = 1 WHERE row = (SELECT max(row) FROM chunks)")
    conn.commit()
    n = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    conn.close()
    report = check(idx_dir)
    assert not report.ok
    (problem,) = report.problems
    assert problem.file == "texts.sqlite" and f"1 of {n} chunks have a page number" in problem.message


@pytest.fixture
def fake_models(monkeypatch):
    emb = HashEmbedder()
    monkeypatch.setattr("assistant.pipeline.make_embedder", lambda settings, built_with=None: emb)
    monkeypatch.setattr("assistant.pipeline.make_generator", lambda settings: EchoGenerator())
    monkeypatch.setattr(ocr, "missing", lambda: "")
    monkeypatch.setattr(ocr, "engine", lambda: "fake-engine")
    # each page longer than a chunk (900 characters), so that page 2's chunks start on page 2
    monkeypatch.setattr(ocr, "recognise", lambda image, name="", page=1: {1: PAGE_1, 2: PAGE_2}[page])
    return emb


def test_cli_ingest_search_and_ask_show_pages(tmp_path, fake_models, capsys):
    from scans import scanned_pdf

    folder = tmp_path / "stukken"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(scanned_pdf(["een", "twee"]))
    (folder / "tekst.pdf").write_bytes(text_pdf(["Agenda van de raad over de begroting en de reserves van de stad"]))
    base = ["--index-dir", str(tmp_path / "index"), "--home", str(tmp_path / "home")]
    assert cli.main(base + ["ingest", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "read by OCR: stukken/scan.pdf, pages 1-2 of 2" in err and "OCR scan.pdf" in err  # log + progress bar
    assert list((tmp_path / "home" / "ocr").rglob("*-p2.txt"))  # the OCR'd pages are cached in ASSISTANT_HOME

    q = "Wanneer wordt de fietsbrug over de Berkel vervangen?"
    assert cli.main(base + ["search", q, "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("[1] ") and "(stukken/scan.pdf, p. 2, " in out.splitlines()[0]
    assert cli.main(base + ["search", q, "-k", "2", "--json"]) == 0
    passages = json.loads(capsys.readouterr().out)["passages"]
    assert passages[0]["page"] == 2 and passages[0]["source"] == "stukken/scan.pdf"
    assert {p["source"]: p["page"] for p in passages}["stukken/tekst.pdf"] == 1

    assert cli.main(base + ["ask", q]) == 0
    out = capsys.readouterr().out
    assert "[1] " in out and "(stukken/scan.pdf, p. 2, " in out
    assert cli.main(base + ["ask", q, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["citations"][0]["page"] == 2 and data["evidence"][0]["page"] == 2
