"""What a document is: its date, municipality (or other organisation) and type, found where they can be.

Three places, the first that has a value wins for each field:
1. the sidecar `meta.json` beside the documents ({"file": {"title", "date", "municipality",
   "organisation", "type"}}). A field present there with the value null means "known to be
   unknown": it is not guessed from the text (the seeds' curator left three dates empty on purpose);
2. the text's own letterhead: a date after a "Datum" label, the municipality the first pages are
   about, a type named in the opening lines ("RAADSINFORMATIEBRIEF", "Schriftelijke vragen", ...);
3. the file's own metadata: a PDF's /CreationDate, a .docx's core properties (dcterms:created). A
   file date says when the file was made, not when the letter was sent, so it comes after the
   text's labelled date; a date anywhere in the opening lines comes last.
The title is chosen in ingest.py (sidecar, then the file's own title, then the first line).

Everything here is cheap (regular expressions over the first TEXT_SPAN characters): no model.
Municipalities are recognised from assistant/data/gemeenten.txt, the 342 Dutch municipalities.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date as Date
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

TEXT_SPAN = 20_000  # characters of a document the heuristics read ("the first pages")
HEAD_SPAN = 600  # the letterhead: where a document names its own type
DATA = Path(__file__).resolve().parent / "data" / "gemeenten.txt"


@dataclass(frozen=True)
class DocMeta:
    """Metadata of one document; every field may be unknown. Stored with the document in the index
    (docs.jsonl), shown with each passage and citation, and what `--where` filters on."""

    date: str | None = None  # ISO: "2014-09-09", or "2014-09" / "2014" when only that is known
    municipalities: tuple[str, ...] = ()  # a joint document of several (BEL: Blaricum, Eemnes, Laren) has all
    organisation: str | None = None  # a non-municipal author (ministry, province, InAxis, ...)
    type: str | None = None  # "raadsinformatiebrief", "schriftelijke vragen", ...
    # Where each known field came from: (("date", "sidecar"), ("type", "text"), ...)
    origin: tuple[tuple[str, str], ...] = ()
    # The source of the document this one is part of: a mail's, for each of its attachments (ingest.py).
    # Stored only when set, so documents of other files are written exactly as before.
    part_of: str | None = None
    # A document of a Woo release bundle (woo.py): its number in the bundle's inventory and the
    # redaction grounds ("5.1.2e") the inventory gives it or its text shows. Stored only when set.
    woo_number: str | None = None
    woo_grounds: tuple[str, ...] = ()

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date and self.date[:4].isdigit() else None

    def to_json(self) -> dict:
        return {
            "date": self.date,
            "year": self.year,
            "municipalities": list(self.municipalities),
            "organisation": self.organisation,
            "type": self.type,
            "origin": dict(self.origin),
        } | ({"part_of": self.part_of} if self.part_of else {}) \
          | ({"woo_number": self.woo_number} if self.woo_number else {}) \
          | ({"woo_grounds": list(self.woo_grounds)} if self.woo_grounds else {})

    @classmethod
    def from_json(cls, d: dict | None) -> "DocMeta":
        if not isinstance(d, dict):
            return cls()
        origin = d.get("origin") or {}
        pairs = origin.items() if isinstance(origin, dict) else (tuple(p) for p in origin if len(p) == 2)
        part_of, number, grounds = d.get("part_of"), d.get("woo_number"), d.get("woo_grounds")
        return cls(d.get("date"), tuple(d.get("municipalities") or ()), d.get("organisation"), d.get("type"),
                   tuple(sorted(pairs)), part_of if isinstance(part_of, str) else None,
                   woo_number=number if isinstance(number, str) else None,
                   woo_grounds=tuple(g for g in grounds if isinstance(g, str)) if isinstance(grounds, list) else ())

    def label(self) -> str:
        """One short line for people: "Amersfoort · raadsinformatiebrief · 2014-09-09" (a Woo bundle's
        document adds "Woo-document 3 (5.1.2e)")."""
        who = ", ".join(self.municipalities) or (self.organisation or "")
        woo = ""
        if self.woo_number:
            woo = f"Woo-document {self.woo_number}" + (f" ({', '.join(self.woo_grounds)})" if self.woo_grounds else "")
        return " · ".join(p for p in (who, self.type or "", self.date or "", woo) if p)


@dataclass(frozen=True)
class FileInfo:
    """What a file says about itself (PDF document information, .docx core properties)."""

    title: str | None = None
    date: str | None = None


# -- the three sources, combined ---------------------------------------------------------------
_FIELDS = ("date", "municipalities", "organisation", "type")


def extract(text: str, title: str = "", sidecar: dict | None = None, info: FileInfo | None = None) -> DocMeta:
    """The document's metadata: sidecar first, then the text, then the file's own metadata."""
    found: dict[str, object] = {}
    origin: dict[str, str] = {}
    side = from_sidecar(sidecar or {})
    for f in _FIELDS:
        if f in side:  # present in the sidecar, also as null: the curator's word
            found[f] = side[f]
            if side[f]:
                origin[f] = "sidecar"
    head = text[:TEXT_SPAN]
    guesses = {
        "date": labelled_date(head),
        "municipalities": municipalities_in(f"{title}\n{head}"),
        "organisation": organisation_in(head[:HEAD_SPAN]),
        "type": type_in(f"{title}\n{head[:HEAD_SPAN]}", head),
    }
    for f, value in guesses.items():
        if f not in found and value:
            found[f], origin[f] = value, "text"
    if "date" not in found and info is not None and info.date:
        found["date"], origin["date"] = info.date, "file"
    if "date" not in found:
        d = first_date(head[:HEAD_SPAN])
        if d:
            found["date"], origin["date"] = d, "text"
    return DocMeta(
        date=found.get("date") or None,
        municipalities=tuple(found.get("municipalities") or ()),
        organisation=found.get("organisation") or None,
        type=found.get("type") or None,
        origin=tuple(sorted(origin.items())),
    )


def from_sidecar(entry: dict) -> dict:
    """The fields a meta.json entry gives (only those present), normalised; bad values are dropped."""
    out: dict[str, object] = {}
    if not isinstance(entry, dict):
        return out
    if "date" in entry:
        out["date"] = parse_date(entry["date"]) if isinstance(entry["date"], str) else None
    for key in ("municipality", "municipalities", "gemeente"):
        if key in entry:
            out["municipalities"] = split_municipalities(entry[key])
            break
    for key in ("organisation", "organization", "organisatie"):
        if key in entry:
            out["organisation"] = _plain(entry[key])
            break
    if "type" in entry:
        out["type"] = _plain(entry["type"])
    return out


def _plain(value) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value[:200] or None


def split_municipalities(value) -> tuple[str, ...]:
    """"Blaricum, Eemnes, Laren" -> three names; a list stays a list; "Nuenen, Gerwen en
    Nederwetten" (one municipality whose name has a comma) stays whole."""
    if isinstance(value, list):
        parts = [p for p in value if isinstance(p, str)]
    elif isinstance(value, str):
        whole = _plain(value) or ""
        if whole.casefold() in _names():
            parts = [whole]
        else:
            parts = re.split(r"\s*(?:,|;|/|\ben\b|&)\s*", whole)
    else:
        return ()
    out = []
    for p in parts:
        p = _plain(p)
        if p:
            canonical = _names().get(p.casefold())
            out.append(canonical or p)
    return tuple(dict.fromkeys(out))


