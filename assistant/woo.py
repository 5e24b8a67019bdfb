"""Woo release bundles: one PDF holding an inventory list and the documents it lists, split into a
Document per listed document (ingest.load_documents).

A Woo (Wet open overheid) decision is usually published as one concatenated PDF: an inventory
("inventarislijst": Nr. / Datum / Omschrijving / Soort / Beoordeling / Weigeringsgrond(en)), then
every document it lists, each starting on a new page with its number at the top ("Document 3",
"Documentnummer: 3", "Nr. 3", or a bare "3" stamp). No library reads this layout (it is a
publishing habit, not a file format), so detection and splitting are written by hand here, on the
page texts the PDF reader returns. Both table layouts the reader may give are understood: pypdf's
plain one (a row is "3 14-03-2022 E-mail over planning e-mail Deels openbaar 5.1.2e") and the row
layout ("Nr.: 3 | Datum: 14-03-2022 | Omschrijving: E-mail over planning | ...").

The rules (`detect`):
- inventory: a page among the first INVENTORY_START_PAGES with a header naming a number column and
  a date or title column, and at least MIN_ROWS numbered rows on it and the pages right after it
  (a following page belongs to the inventory while it repeats the header, holds two rows with a
  date, judgement or ground, or one such row numbered right after the last one);
- documents: for each listed number, in the inventory's order, the first later page whose top lines
  (TOP_LINES) carry that number: "Document 3", "Documentnummer: 3", "Doc. 3", "Nr. 3", "Nummer 3",
  or, when no page has such a label, a line holding only "3" (a corner stamp);
- a Woo bundle only: some row has a judgement ("deels openbaar") or a ground, or the pages up to
  the inventory's end name Woo, Wob, inventaris(lijst), openbaarmaking or weigeringsgrond (an
  ordinary table of numbered, dated rows is not an inventory, and gets no "kept whole" note);
- split only when every listed document is found in order, except those the inventory marks
  "niet openbaar" (they are listed but not published) and at most MAX_MISSING_SHARE of the others
  (none for fewer than 20 documents). Otherwise the bundle stays one document and ingest says why.

Each inner document: source "<bundle>#<number>", pages numbered as in the bundle (its page offsets
start with empty pages for the bundle's pages before it: pages.page_at then gives bundle pages),
title the inventory's description, date and type from the inventory, meta.woo_number,
meta.woo_grounds (the inventory's grounds plus any found in its text, like "5.1.2e" beside a
blacked-out passage) and meta.part_of the bundle's source. The inventory (and any pages before
the first document) is "<bundle>#inventaris".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from . import metadata
from .pages import join_pages
from .types import Document

INVENTORY_START_PAGES = 3  # the inventory starts on one of the first pages
MAX_INVENTORY_PAGES = 40
MIN_ROWS = 3
TOP_LINES = 4  # the lines of a page where its document number is looked for
MAX_MISSING_SHARE = 0.05  # of the documents to be found (not "niet openbaar") that may be missed
INVENTORY = "inventaris"

# Redaction grounds: Woo art. 5.1.1a-e, 5.1.2a-i, 5.1.4, 5.1.5, 5.2; the old Wob's 10.1/10.2/11.1.
_GROUND = re.compile(r"(?<![\w.,€$])(5\.1\.[1-5]\s?[a-i]?|5\.2(?:\.\d)?|10\.[12]\.?\s?[a-g]?|11\.1)(?![\w]|[.,]\d)",
                     re.IGNORECASE)
_JUDGEMENT = re.compile(r"\b(niet openbaar|deels openbaar|gedeeltelijk openbaar|reeds openbaar|openbaar)\b", re.IGNORECASE)
# Column headers, by what the column holds
_HEADS = {
    "number": r"nr\.?|nummer|documentnummer|documentnr\.?|docnr\.?|doc\.?\s?nr\.?|document|id|volgnummer",
    "date": r"datum|date",
    "title": r"omschrijving|titel|onderwerp|naam(?: document)?|beschrijving",
    "type": r"soort(?: document)?|type|documenttype|documentsoort",
    "judgement": r"beoordeling|openbaarmaking|besluit|oordeel",
    "grounds": r"weigeringsgrond(?:en|\(en\))?|grond(?:en|\(en\))?|uitzonderingsgrond(?:en|\(en\))?",
}
_HEAD = {k: re.compile(rf"^(?:{p})$", re.IGNORECASE) for k, p in _HEADS.items()}
_HEAD_WORD = re.compile("|".join(rf"(?:{p})" for p in _HEADS.values()), re.IGNORECASE)
_HEAD_IN_LINE = re.compile(r"(?<!\w)(" + "|".join(rf"(?:{p})" for p in _HEADS.values()) + r")(?!\w)", re.IGNORECASE)
SOORTEN = ("e-mailwisseling", "e-mail", "email", "mail", "nota", "memo", "brief", "notitie", "verslag", "agenda",
           "presentatie", "rapport", "besluit", "whatsapp-bericht", "whatsapp", "sms", "chatbericht", "chat",
           "bijlage", "overzicht", "advies", "aantekeningen", "notulen", "factuur", "contract", "overeenkomst",
           "offerte", "document", "concept", "tekst", "planning", "spreadsheet", "teams-bericht", "signal-bericht")
_SOORT = re.compile(r"(?<!\w)(" + "|".join(re.escape(s) for s in sorted(SOORTEN, key=len, reverse=True)) + r")(?!\w)",
                    re.IGNORECASE)
_ROW_NUMBER = re.compile(r"^\s*(?:nr\.?\s*)?0*(\d{1,5})(?:[.)]|\s|$)", re.IGNORECASE)
_WOO_WORDS = re.compile(r"\b(?:woo|wob|inventaris(?:lijst)?|wet open overheid|openbaarmaking|weigeringsgrond)", re.IGNORECASE)
_FOOTER = re.compile(r"^\s*(?:pagina|page|blad)\s+\d+(?:\s*(?:van|of|/)\s*\d+)?\s*$|^\s*\d+\s*(?:/|van)\s*\d+\s*$",
                     re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One row of the inventory."""
    number: str  # "3" (leading zeros dropped)
    date: str | None = None  # ISO
    title: str = ""
    type: str | None = None  # soort: "e-mail", "nota", ...
    judgement: str | None = None  # "openbaar", "deels openbaar", "niet openbaar", ...
    grounds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bundle:
    """Where each part of a bundle is: 0-based page indexes."""
    inventory_pages: int  # pages [0, inventory_pages) are the inventory (and anything before the first document)
    entries: tuple[Entry, ...]  # the documents found, in order
    starts: tuple[int, ...]  # the page each of them starts on
    missing: tuple[str, ...] = ()  # numbers listed but not found (allowed by the rules)


