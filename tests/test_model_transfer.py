"""`assistant models export|import`: moving models by USB stick, sha256-checked, crash-safe.

The fast tests use tiny fake models (a GGUF file, a sentence-transformers folder and its ONNX export);
the real one moves the small LLM and the ONNX embedder into an empty home and answers a question
there with the network blocked.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import model_transfer as mt
from assistant import models
from assistant.cli import main
from assistant.errors import InputError, ModelMissingError

ROOT = Path(__file__).resolve().parent.parent
GGUF = b"GGUF" + bytes(range(256)) * 40
ST_FILES = {"config.json": b"{}", "modules.json": b"[]", "2_Dense/model.safetensors": b"w" * 5000}
ONNX_FILES = {"embedder.json": b'{"recipe": "fake"}', "model.onnx": b"graph" * 100, "model.onnx.data": b"\x01" * 9000}


def _spec(name, kind, data=b""):
    return models.ModelSpec(name, kind, (), hashlib.sha256(data).hexdigest(), len(data), description=f"fake {kind}")


@pytest.fixture
def fake_models(monkeypatch):
    monkeypatch.setattr(models, "MODELS", {
        "fake-llm": _spec("fake-llm.gguf", "gguf", GGUF),
        "fake-emb": _spec("fake-emb", "st", b"zip of the folder"),
    })


def _write(folder: Path, files: dict) -> None:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


def _install_fakes(models_dir: Path, st=True, onnx=True, gguf=GGUF) -> Path:
    models_dir.mkdir(parents=True, exist_ok=True)
    if gguf is not None:
        (models_dir / "fake-llm.gguf").write_bytes(gguf)
    if st:
        _write(models_dir / "fake-emb", ST_FILES)
    if onnx:
        _write(models_dir / "fake-emb-onnx-int8", ONNX_FILES)
    return models_dir


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_then_import_round_trip(tmp_path, fake_models):
    src = _install_fakes(tmp_path / "a" / "models")
    usb = tmp_path / "usb"
    manifest = mt.export_models(src, usb)
    assert [(i["key"], i["kind"], i["path"]) for i in manifest["items"]] == [
        ("fake-llm", "gguf", "fake-llm.gguf"), ("fake-emb", "st", "fake-emb"), ("fake-emb", "onnx", "fake-emb-onnx-int8")]
    on_disk = json.loads((usb / "manifest.json").read_text())
    assert on_disk == manifest and on_disk["format_version"] == 1 and on_disk["tool_version"] and on_disk["created"]
    onnx_files = {f["path"]: f for f in on_disk["items"][2]["files"]}
    assert onnx_files["fake-emb-onnx-int8/model.onnx.data"] == {
        "path": "fake-emb-onnx-int8/model.onnx.data", "size": 9000, "sha256": hashlib.sha256(b"\x01" * 9000).hexdigest()}
    assert not list(usb.rglob("*.partial"))

    dst = tmp_path / "b" / "models"  # does not exist yet
    results = mt.import_models(dst, usb)
    assert [(r.key, r.kind, r.status) for r in results] == [
        ("fake-llm", "gguf", "installed"), ("fake-emb", "st", "installed"), ("fake-emb", "onnx", "installed")]
    assert _tree(dst) == _tree(src)
    assert sorted(p.name for p in dst.iterdir()) == ["fake-emb", "fake-emb-onnx-int8", "fake-llm.gguf"]  # no temp left


def test_no_st_exports_only_the_onnx_export_and_it_is_enough(tmp_path, fake_models):
    src = _install_fakes(tmp_path / "a")
    usb = tmp_path / "usb"
    manifest = mt.export_models(src, usb, ["fake-emb"], include_st=False)
    assert [(i["key"], i["kind"]) for i in manifest["items"]] == [("fake-emb", "onnx")]
    assert sorted(p.name for p in usb.iterdir()) == ["fake-emb-onnx-int8", "manifest.json"]
    dst = tmp_path / "b"
    mt.import_models(dst, usb)
    assert sorted(p.name for p in dst.iterdir()) == ["fake-emb-onnx-int8"]
    # An embedder with no ONNX export: --no-st would export nothing of it, so it is refused.
    shutil.rmtree(src / "fake-emb-onnx-int8")
    with pytest.raises(InputError, match="--no-st .* no ONNX export"):
        mt.export_models(src, tmp_path / "usb2", ["fake-emb"], include_st=False)


def test_export_of_missing_unknown_or_nothing_is_refused(tmp_path, fake_models):
    src = _install_fakes(tmp_path / "a", st=False, onnx=False)
    with pytest.raises(ModelMissingError, match="unknown model 'gpt-17'"):
        mt.export_models(src, tmp_path / "usb", ["gpt-17"])
    with pytest.raises(ModelMissingError, match="not found at .*fake-emb.*models fetch fake-emb"):
        mt.export_models(src, tmp_path / "usb", ["fake-emb"])
    with pytest.raises(ModelMissingError, match="no models installed"):
        mt.export_models(tmp_path / "empty", tmp_path / "usb")
    with pytest.raises(InputError, match="models folder itself"):
        mt.export_models(src, src / "export")
    assert not (tmp_path / "usb").exists()


def test_export_refuses_a_damaged_gguf_and_keeps_nothing(tmp_path, fake_models):
    bad = bytearray(GGUF)
    bad[100] ^= 0xFF  # same size, other bytes
    src = _install_fakes(tmp_path / "a", gguf=bytes(bad))
    usb = tmp_path / "usb"
    with pytest.raises(ModelMissingError, match=r"refusing to export fake-llm: .*fake-llm\.gguf has sha256 .* not the pinned"):
        mt.export_models(src, usb)
    assert list(usb.iterdir()) == []
    (src / "fake-llm.gguf").write_bytes(GGUF[:-1])
    with pytest.raises(ModelMissingError, match="has 10243 bytes, not the pinned 10244"):
        mt.export_models(src, usb)


def test_corrupt_file_is_named_and_nothing_of_its_item_is_left(tmp_path, fake_models):
    usb = tmp_path / "usb"
    mt.export_models(_install_fakes(tmp_path / "a"), usb)
    data = usb / "fake-emb-onnx-int8" / "model.onnx.data"
    data.write_bytes(b"\x01" * 4000 + b"\x00" + b"\x01" * 4999)  # one flipped byte, same size
    dst = tmp_path / "b"
    with pytest.raises(InputError) as err:
        mt.import_models(dst, usb)
    msg = str(err.value)
    assert "1 of 3 items" in msg and f"{data} is corrupt" in msg and "Nothing of fake-emb-onnx-int8 was installed" in msg
    # The good items are in; nothing of the bad one, and no temporary folders.
    assert sorted(p.name for p in dst.iterdir()) == ["fake-emb", "fake-llm.gguf"]
    # A missing file is named too.
    data.unlink()
    with pytest.raises(InputError, match=f"{data} is missing"):
        mt.import_models(dst, usb)
    assert sorted(p.name for p in dst.iterdir()) == ["fake-emb", "fake-llm.gguf"]


def test_half_written_export_is_refused(tmp_path, fake_models, monkeypatch):
    src = _install_fakes(tmp_path / "a")
    usb = tmp_path / "usb"
    real, copied = mt._copy_hashing, []

    def crash_on_third(s, d, bar):  # the power goes off while the third file is copied
        if len(copied) == 2:
            d.write_bytes(b"half")
            raise KeyboardInterrupt
        copied.append(d)
        return real(s, d, bar)

    monkeypatch.setattr(mt, "_copy_hashing", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        mt.export_models(src, usb)
    assert list(usb.iterdir()) == []  # an interrupted export cleans up after itself
    monkeypatch.setattr(mt, "_copy_hashing", real)

    # A real crash cannot clean up: files (some *.partial) but no manifest.json. Import refuses it.
    mt.export_models(src, usb)
    (usb / "manifest.json").unlink()
    os.replace(usb / "fake-llm.gguf", usb / "fake-llm.gguf.partial")
    with pytest.raises(InputError, match=r"has no manifest.json: an interrupted export \(left fake-llm.gguf.partial\)"):
        mt.import_models(tmp_path / "b", usb)
    (usb / "fake-llm.gguf.partial").unlink()
    with pytest.raises(InputError, match="not a model export, or an unfinished one.*models export"):
        mt.import_models(tmp_path / "b", usb)
    assert not (tmp_path / "b").exists()


def test_reexport_replaces_the_previous_export(tmp_path, fake_models):
    src = _install_fakes(tmp_path / "a")
    usb = tmp_path / "usb"
    mt.export_models(src, usb)
    (usb / "fake-emb" / "stale.bin").write_bytes(b"old")
    manifest = mt.export_models(src, usb, ["fake-llm"])
    assert [i["key"] for i in manifest["items"]] == ["fake-llm"]
    (usb / "notes.txt").write_text("mine")
    (usb / "manifest.json").write_text('{"something": "else"}')
    with pytest.raises(InputError, match="is not a model export's manifest"):
        mt.export_models(src, usb)


def test_single_known_gguf_is_installed_under_its_model_name(tmp_path, fake_models):
    loose = tmp_path / "Downloads" / "renamed-by-browser (1).gguf"
    loose.parent.mkdir()
    loose.write_bytes(GGUF)
    dst = tmp_path / "models"
    [r] = mt.import_models(dst, loose)
    assert (r.key, r.status, r.path) == ("fake-llm", "installed", dst / "fake-llm.gguf")
    assert (dst / "fake-llm.gguf").read_bytes() == GGUF and [p.name for p in dst.iterdir()] == ["fake-llm.gguf"]
    [r] = mt.import_models(dst, loose)
    assert r.status == "skipped"


def test_unknown_gguf_says_to_point_assistant_llm_at_it(tmp_path, fake_models):
    own = tmp_path / "my-own-7b.gguf"
    own.write_bytes(b"GGUF other model")
    dst = tmp_path / "models"
    with pytest.raises(InputError) as err:
        mt.import_models(dst, own)
    msg = str(err.value)
    assert f"{own} is not one of the models the assistant knows" in msg
    assert f"ASSISTANT_LLM={own.resolve()}" in msg and f"copy it to {dst}" in msg and "fake-llm" in msg
    # Same size as a known model, other bytes: a damaged copy or another model.
    own.write_bytes(GGUF[:-1] + b"!")
    with pytest.raises(InputError, match="has the size of fake-llm but sha256 .*damaged copy"):
        mt.import_models(dst, own)
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(InputError, match="neither an export folder nor a .gguf file"):
        mt.import_models(dst, other)
    with pytest.raises(InputError, match="does not exist"):
        mt.import_models(dst, tmp_path / "nope")
    assert not dst.exists() or list(dst.iterdir()) == []


def test_reimport_is_idempotent_and_a_different_install_needs_replace(tmp_path, fake_models):
    usb = tmp_path / "usb"
    mt.export_models(_install_fakes(tmp_path / "a"), usb)
    dst = tmp_path / "b"
    mt.import_models(dst, usb)
    logged = []
    results = mt.import_models(dst, usb / "manifest.json", log=logged.append)  # the manifest file works too
    assert [r.status for r in results] == ["skipped"] * 3
    assert any("already installed" in m and "identical: skipped" in m for m in logged)
    # An installed item that differs (an older ONNX export, say) is not overwritten silently.
    (dst / "fake-emb-onnx-int8" / "embedder.json").write_bytes(b'{"recipe": "old"}')
    (dst / "fake-emb-onnx-int8" / "extra.txt").write_bytes(b"x")
    with pytest.raises(InputError, match="fake-emb-onnx-int8 is already installed and differs .* --replace"):
        mt.import_models(dst, usb)
    assert (dst / "fake-emb-onnx-int8" / "extra.txt").exists()
    results = mt.import_models(dst, usb, replace=True)
    assert [r.status for r in results] == ["skipped", "skipped", "replaced"]
    assert _tree(dst / "fake-emb-onnx-int8") == ONNX_FILES and not (dst / "fake-emb-onnx-int8" / "extra.txt").exists()
    assert sorted(p.name for p in dst.iterdir()) == ["fake-emb", "fake-emb-onnx-int8", "fake-llm.gguf"]


def test_manifest_cannot_point_outside_the_export_or_at_the_wrong_model(tmp_path, fake_models):
    usb = tmp_path / "usb"
    mt.export_models(_install_fakes(tmp_path / "a"), usb, ["fake-llm"])
    manifest = json.loads((usb / "manifest.json").read_text())
    evil = json.loads(json.dumps(manifest))
    evil["items"][0]["path"] = evil["items"][0]["files"][0]["path"] = "../../etc/fake-llm.gguf"
    (usb / "manifest.json").write_text(json.dumps(evil))
    with pytest.raises(InputError, match="unsafe path '../../etc/fake-llm.gguf'"):
        mt.import_models(tmp_path / "b", usb)
    wrong = json.loads(json.dumps(manifest))
    wrong["items"][0]["files"][0]["sha256"] = "0" * 64
    (usb / "manifest.json").write_text(json.dumps(wrong))
    with pytest.raises(InputError, match="is not the pinned .* of fake-llm: not this model"):
        mt.import_models(tmp_path / "b", usb)
    newer = dict(manifest, format_version=99)
    (usb / "manifest.json").write_text(json.dumps(newer))
    with pytest.raises(InputError, match="format_version 99.*update the assistant"):
        mt.import_models(tmp_path / "b", usb)
    assert not (tmp_path / "b").exists() or list((tmp_path / "b").iterdir()) == []


def test_cli_export_import_and_list(tmp_path, fake_models, capsys):
    _install_fakes(tmp_path / "a" / "models")
    usb = tmp_path / "usb"
    assert main(["--home", str(tmp_path / "a"), "models", "export", str(usb), "--no-st"]) == 0
    out = capsys.readouterr()
    assert "exported 2 item(s)" in out.out and f"assistant models import {usb}" in out.out
    assert main(["--home", str(tmp_path / "b"), "models", "import", str(usb)]) == 0
    out = capsys.readouterr().out
    assert "fake-llm" in out and "installed" in out
    assert main(["--home", str(tmp_path / "b"), "models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:2] == ["fake-emb", "missing"]
    assert lines[2].split()[:3] == ["fake-emb", "(onnx)", "installed"]
    (usb / "manifest.json").unlink()
    assert main(["--home", str(tmp_path / "b"), "models", "import", str(usb)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "has no manifest.json" in err and "Traceback" not in err


# --- real ---------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket is closed


@pytest.mark.real
def test_real_export_import_then_ingest_and_ask_offline(tmp_path):
    from assistant.config import Settings
    from assistant.embed.onnx_rt import is_export

    src = Settings.from_env().storage.models_dir
    if not (models.is_installed(src, models.SMALL_LLM) and is_export(src / "embeddinggemma-300m-onnx-int8")):
        pytest.skip(f"the small LLM and the ONNX embedder are not installed in {src}: "
                    "`assistant models fetch --small` makes them")
    t0 = time.perf_counter()
    usb = tmp_path / "usb"
    manifest = mt.export_models(src, usb, [models.SMALL_LLM, models.DEFAULT_EMBEDDER], include_st=False)
    assert [(i["key"], i["kind"]) for i in manifest["items"]] == [(models.SMALL_LLM, "gguf"), (models.DEFAULT_EMBEDDER, "onnx")]
    t_export = time.perf_counter() - t0

    home = tmp_path / "new-home"  # an empty home: nothing but what the stick brings
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_") and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update(
        PYTHONPATH=str(ROOT), ASSISTANT_HOME=str(home), ASSISTANT_LLM=models.SMALL_LLM,
        ASSISTANT_INDEX_DIR=str(tmp_path / "index"), PIP_NO_INDEX="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        HTTP_PROXY=f"http://127.0.0.1:{port}", HTTPS_PROXY=f"http://127.0.0.1:{port}",
        http_proxy=f"http://127.0.0.1:{port}", https_proxy=f"http://127.0.0.1:{port}", ALL_PROXY=f"http://127.0.0.1:{port}",
    )

    def run(*args, timeout=300):
        out = subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                             timeout=timeout, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-3000:]
        return out

    t1 = time.perf_counter()
    imported = run("models", "import", str(usb))
    t_import = time.perf_counter() - t1
    assert sorted(p.name for p in (home / "models").iterdir()) == [
        "embeddinggemma-300m-onnx-int8", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"]
    assert "verified and installed" in imported.stderr
    assert "skipped" in run("models", "import", str(usb)).stderr  # a second import copies nothing

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(ROOT / "seeds" / "000_a4ba55a0b15ccb7c.txt", docs / "sezen.txt")
    t2 = time.perf_counter()
    ingest = run("ingest", str(docs))
    assert "indexed" in ingest.stdout
    answer = json.loads(run("ask", "--json", "Waarom is er geen projectplan voor Sezen opgesteld?").stdout)
    t_use = time.perf_counter() - t2
    assert answer["passages"] and answer["passages"][0]["source"].endswith("sezen.txt")
    if answer["abstained"]:
        assert answer["answer"].strip()  # an abstention says why
    else:
        assert answer["answer"].strip() and answer["citations"]
    print(f"\nexport {t_export:.1f}s, import {t_import:.1f}s, ingest+ask {t_use:.1f}s; "
          f"abstained={answer['abstained']}: {answer['answer'][:200]!r}")
