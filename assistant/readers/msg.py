"""Outlook (.msg) with olefile: a .msg is an OLE compound file (CFB) whose MAPI properties are
streams named __substg1.0_<tag><type> (001F UTF-16LE text, 001E 8-bit text, 0102 binary) plus the
fixed-size values in __properties_version1.0 (16 bytes each: tag, flags, 8-byte value).

The output matches eml.py's: the headers people search on (Onderwerp, Van, Aan, Cc, Datum, Bijlagen)
and the body (PR_BODY; else PR_HTML through html.py's scanner; an RTF-only body is not read), with
Subject and the submit/delivery date as the document's title and date. Attachments
(__attach_version1.0_#XXXXXXXX storages) become Extracted.attachments, read by ingest as documents
of their own; an attached Outlook message is passed on as a small .eml of its headers and body (its
own attachments are not read: the depth limit eml.py has too). Hidden/inline images are dropped. At
most MAX_ATTACHMENTS attachments and MAX_ATTACHMENT_BYTES of them in all; the rest are named in
Extracted.skipped. Every stream's size is checked before it is read (never more than the file);
anything malformed is an InputError naming the file.

extract-msg (GPL-3.0, 17 packages) is not used; olefile (BSD-2, one module) is what it builds on."""

from __future__ import annotations

import email.policy
import email.utils
import io
import struct
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

from ..errors import InputError
from .base import Attachment, Extracted
from .html import html_to_text
from .limits import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS
from .text import decode_damaged

SUFFIXES = (".msg",)
MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PROPS = "__properties_version1.0"
# __properties_version1.0 header size: the top-level message, an attached message, attachment/recipient.
TOP_HEADER, EMBEDDED_HEADER, SUB_HEADER = 32, 24, 8
PR_CLIENT_SUBMIT_TIME, PR_MESSAGE_DELIVERY_TIME = 0x00390040, 0x0E060040
PR_ATTACHMENT_HIDDEN = 0x7FFE000B
MAX_STRING_BYTES = 64 * 2**20  # one property string (subject, body): more than any mail's text


class _Msg:
    """One message (the file's top level or an attached message's storage) in an open olefile."""

    def __init__(self, ole, prefix: list[str], header: int, name: str, size: int):
        self.ole, self.prefix, self.header, self.name, self.size = ole, prefix, header, name, size
        self.entries = {tuple(e.lower() for e in p[len(prefix):]): p for p in _children(ole, prefix)}

    def stream(self, parts: list[str], limit: int) -> bytes | None:
        path = self.prefix + parts
        if self.ole.get_type(path) != 2:  # olefile.STGTY_STREAM
            return None
        size = self.ole.get_size(path)
        if size > min(limit, self.size):
            raise InputError(f"{self.name}: damaged Outlook message: stream {'/'.join(path)} claims {size:,} bytes "
                             f"(the file has {self.size:,})")
        data = self.ole.openstream(path).read(size + 1)
        if len(data) != size:
            raise InputError(f"{self.name}: damaged Outlook message: stream {'/'.join(path)} is cut short")
        return data

    def string(self, tag: int, parts: tuple[str, ...] = ()) -> str:
        for kind in ("001F", "001E"):
            raw = self.stream([*parts, f"__substg1.0_{tag:04X}{kind}"], MAX_STRING_BYTES)
            if raw is not None:
                text = raw.decode("utf-16-le", errors="replace") if kind == "001F" else decode_damaged(raw)
                return text.split("\x00", 1)[0]
        return ""

    def props(self, parts: tuple[str, ...], header: int) -> dict[int, bytes]:
        raw = self.stream([*parts, PROPS], self.size) or b""
        out = {}
        for off in range(header, len(raw) - 15, 16):
            tag, _flags, value = struct.unpack_from("<II8s", raw, off)
            out[tag] = value
        return out


def _children(ole, prefix: list[str]) -> list[list[str]]:
    """Entries directly inside the storage `prefix` (streams and storages)."""
    n = len(prefix)
    low = [p.lower() for p in prefix]
    return [p for p in ole.listdir(streams=True, storages=True)
            if len(p) == n + 1 and [x.lower() for x in p[:n]] == low]


