"""Load documents (.txt .md .pdf .docx .html) from a folder into Document values.

A file that cannot be read, is binary, or has no text is reported as a Problem and skipped:
one bad upload must never stop the other documents from being indexed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from .errors import InputError
from .types import Document

SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")
META_FILE = "meta.json"  # optional {"file name": {"title": ...}} beside the documents


@dataclass(frozen=True)
class Problem:
    source: str
    reason: str


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_folder(folder: Path, scope: str | None = None) -> tuple[list[Document], list[Problem]]:
    """All supported files under folder (recursively). Sources are "<scope>/<relative path>"."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}")
    scope = scope or folder.resolve().name
    meta = _read_meta(folder / META_FILE)
    docs, problems = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if path.name == META_FILE or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        source = f"{scope}/{rel}"
        if path.suffix.lower() not in SUFFIXES:
            problems.append(Problem(source, f"unsupported file type {path.suffix or '(none)'}"))
            continue
        try:
            doc = load_file(path, source, meta.get(rel, {}).get("title"))
        except InputError as e:
            problems.append(Problem(source, str(e)))
            continue
        docs.append(doc)
    return docs, problems


def load_file(path: Path, source: str | None = None, title: str | None = None) -> Document:
    """Read one file; raises InputError (with the file named) when it has no usable text."""
    path = Path(path)
    source = source or path.name
    try:
        text = _READERS[path.suffix.lower()](path)
    except KeyError:
        raise InputError(f"{path.name}: unsupported file type {path.suffix or '(none)'}")
    except InputError:
        raise
    except Exception as e:  # parsers raise many types on corrupt input
        raise InputError(f"{path.name}: cannot read ({type(e).__name__}: {e})") from e
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{path.name}: no text found (empty or scanned document)")
    return Document(source=source, title=title or _guess_title(path, text), text=text, sha256=sha256_text(text))


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise InputError(f"{path.name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older Dutch government texts are often Windows-1252.
        return data.decode("cp1252", errors="replace")


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)


def _read_docx(path: Path) -> str:
    import docx

    d = docx.Document(str(path))
    return "\n\n".join(p.text for p in d.paragraphs if p.text.strip())


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "head", "noscript", "template"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def _read_html(path: Path) -> str:
    parser = _HTMLText()
    parser.feed(_read_text(path))
    text = "".join(parser.parts)
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
    for line in text.splitlines():
        line = line.strip().strip("#").strip()
        if 3 <= len(line) <= 120:
            return line
    return path.stem


def _read_meta(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise InputError(f"{path}: invalid JSON ({e})") from e
    return data if isinstance(data, dict) else {}
