"""Export of a conversation (assistant/export.py): Markdown and DOCX from hand-built records, the
suffix check, atomic writes. The real CLI (`assistant ask --export`) is in test_export_real.py, the
browser's buttons in test_ui_export.py."""

from __future__ import annotations

import os
import re

import pytest
from docx import Document

from assistant import export
from assistant.conversation import Conversation, SavedTurn, SourceRef
from assistant.errors import InputError

NOW = 1_767_000_000.0  # 2025-12-29
CITED_1 = "Er is geen projectplan opgesteld omdat het traject al liep."
CITED_3 = "De kosten zijn 85.000 euro <script>alert(1)</script> [x](javascript:alert(2))."


def _turns() -> list[SavedTurn]:
    s1 = SourceRef(n=1, source="seeds/sezen_brief.pdf", title="Raadsinformatiebrief Sezen", start=10, end=90,
                   text="... " + CITED_1 + " ...", cited=CITED_1, page=4, date="2014-09-09",
                   label="Noordoostpolder · raadsinformatiebrief · 2014-09-09")
    s3 = SourceRef(n=3, source="uploads/kosten.docx", title="Kosten deelfietsen", start=0, end=70, text=CITED_3,
                   cited=CITED_3, page=None, date="2025-03-01", label="Zuiderzee", supported=False)
    nl = SavedTurn(question="Waarom is er geen projectplan voor Sezen?",
                   answer="Omdat het traject al liep [1].\n\nDe kosten staan in de brief [3].", language="nl",
                   quote=CITED_1, quote_n=1, sources=(s1, s3), models={"llm": "qwen2.5-coder-0.5b", "embedder": "gemma"},
                   generation="gen-7", asked_at=NOW - 60)
    en = SavedTurn(question="Who paints the zeppelin?", answer="That is not in the documents.", language="en",
                   abstained=True, asked_at=NOW - 30)
    broken = SavedTurn(question="And the bridge?", answer="", language="en", error="the index is being rebuilt",
                       asked_at=NOW - 10)
    return [nl, en, broken]


def _docx_text(path) -> str:
    return "\n".join(p.text for p in Document(str(path)).paragraphs)


def test_markdown_holds_question_quote_answer_and_each_source():
    md = export.markdown(Conversation(id="c1", title="Sezen en kosten", turns=tuple(_turns())), now=NOW)
    assert md.startswith("# Sezen en kosten\n")
    assert "Geëxporteerd op 2025-12-2" in md  # the header in the first turn's language
    assert "## 1. Waarom is er geen projectplan voor Sezen?" in md
    assert f"> «{CITED_1}» [1]" in md  # the quote, as a block quote with its number
    assert "Omdat het traject al liep [1]." in md and "De kosten staan in de brief [3]." in md
    assert "**Bronnen**" in md
    one = next(line for line in md.splitlines() if line.startswith("- [1] "))
    assert one == (f"- [1] Raadsinformatiebrief Sezen — Noordoostpolder · raadsinformatiebrief · 2014-09-09, p. 4: "
                   f"«{CITED_1}»  ")
    assert "document: `seeds/sezen_brief.pdf`" in md
    three = next(line for line in md.splitlines() if line.startswith("- [3] "))
    # a date the label lacks is added; no page: none shown; an unsupported citation says so
    assert "Zuiderzee · 2025-03-01" in three and "p. " not in three and "niet ondersteund" in three
    # Document text cannot become HTML or a link in a Markdown viewer.
    assert "<script>" not in md and "\\<script\\>" in md and "\\[x\\](javascript" in md
    # The English turns are in English: the abstention and the error say so.
    assert "**No answer: the documents do not hold it.**" in md and "That is not in the documents." in md
    assert "**No answer: the index is being rebuilt**" in md
    assert md.count("**Sources**") == 0  # neither English turn has sources
    assert "taalmodel qwen2.5-coder-0.5b" in md and "index gen-7" in md


def test_markdown_of_a_list_of_turns_is_titled_by_its_first_question():
    md = export.markdown(_turns()[1:], now=NOW)
    assert md.startswith("# Who paints the zeppelin?\n") and "Exported 2025-12-2" in md


def test_an_english_turn_with_sources_lists_them_under_sources():
    t = _turns()[0]
    en = SavedTurn(question="Why no projectplan?", answer="Because it was running [1].", language="en",
                   quote=t.quote, quote_n=1, sources=t.sources[:1], asked_at=NOW)
    md = export.markdown([en], now=NOW)
    assert "**Sources**" in md and "**Bronnen**" not in md and ", p. 4: «" in md


