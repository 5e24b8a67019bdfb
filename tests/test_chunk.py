import pytest

from assistant.chunk import chunk_document
from assistant.index import document_chunks
from assistant.ingest import load_folder, sha256_text
from assistant.types import Document


@pytest.mark.parametrize("size,overlap", [(900, 150), (400, 80), (2000, 0), (120, 30)])
def test_every_chunk_is_its_exact_source_span(seeds_dir, size, overlap):
    docs, problems = load_folder(seeds_dir)
    assert len(docs) == 5 and problems == []
    for doc in docs:
        chunks = chunk_document(doc, size, overlap)
        assert chunks, doc.source
        for c in chunks:
            assert doc.text[c.start:c.end] == c.text
            assert len(c.text) <= size
            assert c.id == f"{doc.source}#{c.start}-{c.end}"
        # Every non-whitespace character of the document lands in some chunk.
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        missing = [i for i, ch in enumerate(doc.text) if not ch.isspace() and i not in covered]
        assert missing == []


def test_chunks_keep_spans_with_repeated_text():
    text = ("Herhaalde zin over de gemeente. " * 40) + "\n\nEinde van het document met een uniek slot."
    doc = Document("x/rep.txt", "rep", text, sha256_text(text))
    chunks = chunk_document(doc, 100, 20)
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))  # strictly increasing: repeats are not all mapped to offset 0
    assert all(text[c.start:c.end] == c.text for c in chunks)
    assert chunks[-1].text.endswith("uniek slot.")


@pytest.mark.parametrize("size,overlap", [(900, 150), (400, 80), (120, 30)])
def test_outline_chunks_are_exact_spans_and_cover_every_seed(seeds_dir, size, overlap):
    docs, _ = load_folder(seeds_dir)
    for doc in docs:
        chunks = document_chunks(doc, size, overlap)  # cut along the outline, as ingest does
        assert all(doc.text[c.start:c.end] == c.text and len(c.text) <= size for c in chunks), doc.source
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        assert [i for i, ch in enumerate(doc.text) if not ch.isspace() and i not in covered] == []


QA = """Schriftelijke vragen

1. Waarom is er geen projectplan opgesteld?

Antwoord.

Omdat contextgedreven werken niet uitgaat van vooraf opgestelde planningen.

2. Wanneer komt er een trajectplan?

Antwoord.

Op zijn vroegst nadat de clinics zijn afgerond (eind 2012).

3. Wat kost het traject?

Antwoord.

Het gaat om een investering van 75.000 euro voor begeleiding en clinics.
"""


def test_a_question_and_its_answer_stay_in_one_chunk():
    doc = Document("x/qa.txt", "qa", QA, sha256_text(QA))
    # 150 characters hold one question with its answer, not two: the recursive splitter alone cuts
    # where the characters run out, in the middle of a question's answer.
    chunks = document_chunks(doc, 150, 0)
    for q, a in (("1. Waarom", "Omdat contextgedreven"), ("2. Wanneer", "Op zijn vroegst"), ("3. Wat kost", "75.000 euro")):
        assert any(q in c.text and a in c.text for c in chunks), (q, [c.text for c in chunks])
    plain = chunk_document(doc, 150, 0)
    assert not all(any(q in c.text and a in c.text for c in plain)
                   for q, a in (("2. Wanneer", "Op zijn vroegst"), ("3. Wat kost", "75.000 euro")))
    # Small sections are packed together up to the size: not one chunk per heading.
    assert len(document_chunks(doc, 2000, 0)) == 1
