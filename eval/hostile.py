"""A corpus of hostile and broken input files, for checking that ingest survives them.

    python eval/hostile.py write DIR            # write the corpus into DIR (and DIR-outside/)
    python eval/hostile.py measure DIR [--json] # run assistant.ingest.load_folder over DIR in this
                                                # process and report counts, peak memory and time

`write_corpus` makes well over 100 entries: truncated, encrypted and bomb PDFs; .docx zip bombs
(one member of hundreds of MB, many large members, an oversized XML part, a header that lies about
the size, too many members); 0-byte files of every suffix; a 50 MB .txt (streamed, not held in
memory); a text of more than 5,000,000 characters; invalid UTF-8, UTF-16 without BOM, binary
garbage with a .txt suffix; HTML with <script>, onerror=, <iframe>, huge attributes, 100,000
nested tags and the inputs that make Python's html.parser quadratic; file names with control
characters, bidi overrides, undecodable bytes, very long unicode names and '..' fragments;
symlinks pointing outside the folder (and loops, dangling ones, one to the folder itself); a
directory named x.txt; a named pipe; hidden files; a hostile meta.json; and a few good files.

Every entry says what ingest must do with it: "ingest" (text extracted), "skip" (a Problem), or
"either"; `reason` is a word the Problem must contain. Script and outside-file contents carry
SCRIPT_MARKER / OUTSIDE_MARKER so a test can check they never reach a document's text.
Used by tests/test_hostile.py; the README's "Reliability" figures come from `measure`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import struct
import sys
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

SCRIPT_MARKER = "HOSTILE_SCRIPT_MARKER"
OUTSIDE_MARKER = "OUTSIDE_SECRET_MARKER"
GOOD = "De gemeenteraad besprak de begroting voor het komende jaar en nam twee moties aan."
MB = 2**20


@dataclass
class Entry:
    parts: tuple[str, ...]  # path relative to the corpus folder (str; undecodable bytes surrogate-escaped)
    expect: str  # "ingest" | "skip" | "either"
    reason: str = ""  # for "skip": a word the Problem's reason must contain (lower case)
    note: str = ""

    @property
    def rel(self) -> str:
        return "/".join(self.parts)


class _Corpus:
    def __init__(self, folder: Path):
        self.folder = folder
        self.entries: list[Entry] = []

    def add(self, name: str | tuple[str, ...], data: bytes | str, expect: str, reason: str = "", note: str = "") -> Path:
        parts = (name,) if isinstance(name, str) else name
        path = self.folder.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        self.entries.append(Entry(parts, expect, reason, note))
        return path

    def record(self, name: str | tuple[str, ...], expect: str, reason: str = "", note: str = "") -> Path:
        parts = (name,) if isinstance(name, str) else name
        self.entries.append(Entry(parts, expect, reason, note))
        return self.folder.joinpath(*parts)


# -- PDF -----------------------------------------------------------------------------------------
def _pdf(objs: list[bytes], root: int = 1) -> bytes:
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, root, xref)
    return out


def _stream(content: bytes, flate: bool = False) -> bytes:
    if flate:
        content = zlib.compress(content, 9)
        return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream"
    return b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"


def text_pdf(pages: list[str], flate: bool = False) -> bytes:
    """A valid PDF with one line of Helvetica text a page."""
    n = len(pages)
    font = 3 + 2 * n
    kids = b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n)]
    for i, text in enumerate(pages):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font))
        objs.append(_stream(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1"), flate))
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _pdf(objs)


def _encrypted_pdf(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([GOOD]))))
    w.encrypt(user_password=user_password, owner_password="eigenaar", algorithm="RC4-128")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _pdfs(c: _Corpus) -> None:
    good = text_pdf([f"Pagina {i}: {GOOD}" for i in range(1, 6)], flate=True)
    c.add("good.pdf", good, "ingest")
    plain = text_pdf([f"Pagina {i}: {GOOD}" for i in range(1, 4)])
    for base_name, base in (("flate", good), ("plain", plain)):
        n = len(base)
        for cut in sorted({0, 1, 5, 9, 20, 100, n // 8, n // 4, n // 3, n // 2, 2 * n // 3, 3 * n // 4, n - 40, n - 10, n - 1}):
            if 0 < cut < n:
                c.add(f"truncated-{base_name}-{cut:05d}.pdf", base[:cut], "either", note="pypdf may recover a part")
    c.add("encrypted-password.pdf", _encrypted_pdf("geheim"), "skip", "password")
    c.add("encrypted-empty-user-password.pdf", _encrypted_pdf(""), "ingest", note="opens without a password")
    c.add("flate-bomb.pdf", _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        _stream(b" " * (150 * MB), flate=True)]), "skip", note="150 MB of spaces in a 150 KB stream")
    c.add("cyclic-page-tree.pdf", _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>"]), "skip")
    c.add("huge-page-count.pdf", _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                                       b"<< /Type /Pages /Kids [] /Count 1000000000 >>"]), "skip")
    c.add("deeply-nested-array.pdf", _pdf([b"<< /Type /Catalog /Pages 2 0 R /X " + b"[" * 100_000 + b"]" * 100_000 + b" >>",
                                           b"<< /Type /Pages /Kids [] /Count 0 >>"]), "skip")
    c.add("header-only.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "skip")
    c.add("text-named.pdf", GOOD, "skip")
    c.add("garbage.pdf", b"%PDF-1.4\n" + random.Random(1).randbytes(4096), "skip")
    c.add("xref-out-of-range.pdf", good.replace(b"startxref\n", b"startxref\n99999999").rsplit(b"%%EOF", 1)[0], "either")


# -- DOCX ----------------------------------------------------------------------------------------
CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 b'<Default Extension="xml" ContentType="application/xml"/>'
                 b'<Override PartName="/word/document.xml" '
                 b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        b'Target="word/document.xml"/></Relationships>')
W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _document_xml(body: bytes) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ' + W + b"><w:body>" + body + b"</w:body></w:document>"


def _para(text: str) -> bytes:
    return b"<w:p><w:r><w:t>" + text.encode("utf-8") + b"</w:t></w:r></w:p>"


def _docx(path: Path, document: bytes | None = None, extra: list[tuple[str, int]] = (), members: int = 0) -> None:
    """A minimal .docx; `extra` adds members of n zero bytes, streamed (never held in memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/document.xml", document if document is not None else _document_xml(_para(GOOD)))
        block = b"\0" * MB
        for name, size in extra:
            with z.open(name, "w", force_zip64=True) as f:
                for _ in range(size // MB):
                    f.write(block)
                f.write(b"\0" * (size % MB))
        for i in range(members):
            z.writestr(f"word/media/m{i}.bin", b"")


def _lying_docx(path: Path, real_mb: int, fix_crc: bool) -> None:
    """document.xml really holds real_mb MB (streamed, compressed ~1000:1) but its headers declare
    4 KB; with fix_crc the CRC is that of the first 4 KB, so a CRC check alone does not catch it."""
    head = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ' + W + b"><w:body>"
    para = _para(GOOD) * 1000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        with z.open("word/document.xml", "w") as f:
            f.write(head)
            for _ in range(real_mb * MB // len(para)):
                f.write(para)
            f.write(b"</w:body></w:document>")
    declared = 4096
    crc = zlib.crc32((head + para)[:declared])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        local = z.getinfo("word/document.xml").header_offset
    cd_start = data.rfind(b"PK\x05\x06")
    pos = struct.unpack_from("<I", data, cd_start + 16)[0]
    struct.pack_into("<I", data, local + 22, declared)  # local header: uncompressed size
    if fix_crc:
        struct.pack_into("<I", data, local + 14, crc)
    while data[pos:pos + 4] == b"PK\x01\x02":  # central directory
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        if bytes(data[pos + 46:pos + 46 + name_len]) == b"word/document.xml":
            struct.pack_into("<I", data, pos + 24, declared)
            if fix_crc:
                struct.pack_into("<I", data, pos + 16, crc)
        pos += 46 + name_len + extra_len + comment_len
    path.write_bytes(bytes(data))


def _docxs(c: _Corpus) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph(GOOD)
    d.add_paragraph("Tweede alinea van het verslag.")
    d.save(c.record("good.docx", "ingest"))
    _docx(c.record("minimal.docx", "ingest"))
    _docx(c.record("zip-bomb-one-member.docx", "skip", "zip bomb", "one 400 MB member, ~0.4 MB on disk"),
          extra=[("word/media/image1.png", 400 * MB)])
    _docx(c.record("zip-bomb-many-members.docx", "skip", "zip bomb", "10 members of 24 MB"),
          extra=[(f"word/media/image{i}.png", 24 * MB) for i in range(10)])
    _docx(c.record("zip-bomb-xml-part.docx", "skip", "zip bomb", "a 40 MB document.xml"),
          document=_document_xml(_para(GOOD) * (40 * MB // len(_para(GOOD)))))
    _lying_docx(c.record("zip-lying-size.docx", "skip", note="declared 4 KB, holds 40 MB"), 40, fix_crc=False)
    _lying_docx(c.record("zip-lying-size-and-crc.docx", "either", note="declared 4 KB with its CRC, holds 600 MB"),
                600, fix_crc=True)
    _docx(c.record("zip-too-many-members.docx", "skip", "parts"), members=12_000)
    _docx(c.record("deeply-nested-xml.docx", "skip"), document=_document_xml(b"<w:p>" * 100_000 + b"</w:p>" * 100_000))
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
              + b']><w:document ' + W + b"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    _docx(c.record("billion-laughs.docx", "either"), document=laughs)
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><w:document ' + W
           + b"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>")
    _docx(c.record("xxe.docx", "either"), document=xxe)
    c.add("not-a-zip.docx", b"PK\x03\x04 broken zip", "skip")
    c.add("text-named.docx", GOOD, "skip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", GOOD)
    c.add("zip-not-docx.docx", buf.getvalue(), "skip")
    c.add("docx-named.txt", (c.folder / "minimal.docx").read_bytes(), "skip", "binary")


# -- office formats (.odt .ods .xlsx .pptx) and mail (.eml .msg) ---------------------------------
_ODF_NS = (b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
           b'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"')


def _odf(path: Path, body: bytes, prolog: bytes = b"", spreadsheet: bool = False) -> None:
    kind = b"spreadsheet" if spreadsheet else b"text"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), b"application/vnd.oasis.opendocument." + kind)
        z.writestr("content.xml", b'<?xml version="1.0" encoding="UTF-8"?>' + prolog + b"<office:document-content "
                   + _ODF_NS + b"><office:body>" + body + b"</office:body></office:document-content>")


def _laughs(root: bytes) -> bytes:
    return (b'<!DOCTYPE ' + root + b' [<!ENTITY lol "lol">'
            + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
            + b"]>")


def _offices(c: _Corpus) -> None:
    good = b"<office:text><text:p>" + GOOD.encode() + b"</text:p></office:text>"
    _odf(c.record("good.odt", "ingest"), good)
    _odf(c.record("good.ods", "ingest"), b'<office:spreadsheet><table:table table:name="Blad1"><table:table-row>'
         b"<table:table-cell><text:p>Onderwerp</text:p></table:table-cell></table:table-row><table:table-row>"
         b"<table:table-cell><text:p>" + GOOD.encode() + b"</text:p></table:table-cell></table:table-row>"
         b"</table:table></office:spreadsheet>", spreadsheet=True)
    whole = (c.folder / "good.odt").read_bytes()
    c.add("truncated.odt", whole[: len(whole) // 2], "skip")
    c.add("random-bytes.odt", random.Random(24).randbytes(4096), "skip")
    c.add("random-bytes.ods", random.Random(25).randbytes(4096), "skip")
    _odf(c.record("billion-laughs.odt", "skip", "document type"),
         b"<office:text><text:p>&lol9;</text:p></office:text>", prolog=_laughs(b"office:document-content"))
    _odf(c.record("xxe.odt", "skip", "document type"), b"<office:text><text:p>&x;</text:p></office:text>",
         prolog=b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    _odf(c.record("deeply-nested-xml.odt", "skip", "nested"),
         b"<office:text>" + b"<text:section>" * 100_000 + b"</text:section>" * 100_000 + b"</office:text>")
    _odf(c.record("zip-bomb-content.odt", "skip", "zip bomb", "a 40 MB content.xml"),
         b"<office:text>" + (b"<text:p>" + GOOD.encode() + b"</text:p>") * (40 * MB // (len(GOOD) + 20)) + b"</office:text>")
    _odf(c.record("repeated-cells.ods", "skip", "cells", "one cell repeated 10^9 times"),
         b'<office:spreadsheet><table:table table:name="B"><table:table-row table:number-rows-repeated="1000000">'
         b'<table:table-cell table:number-columns-repeated="1000"><text:p>x</text:p></table:table-cell>'
         b"</table:table-row></table:table></office:spreadsheet>", spreadsheet=True)
    c.add("odt-named.pptx", whole, "skip", "slides")

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["Onderwerp"])
    wb.active.append([GOOD])
    buf = io.BytesIO()
    wb.save(buf)
    xlsx = buf.getvalue()
    c.add("good.xlsx", xlsx, "ingest")
    c.add("truncated.xlsx", xlsx[: len(xlsx) // 2], "skip")
    c.add("random-bytes.xlsx", random.Random(26).randbytes(4096), "skip")
    parts = {}
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        for i in z.infolist():
            parts[i.filename] = z.read(i)

    def variant(name: str, member: str, data: bytes, expect: str, reason: str = "", note: str = "") -> None:
        with zipfile.ZipFile(c.record(name, expect, reason, note), "w", zipfile.ZIP_DEFLATED) as z:
            for m, d in parts.items():
                z.writestr(m, data if m == member else d)

    sheet = "xl/worksheets/sheet1.xml"
    variant("billion-laughs.xlsx", sheet, b'<?xml version="1.0"?>' + _laughs(b"worksheet") + parts[sheet], "skip", "document type")
    variant("row-beyond-excel.xlsx", sheet,
            parts[sheet].replace(b"</sheetData>", b'<row r="999999999"><c r="A999999999" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'),
            "either", note="a row number far beyond Excel's maximum")
    c.add("random-bytes.pptx", random.Random(27).randbytes(4096), "skip")
    c.add("truncated.pptx", xlsx[:2000], "skip")
    c.add("zip-no-slides.pptx", xlsx, "skip", "slides")


def _mails(c: _Corpus) -> None:
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Date"] = "griffie@example.nl", "raad@example.nl", "Begroting", "Tue, 09 Sep 2014 10:15:00 +0200"
    m.set_content(GOOD)
    m.add_attachment(GOOD.encode(), maintype="text", subtype="plain", filename="bijlage.txt")
    m.add_attachment(b"PK\x03\x04 broken zip", maintype="application", subtype="octet-stream", filename="kapot.docx")
    bomb = c.folder / "zip-bomb-one-member.docx"  # written by _docxs: a 400 MB member, ~0.4 MB on disk
    m.add_attachment(bomb.read_bytes(), maintype="application", subtype="octet-stream", filename="bom.docx")
    c.add("with-attachments.eml", bytes(m), "ingest", note="one good attachment, two unreadable (Problems for mail#name)")
    c.add("broken-mime.eml", b"From: a@b.nl\nSubject: kapot\nContent-Type: multipart/mixed; boundary=\"x\"\n\n"
          b"--x\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!niet-base64" + GOOD.encode()
          + b"\n--x\nContent-Type: multipart/alternative; boundary=\"\"\n\n--y\n", "either")
    nested = b"From: a@b.nl\nSubject: diep\n\n" + GOOD.encode()
    for _ in range(200):
        nested = b"From: a@b.nl\nSubject: fw\nContent-Type: message/rfc822\n\n" + nested
    c.add("deeply-nested.eml", nested, "either", note="200 mails inside each other")
    c.add("random-bytes.eml", random.Random(28).randbytes(4096), "skip")
    c.add("no-headers.eml", GOOD, "skip", "not an e-mail")
    _msgs(c, bomb.read_bytes())


def _msgs(c: _Corpus, bomb: bytes) -> None:
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    from msgwriter import cfb, msg  # the CFB/.msg writer beside this file (no .msg writer library exists)

    good = msg(subject="Begroting", body=GOOD * 60, sender_address="griffie@example.nl", to="Raad",
               attachments=[("bijlage.txt", GOOD.encode() * 80), ("kapot.docx", b"PK\x03\x04 broken zip"),
                            ("bom.docx", bomb)])
    c.add("with-attachments.msg", good, "ingest", note="one good attachment, two unreadable (Problems for mail#name)")
    c.add("outlook.msg", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "skip", "damaged", note="a header of zeros")
    for cut in (100, 512, 1024, len(good) // 3, len(good) // 2, len(good) - 100):
        c.add(f"truncated-{cut:06d}.msg", good[:cut], "skip", "damaged")
    c.add("random-bytes.msg", random.Random(29).randbytes(4096), "skip", "not an ole")
    c.add("ole-not-a-message.msg", cfb({"WordDocument": GOOD.encode() * 100, "1Table": bytes(100)}), "skip", "mapi")
    for what, offset in (("fat", 0x2C), ("minifat", 0x40), ("difat", 0x48)):
        lie = bytearray(good)
        struct.pack_into("<I", lie, offset, 0xFFFFFFF0)
        c.add(f"absurd-{what}-sectors.msg", bytes(lie), "skip", "sectors", note="a header claiming 4 billion sectors")
    lie = bytearray(good)
    struct.pack_into("<I", lie, 0x30, 0xFFFFFF00)  # the first directory sector: far past the end
    c.add("directory-out-of-range.msg", bytes(lie), "skip", "damaged")
    chain = cfb({**{f"__substg1.0_{i:04X}001F": b"a\0" for i in range(3000)}, "__properties_version1.0": bytes(32)})
    c.add("deep-directory-chain.msg", chain, "skip", "damaged", note="3,000 siblings in one chain: olefile recurses")


# -- text ----------------------------------------------------------------------------------------
def _texts(c: _Corpus, big_txt_mb: int) -> None:
    c.add("good.txt", GOOD, "ingest")
    c.add("good.md", "# Titel\n\n" + GOOD, "ingest")
    path = c.record("big-50mb.txt", "skip", "limit", f"{big_txt_mb} MB, streamed")
    line = (GOOD + "\n").encode()
    with open(path, "wb") as f:
        for _ in range(big_txt_mb * MB // len(line) + 1):
            f.write(line)
    path = c.record("over-5m-characters.txt", "skip", "limit", "5.1 million characters in 5.1 MB")
    with open(path, "wb") as f:
        for _ in range(5_100_000 // len(line) + 1):
            f.write(line)
    c.add("just-under-limit.md", (GOOD + "\n") * (4_000_000 // len(line)), "ingest", note="4 million characters")
    c.add("one-long-line.txt", "woord " * 600_000, "ingest")
    c.add("invalid-utf8.txt", "Gemeente Súdwest-Fryslân en de Wet één.\n".encode() * 20 + b"\xff\xfe\xc3(" + GOOD.encode(), "ingest")
    c.add("cp1252.txt", ("Café résumé naïef " * 20).encode("cp1252"), "ingest")
    c.add("utf16-le-no-bom.txt", GOOD.encode("utf-16-le"), "skip", "binary")
    c.add("utf16-be-no-bom.txt", GOOD.encode("utf-16-be"), "skip", "binary")
    c.add("utf16-bom.txt", GOOD.encode("utf-16"), "ingest")
    c.add("utf32.txt", GOOD.encode("utf-32"), "skip", "binary")
    rng = random.Random(2)
    c.add("random-bytes.txt", rng.randbytes(64 * 1024), "skip", "binary")
    c.add("random-bytes-no-nul.txt", bytes(rng.randrange(1, 256) for _ in range(64 * 1024)), "skip", "binary")
    c.add("png-named.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "skip", "binary")
    c.add("elf-named.md", b"\x7fELF\x02\x01\x01\x00" + bytes(200), "skip", "binary")
    c.add("control-chars-only.txt", bytes(range(1, 9)) * 500, "skip", "binary")
    c.add("whitespace-only.txt", " \n\t\r\n " * 100, "skip", "no text")
    c.add("bom-only.txt", b"\xef\xbb\xbf", "skip", "no text")
    c.add("ansi-escapes.txt", f"\x1b[31mRood\x1b[0m {GOOD} \x1b]0;titel\x07 \x9b2J", "ingest", note="escapes removed")
    c.add("nul-after-8k.txt", GOOD * 200 + "\x00" + GOOD, "ingest", note="NUL removed")
    c.add("cr-only.txt", GOOD.replace(" ", "\r"), "ingest")
    c.add("encoded-surrogate.md", b"tekst \xed\xa0\x80 " + GOOD.encode() * 5, "ingest", note="CESU-8 surrogate bytes")


# -- HTML ----------------------------------------------------------------------------------------
def _htmls(c: _Corpus) -> None:
    s = SCRIPT_MARKER
    page = "<html><head><title>Titel {s}</title></head><body>{body}</body></html>"

    def h(name, body, expect="ingest", reason="", suffix=".html"):
        c.add(name + suffix, page.format(s=s, body=body), expect, reason)

    h("script", f"<p>{GOOD}</p><script>alert('{s}')</script><p>Na het script.</p>")
    h("script-uppercase", f"<P>{GOOD}</P><SCRIPT type='text/javascript'>var x='{s}';</SCRIPT >")
    h("script-tricky-end", f"<p>{GOOD}</p><script>var t='</scr'+'ipt>{s}<\\/script>'; // {s}</script x><p>Einde.</p>")
    h("script-unclosed", f"<p>{GOOD}</p><script>{s} " + "x" * 1000)
    h("script-self-closing", f"<p>{GOOD}</p><script src='x.js'/><p>verder</p><script>{s}</script>")
    h("onerror", f"<p>{GOOD}</p><img src=x onerror=\"alert('{s}')\"><a href=\"javascript:alert('{s}')\">link</a>")
    h("iframe", f"<p>{GOOD}</p><iframe srcdoc=\"<script>{s}</script>\">{s} fallback</iframe>"
                f"<iframe src='https://evil.example/{s}'></iframe>")
    h("style", f"<style>body::after {{ content: '{s}' }}</style><p style=\"x:{s}\">{GOOD}</p>")
    h("noscript-template", f"<noscript>{s}</noscript><template><p>{s}</p></template><p>{GOOD}</p>")
    h("svg-math", f"<svg><script>{s}</script><text>{s}</text></svg><math><mi>{s}</mi></math><p>{GOOD}</p>")
    h("object", f"<object data='x.swf'><param name=a value='{s}'>{s}</object><p>{GOOD}</p>")
    h("huge-attribute", f"<p title=\"{'x' * (5 * MB)}\" data-y='{s}'>{GOOD}</p>")
    h("huge-attribute-unclosed", f"<p>{GOOD}</p><p title=\"" + "x" * (2 * MB), "ingest")
    h("many-attributes", "<p " + " ".join(f"a{i}=1" for i in range(200_000)) + f">{GOOD}</p>")
    h("deeply-nested", "<div>" * 100_000 + GOOD + "</div>" * 100_000)
    h("deeply-nested-svg", "<svg>" * 50_000 + s + f"</svg>" * 10 + f"<p>{GOOD}</p>", "either")
    h("quadratic-end-tags", f"<p>{GOOD}</p>" + "</" * 300_000)
    h("quadratic-open-tags", f"<p>{GOOD}</p>" + "<a " * 300_000)
    h("quadratic-bang", f"<p>{GOOD}</p>" + "<!" * 300_000)
    h("unclosed-comment", f"<p>{GOOD}</p><!-- {s} " + "x" * 100_000)
    h("cdata-pi", f"<p>{GOOD}</p><![CDATA[{s}]]><?php echo '{s}'; ?>")
    h("entities", f"<p>{GOOD} &lt;b&gt; &amp;amp; &#x41; &#0; &#xD800; &#99999999999; &nosuch;</p>")
    h("data-uri", f"<p>{GOOD}</p><img src=\"data:image/png;base64,{'A' * MB}\">")
    h("only-script", f"<script>{s}</script><style>{s}</style>", "skip", "no text")
    h("htm-suffix", f"<p>{GOOD}</p><script>{s}</script>", suffix=".htm")
    c.add("nul-bytes.html", b"<p>" + b"\x00" * 100 + GOOD.encode() + b"</p>", "skip", "binary")
    c.add("utf16-bom.html", f"<p>{GOOD}</p><script>{s}</script>".encode("utf-16"), "ingest")
    c.add("meta-refresh.html", f"<meta http-equiv=refresh content='0;url=https://evil.example/'><p>{GOOD}</p>", "ingest")


# -- names, links, special files -----------------------------------------------------------------
def _names(c: _Corpus, outside: Path) -> None:
    for i, ctl in enumerate(["\n", "\r", "\t", "\x1b[31m", "\x07", "\x7f", "\x9b"]):
        c.add(f"control{i}-{ctl}name.txt", GOOD, "skip", "control")
    c.add("factuur\u202efdp.txt", GOOD, "skip", "direction")
    c.add(("dir-with-\nnewline", "doc.txt"), GOOD, "skip", "control")
    c.add("é" * 120 + ".txt", GOOD, "ingest", note="244 bytes")
    c.add("文" * 80 + ".md", GOOD, "ingest", note="243 bytes")
    c.add("😀" * 60 + ".txt", GOOD, "ingest", note="244 bytes")
    c.add(("ß" * 100, "ü" * 100, "long-path.txt"), GOOD, "ingest")
    c.add("a..b.txt", GOOD, "ingest")
    c.add("x..txt", GOOD, "ingest")
    c.add("..%2F..%2Fetc%2Fpasswd.txt", GOOD, "skip", "hidden")
    c.add("..\\..\\windows.txt", GOOD, "skip", "hidden")
    c.add("dots-..-..-up.txt", GOOD, "ingest")
    c.add("$(touch pwned).txt", GOOD, "ingest")
    c.add("; rm -rf ~.txt", GOOD, "ingest")
    c.add("-rf.txt", GOOD, "ingest")
    c.add("quote'\"name.txt", GOOD, "ingest")
    c.add("CON.txt", GOOD, "ingest")
    c.add(" .txt", GOOD, "ingest")
    c.add(".hidden.txt", GOOD, "skip", "hidden")
    c.add((".git", "config"), GOOD, "skip", "hidden")
    c.entries[-1].parts = (".git",)  # the folder is the one entry reported
    with open(os.fsencode(c.folder) + b"/bad-\xff\xfe-bytes.txt", "wb") as f:  # not UTF-8
        f.write(GOOD.encode())
    c.record(os.fsdecode(b"bad-\xff\xfe-bytes.txt"), "skip", "utf-8")

    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text(f"{OUTSIDE_MARKER} {GOOD}")
    (outside / "dir").mkdir(exist_ok=True)
    (outside / "dir" / "secret2.txt").write_text(f"{OUTSIDE_MARKER} {GOOD}")
    links = {
        "link-outside-abs.txt": str(outside / "secret.txt"),
        "link-outside-rel.txt": os.path.relpath(outside / "secret.txt", c.folder),
        "link-outside-dir": str(outside / "dir"),
        "link-etc-passwd.txt": "/etc/passwd",
        "link-dangling.txt": str(outside / "does-not-exist.txt"),
        "link-loop-a.txt": "link-loop-b.txt",
        "link-loop-b.txt": "link-loop-a.txt",
        "link-to-self-folder": ".",
        "link-inside.txt": "good.txt",
        "link-proc.txt": "/proc/self/environ",
    }
    for name, target in links.items():
        os.symlink(target, c.folder / name)
        c.record(name, "skip", "symbolic link")

    (c.folder / "folder.txt").mkdir()
    c.add(("folder.txt", "inside-dir-named-txt.txt"), GOOD, "ingest")
    (c.folder / "empty-folder.pdf").mkdir()
    deep = tuple(f"d{i}" for i in range(60)) + ("deep.txt",)
    c.add(deep, GOOD, "ingest")
    os.mkfifo(c.folder / "named-pipe.txt")
    c.record("named-pipe.txt", "skip", "regular file")
    p = c.add("unreadable.txt", GOOD, "either", note="readable anyway when run as root")
    p.chmod(0)
    c.add("meta.json", json.dumps({"good.txt": "not a dict", "good.md": {"title": 5},
                                   "cp1252.txt": {"title": "\x1b[31m" * 3}, "x": [1] * 1000}), "either")
    c.entries.pop()  # meta.json is not a document: not accounted as one


def _empties(c: _Corpus) -> None:
    for suffix in (".txt", ".md", ".pdf", ".docx", ".html", ".htm", ".TXT", ".Pdf"):
        c.add(f"empty{suffix}", b"", "skip")
    c.add("no-suffix", GOOD, "skip", "unsupported")
    c.add("empty-no-suffix", b"", "skip", "unsupported")
    c.add("program.exe", b"MZ" + bytes(100), "skip", "unsupported")
    c.add("archive.zip", b"PK\x05\x06" + bytes(18), "skip", "unsupported")


def write_corpus(folder: Path, outside: Path | None = None, big_txt_mb: int = 50) -> list[Entry]:
    """Write the corpus into folder (created; must be empty) and the symlink targets into outside
    (default: a sibling folder "<folder>-outside"). Returns one Entry per top-level thing ingest
    must account for."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise SystemExit(f"{folder} is not empty")
    outside = Path(outside) if outside else folder.with_name(folder.name + "-outside")
    c = _Corpus(folder)
    _empties(c)
    _texts(c, big_txt_mb)
    _pdfs(c)
    _docxs(c)
    _offices(c)
    _mails(c)
    _htmls(c)
    _names(c, outside)
    return c.entries


def measure(folder: Path) -> dict:
    """load_folder over folder in this process: counts, problems, peak RSS growth, seconds.

    Peak memory is the kernel's high-water mark of this process's resident set (VmHWM), reset just
    before ingesting when /proc/self/clear_refs allows it (not ru_maxrss: on Linux that keeps the
    parent's size across fork + exec, so a big test process would inflate it)."""
    from assistant import ingest

    def status_kb(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"no {key} in /proc/self/status")

    import docx  # noqa: F401  (loaded before the baseline: imports are not what is measured)
    import pypdf  # noqa: F401

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        pass  # then the peak includes start-up: an overestimate of the growth, never an underestimate
    before = status_kb("VmRSS")
    t0 = time.perf_counter()
    docs, problems = ingest.load_folder(folder, scope="hostile")
    seconds = time.perf_counter() - t0
    peak = status_kb("VmHWM")
    return {
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "peak_growth_mb": round((peak - before) / 1024, 1),
        "docs": [{"source": d.source, "chars": len(d.text), "title": d.title,
                  "script_marker": SCRIPT_MARKER in d.text or SCRIPT_MARKER in d.title,
                  "outside_marker": OUTSIDE_MARKER in d.text,
                  "control_chars": any(ch < " " and ch not in "\t\n\f" or "\x7f" <= ch <= "\x9f" for ch in d.text)}
                 for d in docs],
        "problems": [{"source": p.source, "reason": p.reason} for p in problems],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="write the corpus into an empty folder")
    w.add_argument("folder")
    w.add_argument("--big-txt-mb", type=int, default=50)
    m = sub.add_parser("measure", help="ingest a written corpus and report")
    m.add_argument("folder")
    m.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.cmd == "write":
        entries = write_corpus(Path(args.folder), big_txt_mb=args.big_txt_mb)
        print(f"wrote {len(entries)} entries into {args.folder}")
        return 0
    result = measure(Path(args.folder))
    if args.json:
        print(json.dumps(result, ensure_ascii=True))
    else:
        print(f"{len(result['docs'])} ingested, {len(result['problems'])} skipped in {result['seconds']} s; "
              f"peak RSS growth {result['peak_growth_mb']} MB")
        for p in result["problems"]:
            print(f"  skipped {p['source']}: {p['reason']}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
