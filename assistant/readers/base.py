"""What a reader may return besides plain text: `Extracted`, the text with metadata the file carries
(a mail's Subject and Date) and the files attached to it, each read by its own reader as its own
document (ingest.load_documents)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    name: str  # the attachment's file name as the file gives it (ingest makes it printable and unique)
    data: bytes


@dataclass(frozen=True)
class Extracted:
    text: str
    # meta.json-style fields the file itself gives ({"title": subject, "date": "2014-09-09", ...});
    # a meta.json entry for the file wins over them.
    meta: dict = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (attachment name, why it was not read): become Problems