def grounds_in(text: str) -> tuple[str, ...]:
    """Redaction grounds named in a text ("5.1.2e", "5.1.2 e" -> "5.1.2e"), in order, once each."""
    return tuple(dict.fromkeys(_norm_ground(m.group(1)) for m in _GROUND.finditer(text)))


def _norm_ground(g: str) -> str:
    g = re.sub(r"\s+", "", g).lower()
    return re.sub(r"^(10\.[12])\.([a-g])$", r"\1\2", g)


def norm_ground(value: str) -> str:
    """A ground as a filter value gives it, written as grounds are stored."""
    return _norm_ground(str(value).strip())


# -- the inventory -----------------------------------------------------------------------------
def _lines(page: str) -> list[str]:
    return [" ".join(ln.split()) for ln in page.splitlines() if ln.strip()]


def _cells(line: str) -> dict[str, str] | None:
    """The row layout "Nr.: 3 | Datum: 14-03-2022 | ...": {column kind: cell}, or None."""
    if "|" not in line and not re.match(r"^\s*[^:|]{1,40}:\s", line):
        return None
    out: dict[str, str] = {}
    for cell in line.split("|"):
        label, sep, value = cell.partition(":")
        if not sep:
            continue
        label = " ".join(label.split()).strip(" .").casefold()
        kind = next((k for k, rx in _HEAD.items() if rx.match(label) or rx.match(label + ".")), None)
        if kind and kind not in out:
            out[kind] = value.strip()
    return out if "number" in out and ("date" in out or "title" in out) else None


def _header(line: str) -> list[str] | None:
    """The column kinds of a plain header line ("Nr. Datum Omschrijving Soort ..."), in order, or None."""
    kinds, rest = [], line
    for m in _HEAD_IN_LINE.finditer(line):
        word = m.group(1).casefold()
        kind = next((k for k, rx in _HEAD.items() if rx.match(word) or rx.match(word.rstrip("."))), None)
        if kind and kind not in kinds:
            kinds.append(kind)
        rest = rest.replace(m.group(1), " ", 1)
    # a header is (nearly) only header words
    if "number" in kinds and ("date" in kinds or "title" in kinds) and len(kinds) >= 2 \
            and len(re.sub(r"[\W\d_]+", "", rest)) <= 12:
        return kinds
    return None


def _entry_from_cells(cells: dict[str, str]) -> Entry | None:
    m = re.search(r"\d{1,5}", cells.get("number", ""))
    if not m:
        return None
    date = metadata.first_date(cells.get("date", "")) if cells.get("date") else None
    soort = " ".join(cells.get("type", "").split()) or None
    judgement = " ".join(cells.get("judgement", "").split()).lower() or None
    grounds = grounds_in(cells.get("grounds", ""))
    return Entry(str(int(m.group())), date, " ".join(cells.get("title", "").split()),
                 soort.lower() if soort else None, judgement, grounds)


