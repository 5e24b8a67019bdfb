"""HTML: a small linear-time scanner (Python's html.parser is quadratic on some malformed input)."""

from __future__ import annotations

import html
import re

from .text import decode

SUFFIXES = (".html", ".htm")


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


def read(data: bytes, name: str, **_) -> str:
    text = html_to_text(decode(data, name))
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()