def read(data: bytes, name: str, **_) -> Extracted:
    import olefile

    if not data.startswith(MAGIC):
        raise InputError(f"{name}: not an Outlook message (.msg): not an OLE compound file")
    _check_header(data, name)
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except InputError:
        raise
    except Exception as e:  # olefile raises OSError, struct.error, IndexError, ... on damaged files
        raise InputError(f"{name}: damaged Outlook message ({type(e).__name__}: {e})") from None
    try:
        with ole:
            return _read(ole, name, len(data))
    except InputError:
        raise
    except RecursionError:
        raise InputError(f"{name}: damaged Outlook message (directory nested too deeply)") from None
    except Exception as e:
        raise InputError(f"{name}: damaged Outlook message ({type(e).__name__}: {e})") from None


def _check_header(data: bytes, name: str) -> None:
    """The header's sector size and sector counts must fit the file: a header that claims more
    sectors than the file holds is refused before olefile follows it."""
    if len(data) < 512:
        raise InputError(f"{name}: damaged Outlook message: {len(data)} bytes, shorter than an OLE header")
    shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
    if (shift, mini_shift) not in ((9, 6), (12, 6)):
        raise InputError(f"{name}: damaged Outlook message: sector size 2^{shift}, mini sector 2^{mini_shift}")
    n_dir, n_fat = struct.unpack_from("<II", data, 0x28)
    n_minifat, = struct.unpack_from("<I", data, 0x40)
    n_difat, = struct.unpack_from("<I", data, 0x48)
    room = len(data) >> shift
    for what, n in (("directory", n_dir), ("FAT", n_fat), ("mini FAT", n_minifat), ("DIFAT", n_difat)):
        if n > room:
            raise InputError(f"{name}: damaged Outlook message: the header claims {n:,} {what} sectors, "
                             f"the file has room for {room:,}")


def _read(ole, name: str, size: int) -> Extracted:
    if ole.get_type([PROPS]) != 2 or not any(
            p[0].lower().startswith("__substg1.0_") for p in ole.listdir(streams=True, storages=False) if len(p) == 1):
        raise InputError(f"{name}: not an Outlook message (.msg): an OLE file without MAPI properties "
                         "(a Word .doc or Excel .xls named .msg?)")
    m = _Msg(ole, [], TOP_HEADER, name, size)
    heads, body, date = _message(m)
    attachments, skipped = _attachments(m)
    lines = [f"{label}: {heads[label]}" for label in ("Onderwerp", "Van", "Aan", "Cc", "Datum") if heads.get(label)]
    if attachments or skipped:
        lines.append("Bijlagen: " + ", ".join([a.name for a in attachments] + [n for n, _ in skipped]))
    if not lines and not body.strip():
        raise InputError(f"{name}: an Outlook message without subject, sender, recipients, date or text")
    text = "\n".join(lines) + "\n\n" + body.strip()
    meta = {}
    if heads.get("Onderwerp"):
        meta["title"] = heads["Onderwerp"]
    if date is not None:
        meta["date"] = date.date().isoformat()
    return Extracted(text=text, meta=meta, attachments=tuple(attachments), skipped=tuple(skipped))


def _one_line(s: str) -> str:
    return " ".join(s.split())


