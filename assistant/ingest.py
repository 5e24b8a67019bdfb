"""Load documents (.txt .md .pdf .docx .html) from a folder into Document values.

A file that cannot be read, is binary, or has no text is reported as a Problem and skipped:
one bad upload must never stop the other documents from being indexed. `load_folder` never raises
on a bad file (only on a missing folder); every entry under the folder ends up either as a Document
or as a Problem that names it.

Limits (hostile or broken files; tests/test_hostile.py runs a corpus of them):
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
import html
import io
import json
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import ocr
from . import metadata
from .errors import InputError
from .pages import join_pages
from .types import Document

SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")
META_FILE = "meta.json"  # optional {"file name": {"title", "date", "municipality", "type", ...}} beside the documents

MAX_CHARS = 5_000_000  # characters of text in one document (~2,000 pages); longer ones are skipped
MAX_FILE_BYTES = 100 * 2**20  # .pdf / .docx file size
MAX_TEXT_FILE_BYTES = 4 * MAX_CHARS  # .txt / .md / .html (UTF-8 needs at most 4 bytes a character)
MAX_UNZIPPED_BYTES = 200 * 2**20  # .docx: all members together, as declared in the zip
MAX_ZIP_XML_BYTES = 25 * 2**20  # .docx: one XML part (python-docx parses each into a tree)
MAX_ZIP_MEMBERS = 10_000
MAX_PDF_PAGES = 10_000
MAX_META_BYTES = 10 * 2**20


@dataclass(frozen=True)
class Problem:
    source: str
    reason: str


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_folder(folder: Path, scope: str | None = None, *, on_page: ocr.PageProgress | None = None,
                ocr_cache: Path | None = None) -> tuple[list[Document], list[Problem]]:
    """All supported files under folder (recursively). Sources are "<scope>/<relative path>".
    on_page reports OCR progress page by page; ocr_cache is where OCR'd page texts are kept."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}")
    scope = scope or printable(folder.resolve().name)
    docs, problems = [], []
    meta, meta_problem = _read_meta(folder / META_FILE, f"{scope}/{META_FILE}")
    if meta_problem:
        problems.append(meta_problem)
    for parts, kind, path, note in _walk(folder):
        rel = "/".join(parts)
        source = f"{scope}/{printable(rel)}"
        if kind != "file":
            problems.append(Problem(source, f"{printable(parts[-1])}: {note}"))
            continue
        if parts[-1] == META_FILE:
            continue
        bad = _bad_name(rel)
        if bad:
            problems.append(Problem(source, f"{printable(parts[-1])}: file name {bad}; rename the file"))
            continue
        if path.suffix.lower() not in SUFFIXES:
            problems.append(Problem(source, f"{path.name}: unsupported file type {path.suffix or '(none)'}"))
            continue
        try:
            entry = meta.get(rel)
            title = entry.get("title") if isinstance(entry, dict) else None
            doc = load_file(path, source, title if isinstance(title, str) and title.strip() else None,
                            follow_symlinks=False, on_page=on_page, ocr_cache=ocr_cache,
                            sidecar=entry if isinstance(entry, dict) else None)
        except InputError as e:
            problems.append(Problem(source, str(e)))
            continue
        except Exception as e:  # never let one file stop the folder
            problems.append(Problem(source, f"{path.name}: cannot read ({type(e).__name__}: {e})"))
            continue
        docs.append(doc)
    return docs, problems


def load_file(path: Path, source: str | None = None, title: str | None = None, *,
              follow_symlinks: bool = True, on_page: ocr.PageProgress | None = None,
              ocr_cache: Path | None = None, sidecar: dict | None = None) -> Document:
    """Read one file; raises InputError (with the file named) when it has no usable text.
    `sidecar` is the file's meta.json entry: its metadata wins over what the file and text say."""
    path = Path(path)
    source = source or path.name
    name = printable(path.name)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"{name}: unsupported file type {path.suffix or '(none)'}")
    limit = MAX_TEXT_FILE_BYTES if reader in (_read_text, _read_html) else MAX_FILE_BYTES
    starts: tuple[int, ...] = ()
    ocr_pages: tuple[int, ...] = ()
    try:
        data = _read_bytes(path, name, limit, follow_symlinks)
        if reader is _read_pdf:
            pdf = _read_pdf(data, name, on_page=on_page, ocr_cache=ocr_cache)
            # Cleaned page by page (removing characters never crosses a page), so the offsets are exact.
            text, starts = join_pages([clean_text(p) for p in pdf.texts])
            ocr_pages = pdf.ocr_pages
        else:
            text = clean_text(reader(data, name))
    except InputError:
        raise
    except Exception as e:  # parsers raise many types on corrupt input
        raise InputError(f"{name}: cannot read ({type(e).__name__}: {e})") from e
    if title:  # from meta.json: one plain line
        title = " ".join(clean_text(title).split())
    if len(text) > MAX_CHARS:
        raise _too_long(name, len(text))
    if not text.strip():
        raise InputError(f"{name}: no text found (empty, or scanned pages in which OCR found no text)")
    info = metadata.file_info(path.suffix, data, path.stem)
    title = title or info.title or _guess_title(path, text)
    meta = metadata.extract(text, title, sidecar, info)
    return Document(source=source, title=title, text=text, sha256=sha256_text(text),
                    pages=starts, ocr_pages=ocr_pages, meta=meta)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Unix newlines; no control characters (except tab, newline, form feed) or lone surrogates:
    they would garble a terminal, cut a C string short in the LLM, or fail to encode as UTF-8."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _too_long(name: str, chars: int | None = None) -> InputError:
    size = f"{chars:,} characters of text" if chars else f"more than {MAX_CHARS:,} characters of text"
    return InputError(f"{name}: {size}, over the limit of {MAX_CHARS:,} for one document; "
                      "split it into smaller files")


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


