"""Load documents (.txt .md .pdf .docx .html .odt .ods .xlsx .pptx .eml) from a folder into Document
values; a mail's attachments become documents of their own ("<mail>#<attachment>", load_documents).

A file that cannot be read, is binary, or has no text is reported as a Problem and skipped:
one bad upload must never stop the other documents from being indexed. `load_folder` never raises
on a bad file (only on a missing folder); every entry under the folder ends up either as a Document
or as a Problem that names it.

Limits (readers/limits.py; hostile or broken files: tests/test_hostile.py runs a corpus of them):
- a file larger than MAX_FILE_BYTES (.pdf .docx) or MAX_TEXT_FILE_BYTES (.txt .md .html) is
  skipped without being read;
- a document whose extracted text is longer than MAX_CHARS characters is skipped (not truncated:
  half a document would give confident answers from a part of it); the Problem says to split it;
- a .docx is a zip: its members' declared sizes are checked before anything is unpacked (at most
  MAX_UNZIPPED_BYTES in all, MAX_ZIP_XML_BYTES per XML part, MAX_ZIP_MEMBERS members), then its
  XML parts are copied with bounded reads into a fresh zip for python-docx, so a header that lies
  about a size cannot make anything unpack more than the declared bytes (`_safe_docx`);
- PDFs: pypdf's own per-stream limits (75 MB) apply; at most MAX_PDF_PAGES pages; a PDF that needs a
  password is skipped (one with an empty user password is read); pages without a text layer are
  read by OCR (ocr.py, with its own limits), and a PDF's Document records where each page starts
  (pages.py) and which pages OCR read;
- HTML is read by a small linear-time scanner (Python's html.parser is quadratic on some malformed
  input); the content of <script>, <style>, <iframe>, <noscript>, <template>, <svg>, <title>, ...
  is dropped, and attributes (onerror=, style=, ...) are never text;
- symbolic links are never followed (a Problem says where they point), files are opened with
  O_NOFOLLOW and must be regular files (a named pipe would block), names with control characters,
  bidi overrides or bytes that are not UTF-8 are skipped (they would garble terminal output and the
  index files), hidden files and folders (".name") are skipped and reported.
Extracted text has control characters (other than tab, newline and form feed) removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from . import metadata, ocr, readers, woo
from .errors import InputError
from .pages import join_pages
from .readers.html import html_to_text  # noqa: F401  (part of this module's interface: tests, eval)
from .readers import limits
from .readers.base import Extracted
from .readers.limits import too_long
from .readers.names import _BIDI, printable
from .types import Document

SUFFIXES = readers.SUFFIXES
META_FILE = "meta.json"  # optional {"file name": {"title", "date", "municipality", "type", ...}} beside the documents

@dataclass(frozen=True)
class Problem:
    source: str
    reason: str
    # True: a note about a document that is indexed all the same (a Woo bundle kept whole because it
    # could not be split: woo.py), not a skipped file.
    kept: bool = False


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_folder(folder: Path, scope: str | None = None, *, on_page: ocr.PageProgress | None = None,
                ocr_cache: Path | None = None) -> tuple[list[Document], list[Problem]]:
    """All supported files under folder (recursively). Sources are "<scope>/<relative path>".
    on_page reports OCR progress page by page; ocr_cache is where OCR'd page texts are kept."""
    docs, problems = [], []
    for found, unread in iter_folder(folder, scope, on_page=on_page, ocr_cache=ocr_cache):
        docs.extend(found)
        problems.extend(unread)
    return docs, problems


