"""PowerPoint (.pptx): the slides' text read straight from the zip (no python-pptx: it would add
lxml, Pillow and XlsxWriter for what is a few XML parts). ppt/presentation.xml and its relationships
give the slide order; each slide becomes a `Dia N` line followed by its text frames' paragraphs
(the a:t runs of each a:p), then its speaker notes after a `Notities:` line when it has any.
Parts are read with bounded reads (readers/zipsafe.py) and parsed without a DTD (readers/xmlsafe.py)."""

from __future__ import annotations

import posixpath
import re

from ..errors import InputError
from . import xmlsafe, zipsafe

SUFFIXES = (".pptx",)

A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
NOTES_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/notesSlide"


def read(data: bytes, name: str, **_) -> str:
    parts = zipsafe.xml_parts(data, name, ".pptx", wanted=lambda m: m.startswith("ppt/"))
    order = _slide_order(parts, name)
    if not order:
        raise InputError(f"{name}: not a valid .pptx (no slides found)")
    out = []
    for n, slide in enumerate(order, 1):
        lines = _paragraphs(xmlsafe.parse(parts[slide], name, slide))
        notes = _notes(parts, slide, name)
        block = [f"Dia {n}"] + lines + (["Notities:"] + notes if notes else [])
        out.append("\n".join(block))
    return "\n\n".join(out)


def _rels(parts: dict[str, bytes], part: str, name: str) -> dict[str, tuple[str, str]]:
    """{relationship id: (type, target part)} of a part."""
    folder, base = posixpath.split(part)
    rels = f"{folder}/_rels/{base}.rels"
    if rels not in parts:
        return {}
    out = {}
    for r in xmlsafe.parse(parts[rels], name, rels).iter(PKG + "Relationship"):
        target = r.get("Target") or ""
        out[r.get("Id")] = (r.get("Type") or "", posixpath.normpath(posixpath.join(folder, target)))
    return out


def _slide_order(parts: dict[str, bytes], name: str) -> list[str]:
    pres = "ppt/presentation.xml"
    if pres in parts:
        rels = _rels(parts, pres, name)
        root = xmlsafe.parse(parts[pres], name, pres)
        order = []
        for s in root.iter(P + "sldId"):
            rel = rels.get(s.get(R + "id"))
            if rel and rel[1] in parts:
                order.append(rel[1])
        if order:
            return order
    # no usable presentation.xml: the slide files by their number
    found = [m for m in parts if re.fullmatch(r"ppt/slides/slide\d+\.xml", m)]
    return sorted(found, key=lambda m: int(re.search(r"(\d+)\.xml$", m).group(1)))


def _paragraphs(root) -> list[str]:
    lines = []
    for p in root.iter(A + "p"):
        text = "".join((t.text or "") if t.tag == A + "t" else "\n" for t in p.iter() if t.tag in (A + "t", A + "br"))
        text = " ".join(text.split())
        if text:
            lines.append(text)
    return lines


def _notes(parts: dict[str, bytes], slide: str, name: str) -> list[str]:
    for kind, target in _rels(parts, slide, name).values():
        if kind == NOTES_REL and target in parts:
            root = xmlsafe.parse(parts[target], name, target)
            lines = []
            for sp in root.iter(P + "sp"):
                ph = sp.find(f"{P}nvSpPr/{P}nvPr/{P}ph")
                if ph is not None and ph.get("type") == "body":  # not the slide image or the page number
                    lines += _paragraphs(sp)
            return lines
    return []
