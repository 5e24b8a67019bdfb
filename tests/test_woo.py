"""Woo release bundles (assistant/woo.py): one PDF (inventory + the documents it lists) split into a
Document per listed document, with its number, date, title, type and redaction grounds."""

import pytest
from fakes import HashEmbedder
from pdfgen import text_pdf

from assistant import documents, index, woo
from assistant.filters import FilterError, Where, known_values, resolve
from assistant.ingest import load_documents, load_folder
from assistant.metadata import DocMeta
from assistant.pages import page_at
from assistant.retrieve import HybridRetriever

ROWS = [  # number, date, iso, title, soort, beoordeling, grounds
    ("1", "14-03-2022", "2022-03-14", "E-mail over de planning van de herinrichting", "e-mail", "Deels openbaar", "5.1.2e"),
    ("2", "21-03-2022", "2022-03-21", "Nota aan het college over de kosten", "nota", "Openbaar", ""),
    ("3", "02-04-2022", "2022-04-02", "Verslag overleg met de provincie", "verslag", "Deels openbaar", "5.1.2i"),
    ("4", "15-04-2022", "2022-04-15", "Memo over de verkeersveiligheid", "memo", "Openbaar", ""),
    ("5", "03-05-2022", "2022-05-03", "Brief aan de bewoners van het Stationsplein", "brief", "Openbaar", ""),
    ("6", "20-05-2022", "2022-05-20", "E-mail over de aanbesteding", "e-mail", "Openbaar", ""),
]
HEAD = ["Inventarislijst Woo-besluit herinrichting Stationsplein", "Gemeente Lochem"]


def _inventory(layout: str, rows=ROWS) -> list[str]:
    if layout == "plain":  # pypdf's layout of a table: a row's cells on one line
        return HEAD + ["Nr. Datum Omschrijving Soort Beoordeling Weigeringsgrond(en)"] + [
            f"{n} {d} {t} {s} {b} {g}".rstrip() for n, d, _, t, s, b, g in rows] + ["Pagina 1 van 1"]
    # the PDF reader's row layout: "Header: cell | Header: cell"
    return HEAD + [f"Nr.: {n} | Datum: {d} | Omschrijving: {t} | Soort: {s} | Beoordeling: {b} | Weigeringsgrond(en): {g}"
                   for n, d, _, t, s, b, g in rows]


def _documents(marks=None) -> list[list[str]]:
    """The six documents' pages: 2 and 4 are two pages long; each starts with its number on top."""
    marks = marks or {"1": "Document 1", "2": "Document 2", "3": "Document 3", "4": "Document 4",
                      "5": "Nr. 5", "6": "Documentnummer: 6"}
    body = {
        "1": [["Van: projectleider", "Aan: [5.1.2e]", "De planning van de herinrichting schuift op naar de zomer.",
               "Contactpersoon 5.1.2e is bereikbaar op maandag."]],
        "2": [["Nota aan het college", "De kosten van de herinrichting bedragen 1,2 miljoen euro."],
              ["2", "Het college wordt gevraagd het krediet beschikbaar te stellen."]],
        "3": [["Verslag", "De provincie steunt het plan voor de fietsenstalling.",
               "Passage weggelakt op grond van 5.1.2i."]],
        "4": [["Memo", "De verkeersveiligheid rond de school vraagt om een drempel."],
              ["Vervolg memo", "De drempel komt bij de kruising met de Molenstraat."]],
        "5": [["Beste bewoners,", "De werkzaamheden aan het Stationsplein beginnen op 1 juni.",
               "Met vriendelijke groet, [5.1.2e]"]],
        "6": [["Onderwerp: aanbesteding", "De aanbesteding van het bestrating is gegund aan een aannemer."]],
    }
    pages = []
    for n in ("1", "2", "3", "4", "5", "6"):
        for i, lines in enumerate(body[n]):
            pages.append(([marks[n]] if i == 0 and marks[n] else []) + lines)
    return pages


def _bundle(tmp_path, layout="plain", marks=None, rows=ROWS, name="woo-besluit.pdf"):
    folder = tmp_path / "woo"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(text_pdf([_inventory(layout, rows)] + _documents(marks)))
    return folder


@pytest.fixture(params=["plain", "rows"])
def layout(request):
    return request.param


