"""Resumable ingest: embedding checkpoints survive a kill and are reused, never when stale.

The SIGKILL test runs eval/faults.py's benchmark (fake embedder, 300 generated documents, 20 kills
in subprocesses at hooked points of the write path and on random timers)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder

from assistant import index
from assistant.check import check
from assistant.ingest import load_folder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "eval"))
import faults  # noqa: E402  (eval/faults.py)


class Killed(Exception):
    pass


def _kill_at(point: str, n: int):
    seen = {"count": 0}

    def hook(name: str) -> None:
        if name == point:
            seen["count"] += 1
            if seen["count"] == n:
                raise Killed(point)

    return hook


def _sync(idx_dir, docs_dir, emb, **kw):
    docs, problems = load_folder(docs_dir)
    return index.sync(idx_dir, docs, emb, 200, 40, scope=docs_dir.name, problems=problems, batch_size=16, **kw)


def _work(idx_dir: Path) -> list[Path]:
    return [p for p in idx_dir.iterdir() if p.name.startswith(index.WORK_PREFIX)]


def test_rerun_after_an_interrupted_ingest_embeds_only_the_rest(tmp_path, monkeypatch):
    docs_dir, idx_dir = tmp_path / "docs", tmp_path / "index"
    faults.write_corpus(docs_dir, 30, seed=1)
    monkeypatch.setattr(index.hooks, "fault_hook", _kill_at("checkpoint", 3))
    emb = HashEmbedder()
    with pytest.raises(Killed):
        _sync(idx_dir, docs_dir, emb)
    assert not index.exists(idx_dir) and emb.calls == 48
    (work,) = _work(idx_dir)
    assert sorted(p.name for p in work.iterdir()) == ["batch-000000.npy", "batch-000001.npy", "batch-000002.npy"]

    monkeypatch.setattr(index.hooks, "fault_hook", None)
    seen = []
    again = HashEmbedder()
    report = _sync(idx_dir, docs_dir, again, progress=lambda done, total: seen.append((done, total)))
    total = report.texts_embedded
    assert report.resumed_texts == 48 and again.calls == total - 48
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert "48 vectors resumed" in report.summary()
    assert not _work(idx_dir) and check(idx_dir).ok

    clean_dir = tmp_path / "clean"
    _sync(clean_dir, docs_dir, HashEmbedder())
    assert faults.same_index(faults._snapshot(idx_dir), faults._snapshot(clean_dir)) == []


def test_checkpoints_of_another_corpus_or_embedder_are_never_used(tmp_path, monkeypatch):
    docs_dir, idx_dir = tmp_path / "docs", tmp_path / "index"
    faults.write_corpus(docs_dir, 30, seed=1)
    monkeypatch.setattr(index.hooks, "fault_hook", _kill_at("checkpoint", 2))
    with pytest.raises(Killed):
        _sync(idx_dir, docs_dir, HashEmbedder())
    (stale,) = _work(idx_dir)
    monkeypatch.setattr(index.hooks, "fault_hook", None)

    faults.write_corpus(docs_dir, 30, seed=1, versions={0: 1})  # one document changed
    report = _sync(idx_dir, docs_dir, HashEmbedder())
    assert report.resumed_texts == 0 and not stale.exists()

    monkeypatch.setattr(index.hooks, "fault_hook", _kill_at("checkpoint", 2))
    with pytest.raises(Killed):
        _sync(idx_dir, docs_dir, HashEmbedder(), rebuild=True)
    monkeypatch.setattr(index.hooks, "fault_hook", None)
    other = HashEmbedder(name="model-b")  # another embedder: its own checkpoints
    report = _sync(idx_dir, docs_dir, other, rebuild=True)
    assert report.resumed_texts == 0 and other.calls == report.texts_embedded


def test_a_damaged_or_half_written_checkpoint_is_embedded_again(tmp_path, monkeypatch):
    docs_dir, idx_dir = tmp_path / "docs", tmp_path / "index"
    faults.write_corpus(docs_dir, 30, seed=1)
    monkeypatch.setattr(index.hooks, "fault_hook", _kill_at("checkpoint-tmp", 3))  # batch 2 not renamed
    with pytest.raises(Killed):
        _sync(idx_dir, docs_dir, HashEmbedder())
    (work,) = _work(idx_dir)
    assert (work / "batch-000002.npy.tmp").is_file() and not (work / "batch-000002.npy").exists()
    data = (work / "batch-000001.npy").read_bytes()
    (work / "batch-000001.npy").write_bytes(data[: len(data) // 2])  # cut (e.g. a lost page cache)
    monkeypatch.setattr(index.hooks, "fault_hook", None)
    report = _sync(idx_dir, docs_dir, HashEmbedder())
    assert report.resumed_texts == 16  # batch 0 only
    assert check(idx_dir).ok


def test_sigkill_at_20_moments_leaves_a_working_index_and_resumes(tmp_path):
    out = faults.run_faults(kills=20, docs=300, seed=7, workdir=tmp_path)
    assert out["failures"] == []
    assert out["kills"] == 20 and out["survived"] == 20
    assert out["equal_to_clean_run"]
    assert out["resumed_texts"] > 0 and out["resumed_share"] > 0.3
    killed = {p for p, n in out["by_point"].items() if n}
    assert {"checkpoint", "checkpoint-tmp", "generation", "swap"} <= killed, out["by_point"]
    print({k: out[k] for k in ("kills", "survived", "resumed_share", "by_point", "seconds")})


def test_sigkill_while_appending_segments_leaves_a_working_index(tmp_path):
    """The same kills while incremental ingests append segments (and compact them every few)."""
    out = faults.run_faults(kills=12, docs=300, seed=11, workdir=tmp_path, append=True)
    assert out["failures"] == []
    assert out["kills"] == 12 and out["survived"] == 12
    assert out["equal_to_clean_run"] and out["most_segments"] >= 3, out["cycles"]
    killed = {p for p, n in out["by_point"].items() if n}
    assert {"generation", "swap"} & killed, out["by_point"]
