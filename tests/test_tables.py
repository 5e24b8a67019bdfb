"""Tables in PDFs and DOCX files become one self-contained line per row ("Header: cell | ..."), so a
cell can be retrieved, quoted and cited: the rows come out in order between the surrounding text, on
the right page, each row one sentence and never split across chunks. The test files are generated
here (tests/tablefiles.py). The real test asks cell questions through the CLI's answer path."""

from __future__ import annotations

import io
import re

import pytest

import tablefiles as tf
from assistant import sentences
from assistant.chunk import chunk_document
from assistant.ingest import load_file
from assistant.pages import page_at
from assistant.readers import pdf as pdf_reader
from assistant.readers import table
from assistant.structure import Outline

PDF_LINES = [tf.row_line(tf.HEADER, r) for r in tf.ROWS]
DOCX_LINES = [tf.row_line(tf.DOCX_HEADER, r) for r in tf.DOCX_ROWS]


@pytest.fixture
def table_pdf(tmp_path):
    p = tmp_path / "begroting.pdf"
    p.write_bytes(tf.budget_pdf())
    return load_file(p)


@pytest.fixture
def table_docx(tmp_path):
    p = tmp_path / "maatregelen.docx"
    p.write_bytes(tf.budget_docx())
    return load_file(p)


def _row_spans(doc, lines):
    spans = []
    for line in lines:
        assert doc.text.count(line) == 1, line
        s = doc.text.index(line)
        spans.append((s, s + len(line)))
    return spans


def test_pdf_rows_are_lines_with_headers_in_order_between_the_paragraphs_on_page_2(table_pdf):
    doc = table_pdf
    spans = _row_spans(doc, PDF_LINES)
    assert spans == sorted(spans)
    before, after = doc.text.index(tf.BEFORE), doc.text.index(tf.AFTER)
    assert before < spans[0][0] and spans[-1][1] < after
    # one line per row, a blank line around the table
    block = doc.text[spans[0][0]:spans[-1][1]]
    assert block == "\n".join(PDF_LINES)
    assert doc.text[spans[0][0] - 2:spans[0][0]] == "\n\n" and doc.text[spans[-1][1]:spans[-1][1] + 2] == "\n\n"
    assert "Project Budget 2025" not in doc.text  # the header is folded into the rows, not a line of its own
    assert all(page_at(doc.pages, s) == 2 and page_at(doc.pages, e - 1) == 2 for s, e in spans)
    assert page_at(doc.pages, doc.text.index("investeringen")) == 1


def test_pdf_pages_without_a_table_read_exactly_as_pypdf_reads_them(tmp_path):
    from pypdf import PdfReader

    data = tf.budget_pdf()
    texts = pdf_reader.read(data, "x.pdf").texts
    reader = PdfReader(io.BytesIO(data))
    assert texts[0] == reader.pages[0].extract_text().strip()
    assert texts[1] != reader.pages[1].extract_text().strip()
    # an unruled table is not detected (documented limitation): the page reads as before
    plain = tf.budget_pdf(ruled=False)
    assert pdf_reader.read(plain, "x.pdf").texts == tuple(p.extract_text().strip() for p in PdfReader(io.BytesIO(plain)).pages)