def iter_folder(folder: Path, scope: str | None = None, *, on_page: ocr.PageProgress | None = None,
                ocr_cache: Path | None = None) -> Iterator[tuple[list[Document], list[Problem]]]:
    """`load_folder` one file at a time: the documents read from each file and the problems met (a
    file that cannot be read gives only a problem), so that a large folder is never in memory whole
    (library.Library.add_folder writes it in batches)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}")
    scope = scope or printable(folder.resolve().name)
    meta, meta_problem = _read_meta(folder / META_FILE, f"{scope}/{META_FILE}")
    if meta_problem:
        yield [], [meta_problem]
    for parts, kind, path, note in _walk(folder):
        rel = "/".join(parts)
        source = f"{scope}/{printable(rel)}"
        if kind != "file":
            yield [], [Problem(source, f"{printable(parts[-1])}: {note}")]
            continue
        if parts[-1] == META_FILE:
            continue
        bad = _bad_name(rel)
        if bad:
            yield [], [Problem(source, f"{printable(parts[-1])}: file name {bad}; rename the file")]
            continue
        if path.suffix.lower() not in SUFFIXES:
            yield [], [Problem(source, f"{path.name}: unsupported file type {path.suffix or '(none)'}")]
            continue
        try:
            entry = meta.get(rel)
            title = entry.get("title") if isinstance(entry, dict) else None
            found, unread = load_documents(path, source, title if isinstance(title, str) and title.strip() else None,
                                           follow_symlinks=False, on_page=on_page, ocr_cache=ocr_cache,
                                           sidecar=entry if isinstance(entry, dict) else None)
        except InputError as e:
            yield [], [Problem(source, str(e))]
            continue
        except Exception as e:  # never let one file stop the folder
            yield [], [Problem(source, f"{path.name}: cannot read ({type(e).__name__}: {e})")]
            continue
        yield list(found), list(unread)


def load_file(path: Path, source: str | None = None, title: str | None = None, *,
              follow_symlinks: bool = True, on_page: ocr.PageProgress | None = None,
              ocr_cache: Path | None = None, sidecar: dict | None = None) -> Document:
    """Read one file; raises InputError (with the file named) when it has no usable text.
    `sidecar` is the file's meta.json entry: its metadata wins over what the file and text say.
    A mail's attachments are not read here: load_documents reads them too."""
    return _load(Path(path), source, title, follow_symlinks, on_page, ocr_cache, sidecar)[0]


def load_documents(path: Path, source: str | None = None, title: str | None = None, *,
                   follow_symlinks: bool = True, on_page: ocr.PageProgress | None = None,
                   ocr_cache: Path | None = None, sidecar: dict | None = None) -> tuple[list[Document], list[Problem]]:
    """The file's Document (as load_file; InputError when the file itself is unusable), then one
    Document per readable attachment when the file has any (a mail): source "<source>#<name>",
    title the attachment's name, meta.part_of the mail's source, the mail's date when the attachment
    shows none of its own. An attachment that cannot be read is a Problem naming "<source>#<name>";
    the mail is indexed all the same. An attached mail is read, its own attachments are not (depth 2).
    A Woo release bundle (a PDF: inventory list + the documents it lists; woo.py) becomes its parts,
    "<source>#inventaris" and "<source>#<number>"; one that cannot be split is kept whole, with a
    Problem (kept=True) saying why."""
    doc, extracted, pages = _load(Path(path), source, title, follow_symlinks, on_page, ocr_cache, sidecar)
    docs, problems = [], []
    _bundle_parts(doc, pages, docs, problems)
    if extracted is not None:
        _attachment_documents(doc, extracted, docs, problems, on_page, ocr_cache)
    return docs, problems


def _load(path: Path, source: str | None, title: str | None, follow_symlinks: bool, on_page, ocr_cache,
          sidecar: dict | None):
    source = source or path.name
    name = printable(path.name)
    reader = readers.reader_for(path.suffix)
    if reader is None:
        raise InputError(f"{name}: unsupported file type {path.suffix or '(none)'}")
    try:
        data = _read_bytes(path, name, _size_limit(path.suffix), follow_symlinks)
    except OSError as e:
        raise InputError(f"{name}: cannot read ({type(e).__name__}: {e})") from e
    return _document(data, reader, path.suffix, printable(path.stem), name, source, title, sidecar, on_page, ocr_cache)


def _size_limit(suffix: str) -> int:
    return limits.MAX_TEXT_FILE_BYTES if suffix.lower() in readers.TEXT_SUFFIXES else limits.MAX_FILE_BYTES


