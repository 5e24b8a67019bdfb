"""Ingest on a full disk: one clear error naming the file and the folder, a non-zero exit code, the
half-written generation removed, and the previous index still loads and answers.

The first test mounts a real 2 MB tmpfs (needs root and mount permission, else skipped); the others
simulate ENOSPC where each kind of file is written."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fakes import EchoGenerator, HashEmbedder
from test_index import _sync, _write_docs

from assistant import cli, index
from assistant.check import check
from assistant.config import Settings
from assistant.errors import IndexStoreError
from assistant.pipeline import build

QUESTION = "Waarom is er voor Traject Sezen geen projectplan opgesteld?"


def _big_doc(folder: Path, kb: int = 300) -> None:
    line = "De gemeente Zuiderzee beschrijft in paragraaf {i} de voortgang van het programma deelfietsen. "
    text = "Bijlage met voortgangsrapportages.\n\n" + "".join(line.format(i=i) for i in range(kb * 1024 // 95))
    (folder / "bijlage.txt").write_text(text, encoding="utf-8")


def _still_answers(idx_dir: Path, generation: str) -> None:
    assert index.load(idx_dir).generation == generation
    assert check(idx_dir).ok
    assert not [p.name for p in idx_dir.iterdir() if p.name.startswith(".tmp-") or p.name == "CURRENT.tmp"]
    assert [p.name for p in idx_dir.iterdir() if p.is_dir() and p.name.startswith("gen-")] == [generation]
    p = build(Settings().with_(index_dir=idx_dir, min_similarity=0.0), embedder=HashEmbedder(), generator=EchoGenerator())
    ans = p.assistant.answer(QUESTION)
    assert not ans.abstained and "Sezen" in ans.text and ans.citations


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a tmpfs (the ENOSPC simulations below still run)")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_ingest_on_a_full_tmpfs(tmp_path, small_fs, monkeypatch, capsys):
    docs, idx_dir = tmp_path / "docs", small_fs / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder())
    before = index.load(idx_dir).generation
    _big_doc(docs)

    with pytest.raises(IndexStoreError) as e:
        _sync(idx_dir, docs, HashEmbedder())
    msg = str(e.value)
    assert msg.startswith("disk full while writing ") and f"free space in {idx_dir} and run ingest again" in msg
    written = msg.split("disk full while writing ", 1)[1].split(":")[0]
    # The embedding checkpoints (index/checkpoints.py: batch-NNNNNN.npy.tmp in .ingest-*/) count: they take
    # space before the generation does.
    assert written in {"vectors.faiss", "texts.sqlite", "texts.sqlite.tmp", "sentence_vectors.part.npy",
                       "manifest.json", "store.json", "vector_ids.txt", "lexical.sqlite", "lexical.sqlite.tmp"} \
        or (written.startswith("batch-") and written.endswith(".npy.tmp")), msg
    _still_answers(idx_dir, before)

    # The CLI: one line, non-zero exit, no traceback.
    monkeypatch.setattr("assistant.pipeline.make_embedder", lambda settings, built_with=None: HashEmbedder())
    code = cli.main(["--index-dir", str(idx_dir), "ingest", str(docs)])
    err = capsys.readouterr().err
    assert code == 2 and "error: disk full while writing " in err and "Traceback" not in err
    _still_answers(idx_dir, before)

    (docs / "bijlage.txt").unlink()  # space freed (the big document dropped): ingest works again
    assert cli.main(["--index-dir", str(idx_dir), "ingest", str(docs)]) == 0
    assert check(idx_dir).ok


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["batch-000000.npy.tmp", "sentence_vectors.part.npy", "texts.sqlite.tmp",
                                   "vectors.faiss", "CURRENT.tmp"])
def test_simulated_enospc(tmp_path, monkeypatch, where):
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder())
    before = index.load(idx_dir).generation
    (docs / "extra.txt").write_text("Een nieuw document over deelfietsen in Zuiderzee.", encoding="utf-8")

    if where == "batch-000000.npy.tmp":  # an embedding checkpoint
        def save_checkpoint(path, vecs):
            Path(path).write_bytes(b"\x93NUMPY")
            _enospc()

        monkeypatch.setattr(index.checkpoints, "_save_checkpoint", save_checkpoint)
    elif where == "sentence_vectors.part.npy":  # its space is reserved before it is filled
        monkeypatch.setattr(index.writer.os, "posix_fallocate", _enospc)
    elif where == "texts.sqlite.tmp":
        import sqlite3

        def flush(self):  # what SQLite raises when the disk fills up
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(index.textstore.TextWriter, "_flush", flush)
    elif where == "vectors.faiss":
        import faiss

        def full(fi, path):  # what faiss raises when fwrite fails
            Path(path).write_bytes(b"")
            raise RuntimeError(f"Error in faiss::FileIOWriter::operator() at impl/io.cpp:98: Error: 'ret == (nitems)' "
                               f"failed: write error in {path}: 0 != 1 (No space left on device)")

        monkeypatch.setattr(faiss, "write_index", full)
    else:
        real = index.layout.write_text

        def write_text(path, text):
            if Path(path).name == where:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text[:10])
                    _enospc()  # what f.flush() raises on a full disk
            return real(path, text)

        monkeypatch.setattr(index.layout, "write_text", write_text)

    with pytest.raises(IndexStoreError) as e:
        _sync(idx_dir, docs, HashEmbedder())
    assert str(e.value).startswith(f"disk full while writing {where}: free space in {idx_dir} and run ingest again")
    _still_answers(idx_dir, before)


def test_other_write_errors_also_clean_up(tmp_path, monkeypatch):
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder())
    before = index.load(idx_dir).generation
    (docs / "extra.txt").write_text("Nog een document.", encoding="utf-8")

    def broken(*a, **k):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(index.writer.os, "posix_fallocate", broken)  # while the sentence vectors file is made
    with pytest.raises(OSError, match="Input/output"):
        _sync(idx_dir, docs, HashEmbedder())
    _still_answers(idx_dir, before)
    assert np.load(index.current_generation(idx_dir) / "sentence_vectors.f16.npy").shape[0] > 0