# -- dates -------------------------------------------------------------------------------------
MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "maart": 3, "mrt": 3, "april": 4, "apr": 4, "mei": 5,
    "juni": 6, "jun": 6, "juli": 7, "jul": 7, "augustus": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
    # English, for documents written in it
    "january": 1, "february": 2, "march": 3, "may": 5, "june": 6, "july": 7, "august": 8, "october": 10,
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
# "9 september 2014", "15 mrt. 2007", "09-09-2014", "9/9/2014", "2014-09-09"
_DATE = re.compile(
    rf"\b(?:(?P<d>[0-3]?\d)\s+(?P<m>{_MONTH})\.?\s+(?P<y>(?:19|20)\d\d)"
    r"|(?P<d2>[0-3]?\d)[-/.](?P<m2>[01]?\d)[-/.](?P<y2>(?:19|20)\d\d)"
    r"|(?P<y3>(?:19|20)\d\d)-(?P<m3>[01]\d)-(?P<d3>[0-3]\d))\b",
    re.IGNORECASE,
)
_DATE_LABEL = re.compile(r"\b(?:datum|date|dagtekening|d\.d\.|vastgesteld op|verzonden)(?!\w)[^\n\d]{0,30}", re.IGNORECASE)


def _iso(y: str, m: int, d: str) -> str | None:
    try:
        return Date(int(y), int(m), int(d)).isoformat()
    except ValueError:  # 31 februari: not a date
        return None


