"""What every importer shares: the network layer, safe file names, and the all-or-nothing write.

Network: a `Fetcher` has one method, `get(url, data=None) -> bytes` (data: a JSON body to POST).
`UrlFetcher` is the real one (urllib, a timeout, a User-Agent, http(s) only, a size limit);
`DirFetcher` serves files downloaded by hand (`--from-dir DIR`: a URL is looked up in DIR by its
last path segment); the tests use a fake that serves recorded responses. A failed fetch raises
FetchError (an InputError naming the URL and what went wrong).

Writing: `import_records` stages every document in a hidden temporary folder beside OUT_FOLDER
(".OUT.import-XXXX": `assistant ingest` of the parent skips hidden folders), and only when the
source has been read to the end moves them into OUT_FOLDER and writes meta.json last (a temporary
file + os.replace). A failed or interrupted import removes the staging folder: OUT_FOLDER stays as
it was. A new OUT_FOLDER is renamed into place whole. File names come from the title and a hash
of the record's id (`safe_name`: ASCII letters, digits and '-', never a path), so importing the same
documents again finds the same files and changes nothing; an existing file with the same name and
different content is never overwritten (the record is skipped, with a message).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol

from .. import metadata
from ..errors import InputError

META_FILE = "meta.json"  # the sidecar assistant/ingest.py reads
USER_AGENT = "nl-gov-assistant-import/1 (+offline document assistant; one request at a time)"
TIMEOUT = 60.0  # seconds per request
MAX_DOWNLOAD = 100 * 2**20  # one response or document file (ingest skips larger PDFs anyway)
MAX_UNZIPPED = 200 * 2**20  # a gzipped sitemap or dump, unpacked


class FetchError(InputError):
    """A URL could not be fetched (HTTP error, no connection, too large, not in --from-dir)."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{show(url, 200)}: {reason}")
        self.url, self.reason = url, reason


class Fetcher(Protocol):
    def get(self, url: str, data: bytes | None = None) -> bytes:
        """The response body of GET url (POST with a JSON body when data is given); FetchError when it fails."""


