"""The config file (TOML) layer: default <- file <- ASSISTANT_* <- flag, with where each came from."""

import json
from pathlib import Path

import pytest

from assistant import cli
from assistant.config import Settings, read_config
from assistant.errors import InputError


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_flat_names_and_sections_and_precedence(tmp_path):
    cfg = _write(tmp_path, 'top_k = 3\nindex_dir = "~/idx"\n[generation]\nn_ctx = 4096\n[answer]\ntemperature = 0\n')
    s, src = Settings.resolve(env={"ASSISTANT_CONFIG": str(cfg), "ASSISTANT_N_CTX": "2048"}, max_tokens=99)
    assert s.answer.top_k == 3 and src["top_k"] == str(cfg)
    assert s.storage.index_dir == Path("~/idx").expanduser()
    assert s.answer.temperature == 0.0 and isinstance(s.answer.temperature, float)
    assert s.generation.n_ctx == 2048 and src["n_ctx"] == "ASSISTANT_N_CTX"  # the environment wins over the file
    assert s.answer.max_tokens == 99 and src["max_tokens"] == "flag"  # a flag wins over both
    assert src["chunk_size"] == "default"
    # An explicit path beats ASSISTANT_CONFIG.
    other = tmp_path / "other.toml"
    other.write_text("top_k = 7\n")
    assert Settings.resolve(env={"ASSISTANT_CONFIG": str(cfg)}, config=other)[0].answer.top_k == 7


@pytest.mark.parametrize("text, says", [
    ("topk = 3\n", "unknown setting 'topk' (did you mean top_k?)"),
    ("[answer]\ntop_k = 'x'\n", "[answer] top_k must be a whole number"),
    ("[answer]\nnope = 1\n", "[answer] has no setting 'nope'"),
    ("require_support = 1\n", "must be true or false"),
    ("top_k = \n", "is not valid TOML"),
])
def test_bad_config_names_file_and_key(tmp_path, text, says):
    cfg = _write(tmp_path, text)
    with pytest.raises(InputError) as e:
        read_config(cfg)
    assert says in str(e.value) and str(cfg) in str(e.value)


def test_named_config_must_exist_default_need_not(tmp_path):
    with pytest.raises(InputError, match="not found"):
        Settings.resolve(env={"ASSISTANT_CONFIG": str(tmp_path / "missing.toml")})
    assert Settings.resolve(env={})[0] == Settings.from_env(env={})


def test_config_show_json_and_version(tmp_path, capsys, monkeypatch):
    cfg = _write(tmp_path, "top_k = 4\n")
    monkeypatch.setenv("ASSISTANT_TEMPERATURE", "0.25")
    assert cli.main(["--config", str(cfg), "--max-tokens", "77", "config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["top_k"] == {"value": 4, "section": "answer", "source": str(cfg)}
    assert shown["temperature"]["source"] == "ASSISTANT_TEMPERATURE" and shown["temperature"]["value"] == 0.25
    assert shown["max_tokens"]["source"] == "flag" and shown["chunk_size"]["source"] == "default"
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("assistant (nl-gov-assistant) ") and "running from: checkout" in out and "index:" in out
