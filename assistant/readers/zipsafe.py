"""Zip-based formats (.docx .odt .ods .xlsx .pptx): the archive checked and its XML parts copied out with
bounded reads (zip bombs: tests/test_hostile.py); .docx too (docx.py).

The central directory is checked first (member count, declared sizes: readers/limits.py); then each
XML part is read in bounded pieces (zipfile stops at the declared size and checks the CRC), so a
header that lies about a size cannot make anything unpack more than it declares. Other members
(images, fonts, embedded files) are never unpacked: they hold no text."""

from __future__ import annotations

import io
import zipfile

from ..errors import InputError
from .limits import MAX_UNZIPPED_BYTES, MAX_ZIP_MEMBERS, MAX_ZIP_XML_BYTES
from .names import printable

XML_SUFFIXES = (".xml", ".rels")


def xml_parts(data: bytes, name: str, kind: str, wanted=None, others_empty: bool = False) -> dict[str, bytes]:
    """{member name: bytes} of the XML parts (those `wanted(member name)` accepts, default all),
    read with bounded reads. `kind` (".odt") is named in the errors. `others_empty`: every other
    member is kept as an empty part (python-docx loads every part its relationships name)."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise InputError(f"{name}: not a valid {kind} (it is not a zip archive: {e})") from e
    out: dict[str, bytes] = {}
    with z:
        infos = z.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise InputError(f"{name}: {len(infos):,} parts in the archive, over the limit of {MAX_ZIP_MEMBERS:,}")
        total = sum(i.file_size for i in infos)
        if total > MAX_UNZIPPED_BYTES:
            raise InputError(f"{name}: unpacks to {total / 2**20:,.0f} MB, over the {MAX_UNZIPPED_BYTES / 2**20:.0f} MB "
                             "limit (a zip bomb?)")
        for i in infos:
            if i.is_dir():
                continue
            if not i.filename.lower().endswith(XML_SUFFIXES):
                if others_empty:
                    out[i.filename] = b""
                continue
            if wanted is not None and not wanted(i.filename):
                continue
            if i.file_size > MAX_ZIP_XML_BYTES:
                raise InputError(f"{name}: part {printable(i.filename)} unpacks to {i.file_size / 2**20:,.0f} MB, "
                                 f"over the {MAX_ZIP_XML_BYTES / 2**20:.0f} MB limit (a zip bomb?)")
            buf = bytearray()
            try:
                with z.open(i) as f:
                    while chunk := f.read(2**20):
                        buf += chunk
                        if len(buf) > i.file_size:  # zipfile prevents this; keep the bound explicit anyway
                            raise InputError(f"{name}: part {printable(i.filename)} is larger than its header says")
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError) as e:
                raise InputError(f"{name}: damaged {kind} (part {printable(i.filename)}: {e})") from e
            out[i.filename] = bytes(buf)
    return out


def repack(parts: dict[str, bytes]) -> io.BytesIO:
    """The parts as a new uncompressed zip (for a library that opens a zip itself: openpyxl)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for member, data in parts.items():
            z.writestr(member, data)
    out.seek(0)
    return out
