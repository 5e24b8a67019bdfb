"""`assistant history` and `assistant ask` saving its answers (cli/history.py, cli/query.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from assistant import cli
from assistant.conversation import SavedTurn, SourceRef
from assistant.history import FILE_NAME, History


def _cli(tmp_path, *args):
    return cli.main(["--index-dir", str(tmp_path / "index"), *args])


def test_history_commands(tmp_path, capsys):
    src = SourceRef(n=1, source="brief.txt", title="Brief over Sezen", start=5, end=30, text="Er kwam geen projectplan.",
                    cited="Er kwam geen projectplan.")
    with History(tmp_path / "index" / FILE_NAME) as h:
        mine = h.save("", None, SavedTurn(question="Waarom geen plan?", answer="Geen plan [1].", sources=(src,)))
        ana = h.save("ana", None, SavedTurn(question="Vraag van ana", answer="Antwoord"))
    assert _cli(tmp_path, "history", "list", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in out["conversations"]] == [mine] and out["conversations"][0]["turns"] == 1
    assert _cli(tmp_path, "history", "list", "--user", "ana") == 0
    text = capsys.readouterr().out
    assert ana in text and "Vraag van ana" in text and mine not in text
    assert _cli(tmp_path, "history", "show", mine) == 0
    text = capsys.readouterr().out
    assert "Waarom geen plan?" in text and "Geen plan [1]." in text and "[1] Brief over Sezen (brief.txt, 5-30)" in text
    assert _cli(tmp_path, "history", "show", ana) == 2  # another user's: not found, says how to list
    assert "assistant history list" in capsys.readouterr().err
    assert _cli(tmp_path, "history", "rename", mine, "Sezen", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"renamed": mine, "title": "Sezen"}
    assert _cli(tmp_path, "history", "show", mine, "--json") == 0
    conv = json.loads(capsys.readouterr().out)
    assert conv["title"] == "Sezen" and conv["turns"][0]["sources"][0]["cited"] == "Er kwam geen projectplan."
    assert _cli(tmp_path, "history", "delete", ana) == 2  # not mine to delete
    assert _cli(tmp_path, "history", "delete", ana, "--user", "ana") == 0
    capsys.readouterr()
    assert _cli(tmp_path, "history", "list", "--user", "ana", "--json") == 0
    assert json.loads(capsys.readouterr().out)["conversations"] == []


def test_ask_with_an_unknown_conversation_fails_before_loading_models(tmp_path, capsys):
    assert _cli(tmp_path, "ask", "waarom?", "--conversation", "nope") == 2
    err = capsys.readouterr().err
    assert "no conversation 'nope'" in err and "assistant history list" in err


# -- real: the 0.5B model on the seeds index -----------------------------------------------------------
def _run(env, *args):
    out = subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.real
def test_ask_saves_and_history_shows_and_deletes_it(real_settings, tmp_path):
    index_dir = tmp_path / "index"
    # The history file is written beside the index. Not the shared test index's own: other real tests
    # `ask` on it and save there, so a copy of it would already list their conversations.
    shutil.copytree(real_settings.storage.index_dir, index_dir, ignore=shutil.ignore_patterns("history.sqlite*"))
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir), "ASSISTANT_HOME": str(real_settings.storage.home),
           "ASSISTANT_LLM": real_settings.llm_key() or str(real_settings.generation.model)}
    q = "Waarom is er geen projectplan voor Sezen?"
    out = _run(env, "ask", q, "--json")
    answer = json.loads(out.stdout)
    conv_id = answer["conversation_id"]
    assert conv_id and f"saved as conversation {conv_id}" in out.stderr
    listed = json.loads(_run(env, "history", "list", "--json").stdout)["conversations"]
    assert [(c["id"], c["turns"]) for c in listed] == [(conv_id, 1)] and listed[0]["title"] == q
    shown = json.loads(_run(env, "history", "show", conv_id, "--json").stdout)
    turn = shown["turns"][0]
    assert turn["question"] == q and turn["answer"] == answer["answer"]
    assert turn["models"]["llm"] and turn["models"]["embedder"] and turn["generation"].startswith("gen")
    for s in turn["sources"]:  # exact document text, the cited sentence inside its excerpt
        assert s["cited"] in s["text"]
    assert "projectplan" in _run(env, "history", "show", conv_id).stdout

    # A follow-up continues it; --no-save saves nothing.
    out = _run(env, "ask", "En wie was de regiegemeente?", "--conversation", conv_id, "--json")
    assert json.loads(out.stdout)["conversation_id"] == conv_id
    assert json.loads(_run(env, "ask", "Wat is Sezen?", "--no-save", "--json").stdout)["conversation_id"] is None
    listed = json.loads(_run(env, "history", "list", "--json").stdout)["conversations"]
    assert [(c["id"], c["turns"]) for c in listed] == [(conv_id, 2)]
    _run(env, "check")  # the history file beside the generations does not upset the index check

    _run(env, "history", "delete", conv_id)
    assert json.loads(_run(env, "history", "list", "--json").stdout)["conversations"] == []
    for p in index_dir.iterdir():
        if p.name.startswith(FILE_NAME):
            assert b"projectplan voor Sezen" not in p.read_bytes(), p.name  # gone from the disk, not just unlisted

    # A history that cannot be written (here: a folder where the file would be) does not cost the
    # answer: it is printed, with a warning that it was not saved.
    for p in index_dir.iterdir():
        if p.name.startswith(FILE_NAME):
            p.unlink()
    (index_dir / FILE_NAME).mkdir()
    out = _run(env, "ask", q, "--json")
    assert json.loads(out.stdout)["answer"] and json.loads(out.stdout)["conversation_id"] is None
    assert "will not be saved" in out.stderr and "--no-save" in out.stderr