def test_docx_read_back_holds_the_same(tmp_path):
    path = export.write(Conversation(id="c1", title="Sezen en kosten", turns=tuple(_turns())), tmp_path / "a.docx",
                        now=NOW)
    doc = Document(str(path))
    assert doc.core_properties.title == "Sezen en kosten"
    paras = doc.paragraphs
    assert paras[0].style.name == "Title" and paras[0].text == "Sezen en kosten"
    headings = [p.text for p in paras if p.style.name.startswith("Heading")]
    assert headings[:2] == ["1. Waarom is er geen projectplan voor Sezen?", "Bronnen"]
    quote = next(p for p in paras if p.style.name == "Quote")
    assert quote.text == f"«{CITED_1}» [1]" and quote.runs[0].italic
    assert quote.paragraph_format.left_indent and quote.paragraph_format.left_indent > 0
    text = _docx_text(path)
    assert "Omdat het traject al liep [1]." in text and "De kosten staan in de brief [3]." in text
    s1 = next(p.text for p in paras if p.text.startswith("[1]\t"))
    assert "Raadsinformatiebrief Sezen" in s1 and "2014-09-09" in s1 and "p. 4" in s1 and CITED_1 in s1
    assert "document: seeds/sezen_brief.pdf" in s1
    s3 = next(p.text for p in paras if p.text.startswith("[3]\t"))
    assert CITED_3 in s3 and "2025-03-01" in s3  # in Word, document text is just text
    assert "No answer: the documents do not hold it." in text and "No answer: the index is being rebuilt" in text
    # Sources come after the answer they belong to, and before the next question.
    order = [text.index(x) for x in ("1. Waarom", f"«{CITED_1}»", "Omdat het traject", "[1]\tRaads", "2. Who paints")]
    assert order == sorted(order)


def test_docx_drops_control_characters_that_xml_cannot_hold(tmp_path):
    t = _turns()[0]
    bad = SourceRef(**{**t.sources[0].__dict__, "cited": "Zin\x00 met\x0b rommel.", "title": "Titel\x07"})
    path = export.write([SavedTurn(question="Vraag\x01?", answer="Antwoord [1].", sources=(bad,), asked_at=NOW)],
                        tmp_path / "x.docx", now=NOW)
    text = _docx_text(path)
    assert "Vraag?" in text and "«Zin met rommel.»" in text and "Titel —" in text


@pytest.mark.parametrize("name", ["a.md", "a.markdown", "A.MD", "a.docx"])
def test_write_picks_the_format_by_suffix(tmp_path, name):
    path = export.write(_turns(), tmp_path / name, now=NOW)
    data = path.read_bytes()
    if name.lower().endswith("docx"):
        assert data[:2] == b"PK" and "Waarom is er geen projectplan" in _docx_text(path)
    else:
        assert data.decode("utf-8").startswith("# Waarom is er geen projectplan voor Sezen?")
    assert sorted(os.listdir(tmp_path)) == [name]  # no temp file left beside it
    assert path.stat().st_mode & 0o777 == 0o644  # an ordinary file, not mkstemp's private one


@pytest.mark.parametrize("name", ["a.txt", "a.pdf", "answer", "a.md.bak"])
def test_other_suffixes_are_an_error_naming_them(tmp_path, name):
    with pytest.raises(InputError) as e:
        export.write(_turns(), tmp_path / name)
    suffix = os.path.splitext(name)[1] or "(none)"
    assert repr(suffix) in str(e.value) and ".md, .markdown, .docx" in str(e.value)
    assert os.listdir(tmp_path) == []


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "nope")) + ".*does not exist"):
        export.write(_turns(), tmp_path / "nope" / "a.md")


@pytest.mark.parametrize("name", ["a.md", "a.docx"])
def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path, monkeypatch, name):
    target = tmp_path / name
    target.write_bytes(b"old export")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        export.write(_turns(), target, now=NOW)
    assert target.read_bytes() == b"old export"
    assert os.listdir(tmp_path) == [name]  # the temp file was removed
    target.unlink()
    with pytest.raises(OSError):
        export.write(_turns(), target, now=NOW)
    assert os.listdir(tmp_path) == []  # no half-written file under the target's name either


def test_rewriting_replaces_the_whole_file(tmp_path):
    target = tmp_path / "a.md"
    target.write_text("x" * 100_000, encoding="utf-8")
    export.write(_turns()[1:2], target, now=NOW)
    assert target.read_text(encoding="utf-8") == export.markdown(_turns()[1:2], now=NOW)


def test_cli_bad_suffix_fails_before_any_model_loads(tmp_path, monkeypatch, capsys):
    """`assistant ask --export a.pdf` names the suffix at once (exit 2), though the index folder does
    not exist: nothing is loaded before the check."""
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "no-index"))
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "no-home"))
    assert main(["ask", "Waarom?", "--export", str(tmp_path / "a.pdf")]) == 2
    err = capsys.readouterr().err
    assert "'.pdf' is not one of .md, .markdown, .docx" in err and "a.pdf" in err
    assert main(["ask", "Waarom?", "--export", str(tmp_path / "missing" / "a.md")]) == 2
    assert f"the folder {tmp_path / 'missing'} does not exist" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
