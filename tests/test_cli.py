"""The CLI's edge behaviour: help text, and clear one-line errors instead of tracebacks."""

import os
import subprocess
import sys

import pytest

from assistant.config import Settings
from assistant.errors import InputError


def run(*args, env=None, timeout=300):
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=full, timeout=timeout)


def test_help_lists_commands_and_settings():
    out = run("--help")
    assert out.returncode == 0
    for word in ("models", "ingest", "search", "ask", "chat", "eval", "ASSISTANT_", "--llm"):
        assert word in out.stdout


def test_missing_embedder_says_how_to_fetch_it(tmp_path):
    # An index of its own (built with the fake embedder), so the test does not depend on ./index.
    from fakes import HashEmbedder

    from assistant import index

    index.sync(tmp_path / "idx", [], HashEmbedder(), 900, 150, scope="seeds")
    out = run("search", "waarom?", env={"ASSISTANT_HOME": str(tmp_path), "ASSISTANT_INDEX_DIR": str(tmp_path / "idx")})
    assert out.returncode == 2
    assert "assistant models fetch embeddinggemma-300m" in out.stderr and "Traceback" not in out.stderr


def test_wrong_llm_path_is_named(tmp_path):
    bad = tmp_path / "nope.gguf"
    out = run("--llm", str(bad), "ask", "waarom?", env={"ASSISTANT_INDEX_DIR": str(tmp_path / "idx")})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"LLM (GGUF file) not found at {bad}" in out.stderr


def test_missing_index_says_to_ingest(tmp_path):
    out = run("search", "waarom?", env={"ASSISTANT_INDEX_DIR": str(tmp_path / "idx")})
    assert out.returncode == 2 and "assistant ingest" in out.stderr and "Traceback" not in out.stderr


def test_ingest_of_missing_folder_is_an_error(tmp_path):
    out = run("ingest", str(tmp_path / "nope"), env={"ASSISTANT_INDEX_DIR": str(tmp_path / "idx")})
    assert out.returncode == 2 and "not a folder" in out.stderr


def test_models_list_shows_defaults(tmp_path):
    out = run("models", "list", env={"ASSISTANT_HOME": str(tmp_path)})
    assert out.returncode == 0
    assert "qwen2.5-coder-1.5b" in out.stdout and "missing" in out.stdout


def test_settings_from_env_and_overrides(tmp_path):
    s = Settings.from_env({"ASSISTANT_TOP_K": "7", "ASSISTANT_HOME": str(tmp_path), "ASSISTANT_LLM": "/x/y.gguf"}, top_k=None)
    assert s.answer.top_k == 7 and s.storage.models_dir == tmp_path / "models" and str(s.llm_path()) == "/x/y.gguf"
    assert Settings.from_env({"ASSISTANT_TOP_K": "7"}, top_k=3).answer.top_k == 3
    assert Settings.from_env({}).llm_path().name.endswith(".gguf")
    with pytest.raises(InputError, match="ASSISTANT_TOP_K"):
        Settings.from_env({"ASSISTANT_TOP_K": "many"})
