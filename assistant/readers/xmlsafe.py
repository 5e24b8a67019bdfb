"""XML parsed with the standard library's expat, with no DTD at all.

Office XML parts (ODF content.xml, OOXML slides) never carry a DOCTYPE, so any document type
declaration is refused before an entity can be declared: no entity expansion ("billion laughs",
quadratic blow-up) and no external entities, whatever the expat version. (Expat >= 2.4.1, bundled
with Python 3.11, also limits amplification itself, and ElementTree never fetches external entities;
refusing the DTD does not depend on either.) The tree is built with ElementTree's TreeBuilder, so
callers get ordinary Elements with "{namespace}tag" names. Nesting deeper than MAX_DEPTH is refused
(the readers walk the tree recursively)."""

from __future__ import annotations

import xml.parsers.expat
from xml.etree.ElementTree import Element, TreeBuilder

from ..errors import InputError

MAX_DEPTH = 500


class _Refused(Exception):
    pass


def parse(data: bytes, name: str, part: str = "") -> Element:
    """The root Element of `data`; InputError (naming the file and part) when it is not well-formed
    XML, declares a DTD, or nests deeper than MAX_DEPTH."""
    where = f"{name}" + (f" ({part})" if part else "")
    builder = TreeBuilder()
    p = xml.parsers.expat.ParserCreate(namespace_separator="}")
    depth = 0

    def start(tag, attrs):
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise _Refused(f"XML nested deeper than {MAX_DEPTH} levels")
        builder.start("{" + tag if "}" in tag else tag, {("{" + k if "}" in k else k): v for k, v in attrs.items()})

    def end(tag):
        nonlocal depth
        depth -= 1
        builder.end("{" + tag if "}" in tag else tag)

    def doctype(*_):
        raise _Refused("the XML declares a document type (DTD): refused (entity expansion)")

    def entity(*_):
        raise _Refused("the XML declares an entity: refused")

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = builder.data
    p.StartDoctypeDeclHandler = doctype
    p.EntityDeclHandler = entity
    p.buffer_text = True
    try:
        p.Parse(data, True)
    except _Refused as e:
        raise InputError(f"{where}: {e}") from None
    except xml.parsers.expat.ExpatError as e:
        raise InputError(f"{where}: damaged XML ({e})") from None
    return builder.close()


def refuse_dtd(data: bytes, name: str, part: str = "") -> None:
    """Check an XML part another library will parse (openpyxl): no DTD, well-formed enough to scan.
    Only the prolog matters: a DOCTYPE must come before the root element, so the scan stops there."""
    p = xml.parsers.expat.ParserCreate()

    def doctype(*_):
        raise _Refused("the XML declares a document type (DTD): refused (entity expansion)")

    class _Root(Exception):
        pass

    def start(*_):
        raise _Root

    p.StartDoctypeDeclHandler = doctype
    p.StartElementHandler = start
    try:
        p.Parse(data, True)
    except _Root:
        return
    except _Refused as e:
        raise InputError(f"{name} ({part}): {e}") from None
    except xml.parsers.expat.ExpatError as e:
        raise InputError(f"{name} ({part}): damaged XML ({e})") from None
