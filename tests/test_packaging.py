"""The project as a package: what goes into the wheel, the pinned lock, where an installed copy keeps
its data, and (real) the wheel installed plain into a new virtual environment, run from a folder that
is not the checkout: --version, ingest, search --json, ask --json, with no torch/onnx/matplotlib, the
index in the platform data folder and nothing written into site-packages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from assistant import places

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement_name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_code_and_data_folder_is_a_listed_package():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "assistant").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    mapped = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert folders <= listed, f"folders missing from pyproject's packages (the wheel would lack them): {folders - listed}"
    assert listed - folders == set(mapped), "a listed package that is neither a folder nor mapped"
    assert mapped == {"assistant.bundled.prompts": "prompts", "assistant.bundled.seeds": "seeds"}
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    assert {p.suffix for p in (ROOT / "prompts").iterdir()} == {".txt"}, "a prompt file the wheel would leave out"
    assert {p.name for p in (ROOT / "seeds").iterdir() if p.suffix != ".txt"} == {"meta.json"}
    assert data["assistant.bundled.seeds"] == ["*.txt", "meta.json"]


def test_every_dependency_is_pinned_in_the_lock():
    lock = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")) and "==" in line:
            name, version = line.split("==", 1)
            lock[name.lower().replace("_", "-")] = version.strip()
    project = PYPROJECT["project"]
    wanted = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    for req in wanted:
        name = _requirement_name(req)
        if name == project["name"] or "python_version < '3.11'" in req:
            continue  # the project's own extras; tomli only on 3.10 (the lock is for 3.11)
        assert name in lock, f"{name} is a dependency but not pinned in requirements.lock: regenerate it (its header says how)"
        exact = re.search(r"==\s*([^\s;,]+)", req)
        if exact:
            assert lock[name] == exact.group(1), f"{name}: pyproject pins {exact.group(1)}, the lock {lock[name]}"
    assert not [v for v in lock.values() if "+cpu" in v], "a +cpu label only fits Linux"


def test_heavy_packages_are_extras_not_the_plain_install():
    plain = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert not plain & {"torch", "sentence-transformers", "onnx", "onnxscript", "matplotlib", "transformers"}
    assert {"torch", "sentence-transformers", "onnx", "onnxscript"} <= {_requirement_name(r) for r in extras["export"]}
    assert {_requirement_name(r) for r in extras["eval"]} == {"matplotlib"}


def test_checkout_uses_its_own_folders():
    p = places.places()
    assert p.mode == "checkout"
    assert (p.index, p.prompts, p.seeds) == (ROOT / "index", ROOT / "prompts", ROOT / "seeds")


def test_installed_uses_the_platform_folders(monkeypatch, tmp_path):
    monkeypatch.setattr(places, "checkout_root", lambda: None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    p = places.places()
    assert p.mode == "installed"
    if sys.platform.startswith("linux"):
        assert p.index == tmp_path / "data" / "nl-gov-assistant" / "index"
        assert p.cache == tmp_path / "cache" / "nl-gov-assistant"
        assert p.config == tmp_path / "config" / "nl-gov-assistant" / "config.toml"
    assert p.prompts == places.PACKAGE_DIR / "bundled" / "prompts"
    assert "installed package" in p.describe()


def test_a_copy_beside_another_projects_pyproject_is_not_a_checkout(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    (tmp_path / "prompts").mkdir()
    monkeypatch.setattr(places, "PACKAGE_DIR", tmp_path / "assistant")
    assert places.checkout_root() is None


# -- the real thing: a wheel in a new virtual environment ---------------------------------------------
def _files(folder: Path) -> dict[str, tuple[int, int]]:
    # .pyc files are left out: Python itself may write bytecode caches beside an installed module.
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.real
def test_wheel_installed_plain_runs_from_any_folder(tmp_path):
    from assistant.config import Settings

    home = Settings.from_env().storage.home  # the real models (exported from here), pip's cache of built wheels
    dist, env_dir, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"

    def run(cmd, **kw):
        # Never from the checkout: `python -c` would import its assistant/ instead of the installed one.
        return subprocess.run(cmd, capture_output=True, text=True, **{"cwd": tmp_path, **kw})

    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT), "-w", str(dist)],
                timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(dist.glob("nl_gov_assistant-*.whl"))
    venv.create(env_dir, with_pip=True)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    pip_env = {**os.environ, "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(home / "pip"))}
    installed = run([str(py), "-m", "pip", "install", "-q", "-c", str(ROOT / "requirements.lock"), str(wheel)],
                    env=pip_env, timeout=1200)
    assert installed.returncode == 0, installed.stderr[-3000:]

    # The plain install has none of the heavy optional packages.
    probe = run([str(py), "-c", "import importlib.util as u, json; print(json.dumps({m: u.find_spec(m) is not None "
                 "for m in ['torch', 'onnx', 'onnxscript', 'matplotlib', 'sentence_transformers', 'onnxruntime', 'llama_cpp']}))"])
    found = json.loads(probe.stdout)
    assert found == {"torch": False, "onnx": False, "onnxscript": False, "matplotlib": False,
                     "sentence_transformers": False, "onnxruntime": True, "llama_cpp": True}, found
    site = Path(run([str(py), "-c", "import assistant, pathlib; print(pathlib.Path(assistant.__file__).parent.parent)"]).stdout.strip())
    assert site != ROOT and "site-packages" in site.parts
    before = _files(site)

    (work / "docs").mkdir(parents=True)
    seed = ROOT / "seeds" / "000_a4ba55a0b15ccb7c.txt"  # the council questions about Sezen
    (work / "docs" / "sezen.txt").write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_") or k == "ASSISTANT_CONFIG"}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), PYTHONDONTWRITEBYTECODE="1",
               ASSISTANT_LLM="qwen2.5-coder-0.5b", HF_HUB_OFFLINE="1")
    env.pop("PYTHONPATH", None)
    exe = str(bindir / "assistant")

    # The models arrive as a laptop without a registry gets them: exported from a machine that has them
    # and imported into an empty home (the ONNX export only: the plain install has no torch to use more).
    stick, new_home = tmp_path / "stick", tmp_path / "home"
    exported = run([exe, "--home", str(home), "models", "export", str(stick), "qwen2.5-coder-0.5b",
                    "embeddinggemma-300m", "--no-st"], cwd=work.parent, env=env, timeout=600)
    assert exported.returncode == 0, exported.stderr[-2000:]
    imported = run([exe, "--home", str(new_home), "models", "import", str(stick)], cwd=work.parent, env=env, timeout=600)
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert not (new_home / "models" / "embeddinggemma-300m").exists()  # no sentence-transformers folder
    env["ASSISTANT_HOME"] = str(new_home)

    version = run([exe, "--version"], cwd=work, env=env, timeout=120)
    assert version.returncode == 0, version.stderr
    assert "installed package" in version.stdout and str(tmp_path / "data" / "nl-gov-assistant" / "index") in version.stdout

    ingest = run([exe, "ingest", "docs"], cwd=work, env=env, timeout=900)
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    index_dir = tmp_path / "data" / "nl-gov-assistant" / "index"
    assert (index_dir / "manifest.json").is_file() or any(index_dir.iterdir()), "the index is not in the platform data folder"
    assert not (work / "index").exists()

    search = run([exe, "search", "--json", "-k", "3", "Waarom was er geen projectplan voor Sezen?"], cwd=work, env=env, timeout=300)
    assert search.returncode == 0, search.stderr[-2000:]
    passages = json.loads(search.stdout)["passages"]
    assert passages and passages[0]["source"] == "docs/sezen.txt"

    ask = run([exe, "ask", "--json", "Waarom was er geen projectplan voor Sezen?"], cwd=work, env=env, timeout=900)
    assert ask.returncode == 0, ask.stderr[-2000:]
    answer = json.loads(ask.stdout)
    assert answer["passages"] and answer["timings"]["total_s"] > 0
    assert answer["answer"].strip() and (answer["abstained"] or answer["citations"]), answer["answer"]

    assert _files(site) == before, "the installed package wrote into site-packages"
