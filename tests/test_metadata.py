"""Document metadata: sidecar, file metadata and first-page heuristics (assistant/metadata.py)."""

import io
import json

import pytest
from legacy import as_format_3

from assistant import index, metadata
from assistant.ingest import load_file, load_folder
from assistant.metadata import DocMeta, extract


def _seed(seeds_dir, name):
    return (seeds_dir / name).read_text(encoding="utf-8")


def test_the_municipality_list_is_the_342_of_cbs():
    names = metadata.municipality_names()
    assert len(names) == 342 and len(set(names)) == 342
    for n in ("Lochem", "Noordoostpolder", "Amersfoort", "Altena", "Blaricum", "Eemnes", "Laren", "'s-Gravenhage",
              "Súdwest-Fryslân", "Nuenen, Gerwen en Nederwetten", "Voorne aan Zee", "Land van Cuijk"):
        assert n in names, n
    for gone in ("Weesp", "Brielle", "Uden", "Haaren"):  # merged away before 2025
        assert gone not in names


@pytest.mark.parametrize("name,municipalities,type_,date", [
    # Without meta.json, from the text alone (the sidecar's values are the right answers).
    ("001_df41d20decff5aed.txt", ("Lochem",), None, None),
    ("002_13e9976e58154e2c.txt", ("Amersfoort",), "raadsinformatiebrief", "2014-09-09"),
    ("003_f2bde758e5f44873.txt", ("Blaricum", "Eemnes", "Laren"), "startgesprek", "2007-03-15"),
    ("004_cdb15e3e631d770e.txt", ("Altena",), None, None),
])
def test_first_page_heuristics_on_the_seeds(seeds_dir, name, municipalities, type_, date):
    text = _seed(seeds_dir, name)
    m = extract(text, title="")
    assert set(m.municipalities) == set(municipalities), m
    assert m.type == type_ and m.date == date, m


def test_written_questions_are_recognised_by_their_form(seeds_dir):
    m = extract(_seed(seeds_dir, "000_a4ba55a0b15ccb7c.txt"))
    assert m.type == "schriftelijke vragen"
    assert "Noordoostpolder" in m.municipalities  # the council it is addressed to


def test_dates():
    assert metadata.labelled_date("Van: B&W\nDatum\t: 9 september 2014\n") == "2014-09-09"
    assert metadata.labelled_date("Datum startgesprek 15 maart 2007") == "2007-03-15"
    assert metadata.labelled_date("Datum: 31-12-2019") == "2019-12-31"
    assert metadata.labelled_date("Datum: 31 februari 2019") is None  # no such day
    assert metadata.labelled_date("Op 2 juli 2012 nam de raad een motie aan.") is None  # not labelled
    assert metadata.first_date("Op 2 juli 2012 nam de raad een motie aan.") == "2012-07-02"
    assert metadata.parse_date("2014") == "2014" and metadata.parse_date("9 sept. 2014") == "2014-09-09"
    assert DocMeta(date="2014-09-09").year == 2014 and DocMeta().year is None


def test_ordinary_words_are_not_municipalities():
    # "Best", "Buren", "Houten" start sentences as words; after a cue they are the municipality.
    assert metadata.municipalities_in("Best regards. Buren helpen elkaar. Houten kozijnen zijn mooi.") == ()
    assert metadata.municipalities_in("De gemeente Buren en de gemeente Houten werken samen.") == ("Buren", "Houten")
    assert metadata.municipalities_in("Het college van Den Haag besloot. In Den Haag ...") == ("'s-Gravenhage",)
    # an aside does not outvote the subject
    text = "Gemeente Lochem\n\n" + "Lochem wil regiegemeente zijn. " * 3 + "Een bezoek aan Zutphen."
    assert metadata.municipalities_in(text) == ("Lochem",)


def test_types():
    assert metadata.type_in("RAADSINFORMATIEBRIEF 2014-089") == "raadsinformatiebrief"
    assert metadata.type_in("Besluit op uw Woo-verzoek van 3 mei") == "Woo-besluit"
    assert metadata.type_in("Schriftelijke vragen ex artikel 40 RvO") == "schriftelijke vragen"
    assert metadata.type_in("Een gewone tekst zonder soort.") is None


def test_sidecar_wins_and_null_means_unknown():
    text = "Datum: 1 januari 2020\nGemeente Zwolle\nRAADSVOORSTEL"
    m = extract(text, sidecar={"municipality": "Blaricum, Eemnes, Laren", "type": "startgesprek", "date": None})
    assert m.municipalities == ("Blaricum", "Eemnes", "Laren") and m.type == "startgesprek"
    assert m.date is None  # present as null: not guessed from the text
    assert dict(m.origin) == {"municipalities": "sidecar", "type": "sidecar"}
    m = extract(text, sidecar={"title": "x"})  # nothing about these fields: the text decides
    assert (m.municipalities, m.type, m.date) == (("Zwolle",), "raadsvoorstel", "2020-01-01")
    assert dict(m.origin) == {"date": "text", "municipalities": "text", "type": "text"}
    # a municipality whose name has a comma is one municipality
    assert metadata.split_municipalities("Nuenen, Gerwen en Nederwetten") == ("Nuenen, Gerwen en Nederwetten",)
    assert metadata.split_municipalities(["Laren", "eemnes"]) == ("Laren", "Eemnes")


