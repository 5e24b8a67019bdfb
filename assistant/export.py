"""A conversation as a file to keep or share: Markdown or DOCX, each answer with its sources.

Per turn: the question, the quote (the source sentence the answer starts from, with its [n]), the
answer with its [n] markers, then the sources: `[n] Title — label, p. N: «cited sentence»` and the
document's id in the index, so a reader can find the passage again. Words in the turn's own language
(WORDS below; no model is involved). `write(conversation, path)` picks the format by the suffix and
replaces the file atomically; the CLI (`assistant ask --export`) and the browser's buttons use it.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Iterable

from .conversation import Conversation, SavedTurn, SourceRef, title_of
from .errors import InputError

FORMATS = {".md": "markdown", ".markdown": "markdown", ".docx": "docx"}

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "conversation": "Conversation",
        "exported": "Exported {date}",
        "question": "Question",
        "quote": "Source",
        "answer": "Answer",
        "sources": "Sources",
        "page": "p. {page}",
        "document": "document",
        "abstained": "No answer: the documents do not hold it.",
        "error": "No answer: {error}",
        "unsupported": "not supported by this passage: check it",
        "asked": "asked {date}",
        "model": "model {name}",
        "embedder": "embedder {name}",
        "generation": "index {generation}",
    },
    "nl": {
        "conversation": "Gesprek",
        "exported": "Geëxporteerd op {date}",
        "question": "Vraag",
        "quote": "Bron",
        "answer": "Antwoord",
        "sources": "Bronnen",
        "page": "p. {page}",
        "document": "document",
        "abstained": "Geen antwoord: de documenten bevatten het niet.",
        "error": "Geen antwoord: {error}",
        "unsupported": "niet ondersteund door deze passage: controleer het",
        "asked": "gevraagd op {date}",
        "model": "taalmodel {name}",
        "embedder": "embeddingmodel {name}",
        "generation": "index {generation}",
    },
}


def _w(lang: str, key: str, **values) -> str:
    table = WORDS.get(lang) or WORDS["en"]
    return table[key].format(**values) if values else table[key]


def _date(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


# Characters that are not allowed in XML 1.0 (python-docx refuses them): a document's text may hold
# stray control characters from a PDF; they are dropped, the rest is kept as it is.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_BAD.sub("", text or "")


def conversation_of(turns: "Conversation | Iterable[SavedTurn]", title: str = "") -> Conversation:
    """A Conversation for what is exported: as given, or a list of turns titled by its first question."""
    if isinstance(turns, Conversation):
        return turns
    turns = tuple(turns)
    first = turns[0] if turns else None
    return Conversation(id="", title=title or (title_of(first.question) if first else ""),
                        created=first.asked_at if first else 0.0, updated=turns[-1].asked_at if turns else 0.0,
                        turns=turns)


def _lang(conv: Conversation, lang: str | None) -> str:
    if lang in WORDS:
        return lang
    return conv.turns[0].language if conv.turns and conv.turns[0].language in WORDS else "en"


def source_line(s: SourceRef, lang: str) -> str:
    """`Title — label, p. N: «cited sentence»` (the label is "municipality · type · date"; a date the
    label does not hold is added)."""
    where = s.label
    if s.date and s.date not in where:
        where = " · ".join(p for p in (where, s.date) if p)
    text = s.title or s.source
    if where:
        text += f" — {where}"
    if s.page:
        text += ", " + _w(lang, "page", page=s.page)
    cited = _one_line(s.cited)
    if cited:
        text += f": «{cited}»"
    return text


def provenance(turn: SavedTurn) -> str:
    """When it was asked, and with which models and index generation (what there is of it)."""
    lang = turn.language
    parts = [_w(lang, "asked", date=_date(turn.asked_at))] if turn.asked_at else []
    if turn.models.get("llm"):
        parts.append(_w(lang, "model", name=turn.models["llm"]))
    if turn.models.get("embedder"):
        parts.append(_w(lang, "embedder", name=turn.models["embedder"]))
    if turn.generation:
        parts.append(_w(lang, "generation", generation=turn.generation))
    return " · ".join(parts)


# -- Markdown ---------------------------------------------------------------------------------------
# Text from documents and the model is shown as text: what could turn into HTML, a link, an image or
# a code span in a Markdown viewer is backslash-escaped (CommonMark shows an escaped character as
# itself). The answer's own [n] markers are kept as they are: "[1]" alone is no link.
_MD_SPECIAL = re.compile(r"([\\`<>\[\]])")
_MARKER = re.compile(r"\\\[(\d+)\\\](?![(\[:])")


def md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text or "")


def _md_answer(text: str) -> str:
    return _MARKER.sub(r"[\1]", md_text(text))


def _md_code(text: str) -> str:
    """A code span holding `text` literally (its fence longer than any run of backticks in it)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown(conversation: "Conversation | Iterable[SavedTurn]", lang: str | None = None,
             now: float | None = None) -> str:
    """The conversation as Markdown. `lang`: the header's language (default: the first turn's); each
    turn is written in its own language."""
    conv = conversation_of(conversation)
    head = _lang(conv, lang)
    out = [f"# {md_text(_one_line(conv.title) or _w(head, 'conversation'))}", "",
           f"_{_w(head, 'exported', date=_date(time.time() if now is None else now))}_", ""]
    for i, t in enumerate(conv.turns, 1):
        lang_t = t.language if t.language in WORDS else head
        out += [f"## {i}. {md_text(_one_line(t.question))}", ""]
        if t.quote:
            n = f" [{t.quote_n}]" if t.quote_n is not None else ""
            out += [f"> «{md_text(_one_line(t.quote))}»{n}", ""]
        if t.error:
            out += [f"**{md_text(_w(lang_t, 'error', error=_one_line(t.error)))}**", ""]
        else:
            if t.abstained:
                out += [f"**{_w(lang_t, 'abstained')}**", ""]
            paragraphs = [p.strip() for p in re.split(r"\n\s*\n", (t.answer or "").strip()) if p.strip()]
            for p in paragraphs:
                out += [_md_answer(p), ""]
        if t.sources:
            out += [f"**{_w(lang_t, 'sources')}**", ""]
            for s in t.sources:
                flag = "" if s.supported else f" ({_w(lang_t, 'unsupported')})"
                out.append(f"- [{s.n}] {md_text(source_line(s, lang_t))}{flag}  ")
                out.append(f"  {_w(lang_t, 'document')}: {_md_code(s.source)}")
            out.append("")
        made = provenance(t)
        if made:
            out += [f"_{md_text(made)}_", ""]
    return "\n".join(out).rstrip() + "\n"