def _document(data: bytes, reader, suffix: str, stem: str, name: str, source: str, title: str | None,
              sidecar: dict | None, on_page, ocr_cache):
    """(Document, the reader's Extracted or None, the cleaned page texts of a paged format or None)
    from a file's bytes."""
    starts: tuple[int, ...] = ()
    ocr_pages: tuple[int, ...] = ()
    extracted = None
    pages = None
    try:
        if getattr(reader, "PAGED", False):
            pdf = reader.read(data, name, on_page=on_page, ocr_cache=ocr_cache)
            # Cleaned page by page (removing characters never crosses a page), so the offsets are exact.
            pages = [clean_text(p) for p in pdf.texts]
            text, starts = join_pages(pages)
            ocr_pages = pdf.ocr_pages
        else:
            out = reader.read(data, name)
            if isinstance(out, Extracted):
                extracted, out = out, out.text
            text = clean_text(out)
    except InputError:
        raise
    except Exception as e:  # parsers raise many types on corrupt input
        raise InputError(f"{name}: cannot read ({type(e).__name__}: {e})") from e
    if title:  # from meta.json: one plain line
        title = " ".join(clean_text(title).split())
    if len(text) > limits.MAX_CHARS:
        raise too_long(name, len(text))
    if not text.strip():
        raise InputError(f"{name}: no text found (empty, or scanned pages in which OCR found no text)")
    info = metadata.file_info(suffix, data, stem)
    own = {}  # what the file says about itself in meta.json's form (a mail's Subject and Date)
    if extracted is not None:
        own = {k: v for k, v in extracted.meta.items() if isinstance(v, str) and v.strip()}
        if own.get("title"):
            own["title"] = " ".join(clean_text(own["title"]).split())[:300]
    title = title or own.get("title") or info.title or _guess_title(stem, text)
    side = {**own, **(sidecar or {})}
    meta = metadata.extract(text, title, side or None, info)
    from_file = {k for k in own if k not in (sidecar or {})}
    if from_file:  # the file's own header, not the curator's meta.json
        meta = replace(meta, origin=tuple((k, "file" if k in from_file and o == "sidecar" else o) for k, o in meta.origin))
    return Document(source=source, title=title, text=text, sha256=sha256_text(text),
                    pages=starts, ocr_pages=ocr_pages, meta=meta), extracted, pages


def _bundle_parts(doc: Document, pages: list[str] | None, docs: list[Document], problems: list[Problem]) -> None:
    """Append doc's parts when it is a Woo bundle that can be split (woo.py), else doc itself (with a
    kept-whole Problem when it has an inventory but cannot be split)."""
    if pages:
        try:
            layout, why = woo.detect(pages)
        except Exception as e:  # a heuristic must never cost the document
            layout, why = None, f"{type(e).__name__}: {e}"
        if layout is not None:
            docs.extend(woo.split(doc, pages, layout, sha256_text))
            return
        if why:
            name = doc.source.rsplit("/", 1)[-1]
            problems.append(Problem(doc.source, f"{name}: kept whole: could not split the Woo bundle ({why})", kept=True))
    docs.append(doc)


MAX_PART_DEPTH = 2  # a mail's attachments are read; an attached mail's attachments are not


def _attachment_documents(parent: Document, extracted: Extracted, docs: list[Document], problems: list[Problem],
                          on_page, ocr_cache, depth: int = 1) -> None:
    used = {d.source for d in docs}

    def unique(base: str) -> str:
        src, n = f"{parent.source}#{base}", 2
        while src in used:
            stem, dot, ext = base.rpartition(".")
            src = f"{parent.source}#{stem} ({n}){dot}{ext}" if dot and stem else f"{parent.source}#{base} ({n})"
            n += 1
        used.add(src)
        return src

    for raw, why in extracted.skipped:
        base = _attachment_name(raw)
        problems.append(Problem(unique(base), f"{base}: attachment not read: {why}"))
    for att in extracted.attachments:
        base = _attachment_name(att.name)
        source = unique(base)
        suffix = Path(base).suffix
        if depth >= MAX_PART_DEPTH:
            problems.append(Problem(source, f"{base}: attachment of an attached mail: not read (save it as a file of its own)"))
            continue
        reader = readers.reader_for(suffix)
        if reader is None:
            problems.append(Problem(source, f"{base}: unsupported file type {suffix or '(none)'} (attachment of {parent.source})"))
            continue
        limit = _size_limit(suffix)
        if len(att.data) > limit:
            problems.append(Problem(source, f"{base}: attachment is {len(att.data) / 2**20:.1f} MB, over the "
                                            f"{limit / 2**20:.0f} MB limit for {suffix.lower()} files"))
            continue
        try:
            doc, inner, pages = _document(att.data, reader, suffix, Path(base).stem, base, source, base, None, on_page, ocr_cache)
        except InputError as e:
            problems.append(Problem(source, f"{e} (attachment of {parent.source})"))
            continue
        except Exception as e:  # never let one attachment stop the mail
            problems.append(Problem(source, f"{base}: cannot read ({type(e).__name__}: {e}) (attachment of {parent.source})"))
            continue
        meta = replace(doc.meta, part_of=parent.source)
        if meta.date is None and parent.meta.date:
            meta = replace(meta, date=parent.meta.date,
                           origin=tuple(sorted(dict(meta.origin, date="mail").items())))
        doc = replace(doc, meta=meta)
        if inner is not None:
            docs.append(doc)
            _attachment_documents(doc, inner, docs, problems, on_page, ocr_cache, depth + 1)
        else:
            _bundle_parts(doc, pages, docs, problems)  # an attached Woo bundle is split too


