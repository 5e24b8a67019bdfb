"""OCR of scanned PDFs: page by page, the text layer where a page has one, Tesseract where it has
none; progress per page, a cache, limits, and a clear skip when Tesseract is missing.

The fast tests replace Tesseract by a function that says which page it was shown (so they check
the plumbing, not OCR quality); the tests marked with `tesseract` run the real Tesseract and its
Dutch model on generated scans, and skip with the install command when it is not there."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from scans import BRIDGE_WORDS, PAGE_1, PAGE_2, concat_pdfs, scanned_pdf, text_pdf

from assistant import ingest, ocr
from assistant.errors import InputError
from assistant.readers import limits
from assistant.ingest import load_file, load_folder


def _has_dutch_tesseract() -> bool:
    cmd = ocr.tesseract_cmd() or shutil.which("tesseract")  # Windows: not on PATH, found where it installs
    if not cmd:
        return False
    try:
        out = subprocess.run([cmd, "--list-langs"], capture_output=True, text=True)
    except OSError:  # $TESSERACT_CMD names no program
        return False
    return "nld" in out.stdout.split()


needs_tesseract = pytest.mark.skipif(
    not _has_dutch_tesseract(),
    reason=f"Tesseract with its Dutch model is not installed: {ocr.INSTALL} (./run.sh test does this as root)")


@pytest.fixture
def fake_tesseract(monkeypatch):
    """recognise() replaced: returns a recognisable text per rendered page and counts its calls."""
    calls = []

    def recognise(image, name="image", page=1):
        calls.append((name, page, image.size))
        return f"Gescande tekst van pagina {page}: de gemeente antwoordt op de vragen van de raad.\n\f"

    monkeypatch.setattr(ocr, "missing", lambda: "")
    monkeypatch.setattr(ocr, "engine", lambda: "fake-engine")
    monkeypatch.setattr(ocr, "recognise", recognise)
    return calls


def test_mixed_pdf_keeps_its_text_layer_and_ocrs_only_the_scanned_page(tmp_path, fake_tesseract):
    layer = "Raadsbrief over de begroting van 2026 en de reserves van de gemeente"
    path = tmp_path / "gemengd.pdf"
    path.write_bytes(concat_pdfs(text_pdf([layer]), scanned_pdf(["Tweede pagina, gescand."])))
    progress = []
    doc = load_file(path, "up/gemengd.pdf", on_page=lambda *a: progress.append(a))
    assert [(n, p) for n, p, _ in fake_tesseract] == [("gemengd.pdf", 2)]  # only the scanned page
    assert doc.ocr_pages == (2,)
    assert len(doc.pages) == 2 and doc.pages[0] == 0
    page1, page2 = doc.text[:doc.pages[1]], doc.text[doc.pages[1]:]
    assert layer in page1 and "Gescande tekst van pagina 2" in page2 and "\f" not in doc.text
    assert progress == [("gemengd.pdf", 0, 1), ("gemengd.pdf", 1, 1)]
    # an A4 page is rendered at 300 dpi for Tesseract
    (_, _, (w, h)), = fake_tesseract
    assert abs(w - 2480) <= 3 and abs(h - 3508) <= 3


def test_text_pdf_text_is_unchanged_and_gets_page_offsets(tmp_path, fake_tesseract):
    """A PDF with a text layer reads exactly as before pages existed (same text, same sha256, so an
    existing index keeps its vectors), now with where each page starts; no OCR runs."""
    pages = ["Eerste pagina over de raad en de begroting", "Tweede pagina over het zwembad en de kosten",
             "Derde pagina over de fietsbrug en de planning"]
    path = tmp_path / "tekst.pdf"
    path.write_bytes(text_pdf(pages))
    doc = load_file(path)
    assert doc.text == "\n\n".join(pages) and doc.ocr_pages == () and fake_tesseract == []
    assert doc.pages == (0, len(pages[0]) + 2, len(pages[0]) + len(pages[1]) + 4)


def test_blank_page_without_an_image_is_not_ocrd(tmp_path, fake_tesseract):
    path = tmp_path / "leeg.pdf"
    path.write_bytes(text_pdf(["Een pagina met tekst over de gemeenteraad van Lochem", ""]))
    doc = load_file(path)
    assert fake_tesseract == [] and doc.ocr_pages == () and len(doc.pages) == 2


def test_ocr_cache_reads_each_page_once(tmp_path, fake_tesseract):
    path = tmp_path / "scan.pdf"
    path.write_bytes(scanned_pdf(["Pagina een.", "Pagina twee."]))
    cache = tmp_path / "cache"
    first = load_file(path, ocr_cache=cache)
    assert len(fake_tesseract) == 2 and first.ocr_pages == (1, 2)
    again = load_file(path, ocr_cache=cache)
    assert len(fake_tesseract) == 2 and again == first  # from the cache: Tesseract not run again
    path.write_bytes(scanned_pdf(["Pagina een, gewijzigd.", "Pagina twee."]))  # another file: read again
    load_file(path, ocr_cache=cache)
    assert len(fake_tesseract) == 4
    assert not list(cache.rglob("*.tmp"))


def test_missing_tesseract_skips_the_file_with_the_packages_named(tmp_path, monkeypatch):
    monkeypatch.setattr(ocr, "missing", lambda: f"Tesseract is not installed: install the Debian packages "
                                                f"{ocr.PACKAGES} ({ocr.INSTALL})")
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf(["Pagina een.", "Pagina twee.", "Pagina drie."]))
    (tmp_path / "tekst.pdf").write_bytes(text_pdf(["Een gewone pagina met een tekstlaag over de raad"]))
    docs, problems = load_folder(tmp_path, scope="s")
    assert [d.source for d in docs] == ["s/tekst.pdf"]  # a PDF that needs no OCR is read as before
    (p,) = problems
    assert p.source == "s/scan.pdf"
    assert "scan.pdf: pages 1-3 have no text layer (scanned) and need OCR" in p.reason
    assert "tesseract-ocr tesseract-ocr-nld" in p.reason and "apt-get install" in p.reason


def test_missing_tesseract_is_detected(monkeypatch):
    import pytesseract

    ocr.missing.cache_clear()
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    try:
        why = ocr.missing()
    finally:
        ocr.missing.cache_clear()
    assert "Tesseract is not installed" in why and ocr.INSTALL in why


def test_ocr_page_limit(tmp_path, fake_tesseract, monkeypatch):
    monkeypatch.setattr(ocr, "MAX_OCR_PAGES", 2)
    path = tmp_path / "dik.pdf"
    path.write_bytes(scanned_pdf(["Een.", "Twee.", "Drie."]))
    with pytest.raises(InputError, match=r"dik.pdf: 3 scanned pages need OCR, over the limit of 2"):
        load_file(path)
    assert fake_tesseract == []  # refused before any work


def test_huge_page_is_rendered_within_the_pixel_budget(tmp_path, monkeypatch):
    """A poster-sized page is rendered at a lower resolution instead of a huge bitmap."""
    from PIL import Image

    sizes = []
    monkeypatch.setattr(ocr, "missing", lambda: "")
    monkeypatch.setattr(ocr, "engine", lambda: "fake-engine")
    monkeypatch.setattr(ocr, "recognise", lambda image, name="", page=1: sizes.append(image.size) or "")
    monkeypatch.setattr(ocr, "MAX_PIXELS", 1_000_000)
    out = tmp_path / "poster.pdf"
    Image.new("L", (2000, 2000), 255).save(out, "PDF", resolution=72)  # 2000 x 2000 points: 69 MP at 300 dpi
    with pytest.raises(InputError, match="poster.pdf: no text found"):
        load_file(out)
    (w, h), = sizes
    assert 990 <= w <= 1001 and w * h <= 1_002_001


def test_ocr_text_counts_against_the_document_limit(tmp_path, fake_tesseract, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CHARS", 100)
    path = tmp_path / "lang.pdf"
    path.write_bytes(scanned_pdf(["Een.", "Twee."]))
    with pytest.raises(InputError, match=r"lang.pdf: more than 100 characters of text"):
        load_file(path)


@needs_tesseract
def test_tesseract_runs_with_one_openmp_thread(monkeypatch):
    """Its OpenMP threads spin-wait on a busy machine (4x slower here): the tesseract process gets
    OMP_THREAD_LIMIT=1, this process's environment stays as it was."""
    import os

    import pytesseract.pytesseract as runner
    from scans import page_image

    envs = []
    real = runner.subprocess.Popen
    monkeypatch.setattr(runner.subprocess, "Popen", lambda *a, **kw: envs.append(kw.get("env")) or real(*a, **kw))
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    text = ocr.recognise(page_image("De raad vergadert op dinsdag."))
    assert "raad vergadert" in text
    assert envs and all(e["OMP_THREAD_LIMIT"] == "1" for e in envs)
    assert "OMP_THREAD_LIMIT" not in os.environ


@needs_tesseract
def test_real_tesseract_reads_a_generated_dutch_scan(tmp_path):
    import time

    path = tmp_path / "brief.pdf"
    path.write_bytes(scanned_pdf([PAGE_1, PAGE_2]))
    t = time.perf_counter()
    doc = load_file(path)
    seconds = time.perf_counter() - t
    assert doc.ocr_pages == (1, 2) and len(doc.pages) == 2
    page1, page2 = doc.text[:doc.pages[1]], doc.text[doc.pages[1]:]
    for word in BRIDGE_WORDS + ("maart 2027", "42 meter"):
        assert word in page2 and word not in page1, (word, page2)
    assert "zwembad" in page1 and "zwembad" not in page2
    # OCR quality on a clean scan: nearly every word of the source is read exactly
    words = set(PAGE_2.replace(".", " ").replace(",", " ").split())
    read = set(page2.replace(".", " ").replace(",", " ").split())
    assert len(words & read) / len(words) > 0.9, words - read
    print(f"\nOCR: 2 A4 pages at {ocr.DPI} dpi in {seconds:.1f} s ({seconds / 2:.1f} s a page)")
