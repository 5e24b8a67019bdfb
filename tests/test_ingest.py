
import pytest
from scans import text_pdf

from assistant.errors import InputError
from assistant.ingest import load_file, load_folder


def test_reads_all_supported_formats(tmp_path):
    import docx

    (tmp_path / "a.txt").write_text("Gewone tekst over de raad.", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Titel\n\nMarkdown tekst.", encoding="utf-8")
    (tmp_path / "c.html").write_text(
        "<html><head><title>x</title><script>var a=1;</script></head><body><h1>Kop</h1><p>Alinea &amp; meer.</p></body></html>",
        encoding="utf-8",
    )
    d = docx.Document()
    d.add_paragraph("Eerste alinea van het verslag.")
    d.add_paragraph("Tweede alinea.")
    d.save(tmp_path / "d.docx")
    (tmp_path / "e.pdf").write_bytes(text_pdf(["Raadsbrief over de begroting"]))
    (tmp_path / "f.txt").write_bytes("Caf\xe9 in Windows-1252".encode("cp1252"))
    docs, problems = load_folder(tmp_path, scope="up")
    by = {d.source: d for d in docs}
    assert problems == []
    assert set(by) == {"up/a.txt", "up/b.md", "up/c.html", "up/d.docx", "up/e.pdf", "up/f.txt"}
    assert "Alinea & meer." in by["up/c.html"].text and "var a" not in by["up/c.html"].text
    assert "Tweede alinea." in by["up/d.docx"].text
    assert "Raadsbrief over de begroting" in by["up/e.pdf"].text
    assert by["up/f.txt"].text == "Café in Windows-1252"
    assert by["up/b.md"].title == "Titel"


def test_bad_files_are_reported_and_skipped(tmp_path):
    (tmp_path / "good.txt").write_text("Een goed document.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "corrupt.docx").write_bytes(b"PK\x03\x04 broken zip")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    docs, problems = load_folder(tmp_path, scope="s")
    assert [d.source for d in docs] == ["s/good.txt"]
    reasons = {p.source: p.reason for p in problems}
    assert set(reasons) == {"s/empty.txt", "s/binary.txt", "s/corrupt.pdf", "s/corrupt.docx", "s/image.png"}
    assert "no text" in reasons["s/empty.txt"]
    assert "binary" in reasons["s/binary.txt"]
    assert "unsupported" in reasons["s/image.png"]


def test_load_file_names_the_file(tmp_path):
    p = tmp_path / "leeg.md"
    p.write_text("")
    with pytest.raises(InputError, match="leeg.md"):
        load_file(p)


def test_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        load_folder(tmp_path / "nope")


def test_seed_titles_come_from_meta(seeds_dir):
    docs, _ = load_folder(seeds_dir)
    titles = {d.source.split("/")[-1]: d.title for d in docs}
    assert titles["000_a4ba55a0b15ccb7c.txt"].startswith("Noordoostpolder")
    assert all("—" in t for t in titles.values())
