"""`--where KEY=VALUE` filters: which documents a search may draw from.

    assistant search "..." --where municipality=Lochem --where year=2012
    assistant ask "..." --where municipality=Blaricum --where municipality=Laren --where type=startgesprek

Keys: municipality, year, type, source, woo_ground (Dutch: gemeente, jaar, soort, bron, weigeringsgrond). Different keys must
all hold (AND); a key given more than once matches any of its values (OR). Values are compared
without regard to case. A document listing several municipalities (the BEL document: Blaricum,
Eemnes, Laren) matches each of them. `source` matches a document's source ("seeds/002_x.txt") or
a folder it is in ("seeds", "uploads"). `woo_ground` matches the documents of a Woo release bundle
(woo.py) whose redaction grounds include it ("5.1.2e"; written with or without spaces).

A `Where` is parsed from the strings (`Where.parse`), then checked against the values the index
actually holds (`resolve`): an unknown key or value is an error that lists the known ones, so a
typo ("Lohem") is never silently an empty result. The retriever applies it before ranking
(retrieve.py): the top-k is filled from the documents that match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .errors import InputError
from .types import Document
from .woo import norm_ground

KEYS = ("municipality", "year", "type", "source", "woo_ground")
ALIASES = {"gemeente": "municipality", "jaar": "year", "soort": "type", "bron": "source",
           "weigeringsgrond": "woo_ground", "woo-ground": "woo_ground", "ground": "woo_ground",
           "municipalities": "municipality", "organisation": "municipality"}
MAX_LISTED = 30  # known values named in an error message


class FilterError(InputError):
    """A bad --where: names the bad key or value and lists the known ones (exit code 2)."""


def _fold(value: str) -> str:
    return " ".join(str(value).split()).casefold()


@dataclass(frozen=True)
class Where:
    """Filters on document metadata; empty (the default) lets every document through."""

    municipality: tuple[str, ...] = ()
    year: tuple[int, ...] = ()
    type: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    woo_ground: tuple[str, ...] = ()

    @classmethod
    def parse(cls, items: Iterable[str] | None) -> "Where":
        """From "key=value" strings (the repeated --where option)."""
        values: dict[str, list] = {k: [] for k in KEYS}
        for item in items or ():
            key, sep, value = str(item).partition("=")
            key, value = key.strip().lower(), value.strip()
            if not sep or not key:
                raise FilterError(f"--where expects KEY=VALUE, got {item!r}; keys: {', '.join(KEYS)} "
                                  "(e.g. --where municipality=Lochem --where year=2014)")
            key = ALIASES.get(key, key)
            if key not in KEYS:
                raise FilterError(f"unknown filter key {key!r}; known: {', '.join(KEYS)}")
            if not value:
                raise FilterError(f"--where {key}= needs a value (e.g. --where {key}={_EXAMPLE[key]})")
            if key == "year":
                if not (value.isdigit() and len(value) == 4):
                    raise FilterError(f"year must be a four-digit year like 2014, got {value!r}")
                value = int(value)
            if key == "woo_ground":
                value = norm_ground(value)
            if value not in values[key]:
                values[key].append(value)
        return cls(**{k: tuple(v) for k, v in values.items()})

    @classmethod
    def from_choices(cls, municipality=(), year=(), type=(), source=(), woo_ground=()) -> "Where":
        """From the browser's filter dropdowns (lists of chosen values; None or [] is no filter)."""
        items = [f"{k}={v}" for k, vs in (("municipality", municipality), ("year", year), ("type", type),
                                          ("source", source), ("woo_ground", woo_ground)) for v in (vs or ())]
        return cls.parse(items)

    def __bool__(self) -> bool:
        return bool(self.municipality or self.year or self.type or self.source or self.woo_ground)

    def matches(self, doc: Document) -> bool:
        meta = doc.meta
        if self.municipality and not ({_fold(m) for m in meta.municipalities}
                                      | ({_fold(meta.organisation)} if meta.organisation else set())) \
                & {_fold(m) for m in self.municipality}:
            return False
        if self.year and meta.year not in self.year:
            return False
        if self.type and _fold(meta.type or "") not in {_fold(t) for t in self.type}:
            return False
        if self.source:
            src = _fold(doc.source)
            if not any(src == _fold(s) or src.startswith(_fold(s).rstrip("/") + "/") for s in self.source):
                return False
        if self.woo_ground and not {_fold(g) for g in meta.woo_grounds} & {_fold(g) for g in self.woo_ground}:
            return False
        return True

    def items(self) -> list[tuple[str, str]]:
        """(key, value) pairs in key order: what the user asked for, to show and to store."""
        return [(k, str(v)) for k in KEYS for v in getattr(self, k)]

    def describe(self) -> str:
        """"municipality=Lochem, year=2012" (or "" when empty)."""
        return ", ".join(f"{k}={v}" for k, v in self.items())

    def to_json(self) -> dict:
        return {k: list(getattr(self, k)) for k in KEYS if getattr(self, k)}