class UrlFetcher:
    """The real network: urllib, http(s) only (a sitemap must not make us read file:///etc/...)."""

    def __init__(self, timeout: float = TIMEOUT, user_agent: str = USER_AGENT, max_bytes: int = MAX_DOWNLOAD):
        self.timeout, self.user_agent, self.max_bytes = timeout, user_agent, max_bytes

    def get(self, url: str, data: bytes | None = None) -> bytes:
        import http.client

        if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
            raise FetchError(url, "not an http(s) URL")
        headers = {"User-Agent": self.user_agent, "Accept": "*/*"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                body = r.read(self.max_bytes + 1)
        except urllib.error.HTTPError as e:
            raise FetchError(url, f"HTTP {e.code} {e.reason}") from e
        except urllib.error.URLError as e:
            raise FetchError(url, f"cannot connect ({e.reason}); without network, download the files by hand "
                                  "and use --from-dir") from e
        except (http.client.HTTPException, OSError) as e:  # IncompleteRead (truncated), timeout, reset
            raise FetchError(url, f"download failed ({type(e).__name__}: {e})") from e
        if len(body) > self.max_bytes:
            raise FetchError(url, f"larger than {self.max_bytes / 2**20:.0f} MB: not downloaded")
        return body


class DirFetcher:
    """Files downloaded by hand: a URL is served from DIR/<its last path segment>; a plain relative
    path (a local sitemap's <loc>) from DIR/<path>, which must stay inside DIR."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"--from-dir {folder}: not a folder")

    def candidates(self, url: str) -> list[Path]:
        """Where url may have been saved: DIR/host/path (wget -x), DIR/path, DIR/last segment; for a
        plain relative path DIR/path. Nothing that could leave DIR ('..', drive letters)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() in ("http", "https"):
            segs = [urllib.parse.unquote(p) for p in parts.path.split("/") if p]
            options = [[parts.hostname or ""] + segs, segs, segs[-1:]]
        elif parts.scheme and len(parts.scheme) > 1:  # file:, ftp:, ... (a one-letter scheme is a Windows drive)
            return []
        else:
            options = [[p for p in re.split(r"[\\/]+", url) if p not in ("", ".")]]
        out = []
        for rel in options:
            if rel and all(p and p != ".." and ":" not in p and "\\" not in p and show(p) == p for p in rel):
                out.append(self.folder.joinpath(*rel))
        return out

    def get(self, url: str, data: bytes | None = None) -> bytes:
        options = self.candidates(url)
        if not options:
            raise FetchError(url, f"cannot be looked up in {self.folder} (not an http(s) URL or a plain relative path)")
        path = next((p for p in options if p.is_file()), None)
        if path is None:
            raise FetchError(url, f"not in {self.folder} (looked for {', '.join(str(p.relative_to(self.folder)) for p in options)}); "
                                  "download it there by hand")
        if path.stat().st_size > MAX_DOWNLOAD:
            raise FetchError(url, f"{path} is larger than {MAX_DOWNLOAD / 2**20:.0f} MB")
        return path.read_bytes()


class LocalThenNetwork:
    """A local sitemap: relative <loc>s are files beside it, URLs go to the network."""

    def __init__(self, folder: Path, network: Fetcher):
        self.local, self.network = DirFetcher(folder), network

    def get(self, url: str, data: bytes | None = None) -> bytes:
        if urllib.parse.urlsplit(url).scheme.lower() in ("http", "https"):
            return self.network.get(url, data)
        return self.local.get(url, data)


# -- records -----------------------------------------------------------------------------------
@dataclass
class Record:
    """One document from a source: its id (stable across imports), its meta.json entry, and its
    content: a file to download (file_url), extracted text, or both (text is the fallback)."""

    id: str
    meta: dict  # title, date, municipality / organisation, type, source_url, ... (only known values)
    text: str | None = None
    file_url: str | None = None


@dataclass
class Bad:
    """A record that cannot be imported (the others can): where it is and what is wrong."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ImportResult:
    out: Path
    new: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        n = len(self.new) + len(self.unchanged)
        line = f"imported {n} document(s) into {self.out}: {len(self.new)} new, {len(self.unchanged)} unchanged"
        if self.skipped:
            line += f"; skipped {len(self.skipped)} record(s) (listed above)"
        return line


# -- names and values --------------------------------------------------------------------------
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def show(text: str, limit: int = 120) -> str:
    """text for a message: control and bidi characters escaped, cut at limit characters."""
    out = []
    for c in str(text):
        if unicodedata.category(c) in ("Cc", "Cs") or c in _BIDI:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    s = "".join(out)
    return s if len(s) <= limit else s[:limit - 1] + "…"


SUFFIXES = (".pdf", ".txt", ".html", ".docx")


def safe_name(title: str | None, ident: str, suffix: str) -> str:
    """A file name for a record: a slug of its title (ASCII letters, digits, '-'; at most 60) and
    10 hex digits of sha256(id), e.g. "raadsvoorstel-parkeren-3f9a1c0b2e.pdf". Never a path, never
    hidden, never a Windows device name; the same id gives the same name on every import."""
    if suffix not in SUFFIXES:
        raise ValueError(f"unexpected suffix {suffix!r}")
    ascii_ = unicodedata.normalize("NFKD", title or "").encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_).strip("-").lower()[:60].rstrip("-") or "document"
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug}-{digest}{suffix}"


def one_line(value, limit: int = 300) -> str | None:
    """A plain one-line string (control characters dropped), or None."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if not isinstance(value, str):
        return None
    value = "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cs") and c not in _BIDI or c in "\t\n")
    value = " ".join(value.split())
    return value[:limit] or None


def iso_date(value) -> str | None:
    """"2021-03-04T10:00:00+01:00" / "2021-03-04" / "4 maart 2021" / "2021" -> ISO, or None."""
    value = one_line(value)
    if not value:
        return None
    m = re.match(r"((?:19|20)\d\d-[01]\d-[0-3]\d)(?:[T ]|$)", value)
    return metadata.parse_date(m.group(1) if m else value)