def _match_iso(m: re.Match) -> str | None:
    if m.group("y"):
        return _iso(m.group("y"), MONTHS[m.group("m").lower()], m.group("d"))
    if m.group("y2"):
        return _iso(m.group("y2"), int(m.group("m2")), m.group("d2"))
    return _iso(m.group("y3"), int(m.group("m3")), m.group("d3"))


def parse_date(value: str) -> str | None:
    """ISO date from a sidecar value: "2014-09-09", "9 september 2014", "2014-09" or "2014"."""
    value = value.strip()
    if re.fullmatch(r"(?:19|20)\d\d(?:-[01]\d)?", value):
        return value
    m = _DATE.search(value)
    return _match_iso(m) if m else None


def labelled_date(text: str) -> str | None:
    """The date after a "Datum" label (a letter's own date), if any."""
    for label in _DATE_LABEL.finditer(text):
        m = _DATE.match(text, label.end()) or _DATE.match(text, label.end() + 1)
        if m:
            iso = _match_iso(m)
            if iso:
                return iso
    return None


def first_date(text: str) -> str | None:
    for m in _DATE.finditer(text):
        iso = _match_iso(m)
        if iso:
            return iso
    return None


# -- municipalities ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Every name and alias (casefolded) -> the municipality's name as CBS writes it."""
    out: dict[str, str] = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, *aliases = line.split("|")
        for n in (name, *aliases):
            out[n.casefold()] = name
    return out


def municipality_names() -> list[str]:
    return sorted(set(_names().values()))


# Names that are also ordinary words ("Best", "Buren" = neighbours, "Houten" = wooden, "Duiven" =
# pigeons, "Huizen" = houses, "Leiden" = to lead, ...): capitalised at the start of a sentence they
# are words, so there they only count after a cue like "gemeente".
_AMBIGUOUS = {"Best", "Beek", "Buren", "Duiven", "Houten", "Putten", "Sluis", "Stein", "Goes", "Huizen", "Leiden",
              "Kampen", "Hoorn", "Delft", "Weert", "Losser", "Waterland", "Heerde", "Epe", "Ede"}
_CUES = {"gemeente", "gemeenten", "gemeenteraad", "raad", "college", "bestuur", "burgemeester", "wethouder",
         "wethouders", "inwoners", "ambtenaren", "in", "te", "uit"}
_WORD = re.compile(r"[\w'’]+(?:-[\w'’]+)*")
MAX_NAME_WORDS = 5  # "Nuenen, Gerwen en Nederwetten", "Capelle aan den IJssel"