def test_seed_metadata_comes_from_the_sidecar(seeds_dir):
    docs, problems = load_folder(seeds_dir)
    assert problems == []
    by = {d.source.split("/")[-1]: d.meta for d in docs}
    assert by["002_13e9976e58154e2c.txt"].date == "2014-09-09" and by["002_13e9976e58154e2c.txt"].year == 2014
    assert by["003_f2bde758e5f44873.txt"].municipalities == ("Blaricum", "Eemnes", "Laren")
    assert by["001_df41d20decff5aed.txt"].date is None  # null in meta.json, although the text has "2 juli 2012"
    assert {m for meta in by.values() for m in meta.municipalities} == {
        "Noordoostpolder", "Lochem", "Amersfoort", "Blaricum", "Eemnes", "Laren", "Altena"}
    assert by["000_a4ba55a0b15ccb7c.txt"].label() == "Noordoostpolder · schriftelijke vragen en antwoorden"


def test_docx_core_properties(tmp_path):
    import datetime as dt

    import docx

    d = docx.Document()
    d.add_paragraph("Tekst over de begroting van de gemeente Zwolle.")
    d.core_properties.title = "Voorjaarsnota Zwolle 2021"
    d.core_properties.created = dt.datetime(2021, 4, 6, 10, 0)
    d.core_properties.comments = "door de afdeling"  # not python-docx's own "generated by" text
    d.save(tmp_path / "v.docx")
    doc = load_file(tmp_path / "v.docx", "up/v.docx")
    assert doc.title == "Voorjaarsnota Zwolle 2021"
    assert doc.meta.date == "2021-04-06" and dict(doc.meta.origin)["date"] == "file"
    assert doc.meta.municipalities == ("Zwolle",) and doc.meta.type == "voorjaarsnota"
    # python-docx's blank template carries a 2013 date and no title: neither is the document's
    d = docx.Document()
    d.add_paragraph("Alleen tekst.")
    d.save(tmp_path / "w.docx")
    doc = load_file(tmp_path / "w.docx", "up/w.docx")
    assert doc.title == "Alleen tekst." and doc.meta.date is None


def test_pdf_document_information(tmp_path):
    from pypdf import PdfReader, PdfWriter
    from scans import text_pdf

    w = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(["Raadsvoorstel over de begroting"]))))
    w.add_metadata({"/Title": "Raadsvoorstel begroting 2016", "/CreationDate": "D:20151103120000+01'00'"})
    with open(tmp_path / "r.pdf", "wb") as f:
        w.write(f)
    doc = load_file(tmp_path / "r.pdf", "up/r.pdf")
    assert doc.title == "Raadsvoorstel begroting 2016" and doc.meta.date == "2015-11-03"
    assert doc.meta.type == "raadsvoorstel"
    # A title that is only the file's name (what Pillow writes) is not used
    w.add_metadata({"/Title": "scan_01"})
    with open(tmp_path / "scan_01.pdf", "wb") as f:
        w.write(f)
    assert load_file(tmp_path / "scan_01.pdf").title == "Raadsvoorstel over de begroting"


def test_damaged_metadata_never_costs_the_text(tmp_path):
    assert metadata.file_info(".pdf", b"%PDF-1.4 garbage") == metadata.FileInfo()
    assert metadata.file_info(".docx", b"PK\x03\x04 broken") == metadata.FileInfo()


def test_metadata_is_stored_in_the_index(tmp_path, seeds_dir):
    from fakes import HashEmbedder

    docs, _ = load_folder(seeds_dir)
    index.sync(tmp_path / "idx", docs, HashEmbedder(), 900, 150, scope="seeds")
    loaded = index.load(tmp_path / "idx").docs
    for d in docs:
        assert loaded[d.source].meta == d.meta
    as_format_3(index.current_generation(tmp_path / "idx"))  # the JSON lines documents of earlier versions
    row = json.loads((index.current_generation(tmp_path / "idx") / "docs.jsonl").read_text().splitlines()[2])
    assert row["meta"]["date"] == "2014-09-09"
    # an index written before metadata existed loads with empty metadata
    del row["meta"]
    from assistant.types import Document

    assert Document(**{**row, "meta": DocMeta.from_json(None)}).meta == DocMeta()