def _message(m: _Msg, parts: tuple[str, ...] = (), header: int | None = None):
    """({label: value}, body text, date or None) of the message at `parts` inside m."""
    sender_name = _one_line(m.string(0x0C1A, parts))
    address = _one_line(m.string(0x5D01, parts))
    if not address:
        other = _one_line(m.string(0x0C1F, parts))
        address = other if "@" in other else ""  # not an Exchange X.500 path ("/O=ORG/OU=...")
    sender = f"{sender_name} <{address}>" if sender_name and address and sender_name != address else sender_name or address
    props = m.props(parts, m.header if header is None else header)
    date = None
    for tag in (PR_CLIENT_SUBMIT_TIME, PR_MESSAGE_DELIVERY_TIME):
        if tag in props:
            date = _filetime(struct.unpack("<Q", props[tag])[0])
            if date is not None:
                break
    heads = {"Onderwerp": _one_line(m.string(0x0037, parts)), "Van": sender,
             "Aan": _one_line(m.string(0x0E04, parts)), "Cc": _one_line(m.string(0x0E03, parts)),
             "Datum": email.utils.format_datetime(date) if date is not None else ""}
    body = m.string(0x1000, parts)
    if not body.strip():
        raw = m.stream([*parts, "__substg1.0_10130102"], MAX_STRING_BYTES)
        if raw is not None:
            body = html_to_text(_decode_html(raw))
    return heads, body.replace("\r\n", "\n"), date


def _decode_html(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return decode_damaged(raw)


def _filetime(value: int) -> datetime | None:
    """A FILETIME (100 ns since 1601-01-01 UTC), or None when it is not a plausible mail date."""
    try:
        d = datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=value // 10)
    except OverflowError:
        return None
    return d.replace(microsecond=0) if 1900 < d.year < 2200 else None


def _attachments(m: _Msg) -> tuple[list[Attachment], list[tuple[str, str]]]:
    found: list[Attachment] = []
    skipped: list[tuple[str, str]] = []
    total = 0
    storages = sorted(key[0] for key, path in m.entries.items()
                      if key[0].startswith("__attach_version1.0_#") and m.ole.get_type(path) == 1)
    for i, low in enumerate(storages, 1):
        parts = (m.entries[(low,)][-1],)
        props = m.props(parts, SUB_HEADER)
        if PR_ATTACHMENT_HIDDEN in props and props[PR_ATTACHMENT_HIDDEN][0]:
            continue  # hidden: an inline image of the HTML body (a signature, a logo)
        filename = (_one_line(m.string(0x3707, parts)) or _one_line(m.string(0x3704, parts))
                    or _one_line(m.string(0x3001, parts)))
        embedded = [*parts, "__substg1.0_3701000D"]
        if m.ole.get_type(m.prefix + embedded) == 1:  # an attached Outlook message
            heads, body, _date = _message(m, tuple(embedded), EMBEDDED_HEADER)
            filename = (filename or heads["Onderwerp"] or f"bijlage-{i}").removesuffix(".msg") + ".eml"
            size, data = None, None
        else:
            filename = filename or f"bijlage-{i}"
            path = m.prefix + [*parts, "__substg1.0_37010102"]
            if m.ole.get_type(path) != 2:
                skipped.append((filename, "no file data (a link or an OLE object)"))
                continue
            size, data = m.ole.get_size(path), None
        if len(found) >= MAX_ATTACHMENTS:
            skipped.append((filename, f"more than {MAX_ATTACHMENTS} attachments"))
            continue
        if size is None:
            data = _as_eml(heads, body)
            size = len(data)
        if total + size > MAX_ATTACHMENT_BYTES:
            skipped.append((filename, f"the attachments are over {MAX_ATTACHMENT_BYTES / 2**20:.0f} MB in all"))
            continue
        if data is None:
            data = m.stream([*parts, "__substg1.0_37010102"], MAX_ATTACHMENT_BYTES)
        total += len(data)
        found.append(Attachment(filename, data))
    return found, skipped


def _as_eml(heads: dict[str, str], body: str) -> bytes:
    """An attached Outlook message as a minimal .eml (headers and body), for eml.py to read."""
    e = EmailMessage(policy=email.policy.default)
    for label, key in (("Onderwerp", "Subject"), ("Van", "From"), ("Aan", "To"), ("Cc", "Cc"), ("Datum", "Date")):
        if heads.get(label):
            try:
                e[key] = heads[label]
            except Exception:  # a value the email package will not take as that header
                pass
    e.set_content(body or " ")
    return e.as_bytes(policy=email.policy.default.clone(linesep="\n"))
