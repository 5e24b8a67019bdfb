"""E-mail (.eml, RFC 5322/MIME) with the standard library's email package (policy.default).

The text is the headers people search on (Onderwerp, Van, Aan, Cc, Datum, Bijlagen) and the body:
text/plain preferred, else text/html through html.py's scanner. Subject and Date become the
document's title and date (Extracted.meta, as a meta.json entry would give them). Attachments (any
part with a file name that is not the body, and attached mails: message/rfc822) are returned as
Extracted.attachments: ingest reads each with its own reader as its own document. Inline images
(signatures, logos) are dropped. At most MAX_ATTACHMENTS attachments and MAX_ATTACHMENT_BYTES of
them in all; the rest are named in Extracted.skipped. A file without any mail header is refused."""

from __future__ import annotations

import email
import email.policy
import email.utils

from ..errors import InputError
from .base import Attachment, Extracted
from .html import html_to_text
from .limits import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS
from .text import decode

SUFFIXES = (".eml",)
HEADERS = (("Subject", "Onderwerp"), ("From", "Van"), ("To", "Aan"), ("Cc", "Cc"), ("Date", "Datum"))


def read(data: bytes, name: str, **_) -> Extracted:
    if b"\x00" in data[:8192]:
        raise InputError(f"{name}: looks like a binary file, not an e-mail (.eml)")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    heads = {key: _header(msg, key) for key, _ in HEADERS}
    if not any(heads.values()):
        raise InputError(f"{name}: not an e-mail (no From, To, Subject or Date header)")
    body_part = _body(msg)
    body = _text_of(body_part) if body_part is not None else ""
    attachments, skipped = _attachments(msg, body_part, name)
    lines = [f"{label}: {heads[key]}" for key, label in HEADERS if heads[key]]
    if attachments or skipped:
        lines.append("Bijlagen: " + ", ".join([a.name for a in attachments] + [n for n, _ in skipped]))
    text = "\n".join(lines) + "\n\n" + body.strip()
    meta = {}
    if heads["Subject"]:
        meta["title"] = heads["Subject"]
    date = _date(heads["Date"])
    if date:
        meta["date"] = date
    return Extracted(text=text, meta=meta, attachments=tuple(attachments), skipped=tuple(skipped))


def _header(msg, key: str) -> str:
    try:
        value = msg.get(key)
    except Exception:  # a header the parser cannot make sense of is left out, not fatal
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _date(value: str) -> str | None:
    try:
        d = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return d.date().isoformat() if d is not None and 1900 < d.year < 2200 else None


def _body(msg):
    try:
        return msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        return None


def _text_of(part) -> str:
    try:
        content = part.get_content()
    except Exception:  # unknown charset, broken transfer encoding
        raw = part.get_payload(decode=True) or b""
        content = decode(raw, "body") if isinstance(raw, bytes) else str(raw)
    if not isinstance(content, str):
        content = decode(bytes(content), "body")
    return html_to_text(content) if part.get_content_type() == "text/html" else content


def _attachments(msg, body_part, name: str) -> tuple[list[Attachment], list[tuple[str, str]]]:
    found: list[Attachment] = []
    skipped: list[tuple[str, str]] = []
    total = 0

    def visit(part):
        nonlocal total
        if part is body_part:
            return
        ctype = part.get_content_type()
        if part.is_multipart() and ctype != "message/rfc822":
            for sub in part.iter_parts():
                visit(sub)
            return
        filename = part.get_filename()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if not isinstance(inner, email.message.Message):
                return
            subject = _header(inner, "Subject") or "bijlage"
            filename = filename or f"{subject}.eml"
            data = inner.as_bytes(policy=email.policy.default.clone(linesep="\n"))
        else:
            disposition = part.get_content_disposition()
            if not filename:
                return  # a text alternative or a part without a name: not a file
            if ctype.startswith("image/") and disposition != "attachment":
                return  # an inline image: a signature or a logo
            data = part.get_payload(decode=True) or b""
        if len(found) >= MAX_ATTACHMENTS:
            skipped.append((filename, f"more than {MAX_ATTACHMENTS} attachments"))
        elif total + len(data) > MAX_ATTACHMENT_BYTES:
            skipped.append((filename, f"the attachments are over {MAX_ATTACHMENT_BYTES / 2**20:.0f} MB in all"))
        else:
            total += len(data)
            found.append(Attachment(filename, data))

    try:
        for part in (msg.iter_parts() if msg.is_multipart() else ()):
            visit(part)
    except RecursionError as e:
        raise InputError(f"{name}: e-mail parts nested too deeply ({e})") from None
    return found, skipped