# -- splitting ---------------------------------------------------------------------------------
def test_a_bundle_is_split_into_its_documents(tmp_path, layout):
    docs, problems = load_folder(_bundle(tmp_path, layout))
    assert problems == []
    by = {d.source: d for d in docs}
    assert list(by) == ["woo/woo-besluit.pdf#inventaris"] + [f"woo/woo-besluit.pdf#{n}" for n in "123456"]
    for n, _, iso, title, soort, _, _ in ROWS:
        d = by[f"woo/woo-besluit.pdf#{n}"]
        assert (d.title, d.meta.date, d.meta.type, d.meta.woo_number) == (title, iso, soort, n)
        assert d.meta.part_of == "woo/woo-besluit.pdf" and dict(d.meta.origin)["date"] == "inventory"
        assert d.meta.municipalities == ("Lochem",)  # the publisher's, from the bundle
    assert by["woo/woo-besluit.pdf#1"].meta.woo_grounds == ("5.1.2e",)
    assert by["woo/woo-besluit.pdf#3"].meta.woo_grounds == ("5.1.2i",)
    assert by["woo/woo-besluit.pdf#5"].meta.woo_grounds == ("5.1.2e",)  # a redaction mark in its text
    assert by["woo/woo-besluit.pdf#2"].meta.woo_grounds == ()
    inv = by["woo/woo-besluit.pdf#inventaris"]
    assert "Weigeringsgrond" in inv.text and inv.meta.woo_number is None and inv.meta.part_of == "woo/woo-besluit.pdf"
    # pages as in the bundle: inventory 1, doc 1 on 2, doc 2 on 3-4, doc 3 on 5, doc 4 on 6-7, ...
    first = {n: page_at(by[f"woo/woo-besluit.pdf#{n}"].pages, 0) for n in "123456"}
    assert first == {"1": 2, "2": 3, "3": 5, "4": 6, "5": 8, "6": 9}
    d4 = by["woo/woo-besluit.pdf#4"]
    assert d4.text.startswith("Document 4") and "Molenstraat" in d4.text and "Beste bewoners" not in d4.text
    assert page_at(d4.pages, d4.text.index("Molenstraat")) == 7


def test_detection_on_page_texts_alone():
    pages = ["\n".join(_inventory("rows"))] + ["\n".join(p) for p in _documents()]
    layout, why = woo.detect(pages)
    assert why == "" and layout.inventory_pages == 1 and layout.starts == (1, 2, 4, 5, 7, 8)
    assert [e.number for e in layout.entries] == list("123456")
    assert woo.detect(["Een gewone brief", "met twee pagina's"]) == (None, "")
    assert woo.grounds_in("weggelakt: 5.1.2 e, 5.1.2i en 5.2; art. 10.2.e; bedrag 5.2,5 niet") == ("5.1.2e", "5.1.2i", "5.2", "10.2e")


def test_a_bundle_without_findable_numbers_is_kept_whole(tmp_path, layout):
    marks = {"1": "Document 1", "2": "Document 2", "3": "Document 3", "4": "", "5": "Nr. 5", "6": "Documentnummer: 6"}
    docs, problems = load_folder(_bundle(tmp_path, layout, marks))
    assert [d.source for d in docs] == ["woo/woo-besluit.pdf"]  # indexed all the same
    assert len(problems) == 1 and problems[0].kept and problems[0].source == "woo/woo-besluit.pdf"
    assert "kept whole: could not split the Woo bundle (1 of the 6 inventoried documents not found" in problems[0].reason
    assert "no. 4" in problems[0].reason


def test_a_document_not_made_public_need_not_be_in_the_bundle(tmp_path):
    rows = ROWS + [("7", "01-06-2022", "2022-06-01", "Intern advies", "advies", "Niet openbaar", "5.2")]
    docs, problems = load_folder(_bundle(tmp_path, "plain", rows=rows))
    assert problems == [] and [d.meta.woo_number for d in docs][1:] == list("123456")


def test_a_plain_pdf_is_not_a_bundle(tmp_path):
    (tmp_path / "brief.pdf").write_bytes(text_pdf([["Datum: 3 maart 2022", "1 Inleiding", "2 Aanleiding"], ["Tekst"]]))
    docs, problems = load_documents(tmp_path / "brief.pdf", "brief.pdf")
    assert [d.source for d in docs] == ["brief.pdf"] and problems == []


# -- metadata, filters, citations --------------------------------------------------------------
def test_metadata_is_stored_only_when_set_and_labelled():
    old = DocMeta(date="2014-09-09", type="motie")
    assert "woo_number" not in old.to_json() and "woo_grounds" not in old.to_json()
    m = DocMeta(date="2022-04-02", type="verslag", part_of="b.pdf", woo_number="3", woo_grounds=("5.1.2i",))
    assert DocMeta.from_json(m.to_json()) == m and DocMeta.from_json(old.to_json()) == old
    assert m.label() == "verslag · 2022-04-02 · Woo-document 3 (5.1.2i)"


@pytest.fixture
def indexed(tmp_path):
    docs, _ = load_folder(_bundle(tmp_path, "plain"))
    emb = HashEmbedder()
    index.sync(tmp_path / "index", docs, emb, 900, 150, scope="woo")
    return index.load(tmp_path / "index"), emb


