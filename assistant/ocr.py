"""OCR for PDF pages without a text layer (scanned letters, Woo releases): Tesseract's Dutch model.

ingest.py reads every page's text layer with pypdf. A page whose layer has (almost) no text and that
shows an image is rendered with PDFium (pypdfium2: a wheel with PDFium inside, no system library)
and read by Tesseract (Debian packages tesseract-ocr + tesseract-ocr-nld) through pytesseract, page
by page, so a mixed PDF keeps its text layer where it has one. A page with neither text nor an image
is blank (or vector art): there is nothing for OCR to read, so it is left empty without running it.

When Tesseract or its Dutch model is missing, a PDF that needs OCR is skipped with an InputError
saying how to install them on this system (install_hint); a PDF that needs none is read as before.
Tesseract is the `tesseract` on PATH, or the program $TESSERACT_CMD names; on Windows, whose
installers do not put it on PATH, also the default install folders (tesseract_cmd).

Limits (hostile or huge files; the pypdf limits in ingest.py apply first): at most MAX_OCR_PAGES
pages are OCR'd per file, each page is rendered at DPI but never to more than MAX_PIXELS pixels (a
poster-sized page is rendered at a lower resolution), and one page may take Tesseract at most
PAGE_TIMEOUT_S seconds.

OCR costs seconds a page (README, "Scanned PDFs"), and ingest reads every file of a folder again on
each run (and the browser re-reads all uploads on each upload). So the text of every OCR'd page is
cached when a cache folder is given (the CLI and the browser use $ASSISTANT_HOME/ocr/): keyed by the
sha256 of the PDF's bytes, the page, and the engine (Tesseract version, language, resolution), so a
changed file or another Tesseract reads again and an unchanged one is never OCR'd twice.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .errors import InputError
from .pages import ranges

LANG = "nld"
PACKAGES = "tesseract-ocr tesseract-ocr-nld"
INSTALL = f"sudo apt-get install {PACKAGES}"
DPI = 300  # Tesseract's accuracy is best around 300 dpi for body text
MAX_PIXELS = 25_000_000  # A4 at 300 dpi is 8.7 million pixels (8.7 MB in grey); A3 17.4
MIN_LAYER_CHARS = 20  # a text layer with fewer non-space characters is a stamp or a page number, not the page
MAX_OCR_PAGES = 1_000  # per file: at the few seconds a page measured here, about an hour
PAGE_TIMEOUT_S = 180

# (file name, pages done, pages to OCR in this file): called before each page and once at the end.
PageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PdfPages:
    texts: tuple[str, ...]  # each page's text: its text layer, or what OCR read
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text came from OCR


def _chars(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


def needs_ocr(layer_text: str) -> bool:
    return _chars(layer_text) < MIN_LAYER_CHARS


TESSERACT_ENV = "TESSERACT_CMD"
UB_MANNHEIM = "https://github.com/UB-Mannheim/tesseract/wiki"


def install_hint(platform: str | None = None) -> str:
    """How to install Tesseract with its Dutch model on this system (`platform`: sys.platform)."""
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return (f"install it with the UB Mannheim installer ({UB_MANNHEIM}), selecting the Dutch language "
                f"under additional language data, or set {TESSERACT_ENV} to the path of tesseract.exe")
    if platform == "darwin":
        return f"install it with Homebrew (brew install tesseract tesseract-lang), or set {TESSERACT_ENV}"
    return f"install the Debian packages {PACKAGES} ({INSTALL}), or set {TESSERACT_ENV}"


def tesseract_cmd(environ=None) -> str | None:
    """The Tesseract program to run: $TESSERACT_CMD when set (as given, so a wrong path is named in
    the error); else None, meaning `tesseract` on PATH (pytesseract's default), except on Windows
    when it is not on PATH: the first of the default install folders that holds tesseract.exe
    (UB Mannheim's installer and Chocolatey: Program Files; an install for one user: LocalAppData)."""
    env = os.environ if environ is None else environ
    given = env.get(TESSERACT_ENV, "").strip().strip('"')
    if given:
        return given
    if os.name != "nt" or shutil.which("tesseract"):
        return None
    folders = [env.get("ProgramFiles"), r"C:\Program Files", env.get("ProgramFiles(x86)"), r"C:\Program Files (x86)",
               os.path.join(env["LOCALAPPDATA"], "Programs") if env.get("LOCALAPPDATA") else None]
    for folder in dict.fromkeys(f for f in folders if f):
        exe = os.path.join(folder, "Tesseract-OCR", "tesseract.exe")
        if os.path.isfile(exe):
            return exe
    return None


def _pytesseract():
    """pytesseract, pointed at tesseract_cmd() when that finds one (otherwise left as it is)."""
    import pytesseract

    cmd = tesseract_cmd()
    if cmd:
        pytesseract.pytesseract.tesseract_cmd = cmd
    return pytesseract


@functools.lru_cache(maxsize=1)
def missing() -> str:
    """Why OCR cannot run on this machine, as the end of a sentence naming the fix; "" when it can."""
    try:
        pytesseract = _pytesseract()
    except ImportError:
        return "the Python package pytesseract is missing (run `pip install -e .` in the project)"
    try:
        langs = pytesseract.get_languages(config="")
    except pytesseract.TesseractNotFoundError:
        cmd = pytesseract.pytesseract.tesseract_cmd
        where = f" (no program at {cmd})" if os.environ.get(TESSERACT_ENV, "").strip() else ""
        return f"Tesseract is not installed{where}: {install_hint()}"
    except Exception as e:  # a broken install: tesseract runs but fails
        return f"Tesseract does not run ({type(e).__name__}: {e}): reinstall it ({install_hint()})"
    if LANG not in langs:
        return f"Tesseract's Dutch model ({LANG}) is not installed: {_dutch_hint()}"
    return ""


def _dutch_hint(platform: str | None = None) -> str:
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return (f"run the UB Mannheim installer ({UB_MANNHEIM}) again and select the Dutch language, or put "
                "nld.traineddata (github.com/tesseract-ocr/tessdata_fast) in the tessdata folder next to tesseract.exe")
    if platform == "darwin":
        return "install it with Homebrew (brew install tesseract-lang)"
    return f"install the Debian package tesseract-ocr-nld ({INSTALL})"


@functools.lru_cache(maxsize=1)
def engine() -> str:
    """What produced the text (part of the cache key): a new Tesseract or other settings read again."""
    pytesseract = _pytesseract()

    return f"tesseract-{pytesseract.get_tesseract_version()}-{LANG}-{DPI}dpi-{MAX_PIXELS}px"


def read_pages(data: bytes, name: str, layer: Sequence[str], *, max_chars: int,
               on_page: PageProgress | None = None, cache: Path | None = None) -> PdfPages:
    """The pages' texts: `layer` (pypdf's text of each page, stripped), with the pages that have no
    text layer but show an image replaced by what Tesseract reads on them. Raises InputError (the
    file named) when OCR is needed but cannot run, exceeds a limit, or the text gets longer than
    max_chars."""
    candidates = [i for i, t in enumerate(layer) if needs_ocr(t)]
    if not candidates:
        return PdfPages(tuple(layer))
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if all(needs_ocr(t) for t in layer):
            raise InputError(f"{name}: no text layer, and PDFium cannot open the file to read it by OCR ({e})") from e
        return PdfPages(tuple(layer))  # a damaged file pypdf could half read: keep what it read
    try:
        todo = [i for i in candidates if i < len(pdf) and _shows_image(pdf, i)]
        if not todo:
            return PdfPages(tuple(layer))
        listed = ranges([i + 1 for i in todo])
        if len(todo) > MAX_OCR_PAGES:
            raise InputError(f"{name}: {len(todo):,} scanned pages need OCR, over the limit of {MAX_OCR_PAGES:,} "
                             "for one file; split it into smaller files")
        why = missing()
        if why:
            raise InputError(f"{name}: page{'s' if len(todo) > 1 else ''} {listed} ha{'ve' if len(todo) > 1 else 's'} "
                             f"no text layer (scanned) and need{'' if len(todo) > 1 else 's'} OCR, but {why}; "
                             "then ingest the file again")
        key = hashlib.sha256(data).hexdigest()
        texts, read, total = list(layer), [], sum(len(t) for t in layer)
        for k, i in enumerate(todo):
            if on_page:
                on_page(name, k, len(todo))
            text = _cached(cache, key, i)
            if text is None:
                text = recognise(_render(pdf, i, name), name, i + 1)
                _store(cache, key, i, text)
            text = text.strip()
            if _chars(text) > _chars(layer[i]):  # the scan shows more than the stamp on its layer
                total += len(text) - len(texts[i])
                texts[i] = text
                read.append(i + 1)
            if total > max_chars:
                raise InputError(f"{name}: more than {max_chars:,} characters of text, over the limit of "
                                 f"{max_chars:,} for one document; split it into smaller files")
        if on_page:
            on_page(name, len(todo), len(todo))
        return PdfPages(tuple(texts), tuple(read))
    finally:
        pdf.close()


def recognise(image, name: str = "image", page: int = 1) -> str:
    """Tesseract's text of one page image (PIL), in Dutch."""
    import pytesseract.pytesseract as runner

    pytesseract = _pytesseract()

    # Tesseract's OpenMP threads spin-wait for each other: on this shared 2-core VM one A4 page took
    # 3.0-4.1 s with the default threads and 0.9-1.0 s with OMP_THREAD_LIMIT=1 (3 runs each). pytesseract
    # starts tesseract with env=pytesseract.pytesseract.environ: a copy with the limit goes there, so
    # this process's own environment (FAISS's and torch's OpenMP) is left alone. A limit the user set wins.
    runner.environ = {**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")}
    try:
        return pytesseract.image_to_string(image, lang=LANG, timeout=PAGE_TIMEOUT_S)
    except pytesseract.TesseractError as e:
        raise InputError(f"{name}: Tesseract failed on page {page} ({e.message or e.status})") from e
    except RuntimeError as e:  # pytesseract's timeout: the process is killed
        raise InputError(f"{name}: OCR of page {page} took longer than {PAGE_TIMEOUT_S} s (a huge or very "
                         "dense page?); split the file or render that page smaller") from e


def _shows_image(pdf, i: int) -> bool:
    import pypdfium2.raw as pdfium_c

    page = pdf[i]
    try:
        # Images inside form XObjects count too (some scanners wrap the scan in one).
        return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3))
    finally:
        page.close()


def _render(pdf, i: int, name: str):
    """Page i as a greyscale PIL image at DPI, or smaller when that would exceed MAX_PIXELS."""
    page = pdf[i]
    try:
        w, h = page.get_size()  # points (1/72 inch)
        if not (w > 0 and h > 0):
            raise InputError(f"{name}: page {i + 1} has no size ({w} x {h} points) and cannot be rendered for OCR")
        scale = min(DPI / 72, math.sqrt(MAX_PIXELS / (w * h)))
        bitmap = page.render(scale=scale, grayscale=True)
        return bitmap.to_pil().copy()  # a copy: the PIL image must not outlive the bitmap's buffer
    finally:
        page.close()


# -- cache ---------------------------------------------------------------------------------------
def _cache_file(cache: Path, key: str, i: int) -> Path:
    tag = hashlib.sha256(engine().encode()).hexdigest()[:12]
    return Path(cache) / key[:2] / f"{key}-{tag}-p{i + 1}.txt"


def _cached(cache: Path | None, key: str, i: int) -> str | None:
    if cache is None:
        return None
    try:
        return _cache_file(cache, key, i).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _store(cache: Path | None, key: str, i: int, text: str) -> None:
    """Best effort (a read-only or full cache folder costs only the time to OCR again): temp file +
    rename, so a killed ingest never leaves half a page that a later run would take as the text."""
    if cache is None:
        return
    path = _cache_file(cache, key, i)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
