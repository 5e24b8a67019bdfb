"""The indexed documents as a list, finding one by name, and where its file is: shared by
`assistant docs` and the browser's document panel (assistant/ui/runtime.py).

Removing or re-indexing one is library.Library's (the write side): it writes a generation with the
document's own source as the scope, so every other document keeps its vectors. An uploaded
document's file lives in <index>/uploads; a document ingested from the seeds folder is read again
from there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .index import Index
from .ingest import META_FILE, load_documents
from .pages import page_at
from .types import Document

UPLOAD_SCOPE = "uploads"  # the browser's uploads: <index_dir>/uploads, sources "uploads/<name>"


@dataclass(frozen=True)
class DocumentInfo:
    source: str  # the stable id, e.g. "uploads/nota.pdf" or "seeds/sezen.txt"
    title: str
    chunks: int
    pages: int | None  # PDF pages, when the document records them
    added: str  # when it first entered the index (ISO time), "" when unknown
    uploaded: bool  # its file is in <index>/uploads (removing it deletes the file)
    about: str = ""  # what the document's metadata says, when it has any: "Lochem · raadsinformatiebrief · 2014-09-09"

    def to_json(self) -> dict:
        return {"source": self.source, "title": self.title, "chunks": self.chunks, "pages": self.pages,
                "added": self.added, "uploaded": self.uploaded, "about": self.about}


def is_upload(source: str) -> bool:
    return source.startswith(UPLOAD_SCOPE + "/")


def upload_path(index_dir: Path, source: str) -> Path:
    return Path(index_dir) / UPLOAD_SCOPE / source[len(UPLOAD_SCOPE) + 1:]


def list_documents(idx: Index, index_dir: Path | None = None) -> list[DocumentInfo]:
    """Every document of a loaded generation, newest first (then by source)."""
    chunks = idx.chunk_counts()
    added = idx.manifest.get("added") or {}
    out = []
    for source, doc in idx.docs.items():
        when = added.get(source, "")
        if not when and index_dir is not None and is_upload(source):
            # An upload indexed before the index recorded dates: the time the file was stored.
            try:
                when = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(upload_path(index_dir, source).stat().st_mtime))
            except OSError:
                when = ""
        pages = len(getattr(doc, "pages", ()) or ()) or None  # page offsets, when the reader recorded them
        if pages and getattr(getattr(doc, "meta", None), "woo_number", None):
            # a Woo bundle's document: its offsets start with the bundle's earlier pages (woo.py)
            pages -= page_at(doc.pages, 0) - 1
        out.append(DocumentInfo(source, doc.title, chunks.get(source, 0), pages, when, is_upload(source), _about(doc)))
    out.sort(key=lambda d: d.source)
    out.sort(key=lambda d: d.added, reverse=True)
    return out


def _about(doc) -> str:
    """Municipality or organisation, type and date from the document's metadata (`doc.meta`, when
    the index records it), joined for one line."""
    meta = getattr(doc, "meta", None)
    if meta is None:
        return ""
    who = ", ".join(getattr(meta, "municipalities", ()) or ()) or getattr(meta, "organisation", None)
    return " · ".join(str(x) for x in (who, getattr(meta, "type", None), getattr(meta, "date", None)) if x)


def find(idx: Index, name: str) -> str:
    """The source of the document `name` names: its source ("uploads/nota.pdf"), or a file name or
    title that only one document has."""
    name = (name or "").strip()
    if name in idx.docs:
        return name
    bundles = sorted({d.meta.part_of for d in idx.docs.values() if d.meta.part_of and d.meta.part_of not in idx.docs
                      and (d.meta.part_of == name or Path(d.meta.part_of).name == name)})
    if len(bundles) == 1:  # a split Woo bundle: its parts are "<bundle>#...", in the bundle's scope
        return bundles[0]
    matches = sorted(s for s, d in idx.docs.items() if Path(s).name == name or d.title == name)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InputError(f"{name!r} matches {len(matches)} documents ({', '.join(matches)}): give the whole source")
    known = sorted(idx.docs)
    shown = ", ".join(known[:10]) + (f", … ({len(known)} in all)" if len(known) > 10 else "")
    raise InputError(f"no document {name!r} in the index; known: {shown or '(none)'} (see `assistant docs list`)")


def source_file(index_dir: Path, seeds_dir: Path, source: str) -> tuple[Path, Path]:
    """(folder, file) a document was read from: uploads/ or the seeds folder. Other folders are not
    recorded in the index, so their documents are re-indexed with `assistant ingest FOLDER`."""
    scope, _, rel = source.partition("/")
    if scope == UPLOAD_SCOPE:
        folder = Path(index_dir) / UPLOAD_SCOPE
    elif scope == Path(seeds_dir).resolve().name:
        folder = Path(seeds_dir)
    else:
        raise InputError(f"{source} came from a folder the index does not record: re-index it with "
                         f"`assistant ingest FOLDER` (the folder named {scope!r})")
    path = folder / rel
    if not path.is_file():
        raise InputError(f"the file of {source} is gone ({path}): upload it again, or remove the document")
    return folder, path


def read_again(index_dir: Path, seeds_dir: Path, source: str, ocr_cache: Path | None = None) -> Document:
    """`source`'s file read again, as ingest reads it (with its meta.json title). A mail's
    attachment ("<mail>#<name>") is read again from the mail."""
    return read_again_all(index_dir, seeds_dir, source, ocr_cache)[0]


def read_again_all(index_dir: Path, seeds_dir: Path, source: str, ocr_cache: Path | None = None) -> list[Document]:
    """`source`'s documents read again: the file's own, then its attachments' (a mail); for an
    attachment's source, that attachment alone (read from its mail, which must still have it)."""
    try:
        folder, path = source_file(index_dir, seeds_dir, source)
    except InputError:
        mail = _mail_of(index_dir, seeds_dir, source)
        if mail is None:
            raise
        folder, path = source_file(index_dir, seeds_dir, mail)
        docs, problems = load_documents(path, mail, _meta_title(folder, path), follow_symlinks=False, ocr_cache=ocr_cache)
        for d in docs:
            if d.source == source:
                return [d]
        why = next((p.reason for p in problems if p.source == source), "it is no longer attached")
        raise InputError(f"{source}: attachment of {mail}, which no longer gives it a readable document ({why}); "
                         f"re-index the mail itself") from None
    docs, _ = load_documents(path, source, _meta_title(folder, path), follow_symlinks=False, ocr_cache=ocr_cache)
    return docs


def _mail_of(index_dir: Path, seeds_dir: Path, source: str) -> str | None:
    """The source of the file an attachment's source ("<mail>#<name>") comes from, when that file exists."""
    at = len(source)
    while (at := source.rfind("#", 0, at)) > 0:
        try:
            source_file(index_dir, seeds_dir, source[:at])
            return source[:at]
        except InputError:
            continue
    return None


def _meta_title(folder: Path, path: Path) -> str | None:
    """The title meta.json beside the documents gives this file, as `ingest` reads it."""
    from .ingest import _read_meta

    meta, _ = _read_meta(folder / META_FILE, META_FILE)
    entry = meta.get(path.relative_to(folder).as_posix())
    title = entry.get("title") if isinstance(entry, dict) else None
    return title if isinstance(title, str) and title.strip() else None
