"""`assistant setup` and its checks (install_check.py): each failing check names the fix for this OS
and for the others; --check changes nothing; run.sh and run.ps1 run the same setup and pytest."""

import os
import re
import shutil
import subprocess
import sys
import types
from collections import namedtuple
from pathlib import Path

import pytest

from assistant import install_check as ic
from assistant import models
from assistant.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = (ic.LINUX, ic.MACOS, ic.WINDOWS)
Usage = namedtuple("Usage", "total used free")


def run(*args, env=None, timeout=600):
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=full,
                          timeout=timeout)


def settings(tmp_path, **kw) -> Settings:
    return Settings().with_(home=tmp_path / "home", index_dir=tmp_path / "idx", **kw)


@pytest.fixture
def no_llama(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp -> ImportError


def which_only(monkeypatch, *names):
    monkeypatch.setattr(ic.shutil, "which", lambda name: f"/usr/bin/{name}" if name in names else None)


# -- the fixes are per OS ----------------------------------------------------------------------------
def test_current_system_is_one_of_three(monkeypatch):
    assert ic.current_system() in SYSTEMS
    for platform, system in (("win32", ic.WINDOWS), ("darwin", ic.MACOS), ("linux", ic.LINUX), ("freebsd14", ic.LINUX)):
        monkeypatch.setattr(ic.sys, "platform", platform)
        assert ic.current_system() == system


@pytest.mark.parametrize("table", [ic.PYTHON_FIX, ic.COMPILER_FIX, ic.TESSERACT_FIX, ic.DUTCH_FIX, ic.HOME_FIX])
def test_every_fix_is_written_for_every_os(table):
    assert set(table) == set(SYSTEMS)
    assert len({table[s] for s in SYSTEMS}) > 1  # not one text for all


def test_python_version():
    assert ic.check_python().ok  # this interpreter runs the tests
    assert ic.check_python((3, 10, 0)).ok
    for system in SYSTEMS:
        c = ic.check_python((3, 9, 18), system)
        assert not c.ok and c.required and "3.9.18" in c.detail and "3.10" in c.detail
        assert c.fix == ic.PYTHON_FIX[system]
    assert "winget install Python.Python.3.11" in ic.check_python((3, 8, 0), ic.WINDOWS).fix
    assert "brew install python@3.11" in ic.check_python((3, 8, 0), ic.MACOS).fix


# -- llama.cpp ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("system", SYSTEMS)
def test_llama_missing_without_compiler_names_the_build_tools(no_llama, monkeypatch, system):
    which_only(monkeypatch)  # nothing on PATH
    monkeypatch.setattr(ic, "_vswhere", lambda: Path("/nonexistent/vswhere.exe"))
    c = ic.check_llama(system=system)
    assert not c.ok and c.required and c.status == "FAIL"
    assert "llama_cpp is not installed" in c.detail and "a C/C++ compiler and CMake" in c.detail
    assert ic.COMPILER_FIX[system] in c.fix
    assert ("abetlen.github.io/llama-cpp-python/whl/cpu" in c.fix) == (system == ic.WINDOWS)


def test_llama_fix_texts_per_os(no_llama, monkeypatch):
    which_only(monkeypatch)
    monkeypatch.setattr(ic, "_vswhere", lambda: Path("/nonexistent/vswhere.exe"))
    assert "apt-get install build-essential cmake" in ic.check_llama(system=ic.LINUX).fix
    mac = ic.check_llama(system=ic.MACOS).fix
    assert "xcode-select --install" in mac and "brew install cmake" in mac
    win = ic.check_llama(system=ic.WINDOWS).fix
    assert "Desktop development with C++" in win and "CMake" in win
    assert "pip install llama-cpp-python --extra-index-url https://abetlen.github.io/llama-cpp-python/whl/cpu" in win


def test_llama_missing_with_compiler_but_no_cmake(no_llama, monkeypatch):
    which_only(monkeypatch, "gcc")
    c = ic.check_llama(system=ic.LINUX)
    assert "building it needs CMake" in c.detail and "C/C++ compiler" not in c.detail.split("needs")[1]


def test_llama_missing_with_build_tools_says_it_can_be_built(no_llama, monkeypatch):
    which_only(monkeypatch, "gcc", "cc", "cmake")
    c = ic.check_llama(system=ic.LINUX)
    assert not c.ok and "cc, gcc" in c.detail and "/usr/bin/cmake" in c.detail and "can be built" in c.detail
    assert "pip install -e ." in c.fix


def test_windows_finds_visual_studio_without_cl_on_path(no_llama, monkeypatch, tmp_path):
    which_only(monkeypatch, "cmake.exe")
    vswhere = tmp_path / "vswhere.exe"
    vswhere.write_text("")
    monkeypatch.setattr(ic, "_vswhere", lambda: vswhere)
    assert ic.compilers(ic.WINDOWS) == ["Visual Studio (vswhere.exe)"]
    assert "can be built" in ic.check_llama(system=ic.WINDOWS).detail


def test_llama_installed_but_library_does_not_load(monkeypatch):
    broken = types.ModuleType("llama_cpp")

    def fails():
        raise OSError("libllama.so: cannot open shared object file")

    broken.llama_print_system_info = fails
    monkeypatch.setitem(sys.modules, "llama_cpp", broken)
    c = ic.check_llama()
    assert not c.ok and "does not load" in c.detail and "libllama.so" in c.detail
    assert "--force-reinstall" in c.fix


def test_llama_not_required_with_a_served_llm(no_llama, tmp_path):
    checks = ic.run_checks(settings(tmp_path, llm_base_url="http://gpu-box:8080"))
    llama = next(c for c in checks if c.name == "llama.cpp")
    assert not llama.ok and not llama.required and llama.status == "warn"


def test_llama_on_this_machine():
    pytest.importorskip("llama_cpp")
    c = ic.check_llama()
    assert c.ok and "loads" in c.detail, c


# -- Tesseract ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("system", SYSTEMS)
def test_no_tesseract_is_a_warning_with_the_install_line(monkeypatch, system):
    monkeypatch.setattr(ic, "tesseract_command", lambda: None)
    c = ic.check_tesseract(system)
    assert not c.ok and not c.required and c.status == "warn"
    assert "scanned PDFs" in c.detail and c.fix == ic.TESSERACT_FIX[system]


def test_tesseract_without_dutch(monkeypatch):
    monkeypatch.setattr(ic, "tesseract_command", lambda: "/usr/bin/tesseract")
    monkeypatch.setattr(ic, "tesseract_languages", lambda cmd: ("tesseract 5.3.0", ["eng", "osd"]))
    c = ic.check_tesseract(ic.LINUX)
    assert not c.ok and "no Dutch model" in c.detail and "eng, osd" in c.detail
    assert c.fix == "sudo apt-get install tesseract-ocr-nld"
    assert "brew install tesseract-lang" == ic.check_tesseract(ic.MACOS).fix
    assert "nld.traineddata" in ic.check_tesseract(ic.WINDOWS).fix


def test_tesseract_that_does_not_run(monkeypatch, tmp_path):
    fake = tmp_path / "tesseract"
    fake.write_text("not a program")
    monkeypatch.setattr(ic, "tesseract_command", lambda: str(fake))
    c = ic.check_tesseract(ic.LINUX)
    assert not c.ok and "does not run" in c.detail


def test_tesseract_on_this_machine():
    if not shutil.which("tesseract"):
        pytest.skip("no tesseract on PATH")
    version, langs = ic.tesseract_languages(shutil.which("tesseract"))
    assert version.lower().startswith("tesseract") and langs
    c = ic.check_tesseract()
    assert c.ok == ("nld" in langs)


# -- the ONNX export / torch --------------------------------------------------------------------------
def fake_export(s: Settings, recipe: str) -> Path:
    from assistant.embed.onnx_export import export_folder

    target = export_folder(s.embedder_path())
    target.mkdir(parents=True)
    (target / "embedder.json").write_text(f'{{"recipe": "{recipe}"}}')
    return target


def test_no_export_and_no_torch_says_install_the_extra_or_import(monkeypatch, tmp_path):
    monkeypatch.setattr(ic, "installed", lambda module: module != "torch")
    c = ic.check_onnx(settings(tmp_path))
    assert not c.ok and not c.required and "torch not installed" in c.detail
    assert "install the [export] extra" in c.fix and "assistant models import" in c.fix


def test_no_export_with_torch_will_make_it(monkeypatch, tmp_path):
    monkeypatch.setattr(ic, "installed", lambda module: True)
    c = ic.check_onnx(settings(tmp_path))
    assert c.ok and "setup makes the ONNX int8 export" in c.detail


def test_current_export_needs_no_torch(monkeypatch, tmp_path):
    from assistant.embed.onnx_export import RECIPE

    s = settings(tmp_path)
    fake_export(s, RECIPE)
    monkeypatch.setattr(ic, "installed", lambda module: False)
    c = ic.check_onnx(s)
    assert c.ok and "torch not installed: not needed" in c.detail
    assert not ic.export_wanted(s)


def test_old_export_is_made_again(monkeypatch, tmp_path):
    s = settings(tmp_path)
    fake_export(s, "onnx-int8-v1")
    assert ic.export_wanted(s)
    monkeypatch.setattr(ic, "installed", lambda module: False)
    assert not ic.check_onnx(s).ok


def test_served_or_torch_embedder_needs_no_export(monkeypatch, tmp_path):
    assert ic.check_onnx(settings(tmp_path, embed_base_url="http://gpu-box:8081")).ok
    assert not ic.export_wanted(settings(tmp_path, embed_backend="torch"))
    monkeypatch.setattr(ic, "installed", lambda module: False)
    c = ic.check_onnx(settings(tmp_path, embed_backend="torch"))
    assert not c.ok and "torch is not installed" in c.detail


def test_export_onnx_without_torch_explains_instead_of_failing(monkeypatch, tmp_path, capsys):
    from assistant.cli.models import export_onnx

    monkeypatch.setattr(ic, "installed", lambda module: module not in ("torch", "onnxscript"))
    assert export_onnx(tmp_path / "embeddinggemma-300m") is False
    err = capsys.readouterr().err
    assert "torch, onnxscript not installed" in err and "[export] extra" in err


# -- disk ----------------------------------------------------------------------------------------------
def test_bytes_needed_counts_missing_models_unpacking_and_export(monkeypatch, tmp_path):
    monkeypatch.setattr(ic, "installed", lambda module: True)
    s = settings(tmp_path)
    llm, emb, small = (models.MODELS[k].size for k in (models.DEFAULT_LLM, models.DEFAULT_EMBEDDER, models.SMALL_LLM))
    assert ic.missing_models(s) == [models.DEFAULT_LLM, models.DEFAULT_EMBEDDER]
    assert ic.bytes_needed(s) == llm + 2 * emb + ic.EXPORT_BYTES
    assert ic.bytes_needed(s, small=True) == llm + 2 * emb + small + ic.EXPORT_BYTES
    (s.storage.models_dir).mkdir(parents=True)
    models.model_path(s.storage.models_dir, models.DEFAULT_LLM).write_bytes(b"x")
    assert ic.bytes_needed(s) == 2 * emb + ic.EXPORT_BYTES
    monkeypatch.setattr(ic, "installed", lambda module: False)  # no torch: no export will be made
    assert ic.bytes_needed(s) == 2 * emb


def test_wanted_models_follow_the_settings(tmp_path):
    assert ic.wanted_models(settings(tmp_path)) == [models.DEFAULT_LLM, models.DEFAULT_EMBEDDER]
    assert ic.wanted_models(settings(tmp_path), small=True)[-1] == models.SMALL_LLM
    assert ic.wanted_models(settings(tmp_path, llm_base_url="http://x:1", embed_base_url="http://x:2")) == []
    assert ic.wanted_models(settings(tmp_path, llm=str(tmp_path / "own.gguf"))) == [models.DEFAULT_EMBEDDER]


@pytest.mark.parametrize("system", SYSTEMS)
def test_too_little_disk_names_the_shortfall_and_another_home(monkeypatch, tmp_path, system):
    monkeypatch.setattr(ic.shutil, "disk_usage", lambda path: Usage(100 * 10**9, 99 * 10**9, 10**9))
    c = ic.check_disk(tmp_path / "not" / "made" / "yet", 3 * 10**9, system=system)
    assert not c.ok and c.required and "1.0 GB free" in c.detail and "3.0 GB" in c.detail
    assert "free 2.0 GB" in c.fix and ic.HOME_FIX[system] in c.fix
    assert not (tmp_path / "not").exists()  # only looked


def test_enough_disk(monkeypatch, tmp_path):
    monkeypatch.setattr(ic.shutil, "disk_usage", lambda path: Usage(100 * 10**9, 10**9, 50 * 10**9))
    assert ic.check_disk(tmp_path, 3 * 10**9).ok
    assert "every model is already there" in ic.check_disk(tmp_path, 0).detail
    assert "no models fetched" in ic.check_disk(tmp_path, None).detail


def test_checks_are_typed_and_frozen(tmp_path):
    checks = ic.run_checks(settings(tmp_path))
    assert [c.name for c in checks] == ["python", "llama.cpp", "tesseract", "onnx", "disk"]
    assert all(isinstance(c, ic.Check) and c.detail and (c.ok or c.fix) for c in checks)
    with pytest.raises(AttributeError):
        checks[0].ok = False


# -- the command, in process with fakes ------------------------------------------------------------------
def setup_main(tmp_path, *args):
    from assistant.cli import main

    return main(["--home", str(tmp_path / "home"), "--index-dir", str(tmp_path / "idx"), "setup", *args])


def test_setup_fetches_the_missing_models_with_small(monkeypatch, tmp_path, capsys):
    import assistant.cli.models as cli_models

    calls = []
    monkeypatch.setattr(cli_models, "fetch_models", lambda s, keys, onnx=True: calls.append(list(keys)))
    assert setup_main(tmp_path, "--small", "--no-index") == 0
    assert calls == [[models.DEFAULT_LLM, models.DEFAULT_EMBEDDER, models.SMALL_LLM]]
    err = capsys.readouterr().err
    assert "==> models in" in err and "index: skipped (--no-index)" in err


def test_setup_fetches_nothing_without_disk(monkeypatch, tmp_path, capsys):
    import assistant.cli.models as cli_models

    monkeypatch.setattr(cli_models, "fetch_models", lambda *a, **k: pytest.fail("fetched without disk space"))
    monkeypatch.setattr(ic.shutil, "disk_usage", lambda path: Usage(10**10, 10**10 - 10**6, 10**6))
    assert setup_main(tmp_path, "--no-index") == 1
    out, err = capsys.readouterr()
    assert "FAIL  disk" in err and "models: not fetched" in err and "not ready: fix disk" in out


def test_setup_builds_the_index_from_the_seeds(monkeypatch, tmp_path, capsys):
    from fakes import HashEmbedder

    from assistant import index, pipeline

    monkeypatch.setattr(pipeline, "make_embedder", lambda s, built_with=None: HashEmbedder())
    assert setup_main(tmp_path, "--no-models") == 0
    out, err = capsys.readouterr()
    assert len(index.load(tmp_path / "idx").docs) == 5
    assert "index: ready, 5 documents" in err and "models: skipped (--no-models)" in err
    assert f"index   {tmp_path / 'idx'}" in out and "`assistant chat`" in out
    assert setup_main(tmp_path, "--no-models") == 0  # again: nothing to embed
    assert "0 added, 0 updated, 0 removed, 5 unchanged" in capsys.readouterr().out


def test_setup_without_models_says_the_index_could_not_be_built(tmp_path, capsys):
    assert setup_main(tmp_path, "--no-models") == 1  # the embedder is not in the empty home
    out, err = capsys.readouterr()
    assert "index: failed: Embedding model" in err and "assistant models fetch embeddinggemma-300m" in err
    assert "not ready: fix the index" in out and "Traceback" not in err


def test_a_failed_required_check_exits_1_and_says_what_to_fix(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(ic, "check_llama", lambda required=True: ic.Check("llama.cpp", False, "gone", "build it", required))
    assert setup_main(tmp_path, "--check") == 1
    out, err = capsys.readouterr()
    assert "FAIL  llama.cpp  gone" in err and "fix: build it" in err and "not ready: fix llama.cpp" in out


def test_a_warning_still_exits_0(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(ic, "tesseract_command", lambda: None)
    assert setup_main(tmp_path, "--check") == (0 if ic.check_llama().ok else 1)
    out, err = capsys.readouterr()
    assert "warn  tesseract" in err and "1 warning" in err and "warning tesseract:" in out


# -- the command on this machine -----------------------------------------------------------------------------
def test_setup_check_on_this_machine_lists_each_check_and_changes_nothing(tmp_path):
    out = run("setup", "--check", env={"ASSISTANT_INDEX_DIR": str(tmp_path / "idx")})
    assert out.returncode == 0, out.stderr
    for name in ("python", "llama.cpp", "tesseract", "onnx", "disk"):
        assert re.search(rf"^  (ok|warn|FAIL)\s+{re.escape(name)}\s", out.stderr, re.M), name
    for step in ("==> checking this machine", "==> models in", "==> first index", "==> summary"):
        assert step in out.stderr
    assert "Traceback" not in out.stderr and "next" in out.stdout
    assert not (tmp_path / "idx").exists()


def test_setup_check_with_nothing_fetched_says_what_it_would_do(tmp_path):
    out = run("setup", "--check", "--small", env={"ASSISTANT_HOME": str(tmp_path / "home"),
                                                  "ASSISTANT_INDEX_DIR": str(tmp_path / "idx")})
    assert out.returncode == 0, out.stderr
    assert f"{models.SMALL_LLM}: missing" in out.stderr and "setup would fetch" in out.stderr
    assert "index: none yet" in out.stderr and "`assistant setup`" in out.stdout
    assert "set it in a new shell too" in out.stdout  # a home of its own is not found without the variable
    assert not (tmp_path / "home").exists() and not (tmp_path / "idx").exists()


# -- run.sh and run.ps1 do the same ----------------------------------------------------------------------------
def _setup_calls_sh(text: str) -> list[str]:
    return [" ".join(m.split()) for m in re.findall(r'^\s*"\$A" (setup[^\n]*)$', text, re.M)]


def _setup_calls_ps1(text: str) -> list[str]:
    return [" ".join(re.findall(r"'([^']*)'", m)) for m in re.findall(r"^\s*Invoke-Checked \$A @\(([^)]*)\)", text, re.M)]


def test_run_sh_and_run_ps1_run_the_same_setup_and_pytest():
    sh = (ROOT / "run.sh").read_text()
    ps1 = (ROOT / "run.ps1").read_text()
    assert _setup_calls_sh(sh) == _setup_calls_ps1(ps1) == ["setup", "setup --small --no-index"]
    assert re.search(r'"\$VENV/bin/python" -m pytest -ra "\$\{@:2\}"', sh)
    assert re.search(r"& \$Py -m pytest -ra @Rest", ps1)
    for text in (sh, ps1):  # pytest's "no tests collected" is a failure in both
        assert re.search(r"\$rc\"? (=|-eq) 5", text)
    pin = re.search(r"torch==([\d.]+)", (ROOT / "pyproject.toml").read_text()).group(1)
    assert f"'torch=={pin}', '--index-url', 'https://download.pytorch.org/whl/cpu'" in ps1
    assert f"torch=={pin}" in sh
    sh_modes = {m for line in re.findall(r"^\s*([\w|]+)\)\s*$", sh, re.M) for m in line.split("|")}
    assert sh_modes == {"chat", "setup", "test"}
    assert all(f"'{mode}'" in ps1 for mode in sh_modes)


def test_run_ps1_stops_on_errors_and_keeps_its_cache():
    ps1 = (ROOT / "run.ps1").read_text()
    assert "$ErrorActionPreference = 'Stop'" in ps1
    assert "Join-Path $env:LOCALAPPDATA 'nl-gov-assistant\\Cache'" in ps1 and "$env:PIP_CACHE_DIR = Join-Path $env:ASSISTANT_HOME 'pip'" in ps1
    assert "Get-FileHash -LiteralPath 'pyproject.toml'" in ps1 and ".installed-$Extras-$key" in ps1
    assert "$Extras = if ($Mode -eq 'test') { 'test' } else { 'export' }" in ps1  # as run.sh installs them
    assert "py', '-3.11'" in ps1 or "@('py', '-3.11')" in ps1
    # every native command is followed by a look at its exit code
    lines = [line.strip() for line in ps1.splitlines()]
    calls = [i for i, line in enumerate(lines) if re.search(r"(^|\{ )& [$\w]", line)]
    assert len(calls) == 5, [lines[i] for i in calls]  # Invoke-Checked, py, python, chat, pytest
    for i in calls:
        assert any("$LASTEXITCODE" in line for line in lines[i : i + 2]), lines[i]
    # balanced braces and parentheses outside strings (a cheap syntax guard; pwsh is not on every machine)
    bare = re.sub(r"'[^']*'|\"[^\"]*\"|#.*", "", ps1)
    assert bare.count("{") == bare.count("}") and bare.count("(") == bare.count(")")


# -- real models --------------------------------------------------------------------------------------------
@pytest.mark.real
def test_setup_builds_a_first_index_with_the_real_models(tmp_path):
    s = Settings.from_env()
    if not all(models.is_installed(s.storage.models_dir, k) for k in (models.DEFAULT_LLM, models.DEFAULT_EMBEDDER)):
        pytest.skip(f"the default models are not in {s.storage.models_dir}: run `assistant models fetch`")
    seeds = tmp_path / "seeds"  # one small seed document: a real build in seconds, not minutes
    seeds.mkdir()
    shutil.copy(ROOT / "seeds" / "004_cdb15e3e631d770e.txt", seeds)
    out = run("setup", "--no-models", env={"ASSISTANT_INDEX_DIR": str(tmp_path / "idx"), "ASSISTANT_SEEDS_DIR": str(seeds)})
    assert out.returncode == 0, out.stderr
    assert "index: ready, 1 documents" in out.stderr and "`assistant chat`" in out.stdout

    from assistant import index

    idx = index.load(tmp_path / "idx")
    assert list(idx.docs) == ["seeds/004_cdb15e3e631d770e.txt"] and len(idx.chunks) > 0