def _mentions(text: str):
    """(municipality, position, after a cue) for each mention in text: word runs looked up in the
    list (a dictionary lookup per word, not one big regular expression: fast on long texts)."""
    names = _names()
    words = [(m.start(), m.end(), m.group().replace("’", "'")) for m in _WORD.finditer(text)]
    i = 0
    while i < len(words):
        start, _, w = words[i]
        if not (w[:1].isupper() or w.startswith("'s-")):
            i += 1
            continue
        hit = None
        for n in range(min(MAX_NAME_WORDS, len(words) - i), 0, -1):
            phrase = " ".join(text[start:words[i + n - 1][1]].replace("’", "'").split())
            name = names.get(phrase.casefold())
            if name and "(" not in name:
                hit = (name, n)
                break
        parts = [(hit[0], 1)] if hit else []
        if not hit and "-" in w:  # "Blaricum-Eemnes-Laren": each part
            parts = [(names[p.casefold()], 1) for p in w.split("-") if p[:1].isupper() and p.casefold() in names]
        if parts:
            prev = [x[2].lower() for x in words[max(0, i - 2):i]]
            cue = bool(prev) and (prev[-1] in _CUES or (prev[-1] in ("van", "der", "de") and len(prev) > 1 and prev[-2] in _CUES))
            before = text[max(0, start - 3):start].rstrip(" \t")
            sentence_start = not before or before[-1] in ".!?:;\n•*-"
            for name, _ in parts:
                if name in _AMBIGUOUS and sentence_start and not cue:
                    continue
                yield name, start, cue
        i += hit[1] if hit else 1


def municipalities_in(text: str) -> tuple[str, ...]:
    """The municipalities the opening text is about. Each mention counts 1, one after a cue
    ("gemeente Lochem", "bestuur van Noordoostpolder", "in Altena") 2, one in the first 500
    characters (the title, the letterhead) 2 more. Kept: names scoring at least 2 and at least half
    the best score, so an aside does not outvote the subject, and a joint document keeps all its
    partners (BEL: Blaricum, Eemnes, Laren)."""
    scores: dict[str, int] = {}
    for name, pos, cue in _mentions(text[:TEXT_SPAN]):
        scores[name] = scores.get(name, 0) + 1 + cue + (2 if pos < 500 else 0)
    if not scores:
        return ()
    top = max(scores.values())
    keep = [n for n, s in scores.items() if s >= 2 and 2 * s >= top]
    return tuple(sorted(keep, key=lambda n: (-scores[n], n)))


_ORG = re.compile(
    r"\b(Ministerie van [A-Z][\w,' -]{2,80}?|Provincie [A-Z][\w-]+(?: [A-Z][\w-]+)?|Waterschap [A-Z][\w-]+(?: [A-Z][\w-]+)*"
    r"|Hoogheemraadschap [\w' -]{3,40}?|Rijkswaterstaat|Tweede Kamer|Eerste Kamer|VNG|Vereniging van Nederlandse Gemeenten)"
    r"(?=[\n.,;:)]|$| (?:en|van|te|in|op)\b)"
)


def organisation_in(head: str) -> str | None:
    """A ministry, province, water board or national body named in the letterhead."""
    m = _ORG.search(head)
    return " ".join(m.group(1).split()) if m else None


# -- types -------------------------------------------------------------------------------------
# (type, pattern), looked for in the title and the opening lines; the earliest match wins.
TYPES: tuple[tuple[str, str], ...] = (
    ("raadsinformatiebrief", r"raads\s*informatie\s*brief|\bRIB\b"),
    ("raadsvoorstel", r"raadsvoorstel"),
    ("raadsbesluit", r"raadsbesluit"),
    ("collegebesluit", r"collegebesluit|b&w-besluit|besluit van burgemeester en wethouders"),
    ("schriftelijke vragen", r"schriftelijke vragen|vragen (?:ex|op grond van) (?:art(?:ikel|\.)?\s*)?\d+|artikel\s*\d+[- ]vragen"),
    ("Woo-besluit", r"woo-?besluit|besluit op (?:uw|het) woo-?verzoek|wet open overheid"),
    ("Wob-besluit", r"wob-?besluit|besluit op (?:uw|het) wob-?verzoek|wet openbaarheid van bestuur"),
    ("motie", r"^\s*motie\b"),
    ("amendement", r"^\s*amendement\b"),
    ("startgesprek", r"startgesprek"),
    ("plan van aanpak", r"plan van aanpak"),
    ("evaluatie", r"\bevaluatie(?:rapport)?\b"),
    ("besluitenlijst", r"besluitenlijst"),
    ("notulen", r"\bnotulen\b|\bverslag van de (?:vergadering|raadsvergadering|commissie)"),
    ("jaarverslag", r"jaarverslag"),
    ("jaarrekening", r"jaarrekening"),
    ("begroting", r"(?<!\w)(?:programma)?begroting\s+(?:19|20)\d\d"),
    ("voorjaarsnota", r"voorjaarsnota|kadernota"),
    ("beleidsnota", r"beleidsnota|beleidsplan|beleidskader"),
)
_TYPES = tuple((name, re.compile(p, re.IGNORECASE | re.MULTILINE)) for name, p in TYPES)
# A written question as councils file it: the fractie's name, then the questions.
_QUESTION_FORM = re.compile(r"^\s*fractie\s*:.*?^\s*vragen\s*:", re.IGNORECASE | re.MULTILINE | re.DOTALL)