def test_pdf_table_detection_is_bounded_and_never_fails_a_document(monkeypatch):
    """Over the object or content bound, with the time budget spent, or when pdfplumber fails on the
    file, the page keeps pypdf's text. (Measured: a hostile page of 10,000 drawn lines, 213 KB of
    content, takes ~1.25 s in pdfminer; 40 pages with a 39-row table take 2 s in all.)"""
    from pypdf import PdfReader

    data = tf.budget_pdf()
    plain = tuple(p.extract_text().strip() for p in PdfReader(io.BytesIO(data)).pages)
    monkeypatch.setattr(pdf_reader, "MAX_TABLE_PAGE_OBJECTS", 10)
    assert pdf_reader.read(data, "x.pdf").texts == plain
    monkeypatch.undo()
    monkeypatch.setattr(pdf_reader, "MAX_TABLE_PAGE_BYTES", 100)
    assert pdf_reader.read(data, "x.pdf").texts == plain
    monkeypatch.undo()

    monkeypatch.setattr(pdf_reader, "TABLE_SECONDS", -1.0)  # the document's time for table detection is spent
    assert pdf_reader.read(data, "x.pdf").texts == plain
    monkeypatch.undo()

    import pdfplumber

    def broken(*a, **k):
        raise ValueError("pdfminer cannot parse this")

    monkeypatch.setattr(pdfplumber, "open", broken)
    assert pdf_reader.read(data, "x.pdf").texts == plain


def test_docx_table_is_no_longer_dropped_and_sits_between_its_paragraphs(table_docx):
    doc = table_docx
    spans = _row_spans(doc, DOCX_LINES)
    assert doc.text == "\n\n".join(["Maatregelen duurzaamheid", tf.DOCX_BEFORE, "\n".join(DOCX_LINES), tf.DOCX_AFTER])
    assert spans == sorted(spans)


def test_docx_without_tables_reads_as_before():
    import docx

    from assistant.readers import docx as docx_reader

    d = docx.Document()
    for t in ("Eerste alinea.", "", "Tweede alinea."):
        d.add_paragraph(t)
    out = io.BytesIO()
    d.save(out)
    assert docx_reader.read(out.getvalue(), "x.docx") == "Eerste alinea.\n\nTweede alinea."


def test_docx_merged_cells_are_written_once_and_a_headerless_table_has_plain_cells():
    import docx

    from assistant.readers import docx as docx_reader

    d = docx.Document()
    t = d.add_table(rows=3, cols=3)
    for i, row in enumerate([("Wijk", "Budget", "Jaar"), ("Noord", "x", "y"), ("Zuid", "€ 5.000", "2026")]):
        for j, c in enumerate(row):
            t.cell(i, j).text = c
    t.cell(1, 1).merge(t.cell(1, 2)).text = "€ 12.000"
    t2 = d.add_table(rows=2, cols=2)
    for i, row in enumerate([("1", "€ 10"), ("2", "€ 20")]):  # numbers in the first row: no header
        for j, c in enumerate(row):
            t2.cell(i, j).text = c
    out = io.BytesIO()
    d.save(out)
    assert docx_reader.read(out.getvalue(), "x.docx") == (
        "Wijk: Noord | Budget: € 12.000\nWijk: Zuid | Budget: € 5.000 | Jaar: 2026\n\n1 | € 10\n2 | € 20")


def test_row_lines_rules():
    assert table.row_lines([["Naam", "", "Bedrag"], ["A", "x", "€ 1"], ["Naam", "", "Bedrag"], ["", None, ""]]) == [
        "Naam: A | x | Bedrag: € 1"]  # a cell under an empty header alone; a repeated header and empty row left out
    assert table.row_lines([["Regel\nmet breuk", "b"], ["c  d", "e"]]) == ["Regel met breuk: c d | b: e"]
    assert table.row_lines([["alleen"]]) == ["alleen"]


@pytest.mark.parametrize("make", ["table_pdf", "table_docx"])
def test_a_row_is_one_sentence_never_a_heading_and_never_split_across_chunks(make, request):
    doc = request.getfixturevalue(make)
    lines = PDF_LINES if make == "table_pdf" else DOCX_LINES
    spans = _row_spans(doc, lines)
    sents = set(sentences.split(doc.text))
    for span in spans:
        assert span in sents, doc.text[span[0]:span[1]]
    outline = Outline(doc.text)
    assert not any(outline.is_mark(s, e) for s, e in spans)
    for size, overlap in ((900, 150), (300, 50), (160, 40)):
        chunks = chunk_document(doc, size, overlap, [m.start for m in outline.marks])
        for s, e in spans:
            assert any(c.start <= s and e <= c.end for c in chunks), (size, doc.text[s:e])
            for c in chunks:  # no chunk holds part of a row
                assert not (s < c.start < e or s < c.end < e), (size, c.text)


