"""Outlook .msg (readers/msg.py on olefile): the test writer (tests/msgfile.py) checked with olefile
itself, a mail ingested with exact spans and its attachments as documents of their own linked to it
(as .eml's are), found by a search; damaged files skipped with the file named."""

from __future__ import annotations

import io
import random
import struct
from datetime import datetime, timezone

import olefile
import pytest
from fakes import hashed_index
from msgfile import cfb, message_storage, msg
from test_formats import _docx, _folder, _spans_exact, write

from assistant.ingest import load_documents, load_folder
from assistant.readers import msg as msg_reader
from assistant.retrieve import HybridRetriever

BESLUIT = ("Het raadsbesluit over de kapvergunning van de monumentale eik aan de Dorpsstraat. "
           "De eik blijft staan; de aanvrager moet de wortels beschermen tijdens de bouw.\n")
LONG = (BESLUIT * 60).encode()  # > 4096 bytes: a regular-sector stream; the rest sit in the mini stream
DATE = datetime(2014, 9, 9, 8, 15, tzinfo=timezone.utc)


def kap_msg(**kw) -> bytes:
    args = dict(subject="Kapvergunning monumentale eik", sender_name="Griffie Zuiderzee",
                sender_address="griffie@zuiderzee.example", to="Raad Zuiderzee", date=DATE,
                body="Geachte raadsleden,\r\n\r\nBijgaand het besluit over de kapvergunning voor de monumentale eik.\r\n",
                attachments=[("bijlage-raadsbesluit.txt", LONG),
                             ("advies.docx", _docx("De bijlage noemt de herplantplicht van drie bomen.")),
                             ("logo.png", b"\x89PNG\r\n\x1a\n", True)])  # hidden: an inline image, dropped
    args.update(kw)
    return msg(**args)


def test_the_test_writer_makes_a_compound_file_olefile_reads():
    tree = {"klein": b"a" * 100, "groot": bytes(range(256)) * 40, "map": {"diep": b"b" * 5000, "ook": b"c"}}
    data = cfb(tree)
    assert olefile.isOleFile(io.BytesIO(data))
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        assert sorted(ole.listdir()) == [["groot"], ["klein"], ["map", "diep"], ["map", "ook"]]
        assert ole.openstream("klein").read() == tree["klein"]  # mini stream
        assert ole.openstream("groot").read() == tree["groot"]  # regular sectors
        assert ole.openstream("map/diep").read() == tree["map"]["diep"]
        assert ole.openstream("map/ook").read() == b"c"
        assert ole.get_size("groot") == 10240 and ole.root.size == 3 * 64  # the mini stream: 2 + 1 mini sectors
    m = kap_msg()
    with olefile.OleFileIO(io.BytesIO(m)) as ole:
        assert ole.get_size("__attach_version1.0_#00000000/__substg1.0_37010102") == len(LONG) > 4096
        assert ole.openstream("__substg1.0_0037001F").read().decode("utf-16-le") == "Kapvergunning monumentale eik"


def test_msg_headers_are_metadata_and_attachments_are_documents_of_their_own(tmp_path):
    path = write(tmp_path, "kap.msg", kap_msg())
    docs, problems = load_documents(path, "mail/kap.msg")
    assert problems == []
    mail, txt, adv = docs
    assert mail.text == ("Onderwerp: Kapvergunning monumentale eik\nVan: Griffie Zuiderzee <griffie@zuiderzee.example>\n"
                         "Aan: Raad Zuiderzee\nDatum: Tue, 09 Sep 2014 08:15:00 +0000\n"
                         "Bijlagen: bijlage-raadsbesluit.txt, advies.docx\n\n"
                         "Geachte raadsleden,\n\nBijgaand het besluit over de kapvergunning voor de monumentale eik.")
    assert mail.title == "Kapvergunning monumentale eik" and mail.meta.date == "2014-09-09"
    assert txt.source == "mail/kap.msg#bijlage-raadsbesluit.txt" and txt.title == "bijlage-raadsbesluit.txt"
    assert txt.text == LONG.decode()  # read whole from the regular-sector stream
    assert adv.source == "mail/kap.msg#advies.docx" and "herplantplicht" in adv.text
    for d in (txt, adv):
        assert d.meta.part_of == "mail/kap.msg" and d.meta.date == "2014-09-09" and dict(d.meta.origin)["date"] == "mail"
    for d in docs:
        _spans_exact(d)