_EXAMPLE = {"municipality": "Lochem", "year": "2014", "type": "raadsinformatiebrief", "source": "seeds",
            "woo_ground": "5.1.2e"}


def known_values(docs: Mapping[str, Document] | Iterable[Document]) -> dict[str, list[str]]:
    """Per key, the values the documents hold (sorted, as written in the documents' metadata)."""
    docs = list(docs.values()) if isinstance(docs, Mapping) else list(docs)
    names: dict[str, str] = {}
    years: set[int] = set()
    types: dict[str, str] = {}
    sources: dict[str, str] = {}
    grounds: dict[str, str] = {}
    for d in docs:
        for g in d.meta.woo_grounds:
            grounds.setdefault(_fold(g), g)
        for m in (*d.meta.municipalities, *([d.meta.organisation] if d.meta.organisation else [])):
            names.setdefault(_fold(m), m)
        if d.meta.year is not None:
            years.add(d.meta.year)
        if d.meta.type:
            types.setdefault(_fold(d.meta.type), d.meta.type)
        if "/" in d.source:
            folder = d.source.split("/", 1)[0]
            sources.setdefault(_fold(folder), folder)
        sources.setdefault(_fold(d.source), d.source)
    return {
        "municipality": sorted(names.values(), key=str.casefold),
        "year": [str(y) for y in sorted(years)],
        "type": sorted(types.values(), key=str.casefold),
        "source": sorted(sources.values(), key=str.casefold),
        "woo_ground": sorted(grounds.values(), key=str.casefold),
    }


def _listing(values: list[str]) -> str:
    if not values:
        return "none (no indexed document has this metadata; see README \"Metadata\")"
    shown = ", ".join(values[:MAX_LISTED])
    return shown + (f", ... ({len(values) - MAX_LISTED} more)" if len(values) > MAX_LISTED else "")


def resolve(where: Where, docs: Mapping[str, Document]) -> Where:
    """`where` with its values checked against the index and written as the index writes them
    ("lochem" -> "Lochem"). Raises FilterError for a value no document has (listing the known
    ones), or when the filters together leave no document."""
    if not where:
        return where
    known = known_values(docs)
    out: dict[str, tuple] = {}
    for key in KEYS:
        canonical = {_fold(v): v for v in known[key]}
        chosen = []
        for value in getattr(where, key):
            hit = canonical.get(_fold(value))
            if hit is None:
                raise FilterError(f"unknown {key} {str(value)!r}; known: {_listing(known[key])}")
            chosen.append(int(hit) if key == "year" else hit)
        out[key] = tuple(chosen)
    resolved = Where(**out)
    if not any(resolved.matches(d) for d in docs.values()):
        raise FilterError(f"no document matches {resolved.describe()} (each value exists, not together); "
                          "drop or change one of the filters")
    return resolved