def _attachment_name(raw: str) -> str:
    """An attachment's file name, printable, without any folder part."""
    base = (raw or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = " ".join(printable(base).split())
    return base.lstrip(".")[:200] or "bijlage"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Unix newlines; no control characters (except tab, newline, form feed) or lone surrogates:
    they would garble a terminal, cut a C string short in the LLM, or fail to encode as UTF-8."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


# -- file system -------------------------------------------------------------------------------
def _walk(folder: Path):
    """(relative parts, kind, path, note) for every entry, sorted, without following symlinks.
    kind is "file" for a regular file; anything else is reported with its note."""
    root = os.path.realpath(folder)
    stack: list[tuple[str, ...]] = [()]
    out = []
    while stack:
        parts = stack.pop()
        here = os.path.join(folder, *parts)
        try:
            with os.scandir(here) as it:
                entries = list(it)
        except OSError as e:
            if parts:
                out.append((parts, "error", Path(here), f"cannot list this folder ({e.strerror or e})"))
            continue
        for entry in entries:
            sub = parts + (entry.name,)
            try:
                if entry.name.startswith("."):
                    what = "folder" if entry.is_dir(follow_symlinks=False) else "file"
                    out.append((sub, "hidden", Path(entry.path), f"hidden {what} (name starts with '.'): skipped"))
                elif entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    inside = os.path.commonpath([root, target]) == root
                    where = "inside the folder" if inside else "outside the folder"
                    out.append((sub, "symlink", Path(entry.path),
                                f"symbolic link to {where}: not followed (copy the file in instead)"))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(sub)
                elif entry.is_file(follow_symlinks=False):
                    out.append((sub, "file", Path(entry.path), ""))
                else:
                    out.append((sub, "special", Path(entry.path),
                                "not a regular file (named pipe, socket or device): skipped"))
            except (OSError, ValueError) as e:
                out.append((sub, "error", Path(entry.path), f"cannot inspect ({type(e).__name__}: {e})"))
    out.sort(key=lambda t: t[0])
    return out


def _read_bytes(path: Path, name: str, limit: int, follow_symlinks: bool = True) -> bytes:
    """The whole file, if it is a regular file of at most `limit` bytes (checked on the open file,
    so a file swapped for a symlink or a pipe after the folder was listed is not read)."""
    # O_BINARY (Windows only): without it the descriptor is in text mode, and reads turn \r\n into
    # \n and stop at the first Ctrl-Z byte (a PDF or .docx would arrive damaged).
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if not follow_symlinks and os.path.islink(path):
            raise InputError(f"{name}: symbolic link: not followed") from e
        raise InputError(f"{name}: cannot open ({e.strerror or e})") from e
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{name}: not a regular file: skipped")
        if st.st_size > limit:
            raise InputError(f"{name}: file is {st.st_size / 2**20:.1f} MB, over the {limit / 2**20:.0f} MB "
                             f"limit for {Path(path).suffix.lower()} files; split it into smaller files")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{name}: file grew past the {limit / 2**20:.0f} MB limit while being read")
    return data




def _bad_name(rel: str) -> str:
    for c in rel:
        cat = unicodedata.category(c)
        if cat == "Cs":
            return "is not valid UTF-8"
        if cat == "Cc":
            return "contains control characters"
        if c in _BIDI:
            return "contains text-direction control characters (they can disguise the file type)"
    return ""


def _guess_title(stem: str, text: str) -> str:
    for line in text[:20_000].splitlines():
        line = line.strip().strip("#").strip()
        if 3 <= len(line) <= 120:
            return line
    return stem


def _read_meta(path: Path, source: str) -> tuple[dict, Problem | None]:
    """meta.json beside the documents, or {} with a Problem when it is unusable (never raises)."""
    if not os.path.lexists(path) or os.path.islink(path):  # a symlink is reported by the folder walk
        return {}, None
    try:
        data = json.loads(_read_bytes(path, META_FILE, limits.MAX_META_BYTES, follow_symlinks=False).decode("utf-8"))
    except InputError as e:
        return {}, Problem(source, f"{e}; document titles come from the documents instead")
    except (ValueError, RecursionError) as e:
        return {}, Problem(source, f"{META_FILE}: invalid JSON ({e}); document titles come from the documents instead")
    return (data if isinstance(data, dict) else {}), None