def test_where_woo_ground_finds_only_those_documents(indexed):
    idx, emb = indexed
    assert known_values(idx.docs)["woo_ground"] == ["5.1.2e", "5.1.2i"]
    where = resolve(Where.parse(["woo_ground=5.1.2 E"]), idx.docs)
    assert where.woo_ground == ("5.1.2e",)
    hits = HybridRetriever(idx, emb).search("planning herinrichting bewoners", 10, where)
    assert {h.chunk.source for h in hits} == {"woo/woo-besluit.pdf#1", "woo/woo-besluit.pdf#5"}
    assert Where.parse(["weigeringsgrond=5.1.2i"]).woo_ground == ("5.1.2i",)
    with pytest.raises(FilterError, match=r"unknown woo_ground '5.1.1c'; known: 5.1.2e, 5.1.2i"):
        resolve(Where.parse(["woo_ground=5.1.1c"]), idx.docs)


def test_a_chunk_cites_the_inner_document_and_its_bundle_page(indexed):
    idx, emb = indexed
    hits = HybridRetriever(idx, emb).search("provincie fietsenstalling", 3)
    top = next(h for h in hits if h.chunk.source == "woo/woo-besluit.pdf#3")
    assert top.chunk.title == "Verslag overleg met de provincie" and top.chunk.page == 5
    assert "Woo-document 3 (5.1.2i)" in top.meta.label()
    info = {d.source: d for d in documents.list_documents(idx)}
    assert info["woo/woo-besluit.pdf#4"].pages == 2 and info["woo/woo-besluit.pdf#3"].pages == 1


def test_remove_and_reindex_take_the_parts_along(tmp_path, indexed):
    idx, emb = indexed
    assert documents.find(idx, "woo-besluit.pdf") == "woo/woo-besluit.pdf"  # the bundle, though only its parts are indexed
    report = index.sync(tmp_path / "index", [], emb, 900, 150, scope="woo/woo-besluit.pdf")
    assert sorted(report.removed) == sorted(idx.docs)
    # re-reading one part from an upload reads the bundle again and takes that part
    up = tmp_path / "index" / "uploads"
    up.mkdir()
    (up / "woo-besluit.pdf").write_bytes((tmp_path / "woo" / "woo-besluit.pdf").read_bytes())
    again = documents.read_again_all(tmp_path / "index", tmp_path / "seeds", "uploads/woo-besluit.pdf#3")
    assert [d.source for d in again] == ["uploads/woo-besluit.pdf#3"] and again[0].meta.woo_grounds == ("5.1.2i",)
    whole = documents.read_again_all(tmp_path / "index", tmp_path / "seeds", "uploads/woo-besluit.pdf")
    assert len(whole) == 7


def test_an_ordinary_table_of_numbered_rows_is_no_inventory():
    table = "Nr. Datum Onderwerp\n1 03-03-2022 Opening\n2 03-03-2022 Vaststelling agenda\n3 03-03-2022 Rondvraag"
    assert woo.inventory([table, "Tekst"]) is not None
    assert woo.detect([table, "Tekst"]) == (None, "")  # no judgement, no ground, no Woo word: no note either


def test_a_kept_bundle_is_a_note_not_a_skipped_file(tmp_path):
    from assistant.index.writer import IngestReport
    from assistant.ingest import Problem

    r = IngestReport(added=["b.pdf"], problems=[Problem("b.pdf", "b.pdf: kept whole: ...", kept=True), Problem("x", "x: bad")])
    assert "1 skipped, 1 kept whole" in r.summary()


def test_an_inventory_over_two_pages_and_a_wrapped_title():
    inv1 = ("Inventaris\nNr. Documentnummer Datum Omschrijving Soort Beoordeling Weigeringsgronden\n"
            "1 100231 14 maart 2022 E-mail over de planning van de e-mail Deels openbaar 5.1.2e\nherinrichting\n"
            "2 100232 21-03-2022 Nota kosten nota Openbaar\n3 100233 2022-04-02 Verslag verslag Openbaar")
    inv2 = "4 100234 15-04-2022 Memo verkeer memo Deels openbaar 5.1.2e, 5.1.1c"
    pages = [inv1, inv2, "Document 1\nx", "Document 2\ny", "Pagina 2\nvervolg", "Document 3\nz", "Document 4\nw"]
    layout, why = woo.detect(pages)
    assert why == "" and layout.inventory_pages == 2 and layout.starts == (2, 3, 5, 6)
    e1, _, _, e4 = layout.entries
    assert (e1.title, e1.date, e1.type, e1.grounds) == ("E-mail over de planning van de herinrichting", "2022-03-14",
                                                         "e-mail", ("5.1.2e",))
    assert e4.grounds == ("5.1.2e", "5.1.1c") and e4.judgement == "deels openbaar"