def type_in(head: str, text: str = "") -> str | None:
    best: tuple[int, str] | None = None
    for name, pattern in _TYPES:
        m = pattern.search(head)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), name)
    if best:
        return best[1]
    if _QUESTION_FORM.search(text[:3000] or head):
        return "schriftelijke vragen"
    return None


# -- the file's own metadata -------------------------------------------------------------------
_JUNK_TITLE = re.compile(r"^(?:untitled|naamloos|document\d*|word document|microsoft word - .*|.*\.(?:docx?|pdf|odt|rtf))$",
                         re.IGNORECASE)
MAX_CORE_XML = 1 << 20


def file_info(suffix: str, data: bytes, stem: str = "") -> FileInfo:
    """Title and date from a PDF's document information or a .docx's core properties; empty when
    there are none or the file's metadata cannot be read (never raises: metadata is optional).
    A title that is just the file's name (Pillow and many converters write that) is no title."""
    try:
        if suffix.lower() == ".pdf":
            info = _pdf_info(data)
        elif suffix.lower() == ".docx":
            info = _docx_info(data)
        else:
            return FileInfo()
    except Exception:  # damaged metadata must not cost the document its text
        return FileInfo()
    if info.title and _key(info.title) == _key(stem):
        info = FileInfo(None, info.date)
    return info


def _key(name: str) -> str:
    return re.sub(r"[\W_]+", " ", name).strip().casefold()


def _title(value) -> str | None:
    value = _plain(value) if isinstance(value, str) else None
    if not value or len(value) < 3 or _JUNK_TITLE.match(value):
        return None
    return value[:200]


def _pdf_info(data: bytes) -> FileInfo:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        return FileInfo()
    meta = reader.metadata or {}
    raw = meta.get("/CreationDate")
    date = None
    if isinstance(raw, str):  # "D:20140909101500+02'00'"
        m = re.match(r"D:((?:19|20)\d\d)(\d\d)(\d\d)", raw)
        date = _iso(m.group(1), int(m.group(2)), m.group(3)) if m else None
    return FileInfo(_title(meta.get("/Title")), date)


_CORE_NS = {"dc": "http://purl.org/dc/elements/1.1/", "dcterms": "http://purl.org/dc/terms/",
            "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"}


def _docx_info(data: bytes) -> FileInfo:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        try:
            item = z.getinfo("docProps/core.xml")
        except KeyError:
            return FileInfo()
        if item.file_size > MAX_CORE_XML:
            return FileInfo()
        with z.open(item) as f:
            root = ElementTree.fromstring(f.read(MAX_CORE_XML + 1)[:MAX_CORE_XML])

    def field(path: str) -> str | None:
        e = root.find(path, _CORE_NS)
        return e.text.strip() if e is not None and e.text and e.text.strip() else None

    date = None
    created = field("dcterms:created")
    # python-docx's blank template carries a fixed 2013 date: not the document's.
    made_by_template = (field("dc:description") or "") == "generated by python-docx"
    if created and not made_by_template:
        m = re.match(r"((?:19|20)\d\d)-(\d\d)-(\d\d)", created)
        date = _iso(m.group(1), int(m.group(2)), m.group(3)) if m else None
    return FileInfo(_title(field("dc:title")), date)
