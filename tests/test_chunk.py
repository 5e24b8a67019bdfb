import pytest

from assistant.chunk import chunk_document
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