def _entry_from_line(line: str, kinds: list[str]) -> Entry | None:
    """A plain row: its number first, then the cells pypdf put on one line, picked apart by what they look like."""
    m = _ROW_NUMBER.match(line)
    if not m:
        return None
    number, rest = str(int(m.group(1))), line[m.end():]
    second = re.match(r"\s*(\d{3,})\b(?![-/.]\d)", rest)  # a document id column right after the row number
    if second:
        rest = rest[second.end():]
    date = None
    dm = metadata._DATE.search(rest)
    if dm:
        date = metadata._match_iso(dm)
        rest = rest[:dm.start()] + " " + rest[dm.end():]
    grounds = grounds_in(rest)
    rest = _GROUND.sub(" ", rest)
    jm = _JUDGEMENT.search(rest)
    judgement = jm.group(1).lower() if jm else None
    if jm:
        rest = rest[:jm.start()] + " " + rest[jm.end():]
    rest = " ".join(re.sub(r"\s[,;]\s", " ", rest).split())
    soort = None
    if "type" in kinds:
        before_title = "title" in kinds and kinds.index("type") < kinds.index("title")
        found = list(_SOORT.finditer(rest))
        if found:
            s = found[0] if before_title else found[-1]
            if (before_title and s.start() == 0) or (not before_title and s.end() == len(rest)):
                soort = s.group(1).lower()
                rest = (rest[s.end():] if before_title else rest[:s.start()]).strip()
    if not (date or grounds or judgement or soort or rest):
        return None
    return Entry(number, date, rest.strip(" -–|"), soort, judgement, grounds)


def _page_rows(page: str, kinds: list[str] | None) -> tuple[list[Entry], list[str] | None, bool]:
    """(rows, the header's column kinds, whether the page has a header) of one inventory page."""
    rows: list[Entry] = []
    has_header = False
    for line in _lines(page):
        cells = _cells(line)
        if cells is not None:
            has_header = True
            e = _entry_from_cells(cells)
            if e:
                rows.append(e)
            continue
        head = _header(line)
        if head:
            kinds, has_header = head, True
            continue
        if kinds is None:
            continue
        e = _entry_from_line(line, kinds)
        if e is not None and (e.date or e.grounds or e.judgement or e.type):
            rows.append(e)
        elif rows and not _FOOTER.match(line) and not _ROW_NUMBER.match(line) and len(line) < 200:
            last = rows[-1]  # a title that wrapped onto the next line
            rows[-1] = replace(last, title=f"{last.title} {line}".strip())
    return rows, kinds, has_header


def inventory(pages: list[str]) -> tuple[int, int, list[Entry]] | None:
    """(first page, end page (exclusive), rows) of the inventory, or None when the first pages have none."""
    for first in range(min(INVENTORY_START_PAGES, len(pages))):
        rows, kinds, has_header = _page_rows(pages[first], None)
        if not has_header or not rows:
            continue
        end = first + 1
        while end < len(pages) and end - first < MAX_INVENTORY_PAGES:
            more, k2, head2 = _page_rows(pages[end], kinds)
            numbered = [e for e in more if e.date or e.grounds or e.judgement]
            follows = bool(numbered) and bool(rows) and int(numbered[0].number) == int(rows[-1].number) + 1
            if not (head2 and more) and len(numbered) < 2 and not follows:
                break
            if rows and more and int(more[0].number) <= int(rows[-1].number):
                break  # numbering starts again: a document's own table
            rows += more
            kinds = k2 or kinds
            end += 1
        if len(rows) >= MIN_ROWS:
            return first, end, rows
    return None


# -- the documents -----------------------------------------------------------------------------
def _marks(number: str) -> tuple[re.Pattern, re.Pattern]:
    n = rf"0*{re.escape(number)}"
    # at the start of a line, or anywhere in a short line (a stamp "Woo 2022-17 | Document 3")
    labelled = re.compile(rf"(?<!\w)(?:document(?:nummer|nr\.?)?|doc\.?(?:\s?nr\.?)?|nr\.?|nummer|volgnummer)"
                          rf"\s*[:#.]?\s*{n}(?![\d\w])", re.IGNORECASE)
    bare = re.compile(rf"^\s*{n}\s*$")
    return labelled, bare


def _top(page: str) -> list[str]:
    return _lines(page)[:TOP_LINES]


