"""Outlook (.msg): not read. The one maintained Python reader (extract-msg) is GPL-3.0 and brings
17 packages (oletools, cryptography, RTF parsers); .msg is an OLE compound file, not MIME. The file
is reported with what to do instead."""

from __future__ import annotations

from ..errors import InputError

SUFFIXES = (".msg",)


def read(data: bytes, name: str, **_) -> str:
    raise InputError(f"{name}: Outlook .msg files are not supported: save the mail as .eml (new Outlook and "
                     "Outlook on the web: Download/Save as .eml; Thunderbird: Save As), and its attachments as "
                     "files of their own")