def municipality_of(name) -> str | None:
    """"gemeente Amsterdam" / "Gemeente 's-Hertogenbosch" / "Den Haag" -> the municipality's name as
    CBS writes it (assistant/data/gemeenten.txt), or None when it is not a municipality."""
    name = one_line(name)
    if not name:
        return None
    bare = re.sub(r"^(?:de\s+)?gemeente(?:bestuur)?\s+(?:van\s+)?", "", name, flags=re.IGNORECASE).strip()
    found = metadata.split_municipalities(bare)
    known = {n.casefold() for n in metadata.municipality_names()}
    if len(found) == 1 and found[0].casefold() in known:
        return found[0]
    return None


def entry(**fields) -> dict:
    """A meta.json entry with only the known values: a key present with null would tell ingest
    "known to be unknown" and stop it from reading the value from the text (metadata.py)."""
    return {k: v for k, v in fields.items() if v not in (None, "", [], ())}


def maybe_gunzip(data: bytes, what: str) -> bytes:
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        with gzip.GzipFile(fileobj=__import__("io").BytesIO(data)) as g:
            out = g.read(MAX_UNZIPPED + 1)
    except (OSError, EOFError) as e:
        raise InputError(f"{what}: damaged gzip data ({e}); download it again") from e
    if len(out) > MAX_UNZIPPED:
        raise InputError(f"{what}: unpacks to more than {MAX_UNZIPPED / 2**20:.0f} MB")
    return out


def kind_of(data: bytes, url: str) -> str | None:
    """The suffix a downloaded document is saved with, from its bytes (and the URL for .docx),
    or None when it is not a kind ingest reads."""
    head = data[:1024].lstrip()
    path = urllib.parse.urlsplit(url).path.lower()
    if data.startswith(b"%PDF-"):
        return ".pdf"
    if data.startswith(b"PK\x03\x04") and path.endswith(".docx"):
        return ".docx"
    if b"\x00" in data[:8192]:
        return None
    if head[:15].lower().startswith((b"<!doctype html", b"<html")):
        return ".html"
    if path.endswith(".txt"):
        return ".txt"
    return None


def check_document(data: bytes, suffix: str) -> str:
    """"" when the downloaded document looks whole, else what is wrong with it."""
    if not data.strip():
        return "the download is empty"
    if suffix == ".pdf" and b"%%EOF" not in data[-2048:]:
        return "the PDF is truncated (no %%EOF at its end)"
    return ""