def test_html_only_body_8bit_subject_and_an_attached_message(tmp_path):
    inner = message_storage(subject="Origineel verzoek", body="Graag een kapvergunning voor de eik.",
                            sender_address="bewoner@example.nl", embedded=True)
    tree = message_storage(sender_address="griffie@zuiderzee.example", date=DATE,
                           html=b"<html><body><p>Zie het <b>verzoek</b>.</p><script>x()</script></body></html>",
                           attachments=[("verzoek.msg", inner)])
    tree["__substg1.0_0037001E"] = "Doorgestuurd: verzoek café".encode("cp1252")  # an 8-bit subject
    docs, problems = load_documents(write(tmp_path, "fw.msg", cfb(tree)), "m/fw.msg")
    assert problems == []
    assert [d.source for d in docs] == ["m/fw.msg", "m/fw.msg#verzoek.eml"]
    assert docs[0].text.startswith("Onderwerp: Doorgestuurd: verzoek café\nVan: griffie@zuiderzee.example\n")
    assert docs[0].text.endswith("\n\nZie het verzoek.") and "x()" not in docs[0].text
    assert "Origineel verzoek" in docs[1].text and "Graag een kapvergunning" in docs[1].text
    assert docs[1].meta.part_of == "m/fw.msg"


def test_attachment_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(msg_reader, "MAX_ATTACHMENTS", 1)
    out = msg_reader.read(kap_msg(), "kap.msg")
    assert [a.name for a in out.attachments] == ["bijlage-raadsbesluit.txt"]
    assert out.skipped == (("advies.docx", "more than 1 attachments"),)
    monkeypatch.setattr(msg_reader, "MAX_ATTACHMENTS", 100)
    monkeypatch.setattr(msg_reader, "MAX_ATTACHMENT_BYTES", 1000)
    out = msg_reader.read(kap_msg(), "kap.msg")
    assert out.attachments == () and [n for n, _ in out.skipped] == ["bijlage-raadsbesluit.txt", "advies.docx"]


def test_msg_is_indexed_and_its_attachment_found_by_a_search(tmp_path):
    folder = _folder(tmp_path, {"kap.msg": kap_msg()})
    idx, emb = hashed_index(tmp_path / "index", folder)
    assert sorted(idx.docs) == ["seeds/kap.msg", "seeds/kap.msg#advies.docx", "seeds/kap.msg#bijlage-raadsbesluit.txt"]
    assert idx.docs["seeds/kap.msg#advies.docx"].meta.part_of == "seeds/kap.msg"  # stored and loaded
    for c in idx.chunks:
        assert idx.docs[c.source].text[c.start:c.end] == c.text
    r = HybridRetriever(idx, emb)
    assert r.search("wortels beschermen tijdens de bouw", k=1)[0].chunk.source == "seeds/kap.msg#bijlage-raadsbesluit.txt"
    assert r.search("herplantplicht drie bomen", k=1)[0].chunk.source == "seeds/kap.msg#advies.docx"


def _absurd(data: bytes, offset: int, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into("<I", b, offset, value)
    return bytes(b)


GOOD = kap_msg()


@pytest.mark.parametrize("name,data,reason", [
    ("afgekapt.msg", GOOD[: len(GOOD) // 2], "damaged"),
    ("ruis.msg", random.Random(5).randbytes(4096), "not an ole"),
    ("kop.msg", GOOD[:512], "damaged"),
    ("word.msg", cfb({"WordDocument": b"x" * 5000, "1Table": b"y" * 100}), "without mapi"),
    ("sectoren.msg", _absurd(GOOD, 0x2C, 0xFFFFFFF0), "fat sectors"),
    ("minifat.msg", _absurd(GOOD, 0x40, 0x7FFFFFFF), "mini fat"),
    ("map.msg", _absurd(GOOD, 0x30, 0xFFFFFF00), "damaged"),
    ("leeg.msg", cfb({"__properties_version1.0": bytes(32), "__substg1.0_0E04001F": b""}), "without subject"),
])
def test_damaged_msg_files_are_skipped_with_the_file_named(tmp_path, name, data, reason):
    docs, problems = load_folder(_folder(tmp_path, {name: data}), "s")
    assert docs == [] and [p.source for p in problems] == [f"s/{name}"]
    assert name in problems[0].reason and reason in problems[0].reason.lower(), problems[0].reason


def test_randomly_damaged_msg_files_never_crash():
    from assistant.errors import InputError

    for seed in range(150):
        rng = random.Random(seed)
        b = bytearray(GOOD)
        for _ in range(rng.choice((1, 5, 40))):
            b[rng.randrange(len(b))] = rng.randrange(256)
        try:
            out = msg_reader.read(bytes(b), "f.msg")
        except InputError as e:
            assert "f.msg" in str(e)
        else:
            assert isinstance(out.text, str)
