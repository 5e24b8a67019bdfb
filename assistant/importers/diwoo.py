"""DiWoo / open.overheid.nl: documents published under the Wet open overheid, found through sitemaps.

    sitemap index (<sitemapindex><sitemap><loc>) -> sitemaps (<urlset><url><loc>) -> one DiWoo
    metadata XML per document: <diwoo:Document><diwoo:DiWoo> with officieleTitel, publisher /
    verantwoordelijke (a TOOI URI such as https://identifier.overheid.nl/tooi/id/gemeente/gm0363
    and a label), documentsoorten, informatiecategorieen, creatiedatum, weblocatie (the file)
Elements are matched by local name (the namespace prefix varies between publishers and schema
versions). The file at weblocatie is downloaded; a record without a usable file is skipped.
XML with a DTD or entity declarations is refused (no entity expansion of untrusted input).
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Iterator
from xml.etree import ElementTree

from ..errors import InputError
from .base import Bad, FetchError, Fetcher, Record, entry, iso_date, maybe_gunzip, municipality_of, one_line, show

# meta.json key <- DiWoo elements (local names), the first one present wins
FIELDS = {
    "title": ("officieleTitel", "verkorteTitel", "titel"),
    "date": ("creatiedatum", "datumOpenbaarmaking", "openbaarmakingsdatum"),
    "publisher": ("publisher", "verantwoordelijke", "opsteller", "maker"),  # -> municipality or organisation
    "type": ("informatiecategorie",),  # label, via CATEGORY_TYPES when listed there
    "documentsoort": ("documentsoort",),  # kept as an extra key
    "source_url": ("weblocatie",),  # the document file
    "id": ("identifier", "pid"),
}
# informatiecategorie label (casefolded) -> the type the rest of the assistant uses
CATEGORY_TYPES = {
    "woo-verzoeken en -besluiten": "Woo-besluit",
    "vergaderstukken decentrale overheden": "raadsinformatie",
    "vergaderstukken staten-generaal": "kamerstuk",
    "raadsinformatie": "raadsinformatie",
}
# A few TOOI municipality codes (CBS gemeentecodes); other codes are kept as they are.
TOOI_GEMEENTEN = {
    "gm0363": "Amsterdam", "gm0599": "Rotterdam", "gm0518": "'s-Gravenhage", "gm0344": "Utrecht",
    "gm0772": "Eindhoven", "gm0014": "Groningen", "gm0307": "Amersfoort", "gm0262": "Lochem",
}
_TOOI = re.compile(r"/tooi/id/(?P<kind>[a-z_]+)/(?P<code>[a-z]{2}\d{3,4}(?:\w*)?)$", re.IGNORECASE)
MAX_SITEMAPS = 10_000


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_xml(data: bytes, where: str) -> ElementTree.Element:
    data = maybe_gunzip(data, where)
    head = data[:4096]
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in data.upper():
        raise InputError(f"{where}: XML with a DTD or entity declarations: refused")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as e:
        raise InputError(f"{where}: not valid XML ({e}); the file may be cut off or an error page") from e


def _find(root, names) -> ElementTree.Element | None:
    for name in names:
        for e in root.iter():
            if _local(e.tag) == name and ((e.text or "").strip() or e.get("resource")):
                return e
    return None


def _resource(e) -> str:
    for k, v in e.attrib.items():
        if _local(k) == "resource":
            return v
    return ""


def organisation(e) -> dict:
    """A publisher element -> {"municipality": ...} for a gemeente (from the label, the TOOI code
    lookup, or the code itself), else {"organisation": label or TOOI URI}; also {"tooi": uri}."""
    label = one_line(e.text) if e is not None else None
    uri = _resource(e) if e is not None else ""
    m = _TOOI.search(uri)
    if m and m.group("kind").lower() == "gemeente":
        code = m.group("code").lower()
        name = municipality_of(label) or TOOI_GEMEENTEN.get(code) or code
        return entry(municipality=name, tooi=uri)
    name = municipality_of(label)
    if name:
        return entry(municipality=name, tooi=uri)
    return entry(organisation=label or (uri.rsplit("/", 1)[-1] if uri else None), tooi=uri)


def _category(e) -> str | None:
    if e is None:
        return None
    label = one_line(e.text)
    if label:
        return CATEGORY_TYPES.get(label.casefold(), label)
    uri = _resource(e)
    return uri.rsplit("/", 1)[-1] if uri else None


def record(data: bytes, url: str) -> Record | Bad:
    where = f"DiWoo metadata {show(url, 200)}"
    try:
        root = parse_xml(data, where)
    except InputError as e:
        return Bad(where, str(e).split(": ", 1)[-1])
    diwoo = root if _local(root.tag) == "DiWoo" else next((e for e in root.iter() if _local(e.tag) == "DiWoo"), None)
    if diwoo is None:
        return Bad(where, "no DiWoo element (not DiWoo metadata)")
    title_e = _find(diwoo, FIELDS["title"])
    file_e = _find(root, FIELDS["source_url"])
    missing = [n for n, e in (("officieleTitel", title_e), ("weblocatie", file_e)) if e is None]
    if missing:
        return Bad(where, f"no {' and no '.join(missing)}")
    file_url = urllib.parse.urljoin(url, file_e.text.strip()) if file_e.text else ""
    if urllib.parse.urlsplit(file_url).scheme.lower() not in ("http", "https", ""):
        return Bad(where, f"weblocatie {show(file_url)} is not an http(s) URL")
    id_e = _find(diwoo, FIELDS["id"])
    ident = one_line(id_e.text) if id_e is not None else None
    date_e = _find(diwoo, FIELDS["date"])
    soort_e = _find(diwoo, FIELDS["documentsoort"])
    meta = entry(
        title=one_line(title_e.text),
        date=iso_date(date_e.text) if date_e is not None else None,
        type=_category(_find(diwoo, FIELDS["type"])),
        documentsoort=(one_line(soort_e.text) or _resource(soort_e).rsplit("/", 1)[-1]) if soort_e is not None else None,
        source_url=file_url,
        metadata_url=url,
        source="diwoo",
        id=ident,
        **organisation(_find(diwoo, FIELDS["publisher"])),
    )
    return Record(f"diwoo:{ident or url}", meta, file_url=file_url)


def locations(data: bytes, where: str) -> tuple[str, list[str]]:
    """("sitemapindex" | "urlset", the <loc>s)."""
    root = parse_xml(data, where)
    kind = _local(root.tag)
    if kind not in ("sitemapindex", "urlset"):
        raise InputError(f"{where}: not a sitemap (root element <{show(kind)}>, expected <sitemapindex> or <urlset>)")
    locs = [(e.text or "").strip() for e in root.iter() if _local(e.tag) == "loc"]
    return kind, [loc for loc in locs if loc]


def walk(fetcher: Fetcher, start: str, first: bytes | None = None, on_total=None) -> Iterator[Record | Bad]:
    """Every document under a sitemap index (or a single sitemap). A sitemap that cannot be read
    stops the import; a document whose metadata cannot be fetched or read is skipped."""
    def get(url: str, what: str) -> bytes:
        try:
            return fetcher.get(url)
        except FetchError as e:
            raise InputError(f"{what} {e}") from e

    data = first if first is not None else get(start, "sitemap")
    kind, locs = locations(data, f"sitemap {show(start, 200)}")
    sitemaps = [start] if kind == "urlset" else [urllib.parse.urljoin(start, loc) for loc in locs][:MAX_SITEMAPS]
    for i, sm in enumerate(sitemaps):
        if kind == "urlset":
            docs = [urllib.parse.urljoin(start, loc) for loc in locs]
        else:
            sub_kind, docs = locations(get(sm, "sitemap"), f"sitemap {show(sm, 200)}")
            if sub_kind != "urlset":
                raise InputError(f"sitemap {show(sm, 200)}: a sitemap index inside a sitemap index (not followed)")
            docs = [urllib.parse.urljoin(sm, loc) for loc in docs]
        if on_total and i == 0 and len(sitemaps) == 1:
            on_total(len(docs))
        for doc_url in docs:
            try:
                data = fetcher.get(doc_url)
            except FetchError as e:
                yield Bad(f"DiWoo metadata {show(doc_url, 200)}", e.reason)
                continue
            yield record(data, doc_url)


def read_start(source: str) -> tuple[str, bytes | None, Path | None]:
    """SITEMAP_URL_OR_FILE -> (its URL, its bytes when it is a local file, the file's folder)."""
    if urllib.parse.urlsplit(source).scheme.lower() in ("http", "https"):
        return source, None, None
    path = Path(source).expanduser()
    if not path.is_file():
        raise InputError(f"{source}: neither an http(s) URL nor a file; give the sitemap's URL or a downloaded copy")
    return path.name, path.read_bytes(), path.parent