_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


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


def printable(name: str) -> str:
    """name with control characters, bidi controls and undecodable bytes shown as escapes."""
    out = []
    for c in name:
        cat = unicodedata.category(c)
        if cat == "Cs":  # a byte that was not UTF-8 (surrogateescape)
            o = ord(c)
            out.append(f"\\x{o - 0xDC00:02x}" if 0xDC80 <= o <= 0xDCFF else f"\\u{o:04x}")
        elif cat == "Cc" or c in _BIDI:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


# -- readers: bytes -> text --------------------------------------------------------------------
def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) and not data.startswith(b"\xff\xfe\x00\x00"):
        text = data.decode("utf-16", errors="replace")  # the BOM says which byte order
    else:
        if b"\x00" in data[:8192]:
            raise InputError(f"{name}: looks like a binary file, not text (or UTF-16 without a byte order mark)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _decode_damaged(data)
    sample = text[:65536]
    bad = sum(1 for c in sample if c == "\ufffd" or (c < " " and c not in "\t\n\r\f") or c == "\x7f")
    if bad > max(4, 0.05 * len(sample)):
        raise InputError(f"{name}: looks like a binary file, not text ({bad} of the first {len(sample)} "
                         "characters are control characters or undecodable)")
    return text


def _decode_damaged(data: bytes) -> str:
    """Not valid UTF-8: a UTF-8 text with a few bad bytes keeps its accents; otherwise it is taken
    as Windows-1252 (older Dutch government texts often are)."""
    sample = data[:1_000_000].decode("utf-8", errors="replace")
    bad = sample.count("\ufffd")
    good = sum(1 for c in sample if c > "\x7f") - bad
    if good >= 10 and bad < 0.1 * good:
        return data.decode("utf-8", errors="replace")
    return data.decode("cp1252", errors="replace")


def _read_text(data: bytes, name: str) -> str:
    return _decode(data, name)


def _read_pdf(data: bytes, name: str, on_page: ocr.PageProgress | None = None,
              ocr_cache: Path | None = None) -> ocr.PdfPages:
    """Each page's text: its text layer, or OCR where it has none (ocr.py)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:  # pypdf has already tried the empty user password
        try:
            opened = reader.decrypt("")
        except Exception:
            opened = 0
        if not opened:
            raise InputError(f"{name}: the PDF is encrypted and needs a password; save a copy without one")
    parts, total = [], 0
    for i, page in enumerate(reader.pages):
        if i >= MAX_PDF_PAGES:
            raise InputError(f"{name}: more than {MAX_PDF_PAGES:,} pages; split it into smaller files")
        text = (page.extract_text() or "").strip()
        total += len(text)
        if total > MAX_CHARS:  # stop early; the joined text is checked exactly in load_file
            raise _too_long(name)
        parts.append(text)
    return ocr.read_pages(data, name, parts, max_chars=MAX_CHARS, on_page=on_page, cache=ocr_cache)


def _safe_docx(data: bytes, name: str) -> io.BytesIO:
    """The .docx re-packed so that python-docx cannot be made to unpack a bomb.

    The zip's central directory is checked first (member count, declared sizes). Then every XML part
    is copied out with bounded reads (zipfile stops at the declared size and checks the CRC), and
    every other part (images, fonts, embedded files: no text in them) is replaced by an empty one,
    into a new uncompressed zip. This matters because zipfile's read() of a whole member inflates
    all of its compressed data at once, whatever size the header declares."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise InputError(f"{name}: not a valid .docx (it is not a zip archive: {e})") from e
    out = io.BytesIO()
    with z, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as safe:
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
            if not i.filename.lower().endswith((".xml", ".rels")):
                safe.writestr(i.filename, b"")
                continue
            if i.file_size > MAX_ZIP_XML_BYTES:
                raise InputError(f"{name}: part {printable(i.filename)} unpacks to {i.file_size / 2**20:,.0f} MB, "
                                 f"over the {MAX_ZIP_XML_BYTES / 2**20:.0f} MB limit (a zip bomb?)")
            buf = bytearray()
            with z.open(i) as f:
                while chunk := f.read(2**20):
                    buf += chunk
                    if len(buf) > i.file_size:  # zipfile prevents this; keep the bound explicit anyway
                        raise InputError(f"{name}: part {printable(i.filename)} is larger than its header says")
            safe.writestr(i.filename, bytes(buf))
    out.seek(0)
    return out


def _read_docx(data: bytes, name: str) -> str:
    import docx

    d = docx.Document(_safe_docx(data, name))
    return "\n\n".join(p.text for p in d.paragraphs if p.text.strip())


# HTML: a linear-time scanner. Text outside tags is kept (entities decoded); tags and their
# attributes never become text; RAW elements' content is skipped up to their end tag, SUBTREE
# elements' content up to the matching end tag.
_RAW = ("script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes", "noscript")
_SUBTREE = ("template", "svg", "math", "object")
_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table"}
_TAG = re.compile(r"<(/?)([A-Za-z][^\t\n\f\r />]*)")
_QUOTE_OR_END = re.compile(r"[>\"']")
_RAW_END = {t: re.compile(rf"</{t}(?=[\t\n\f\r />])", re.I) for t in _RAW}


def html_to_text(source: str) -> str:
    out: list[str] = []
    skip: list[str] = []  # open SUBTREE elements whose content is dropped
    open_count = dict.fromkeys(_SUBTREE, 0)  # how many of each are in `skip` (O(1) lookups)
    n = len(source)
    i = 0
    while i < n:
        j = source.find("<", i)
        if j < 0:
            j = n
        if j > i and not skip:
            out.append(html.unescape(source[i:j]))
        if j >= n:
            break
        if source.startswith("<!--", j):
            k = source.find("-->", j + 4)
            i = n if k < 0 else k + 3
            continue
        m = _TAG.match(source, j)
        if m is None:
            if source.startswith(("<!", "<?", "</"), j):  # doctype, CDATA, bogus comment: to the next '>'
                k = source.find(">", j + 2)
                i = n if k < 0 else k + 1
            else:  # a lone '<' is text
                if not skip:
                    out.append("<")
                i = j + 1
            continue
        closing, tag = m.group(1) == "/", m.group(2).lower()
        # the rest of the tag: attributes up to '>', quoted values may contain '>'
        k = m.end()
        while True:
            q = _QUOTE_OR_END.search(source, k)
            if q is None:
                k = n
                break
            if q.group() == ">":
                k = q.end()
                break
            e = source.find(q.group(), q.end())
            if e < 0:
                k = n
                break
            k = e + 1
        i = k
        self_closing = source[k - 2:k] == "/>" if k <= n else False
        if closing:
            if open_count.get(tag):  # close it and anything left open inside it
                while True:
                    top = skip.pop()
                    open_count[top] -= 1
                    if top == tag:
                        break
            continue
        if tag in _RAW:
            e = _RAW_END[tag].search(source, i)
            if e is None:
                i = n
            else:
                gt = source.find(">", e.end())
                i = n if gt < 0 else gt + 1
            continue
        if tag in _SUBTREE and not self_closing:
            skip.append(tag)
            open_count[tag] += 1
            continue
        if tag in _BLOCK and not skip:
            out.append("\n\n")
    return "".join(out)


def _read_html(data: bytes, name: str) -> str:
    text = html_to_text(_decode(data, name))
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


_READERS = {
    ".txt": _read_text,
    ".md": _read_text,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
    ".html": _read_html,
    ".htm": _read_html,
}


def _guess_title(path: Path, text: str) -> str:
    for line in text[:20_000].splitlines():
        line = line.strip().strip("#").strip()
        if 3 <= len(line) <= 120:
            return line
    return printable(path.stem)


def _read_meta(path: Path, source: str) -> tuple[dict, Problem | None]:
    """meta.json beside the documents, or {} with a Problem when it is unusable (never raises)."""
    if not os.path.lexists(path) or os.path.islink(path):  # a symlink is reported by the folder walk
        return {}, None
    try:
        data = json.loads(_read_bytes(path, META_FILE, MAX_META_BYTES, follow_symlinks=False).decode("utf-8"))
    except InputError as e:
        return {}, Problem(source, f"{e}; document titles come from the documents instead")
    except (ValueError, RecursionError) as e:
        return {}, Problem(source, f"{META_FILE}: invalid JSON ({e}); document titles come from the documents instead")
    return (data if isinstance(data, dict) else {}), None