# -- the all-or-nothing write ------------------------------------------------------------------
def _log(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(msg, file=sys.stderr)


def read_meta(out: Path) -> dict:
    path = out / META_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read it ({e}); fix or move it before importing into {out}") from e
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a JSON object of file name -> metadata; fix or move it before importing")
    return data


def _content(rec: Record, fetcher: Fetcher | None) -> tuple[bytes, str] | Bad:
    """The document's bytes and suffix: the file when it can be downloaded whole, else the text."""
    problem = ""
    if rec.file_url and fetcher is not None:
        try:
            data = fetcher.get(rec.file_url)
        except FetchError as e:
            problem = f"document file not downloaded ({e.reason})"
        else:
            suffix = kind_of(data, rec.file_url)
            problem = check_document(data, suffix) if suffix else "the document file is not a PDF, .docx, HTML or text file"
            if not problem:
                return data, suffix
    if rec.text and rec.text.strip():
        return rec.text.encode("utf-8"), ".txt"
    return Bad(f"record {show(rec.id)}", problem or "no text and no document file")


def import_records(records: Iterable[Record | Bad], out: Path, fetcher: Fetcher | None = None, *,
                   limit: int | None = None, log: Callable[[str], None] = _log,
                   total: Callable[[], int | None] | None = None, what: str = "documents") -> ImportResult:
    """Write the records' documents and meta.json entries into `out` (see the module docstring).
    InputError from `records` (a wholly unusable response) stops the import with `out` unchanged;
    a Bad record is skipped with a message; nothing usable at all is an error too. `total()` is
    how many records the source says it has, once it knows (for the progress bar)."""
    from tqdm import tqdm

    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; give a folder to import into")
    old_meta = read_meta(out) if out.is_dir() else {}
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=parent))
    result = ImportResult(out)
    entries: dict[str, dict] = {}
    staged: list[str] = []
    known = {_identity(v): k for k, v in old_meta.items() if isinstance(v, dict) and _identity(v)}
    bar = tqdm(total=limit, desc=f"importing {what}", unit="doc", file=sys.stderr, dynamic_ncols=True,
               disable=None, leave=False)
    try:
        for rec in records:
            if isinstance(rec, Bad):
                result.skipped.append(str(rec))
                log(f"skipped {rec}")
                continue
            got = _content(rec, fetcher)
            if isinstance(got, Bad):
                result.skipped.append(str(got))
                log(f"skipped {got}")
                continue
            data, suffix = got
            name = safe_name(rec.meta.get("title"), rec.id, suffix)
            prev = known.get(_identity(rec.meta))
            if prev and prev != name and prev not in entries and (out / prev).is_file():
                # imported before under another name (the title changed, or the PDF came back)
                log(f"kept {prev}: record {show(rec.id)} was imported before under that name (delete it to "
                    "import the current version)")
                entries[prev] = old_meta[prev]
                result.unchanged.append(prev)
                bar.update(1)
                if limit and len(entries) >= limit:
                    break
                continue
            if name in entries:
                msg = f"record {show(rec.id)}: appears twice in the source; the first one is kept"
                result.skipped.append(msg)
                log(f"skipped {msg}")
                continue
            target = out / name
            if target.exists():
                if not target.is_file() or target.read_bytes() != data:
                    msg = (f"record {show(rec.id)}: {target} exists with different content; it is kept "
                           "(delete it to import this version)")
                    result.skipped.append(msg)
                    log(f"skipped {msg}")
                    continue
                result.unchanged.append(name)
            else:
                (stage / name).write_bytes(data)
                staged.append(name)
                result.new.append(name)
            entries[name] = rec.meta
            if total is not None and not limit and bar.total is None and total():
                bar.total = total()
            bar.update(1)
            if limit and len(entries) >= limit:
                break
        if not entries:
            if result.skipped:
                raise InputError(f"nothing imported: all {len(result.skipped)} record(s) were unusable; the first: "
                                 f"{result.skipped[0]}")
            raise InputError(f"nothing imported: the source has no documents (check the selection, e.g. --since)")
        meta = dict(old_meta)
        meta.update(entries)
        _commit(stage, out, staged, meta, old_meta)
    finally:
        bar.close()
        shutil.rmtree(stage, ignore_errors=True)
    return result


def _identity(meta: dict) -> tuple | None:
    """(source, id) of a meta.json entry this importer wrote, else None."""
    src, ident = meta.get("source"), meta.get("id")
    return (src, ident) if isinstance(src, str) and isinstance(ident, str) and ident else None


def _meta_limit() -> int:
    try:  # the size ingest reads a meta.json up to (larger ones are ignored, with a message)
        from ..ingest import MAX_META_BYTES
        return int(MAX_META_BYTES)
    except (ImportError, AttributeError, TypeError, ValueError):
        return 10 * 2**20


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _commit(stage: Path, out: Path, staged: list[str], meta: dict, old_meta: dict) -> None:
    size = len(json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8"))
    if size > _meta_limit():
        raise InputError(f"{out / META_FILE} would be {size / 2**20:.1f} MB, over the {_meta_limit() / 2**20:.0f} MB "
                         f"that `assistant ingest` reads ({len(meta):,} documents); nothing was written: import into "
                         "several folders (e.g. with --since or --limit)")
    if not out.exists():  # a new folder: complete in the staging folder, then one rename
        _write_json(stage / META_FILE, meta)
        os.chmod(stage, 0o755)  # mkdtemp made it private; an ordinary folder from here on
        os.replace(stage, out)
        return
    for name in staged:  # the documents first, meta.json last
        os.replace(stage / name, out / name)
    if meta != old_meta:
        tmp = stage / (META_FILE + ".tmp")
        _write_json(tmp, meta)
        os.replace(tmp, out / META_FILE)
