"""Where the cited sentence is on a PDF page: boxes over the page image, from its text layer.

The index holds the text pypdf read (pages joined, hyphenated words and line breaks as pypdf gave
them); the page's characters here are PDFium's (its own spaces, line breaks, soft hyphens). So both
are compared on their letters and digits only (NFKC, lower case: ligatures, case, spacing, hyphens
and punctuation do not matter). The sentence's letters are looked for in the page's letters; when
they are not there in one piece (the layers disagree on a word), the runs of at least MIN_RUN
letters they share are marked, if together they cover MIN_COVER of the sentence.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

MIN_RUN = 12  # letters: a shorter shared run could be anywhere on the page
MIN_COVER = 0.6  # share of the sentence's letters the runs must cover to be shown
MAX_NEEDLE = 4000  # letters of the sentence compared (a cited span is a sentence or a few)
PAD = 1.0  # PDF points around each box


@dataclass(frozen=True)
class Box:
    """A rectangle over the page as fractions of its width and height, from the top left (0..1)."""
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class Found:
    boxes: tuple[Box, ...]  # one per line of the sentence on the page
    exact: bool  # the whole sentence was found in one piece (else: the runs it shares with the page)


def _letters(text: str) -> tuple[str, list[int]]:
    """The letters and digits of `text`, lower case, and for each the index of its character."""
    out, where = [], []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).lower():
            if c.isalnum():
                out.append(c)
                where.append(i)
    return "".join(out), where


def find(page_text: str, char_boxes, needle: str, width: float, height: float) -> Found:
    """Boxes over the characters of `page_text` (each with its (left, bottom, right, top) box in
    PDF points in `char_boxes`) that spell `needle`; Found((), False) when it is not on the page."""
    hay, where = _letters(page_text)
    want, _ = _letters(needle)
    want = want[:MAX_NEEDLE]
    if not want or not hay or width <= 0 or height <= 0:
        return Found((), False)
    at = hay.find(want)
    if at >= 0:
        spans, exact = [(at, at + len(want))], True
    else:
        blocks = difflib.SequenceMatcher(None, hay, want, autojunk=False).get_matching_blocks()
        spans = [(b.a, b.a + b.size) for b in blocks if b.size >= min(MIN_RUN, len(want))]
        if sum(b - a for a, b in spans) < MIN_COVER * len(want):
            return Found((), False)
        exact = False
    chars = [i for a, b in spans for i in _covering(page_text, where[a], where[b - 1])]
    return Found(tuple(_to_box(r, width, height) for r in _lines(chars, char_boxes)), exact)


def _covering(text: str, first: int, last: int) -> range:
    """The characters from `first` to `last` (the hyphens and spaces between the letters too) and the
    punctuation right after the last one (the sentence's full stop, a closing quote)."""
    end = last + 1
    while end < len(text) and end - last <= 2 and not text[end].isspace() and not text[end].isalnum():
        end += 1
    return range(first, end)


def _lines(chars: list[int], char_boxes) -> list[list[float]]:
    """The characters' boxes merged into one rectangle per line (a new line where a character is
    not level with the current rectangle, or lies to the left of it)."""
    rects: list[list[float]] = []
    for i in chars:
        if i >= len(char_boxes):
            continue
        left, bottom, right, top = char_boxes[i]
        if right <= left or top <= bottom:
            continue  # a character PDFium generated (a space, a line break): no box
        mid = (top + bottom) / 2
        cur = rects[-1] if rects else None
        if cur and cur[1] <= mid <= cur[3] and left >= cur[0] - 1:
            cur[0], cur[1], cur[2], cur[3] = min(cur[0], left), min(cur[1], bottom), max(cur[2], right), max(cur[3], top)
        else:
            rects.append([left, bottom, right, top])
    return rects


def _to_box(r: list[float], width: float, height: float) -> Box:
    left, bottom, right, top = r[0] - PAD, r[1] - PAD, r[2] + PAD, r[3] + PAD

    def clip(v: float) -> float:
        return min(1.0, max(0.0, v))

    x0, x1 = clip(left / width), clip(right / width)
    y0, y1 = clip((height - top) / height), clip((height - bottom) / height)
    return Box(round(x0, 5), round(y0, 5), round(x1 - x0, 5), round(y1 - y0, 5))
