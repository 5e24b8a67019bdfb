"""One PDF page, rendered to PNG or read as characters with their boxes, in a child process with
time and memory limits (pypdfium2, which pdfplumber brings along).

Why a child process: PDFium is C code working on an uploaded (possibly hostile) file; a page that
takes minutes or gigabytes to draw must not hold or kill the chat server. The child gets
RENDER_TIMEOUT_S of wall time (then it is killed), CPU and address-space limits, and the image is
at most MAX_IMAGE_PX on its longer side. The parent (`page_info`, `page_png`) runs this file as a
script, so the child imports only pypdfium2 and Pillow, never the assistant or Gradio.

The characters come from the page's text layer as PDFium reads it (each character with its box in
PDF points, origin bottom-left); highlight.py finds the cited sentence in them.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

RENDER_TIMEOUT_S = 20.0  # wall time for one page (drawing or reading its text), then the child is killed
CPU_LIMIT_S = 30  # RLIMIT_CPU of the child
MEMORY_LIMIT_BYTES = 1536 * 1024 * 1024  # RLIMIT_AS of the child: PDFium's bitmaps and caches
MAX_IMAGE_PX = 1800  # the page image's longer side, at most (A4 at 150 dpi is 1754 px high)
MAX_SCALE = 2.0  # pixels per PDF point, at most (144 dpi): small pages are not blown up further
MAX_CHARS = 200_000  # characters of one page's text layer read for boxes


NO_SUCH_PAGE = 3  # the child's exit status when the file has no such page


class RenderError(Exception):
    """The page could not be read or drawn within the limits (the message says which)."""

    def __init__(self, message: str, no_such_page: bool = False):
        super().__init__(message)
        self.no_such_page = no_such_page


@dataclass(frozen=True)
class PageInfo:
    pages: int  # pages in the file
    width: float  # of the page, in PDF points (as shown: rotation applied)
    height: float
    text: str  # the page's text layer, one entry per character of `boxes`
    boxes: tuple[tuple[float, float, float, float], ...]  # (left, bottom, right, top) per character, PDF points
    rotation: int = 0  # the page's /Rotate (0, 90, 180, 270): boxes are in the unrotated page's space

    def scale(self) -> float:
        """Pixels per PDF point of the page image (page_png draws at this scale)."""
        return image_scale(self.width, self.height)


def image_scale(width: float, height: float) -> float:
    longest = max(width, height, 1.0)
    return min(MAX_SCALE, MAX_IMAGE_PX / longest)


def _limits() -> None:
    """CPU and memory limits, set in the child before it runs (POSIX: preexec_fn; on Windows only the
    wall-time timeout bounds the child). `resource` is POSIX-only, so it is looked up here, on the
    POSIX path alone, not imported by the module (tests/test_portable.py)."""
    resource = importlib.import_module("resource")
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def _child(mode: str, path: Path, page: int) -> bytes:
    try:
        run = subprocess.run([sys.executable, "-I", str(Path(__file__).resolve()), mode, str(path), str(page)],
                             capture_output=True, timeout=RENDER_TIMEOUT_S,
                             preexec_fn=_limits if sys.platform != "win32" else None)
    except subprocess.TimeoutExpired:
        raise RenderError(f"page {page} of {path.name} took longer than {RENDER_TIMEOUT_S:.0f} s to read") from None
    if run.returncode != 0:
        why = run.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"page {page} of {path.name} could not be read ({why[-1] if why else f'exit {run.returncode}'})",
                          no_such_page=run.returncode == NO_SUCH_PAGE)
    return run.stdout


def page_info(path: Path, page: int) -> PageInfo:
    """Page count, size and text layer (characters with boxes) of 1-based `page`; RenderError when
    the file cannot be read or `page` is not one of its pages."""
    d = json.loads(_child("info", path, page))
    return PageInfo(d["pages"], d["width"], d["height"], d["text"], tuple(tuple(b) for b in d["boxes"]),
                    int(d.get("rotation") or 0))


def page_png(path: Path, page: int) -> bytes:
    """1-based `page` drawn as PNG, at most MAX_IMAGE_PX on its longer side."""
    return _child("png", path, page)


# -- the child -------------------------------------------------------------------------------------
def _open(path: str, page: int):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    if not 1 <= page <= len(pdf):
        print(f"page {page} is not in the file (it has {len(pdf)} pages)", file=sys.stderr)
        raise SystemExit(NO_SUCH_PAGE)
    return pdf, pdf[page - 1]


def _info(path: str, page: int) -> dict:
    pdf, p = _open(path, page)
    width, height = p.get_size()
    tp = p.get_textpage()
    n = min(tp.count_chars(), MAX_CHARS)
    text = tp.get_text_range(0, n) if n else ""
    if len(text) != n:  # a character outside the BMP, or PDFium's own line breaks: read one at a time
        text = "".join((tp.get_text_range(i, 1) or " ")[:1] for i in range(n))
    boxes = [tp.get_charbox(i) for i in range(n)]
    return {"pages": len(pdf), "width": width, "height": height, "text": text, "boxes": boxes,
            "rotation": p.get_rotation()}


def _png(path: str, page: int) -> bytes:
    import io

    pdf, p = _open(path, page)
    width, height = p.get_size()
    image = p.render(scale=image_scale(width, height)).to_pil()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


if __name__ == "__main__":
    mode, file, number = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "info":
        sys.stdout.write(json.dumps(_info(file, number)))
    else:
        sys.stdout.buffer.write(_png(file, number))