# -- DOCX -------------------------------------------------------------------------------------------
def docx_bytes(conversation: "Conversation | Iterable[SavedTurn]", lang: str | None = None,
               now: float | None = None) -> bytes:
    """The conversation as a .docx (python-docx's default template: opens in Word and LibreOffice)."""
    from docx import Document
    from docx.shared import Cm, Pt, RGBColor

    conv = conversation_of(conversation)
    head = _lang(conv, lang)
    when = time.time() if now is None else now
    doc = Document()
    title = _one_line(conv.title) or _w(head, "conversation")
    doc.core_properties.title = _clean(title)
    doc.core_properties.language = head
    doc.add_heading(_clean(title), level=0)
    doc.add_paragraph(_w(head, "exported", date=_date(when))).runs[0].italic = True
    for i, t in enumerate(conv.turns, 1):
        lang_t = t.language if t.language in WORDS else head
        doc.add_heading(_clean(f"{i}. {_one_line(t.question)}"), level=1)
        if t.quote:
            p = doc.add_paragraph(style="Quote")
            p.paragraph_format.left_indent = Cm(1)
            run = p.add_run(_clean(f"«{_one_line(t.quote)}»"))
            run.italic = True
            if t.quote_n is not None:
                p.add_run(f" [{t.quote_n}]").bold = True
        if t.error:
            doc.add_paragraph().add_run(_clean(_w(lang_t, "error", error=_one_line(t.error)))).bold = True
        else:
            if t.abstained:
                doc.add_paragraph().add_run(_w(lang_t, "abstained")).bold = True
            for para in re.split(r"\n\s*\n", (t.answer or "").strip()):
                if para.strip():
                    doc.add_paragraph(_clean(para.strip()))
        if t.sources:
            doc.add_heading(_w(lang_t, "sources"), level=2)
            for s in t.sources:
                # The list's numbers are the answer's own [n] (an answer may cite [1] and [3] only), so
                # they are written, with a hanging indent, instead of Word's automatic numbering.
                p = doc.add_paragraph()
                p.paragraph_format.left_indent = Cm(1)
                p.paragraph_format.first_line_indent = Cm(-1)
                p.add_run(f"[{s.n}]\t").bold = True
                p.add_run(_clean(source_line(s, lang_t)))
                if not s.supported:
                    p.add_run(_clean(f" ({_w(lang_t, 'unsupported')})")).italic = True
                p.add_run("\n" + _w(lang_t, "document") + ": ")
                mono = p.add_run(_clean(s.source))
                mono.font.name = "Courier New"
                mono.font.size = Pt(9)
        made = provenance(t)
        if made:
            r = doc.add_paragraph().add_run(_clean(made))
            r.italic = True
            r.font.size = Pt(9)
            r.font.color.rgb = RGBColor(0x59, 0x59, 0x59)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# -- files ------------------------------------------------------------------------------------------
def format_of(path: str | Path) -> str:
    """"markdown" or "docx" for a file name; any other suffix is an InputError naming it."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"cannot export to {Path(path).name!r}: the suffix {suffix or '(none)'!r} is not one of "
                         f"{', '.join(FORMATS)}; name the file e.g. answer.md or answer.docx")
    return FORMATS[suffix]


def check_path(path: str | Path) -> Path:
    """The export's path, checked before any work (a bad suffix, a missing folder): an InputError."""
    path = Path(path).expanduser()
    format_of(path)
    if path.is_dir():
        raise InputError(f"cannot export to {path}: it is a folder; give a file name ending in .md or .docx")
    if not path.parent.is_dir():
        raise InputError(f"cannot export to {path}: the folder {path.parent} does not exist; create it first")
    return path


def render(conversation: "Conversation | Iterable[SavedTurn]", fmt: str, lang: str | None = None,
           now: float | None = None) -> bytes:
    if fmt == "markdown":
        return markdown(conversation, lang, now).encode("utf-8")
    if fmt == "docx":
        return docx_bytes(conversation, lang, now)
    raise InputError(f"unknown export format {fmt!r}: use markdown or docx")


def write(conversation: "Conversation | Iterable[SavedTurn]", path: str | Path, lang: str | None = None,
          now: float | None = None) -> Path:
    """Write the conversation to `path` as Markdown (.md, .markdown) or DOCX (.docx). Atomic: the file
    is written beside its target and renamed over it, so a failure leaves the old file (or none),
    never half of one."""
    path = check_path(path)
    data = render(conversation, format_of(path), lang, now)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); an export is an ordinary file: the old file's mode, or rw-r--r--.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
