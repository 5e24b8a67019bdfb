"""Page numbers of paged documents (PDFs), kept as character offsets into the document text.

A PDF's text is its pages' texts joined by a blank line. `Document.pages` holds the offset where
each page starts (page n starts at pages[n - 1]), so any span of the text (a chunk, an excerpt, a
citation) maps to the page a reader would turn to, with a bisection and no page text stored twice.
"""

from __future__ import annotations

import bisect
from typing import Sequence

SEPARATOR = "\n\n"  # between pages; the same join ingest used before pages were recorded (same text, same sha256)


def join_pages(pages: Sequence[str]) -> tuple[str, tuple[int, ...]]:
    """The document text and the offset where each page starts (an empty page starts where the next one does)."""
    starts, pos = [], 0
    for i, page in enumerate(pages):
        if i:
            pos += len(SEPARATOR)
        starts.append(pos)
        pos += len(page)
    return SEPARATOR.join(pages), tuple(starts)


def page_at(starts: Sequence[int], offset: int) -> int | None:
    """The 1-based page holding character `offset`, or None for a document without pages. An offset
    in the blank line between two pages belongs to the page before it; on empty pages (several pages
    starting at one offset) the last of them, the one whose text is there."""
    if not starts:
        return None
    return max(1, bisect.bisect_right(starts, offset))


def ranges(numbers: Sequence[int]) -> str:
    """"1-3, 7" for [1, 2, 3, 7]: page lists in messages stay short."""
    out: list[str] = []
    nums = sorted(set(numbers))
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(out)