def test_a_row_with_full_stops_in_its_cells_stays_one_sentence():
    text = "Inleiding.\n\nProject: Wijkcentrum De Linde. Fase 2! | Budget 2025: € 1,2 mln. | Contact: J. de Vries\n\nSlot."
    row = text.split("\n\n")[1]
    s = text.index(row)
    assert (s, s + len(row)) in sentences.split(text)


def test_a_quoted_row_is_not_extended_with_the_next_row():
    """quote.py quotes the best sentence and the one after it; a table row is quoted alone (the next
    row is another record), and a sentence is not extended with a row."""
    from assistant.quote import Candidate, QuoteChooser

    text = "Inleiding over de begroting.\n\n" + "\n".join(PDF_LINES[:2]) + "\n\nSlot van de nota. Nog een zin."
    spans = sentences.split(text)
    e = object()
    ranked = [Candidate(i, e, a, b, text[a:b], 1.0 - i / 10) for i, (a, b) in enumerate(spans)]
    chooser = QuoteChooser(selector=None)
    assert chooser.with_next(ranked[1], ranked) == spans[1]  # row 1 alone, not row 1 + row 2
    assert chooser.with_next(ranked[0], ranked) == spans[0]  # the intro is not extended with row 1
    assert chooser.with_next(ranked[3], ranked) == (spans[3][0], spans[4][1])  # prose as before


# -- real models ---------------------------------------------------------------------------------------
QUESTIONS = [  # (question, row's project, expected value)
    ("Wat is het budget voor 2026 van project Fietsroute Oost?", "Fietsroute Oost", "€ 1,5 mln"),
    ("Hoeveel budget heeft het project Groene Schoolpleinen in 2025?", "Groene Schoolpleinen", "€ 340.000"),
    ("Wie is verantwoordelijk voor het project Herinrichting Marktplein?", "Herinrichting Marktplein", "Openbare Ruimte"),
    ("Wat zijn de kosten in 2026 van de maatregel Speeltuin Noord?", "Speeltuin Noord", "€ 60.000"),
    ("Welk team voert de maatregel Snelfietspad West uit?", "Snelfietspad West", "Team Verkeer"),
]


def _amount(text: str) -> set[str]:
    """Amounts in a text, normalised: "€ 1,5 mln" / "1,5 miljoen" / "€1.500.000" -> "1500000"."""
    out = set()
    for m in re.finditer(r"(\d[\d.,]*)\s*(mln|miljoen|million)?", text, re.IGNORECASE):
        num, scale = m.group(1).rstrip(".,"), m.group(2)
        if scale:
            value = float(num.replace(".", "").replace(",", ".")) * 1_000_000
        else:
            value = float(num.replace(".", "").replace(",", "")) if re.search(r"[.,]\d{3}$", num) or num.isdigit() else None
        if value is not None:
            out.add(str(round(value)))
    return out


def value_in(answer: str, value: str) -> bool:
    if "€" in value:
        return bool(_amount(value) & _amount(answer))
    return value.lower() in answer.lower()


def test_amount_normalisation():
    assert value_in("Het budget is 1,5 miljoen euro [1].", "€ 1,5 mln")
    assert value_in("€1.500.000", "€ 1,5 mln") and value_in("€ 340.000", "€ 340.000")
    assert not value_in("€ 1,2 mln", "€ 1,5 mln") and not value_in("2026", "€ 60.000")


