"""The office and mail formats (.odt .ods .xlsx .pptx .eml; .msg: test_msg.py): each sample is written
here, ingested with exact chunk spans, and found by a search (HashEmbedder: no model)."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from fakes import HashEmbedder, hashed_index

from assistant import chunk as chunking
from assistant.ingest import load_documents, load_file, load_folder
from assistant.retrieve import HybridRetriever

ODF_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"')


def odf(body: str, mimetype: str = "application/vnd.oasis.opendocument.text") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), mimetype)  # stored, first: as ODF requires
        z.writestr("content.xml", f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NS}>'
                                  f"<office:body>{body}</office:body></office:document-content>")
        z.writestr("META-INF/manifest.xml", "<manifest/>")
    return buf.getvalue()


ODT = odf('<office:text><text:h text:outline-level="1">Parkeerbeleid Zuiderzee</text:h>'
          '<text:p>De raad besluit tot<text:s text:c="2"/>betaald parkeren in het <text:span>centrum</text:span>.</text:p>'
          '<text:list><text:list-item><text:p>Vergunning voor bewoners</text:p></text:list-item></text:list>'
          '<table:table table:name="T"><table:table-row><table:table-cell><text:p>Zone</text:p></table:table-cell>'
          '<table:table-cell><text:p>Tarief</text:p></table:table-cell></table:table-row>'
          '<table:table-row><table:table-cell><text:p>Centrum</text:p></table:table-cell>'
          '<table:table-cell><text:p>3 euro</text:p></table:table-cell></table:table-row></table:table>'
          '</office:text>')
ODS = odf('<office:spreadsheet><table:table table:name="Begroting">'
          '<table:table-row><table:table-cell><text:p>Post</text:p></table:table-cell><table:table-cell><text:p>Bedrag</text:p></table:table-cell>'
          '<table:table-cell table:number-columns-repeated="16000"/></table:table-row>'
          '<table:table-row><table:table-cell><text:p>Speeltuinen</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="12000"><text:p>12000</text:p></table:table-cell></table:table-row>'
          '<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
          '</table:table></office:spreadsheet>', "application/vnd.oasis.opendocument.spreadsheet")


def xlsx() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Subsidies"
    ws.append(["Vereniging", "Bedrag", "Datum"])
    ws.append(["Harmonie Zuiderzee", 2500, None])
    ws.append(["IJsclub De Vries", 1200.0, "2024-03-01"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
PNS = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
RNS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def pptx() -> bytes:
    def slide(*paras):
        ps = "".join(f"<a:p><a:r><a:t>{t}</a:t></a:r></a:p>" for t in paras)
        return f'<p:sld {A} {PNS}><p:cSld><p:spTree><p:sp><p:txBody>{ps}</p:txBody></p:sp></p:spTree></p:cSld></p:sld>'

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        # presentation order: slide2.xml first
        z.writestr("ppt/presentation.xml", f'<p:presentation {PNS} {RNS}><p:sldIdLst><p:sldId id="256" r:id="rId2"/>'
                                           f'<p:sldId id="257" r:id="rId1"/></p:sldIdLst></p:presentation>')
        z.writestr("ppt/_rels/presentation.xml.rels",
                   '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{REL}/slide" Target="slides/slide1.xml"/>'
                   f'<Relationship Id="rId2" Type="{REL}/slide" Target="slides/slide2.xml"/></Relationships>')
        z.writestr("ppt/slides/slide1.xml", slide("Vervolgstappen", "Inspraakavond in mei"))
        z.writestr("ppt/slides/slide2.xml", slide("Windpark Zuiderzee", "Zes turbines langs de dijk"))
        z.writestr("ppt/slides/_rels/slide2.xml.rels",
                   '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId9" Type="{REL}/notesSlide" Target="../notesSlides/notesSlide1.xml"/></Relationships>')
        z.writestr("ppt/notesSlides/notesSlide1.xml",
                   f'<p:notes {A} {PNS}><p:cSld><p:spTree><p:sp><p:nvSpPr><p:nvPr><p:ph type="body"/></p:nvPr></p:nvSpPr>'
                   '<p:txBody><a:p><a:r><a:t>Noem de geluidsnorm</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:notes>')
    return buf.getvalue()


def eml(attachments=(("bijlage-raadsbesluit.txt", b"Het raadsbesluit over de kapvergunning van de eik aan de Dorpsstraat.\n"),)) -> bytes:
    m = EmailMessage()
    m["From"] = "Griffie Zuiderzee <griffie@zuiderzee.example>"
    m["To"] = "raad@zuiderzee.example"
    m["Subject"] = "Kapvergunning monumentale eik"
    m["Date"] = "Tue, 09 Sep 2014 10:15:00 +0200"
    m.set_content("Geachte raadsleden,\n\nBijgaand het besluit over de kapvergunning voor de monumentale eik.\n")
    for name, data in attachments:
        maintype, subtype = ("text", "plain") if name.endswith(".txt") else ("application", "octet-stream")
        if maintype == "text":
            m.add_attachment(data.decode(), subtype=subtype, filename=name)
        else:
            m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(m)


def _spans_exact(doc):
    chunks = chunking.chunk_document(doc, 300, 50)
    assert chunks
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
    return chunks


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_odt_paragraphs_headings_lists_and_tables(tmp_path):
    doc = load_file(write(tmp_path, "beleid.odt", ODT))
    assert doc.text.split("\n\n") == ["Parkeerbeleid Zuiderzee", "De raad besluit tot  betaald parkeren in het centrum.",
                                      "Vergunning voor bewoners", "Zone: Centrum | Tarief: 3 euro"]
    _spans_exact(doc)


def test_ods_one_section_per_sheet_and_repeats_are_not_expanded_into_empty_rows(tmp_path):
    doc = load_file(write(tmp_path, "begroting.ods", ODS))
    assert doc.text == "Blad: Begroting\nPost: Speeltuinen | Bedrag: 12000"


def test_xlsx_rows_with_headers(tmp_path):
    doc = load_file(write(tmp_path, "subsidies.xlsx", xlsx()))
    assert doc.text == ("Blad: Subsidies\nVereniging: Harmonie Zuiderzee | Bedrag: 2500\n"
                        "Vereniging: IJsclub De Vries | Bedrag: 1200 | Datum: 2024-03-01")


def test_pptx_slides_in_presentation_order_with_notes(tmp_path):
    doc = load_file(write(tmp_path, "windpark.pptx", pptx()))
    assert doc.text == ("Dia 1\nWindpark Zuiderzee\nZes turbines langs de dijk\nNotities:\nNoem de geluidsnorm\n\n"
                        "Dia 2\nVervolgstappen\nInspraakavond in mei")


def test_eml_headers_are_metadata_and_attachments_are_documents_of_their_own(tmp_path):
    docx_bytes = _docx("De bijlage noemt de herplantplicht van drie bomen.")
    path = write(tmp_path, "kap.eml", eml((("bijlage-raadsbesluit.txt", b"Het raadsbesluit over de kapvergunning.\n"),
                                           ("advies.docx", docx_bytes), ("logo.exe", b"MZ"), ("kapot.pdf", b"%PDF-1.4 kapot"))))
    docs, problems = load_documents(path, "mail/kap.eml")
    mail, txt, adv = docs
    assert mail.title == "Kapvergunning monumentale eik" and mail.meta.date == "2014-09-09"
    assert dict(mail.meta.origin)["date"] == "file" and mail.meta.part_of is None
    assert "Van: Griffie Zuiderzee <griffie@zuiderzee.example>" in mail.text and "monumentale eik" in mail.text
    assert "Bijlagen: bijlage-raadsbesluit.txt, advies.docx, logo.exe, kapot.pdf" in mail.text
    assert txt.source == "mail/kap.eml#bijlage-raadsbesluit.txt" and txt.title == "bijlage-raadsbesluit.txt"
    assert adv.source == "mail/kap.eml#advies.docx" and "herplantplicht" in adv.text
    for d in (txt, adv):
        assert d.meta.part_of == "mail/kap.eml" and d.meta.date == "2014-09-09" and dict(d.meta.origin)["date"] == "mail"
        _spans_exact(d)
    _spans_exact(mail)
    assert {p.source for p in problems} == {"mail/kap.eml#logo.exe", "mail/kap.eml#kapot.pdf"}
    assert all("attachment of mail/kap.eml" in p.reason or "unsupported" in p.reason for p in problems)
    assert load_file(path).text == mail.text  # load_file: the mail alone


def test_an_attached_mail_is_read_but_not_its_attachments(tmp_path):
    inner = eml()
    outer = EmailMessage()
    outer["Subject"], outer["From"] = "Doorgestuurd", "a@b.example"
    outer.set_content("Zie de doorgestuurde mail.")
    outer.add_attachment(inner, maintype="application", subtype="octet-stream", filename="origineel.eml")
    docs, problems = load_documents(write(tmp_path, "fw.eml", bytes(outer)), "m/fw.eml")
    assert [d.source for d in docs] == ["m/fw.eml", "m/fw.eml#origineel.eml"]
    assert "Kapvergunning monumentale eik" in docs[1].text and docs[1].meta.part_of == "m/fw.eml"
    assert [p.source for p in problems] == ["m/fw.eml#origineel.eml#bijlage-raadsbesluit.txt"]


def _docx(text: str) -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_every_format_is_indexed_and_found_by_a_search(tmp_path):
    folder = _folder(tmp_path, {"beleid.odt": ODT, "begroting.ods": ODS, "subsidies.xlsx": xlsx(),
                                "windpark.pptx": pptx(), "kap.eml": eml()})
    docs, problems = load_folder(folder, "seeds")
    assert problems == []
    assert sorted(d.source for d in docs) == ["seeds/begroting.ods", "seeds/beleid.odt", "seeds/kap.eml",
                                               "seeds/kap.eml#bijlage-raadsbesluit.txt", "seeds/subsidies.xlsx",
                                               "seeds/windpark.pptx"]
    idx, emb = hashed_index(tmp_path / "index", folder)
    assert idx.docs["seeds/kap.eml#bijlage-raadsbesluit.txt"].meta.part_of == "seeds/kap.eml"  # stored and loaded
    for c in idx.chunks:
        assert idx.docs[c.source].text[c.start:c.end] == c.text
    r = HybridRetriever(idx, emb)
    for query, source in [("betaald parkeren centrum tarief", "seeds/beleid.odt"),
                          ("speeltuinen bedrag begroting", "seeds/begroting.ods"),
                          ("Harmonie Zuiderzee subsidie", "seeds/subsidies.xlsx"),
                          ("turbines langs de dijk", "seeds/windpark.pptx"),
                          ("raadsbesluit kapvergunning eik Dorpsstraat", "seeds/kap.eml#bijlage-raadsbesluit.txt")]:
        assert r.search(query, k=1)[0].chunk.source == source, query


@pytest.mark.parametrize("name,data", [
    ("kapot.odt", ODT[: len(ODT) // 2]), ("ruis.odt", bytes(range(256)) * 4), ("ruis.ods", b"PK\x03\x04" + bytes(50)),
    ("kapot.xlsx", b"PK\x05\x06" + bytes(18)), ("ruis.pptx", bytes(range(256)) * 4),
    ("lol.odt", odf("").replace(b"<?xml", b"<?xml").replace(b"<office:document-content",
                                 b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]><office:document-content')),
    ("ruis.eml", bytes(range(256)) * 4), ("geen-mail.eml", b"zomaar wat tekst zonder kopregels\n"),
])
def test_damaged_files_are_skipped_with_the_file_named(tmp_path, name, data):
    docs, problems = load_folder(_folder(tmp_path, {name: data}), "s")
    assert docs == [] and [p.source for p in problems] == [f"s/{name}"] and name in problems[0].reason


def test_reindex_of_an_attachment_reads_it_from_its_mail(tmp_path):
    from assistant.config import Settings
    from assistant.library import Library

    lib = Library(Settings().with_(index_dir=tmp_path / "index"), HashEmbedder())
    src = write(tmp_path, "kap.eml", eml())
    result = lib.add_uploads([src])
    assert sorted(result.report.added) == ["uploads/kap.eml", "uploads/kap.eml#bijlage-raadsbesluit.txt"]
    report = lib.reindex("uploads/kap.eml#bijlage-raadsbesluit.txt")
    assert report.removed == [] and "uploads/kap.eml#bijlage-raadsbesluit.txt" in report.unchanged
    report = lib.remove("uploads/kap.eml")  # the mail takes its attachments with it
    assert sorted(report.removed) == ["uploads/kap.eml", "uploads/kap.eml#bijlage-raadsbesluit.txt"]
