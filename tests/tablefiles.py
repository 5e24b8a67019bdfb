"""Test documents with a budget table: a PDF written by hand (ruled table, positioned text; no
reportlab or LibreOffice needed) and a DOCX written with python-docx."""

from __future__ import annotations

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))
from hostile import _pdf as assemble  # noqa: E402  objects + xref + trailer: the hostile corpus's PDF writer

HEADER = ("Project", "Budget 2025", "Budget 2026", "Verantwoordelijke")
ROWS = [
    ("Fietsroute Oost", "€ 1,2 mln", "€ 1,5 mln", "Afdeling Mobiliteit"),
    ("Groene Schoolpleinen", "€ 340.000", "€ 410.000", "Afdeling Onderwijs"),
    ("Wijkcentrum De Linde", "€ 2,8 mln", "€ 0,9 mln", "Afdeling Vastgoed"),
    ("Energiecoaches", "€ 150.000", "€ 175.000", "Afdeling Duurzaamheid"),
    ("Herinrichting Marktplein", "€ 4,1 mln", "€ 3,6 mln", "Afdeling Openbare Ruimte"),
    ("Digitaal Loket", "€ 620.000", "€ 480.000", "Afdeling Dienstverlening"),
]
BEFORE = "De gemeenteraad heeft de begroting voor de komende twee jaar vastgesteld. De projecten staan hieronder."
AFTER = "Alle bedragen zijn inclusief btw. Het college rapporteert elk kwartaal over de voortgang."
INTRO = "Begroting projecten 2025-2026. Deze nota beschrijft de investeringen van de gemeente in de wijken."

DOCX_HEADER = ("Maatregel", "Kosten 2025", "Kosten 2026", "Uitvoerder")
DOCX_ROWS = [
    ("Zonnepanelen Stadhuis", "€ 730.000", "€ 120.000", "Team Gebouwen"),
    ("Speeltuin Noord", "€ 95.000", "€ 60.000", "Team Jeugd"),
    ("Snelfietspad West", "€ 2,3 mln", "€ 2,7 mln", "Team Verkeer"),
]
DOCX_BEFORE = "De raad besluit over de volgende maatregelen."
DOCX_AFTER = "De uitvoering start in het voorjaar."


def row_line(header, row) -> str:
    return " | ".join(f"{h}: {c}" for h, c in zip(header, row))


def _esc(s: str) -> bytes:
    b = s.encode("cp1252")  # WinAnsiEncoding: "€" is 0x80
    return b.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _text(x: float, y: float, s: str, size: int = 10) -> bytes:
    return b"BT /F1 %d Tf %.1f %.1f Td (" % (size, x, y) + _esc(s) + b") Tj ET\n"


def pdf(pages: list[bytes]) -> bytes:
    """A valid PDF (correct xref) of A4 pages with the given content streams, font Helvetica
    (WinAnsiEncoding: "€" is 0x80). Also the writer of tests/pdfgen.py."""
    n = len(pages)
    objs: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n)) + b"] /Count %d >>" % n,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, content in enumerate(pages):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                    b"/Contents %d 0 R >>" % (5 + 2 * i))
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    return assemble(objs)


def table_stream(top: float, header, rows, widths=(150, 90, 90, 150), x0: float = 60, h: float = 20,
                 ruled: bool = True) -> bytes:
    """A table whose top edge is at y=`top`: grid lines (if `ruled`) and one text per cell."""
    out = b""
    xs = [x0]
    for w in widths:
        xs.append(xs[-1] + w)
    nrows = len(rows) + 1
    if ruled:
        out += b"0.5 w\n"
        for r in range(nrows + 1):
            out += b"%.1f %.1f m %.1f %.1f l S\n" % (xs[0], top - r * h, xs[-1], top - r * h)
        for x in xs:
            out += b"%.1f %.1f m %.1f %.1f l S\n" % (x, top, x, top - nrows * h)
    for r, cells in enumerate([header, *rows]):
        for c, cell in enumerate(cells):
            out += _text(xs[c] + 4, top - r * h - 14, cell)
    return out


def budget_pdf(ruled: bool = True) -> bytes:
    """Page 1: a paragraph. Page 2: a paragraph, the budget table, a paragraph."""
    page1 = _text(60, 780, "Begroting projecten 2025-2026", 14) + _text(60, 750, INTRO.split(". ", 1)[1])
    top = 700
    page2 = _text(60, 760, BEFORE)
    page2 += table_stream(top, HEADER, ROWS, ruled=ruled)
    page2 += _text(60, top - (len(ROWS) + 1) * 20 - 30, AFTER)
    return pdf([page1, page2])


def budget_docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph("Maatregelen duurzaamheid")
    d.add_paragraph(DOCX_BEFORE)
    t = d.add_table(rows=1 + len(DOCX_ROWS), cols=len(DOCX_HEADER))
    for r, cells in enumerate([DOCX_HEADER, *DOCX_ROWS]):
        for c, cell in enumerate(cells):
            t.cell(r, c).text = cell
    d.add_paragraph(DOCX_AFTER)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()