def find_starts(pages: list[str], begin: int, entries: list[Entry]) -> list[tuple[Entry, int | None]]:
    """Each entry with the page its document starts on (None: not found), searched in order from `begin`."""
    tops = [_top(p) for p in pages]
    out: list[tuple[Entry, int | None]] = []
    at = begin
    for e in entries:
        labelled, bare = _marks(e.number)
        hit = next((p for p in range(at, len(pages))
                    if any((m := labelled.search(ln)) and (m.start() == 0 or len(ln) <= 40) for ln in tops[p])), None)
        if hit is None:
            # a bare stamp, only before the next entry's labelled start would be (page numbers look alike)
            hit = next((p for p in range(at, len(pages)) if any(bare.match(ln) for ln in tops[p][:2])), None)
        out.append((e, hit))
        if hit is not None:
            at = hit + 1
    return out


def detect(pages: list[str]) -> tuple[Bundle | None, str]:
    """(the bundle's layout, "") when `pages` are a Woo bundle that can be split; (None, why) when
    they have an inventory but cannot be split; (None, "") when they have no inventory at all."""
    inv = inventory(pages)
    if inv is None:
        return None, ""
    first, end, rows = inv
    if not any(e.judgement or e.grounds for e in rows) and not _WOO_WORDS.search("\n".join(pages[:end])):
        return None, ""  # a table of numbered, dated rows in an ordinary document: not a Woo bundle
    seen: set[str] = set()
    for e in rows:
        if e.number in seen:
            return None, f"the inventory lists document {e.number} twice"
        seen.add(e.number)
    if end >= len(pages):
        return None, "the inventory has no pages after it"
    found = find_starts(pages, end, rows)
    hidden = [e.number for e, p in found if p is None and (e.judgement or "").startswith("niet")]
    lost = [e.number for e, p in found if p is None and not (e.judgement or "").startswith("niet")]
    expected = len(rows) - len(hidden)
    allowed = int(expected * MAX_MISSING_SHARE) if expected >= 20 else 0
    hits = [(e, p) for e, p in found if p is not None]
    if lost and len(lost) > allowed:
        shown = ", ".join(lost[:8]) + (f" and {len(lost) - 8} more" if len(lost) > 8 else "")
        return None, (f"{len(lost)} of the {expected} inventoried documents not found at the top of a page "
                      f"in the inventory's order (no. {shown})")
    if not hits:
        return None, "none of the inventoried documents found at the top of a page"
    return Bundle(hits[0][1], tuple(e for e, _ in hits), tuple(p for _, p in hits), tuple(hidden + lost)), ""


# -- Documents ---------------------------------------------------------------------------------
def split(bundle_doc: Document, pages: list[str], layout: Bundle, sha) -> list[Document]:
    """The inventory and each inner document as Documents (see the module's docstring); `pages` are
    the bundle's cleaned page texts, `sha` the text hash ingest uses."""
    ocr = set(bundle_doc.ocr_pages)
    bm = bundle_doc.meta
    out = []
    bounds = [(0, layout.inventory_pages, None)] + [
        (s, layout.starts[i + 1] if i + 1 < len(layout.starts) else len(pages), e)
        for i, (e, s) in enumerate(zip(layout.entries, layout.starts))]
    for lo, hi, e in bounds:
        text, starts = join_pages(pages[lo:hi])
        if not text.strip():
            continue
        starts = (0,) * lo + starts  # the bundle's earlier pages, empty: page numbers stay the bundle's
        source = f"{bundle_doc.source}#{INVENTORY if e is None else e.number}"
        if e is None:
            title = f"Inventarislijst: {bundle_doc.title}"
            meta = replace(bm, part_of=bundle_doc.source)
        else:
            title = e.title or f"Document {e.number}"
            meta = _meta(text, title, e, bm, bundle_doc.source)
        out.append(Document(source=source, title=title[:300], text=text, sha256=sha(text), pages=starts,
                            ocr_pages=tuple(p for p in range(lo + 1, hi + 1) if p in ocr), meta=meta))
    return out


def _meta(text: str, title: str, e: Entry, bundle: metadata.DocMeta, bundle_source: str) -> metadata.DocMeta:
    own = metadata.extract(text, title)
    origin = dict(own.origin)
    fields = {}
    if e.date:
        fields["date"], origin["date"] = e.date, "inventory"
    if e.type:
        fields["type"], origin["type"] = e.type, "inventory"
    if bundle.municipalities or bundle.organisation:  # the publisher's, as for the bundle
        fields["municipalities"], fields["organisation"] = bundle.municipalities, bundle.organisation
        for k in ("municipalities", "organisation"):
            origin.pop(k, None)
            if fields[k]:
                origin[k] = "bundle"
    grounds = tuple(dict.fromkeys(e.grounds + grounds_in(text)))
    return replace(own, **fields, origin=tuple(sorted(origin.items())), part_of=bundle_source,
                   woo_number=e.number, woo_grounds=grounds)
