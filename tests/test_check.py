"""`assistant check` (assistant/check.py) and the messages of index.load for a damaged index:
every corruption gives one error that names the file and the fix."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakes import HashEmbedder
from test_index import _sync, _write_docs

from assistant import cli, index
from assistant.check import check
from assistant.errors import IndexStoreError


@pytest.fixture
def built(tmp_path):
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder())
    return idx_dir, index.current_generation(idx_dir)


def test_good_index_passes(built, capsys):
    idx_dir, gen = built
    report = check(idx_dir)
    assert report.ok, report.text()
    idx = index.load(idx_dir)
    assert report.counts == {"documents": 3, "chunks": len(idx.chunks), "sentences": len(idx.sentences), "dim": 256}
    assert idx.manifest["chunks"] == len(idx.chunks)
    assert cli.main(["--index-dir", str(idx_dir), "check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("index OK: ") and "3 documents" in out
    assert cli.main(["--index-dir", str(idx_dir), "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def _truncate_mid_line(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _truncate_whole_lines(path):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")


def _garbage(path):
    path.write_bytes(b"this is not a faiss index \x00\x01\x02" * 10)


def _wrong_rows(path):
    v = np.load(path)
    np.save(path, v[:-3])


def _hash_mismatch(path):
    m = json.loads(path.read_text())
    first = sorted(m["documents"])[0]
    m["documents"][first] = "0" * 64
    path.write_text(json.dumps(m))


def _not_unit(path):
    v = np.load(path)
    v[2] *= 3.0
    np.save(path, v)


def _nan(path):
    v = np.load(path)
    v[0, 0] = np.nan
    np.save(path, v)


def _shift_span(path):
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    rows[1]["start"] += 1
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


CORRUPTIONS = [  # (file, how, what the check says, whether index.load notices too)
    ("chunks.jsonl", _truncate_mid_line, "cut off: the file is truncated", True),
    ("chunks.jsonl", _truncate_whole_lines, "but the manifest says", True),
    ("vectors.faiss", _garbage, "unreadable", True),
    ("sentence_vectors.npy", _wrong_rows, "rows for", True),
    ("manifest.json", _hash_mismatch, "sha256", False),  # load does not hash the documents; check does
    ("sentence_vectors.npy", _not_unit, "not finite unit vectors", False),
    ("sentence_vectors.npy", _nan, "not finite", False),
    ("chunks.jsonl", _shift_span, "do not match their document's text", False),
    ("sentences.jsonl", lambda p: p.unlink(), "missing", True),
    ("vectors.faiss", lambda p: p.unlink(), "missing", True),
    ("manifest.json", lambda p: p.unlink(), "missing", True),
]


@pytest.mark.parametrize("name,corrupt,says,load_fails", CORRUPTIONS,
                         ids=[f"{c[0]}-{c[1].__name__}" for c in CORRUPTIONS])
def test_each_corruption_gives_one_clear_error(built, capsys, name, corrupt, says, load_fails):
    idx_dir, gen = built
    corrupt(gen / name)
    report = check(idx_dir)
    assert not report.ok
    assert [f.file for f in report.problems] == [name], report.text()
    assert says in report.problems[0].message, report.text()
    text = report.text()
    assert str(gen / name) in text and "assistant ingest --rebuild" in text

    assert cli.main(["--index-dir", str(idx_dir), "check"]) == 1
    err = capsys.readouterr().err
    assert str(gen / name) in err and "assistant ingest --rebuild" in err

    if load_fails:
        with pytest.raises(IndexStoreError) as e:
            index.load(idx_dir)
        assert name in str(e.value) and "assistant ingest --rebuild" in str(e.value)


def test_no_index_and_dangling_pointer(tmp_path, built):
    report = check(tmp_path / "nothing")
    assert not report.ok and "assistant ingest" in report.text()
    idx_dir, gen = built
    (idx_dir / "CURRENT").write_text("gen-gone\n")
    report = check(idx_dir)
    assert not report.ok and "gen-gone" in report.problems[0].message


def test_rebuild_repairs_a_damaged_index(built, tmp_path):
    idx_dir, gen = built
    _garbage(gen / "vectors.faiss")
    with pytest.raises(IndexStoreError, match="vectors.faiss"):
        _sync(idx_dir, tmp_path / "docs", HashEmbedder())  # an incremental ingest cannot reuse it
    _sync(idx_dir, tmp_path / "docs", HashEmbedder(), rebuild=True)
    assert check(idx_dir).ok