def measure(settings, folder):
    """(answers right, quotes on the right row, details) for QUESTIONS, ingesting `folder` into
    settings' index dir."""
    from assistant import index
    from assistant.ingest import load_folder
    from assistant.pipeline import build, make_embedder

    docs, problems = load_folder(folder, "tables")
    assert problems == [] and len(docs) == 2
    index.sync(settings.storage.index_dir, docs, make_embedder(settings), settings.storage.chunk_size,
               settings.storage.chunk_overlap, scope="tables")
    p = build(settings)
    texts = {d.source: d.text for d in index.load(settings.storage.index_dir).docs.values()}
    right = quoted = 0
    details = []
    for question, project, value in QUESTIONS:
        events = list(p.assistant.stream(question))  # the CLI's path (ask streams these events)
        a = events[-1].data
        # The quote event: the sentence code chose from the evidence, shown before the model writes
        # (the final Answer drops it when the model then abstains, so take it from the stream).
        q = next((e.data for e in events if e.kind == "quote"), None)
        rows = {src: [m.span() for m in re.finditer(rf"^[^\n]*{re.escape(project)}[^\n]*$", t, re.M)] for src, t in texts.items()}
        row = [(src, s) for src, spans in rows.items() for s in spans]
        assert len(row) == 1, (project, row)
        src, (rs, re_) = row[0]
        in_row = lambda source, s, e: source == src and rs <= s and e <= re_  # noqa: E731
        q_ok = q is not None and in_row(q.source, q.start, q.end) and texts[q.source][q.start:q.end] == q.text
        cited = any(c.excerpt is not None and c.excerpt.source == src and c.excerpt.start <= rs and re_ <= c.excerpt.end
                    for c in a.citations)
        v_ok = value_in(a.text, value)
        right += v_ok
        quoted += q_ok
        details.append((question, v_ok, q_ok, cited, a.decision.reason, a.text, q.text if q else None))
    return right, quoted, details


# Measured 2026-12-05 on these two files (answer path as the CLI: assistant.stream). The quote (the
# sentence code chooses from the evidence, quote.py) is the asked row for 5/5 with both models. With
# the model copying the value from it, the answer held the right value 1/5 (0.5B: it abstained on
# four) and 4/5 (1.5B: a wrong department from a row naming the right one). With cells.py (code reads
# the cell when the question names the row and one column: 4 of these 5 questions) 4/5 with the 0.5B
# (it still abstains on "Welk team voert ... uit?", which names no column) and 5/5 with the 1.5B,
# every citation holding the row. The 0.5B test asserts 4; the 1.5B test asserts 4 too, not the 5
# measured here, because its one model-written answer may flip under greedy decoding on another CPU.
ANSWERS_RIGHT_05B = 4


def _measure_files(settings, tmp_path):
    """measure() on the budget PDF and DOCX written into tmp_path/docs (details printed for the log)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "begroting.pdf").write_bytes(tf.budget_pdf())
    (folder / "maatregelen.docx").write_bytes(tf.budget_docx())
    right, quoted, details = measure(settings, folder)
    print("\n".join(map(repr, details)))
    return right, quoted, details


@pytest.mark.real
def test_real_cell_questions_quote_the_right_row(real_settings, tmp_path):
    right, quoted, details = _measure_files(real_settings.with_(index_dir=tmp_path / "index"), tmp_path)
    assert quoted == len(QUESTIONS), details  # robust: the cited sentence is the asked row
    assert right >= ANSWERS_RIGHT_05B, details  # what the 0.5B model managed when measured


@pytest.mark.real
def test_real_cell_questions_with_the_default_model(real_settings, tmp_path):
    """The issue's acceptance with the model users get: right value and a citation on the row."""
    from assistant.models import DEFAULT_LLM

    right, quoted, details = _measure_files(real_settings.with_(index_dir=tmp_path / "index", llm=DEFAULT_LLM), tmp_path)
    assert quoted == len(QUESTIONS), details
    code_answered = [d for d in details if d[4] == "" and d[5].startswith(("Budget", "Kosten", "Verantwoordelijke"))]
    assert len(code_answered) == 4 and all(d[1] and d[3] for d in code_answered), details  # value right, citation on the row
    assert right >= 4, details
