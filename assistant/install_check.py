"""What this machine has and lacks for the assistant, each with the fix for its operating system.

`assistant setup` prints these checks before it fetches the models and builds the first index, and
`assistant setup --check` prints only them; the tests call the same functions. Each check is a
`Check`: its name, whether it passed, what was found, and (when it did not pass) the one command or
instruction that fixes it on this OS. A failed `required` check makes `assistant setup` exit 1
(llama.cpp missing: no answers at all); the others are warnings (no Tesseract: scanned PDFs are
skipped, the rest works).

    python      Python >= 3.10
    llama.cpp   llama_cpp imports and its library loads; if not: a C/C++ compiler and CMake
                to build it, or a prebuilt wheel (Windows)
    tesseract   Tesseract with its Dutch model (nld), for scanned PDFs
    onnx        the ONNX int8 export of the embedder, or torch + onnx to make it
    disk        free space where the models go, against what the missing ones need

Nothing here changes the machine: it only looks (`shutil.which`, imports, `tesseract --list-langs`,
`shutil.disk_usage`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .models import MODELS, SMALL_LLM, is_installed

MIN_PYTHON = (3, 10)
LINUX, MACOS, WINDOWS = "linux", "macos", "windows"
# What the ONNX export needs on disk while it runs: the fp32 graph (~1.2 GB, deleted at the end)
# beside the int8 one (~1.0 GB, kept), measured for EmbeddingGemma-300m.
EXPORT_BYTES = 2_300_000_000
# The message for "no ONNX export and nothing to make it with".
EXPORT_FIX = ('install the [export] extra (pip install -e ".[export]"), or import the models from a file '
              "with `assistant models import`")
LLAMA_WHEEL = "pip install llama-cpp-python --extra-index-url https://abetlen.github.io/llama-cpp-python/whl/cpu"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found
    fix: str = ""  # what to do when not ok, for this OS
    required: bool = True  # a failed required check: setup exits 1; otherwise it is a warning

    @property
    def status(self) -> str:
        return "ok" if self.ok else ("FAIL" if self.required else "warn")


def current_system() -> str:
    """linux, macos or windows (the fixes are written for these; other Unixes get the Linux ones)."""
    return {"win32": WINDOWS, "cygwin": WINDOWS, "darwin": MACOS}.get(sys.platform, LINUX)


# -- the fixes, per OS --------------------------------------------------------------------------------
PYTHON_FIX = {
    LINUX: "install Python 3.11: sudo apt-get install python3 python3-venv (Debian/Ubuntu), then run ./run.sh again",
    MACOS: "install Python 3.11: brew install python@3.11, then run PYTHON=python3.11 ./run.sh",
    WINDOWS: "install Python 3.11: winget install Python.Python.3.11 (or python.org), then run .\\run.ps1 again",
}
COMPILER_FIX = {
    LINUX: "sudo apt-get install build-essential cmake",
    MACOS: "xcode-select --install, then brew install cmake",
    WINDOWS: 'Visual Studio Build Tools with the workload "Desktop development with C++" '
             "(winget install Microsoft.VisualStudio.2022.BuildTools) and CMake (winget install Kitware.CMake)",
}
TESSERACT_FIX = {
    LINUX: "sudo apt-get install tesseract-ocr tesseract-ocr-nld",
    MACOS: "brew install tesseract tesseract-lang",
    WINDOWS: "winget install UB-Mannheim.TesseractOCR, add C:\\Program Files\\Tesseract-OCR to PATH, and put "
             "nld.traineddata (github.com/tesseract-ocr/tessdata_fast) in its tessdata folder",
}
DUTCH_FIX = {
    LINUX: "sudo apt-get install tesseract-ocr-nld",
    MACOS: "brew install tesseract-lang",
    WINDOWS: "put nld.traineddata (github.com/tesseract-ocr/tessdata_fast) in C:\\Program Files\\Tesseract-OCR\\tessdata",
}
HOME_FIX = {
    LINUX: "ASSISTANT_HOME=/path/with/space ./run.sh",
    MACOS: "ASSISTANT_HOME=/path/with/space ./run.sh",
    WINDOWS: "$env:ASSISTANT_HOME = 'D:\\nl-gov-assistant'; .\\run.ps1",
}


def gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (torch takes seconds)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


# -- the checks -----------------------------------------------------------------------------------------
def check_python(version: tuple[int, ...] | None = None, system: str | None = None) -> Check:
    v = tuple(version or sys.version_info[:3])
    shown = ".".join(map(str, v))
    need = ".".join(map(str, MIN_PYTHON))
    if v[:2] >= MIN_PYTHON:
        return Check("python", True, f"Python {shown} ({sys.executable})")
    return Check("python", False, f"Python {shown} is too old: the assistant needs {need} or newer",
                 PYTHON_FIX[system or current_system()])


def compilers(system: str | None = None) -> list[str]:
    """The C/C++ compilers found on PATH (on Windows also Visual Studio's installer, which CMake finds
    even when cl.exe is not on PATH)."""
    system = system or current_system()
    names = ("cl.exe", "clang-cl.exe", "gcc.exe", "clang.exe") if system == WINDOWS else ("cc", "gcc", "clang", "c++")
    found = [name for name in names if shutil.which(name)]
    if system == WINDOWS and _vswhere().is_file():
        found.append("Visual Studio (vswhere.exe)")
    return found


def _vswhere() -> Path:
    base = os.environ.get("ProgramFiles(x86)") or "C:\\Program Files (x86)"
    return Path(base) / "Microsoft Visual Studio" / "Installer" / "vswhere.exe"


def check_llama(required: bool = True, system: str | None = None) -> Check:
    """llama_cpp imports and its shared library loads (it prints the CPU features it was built with)."""
    system = system or current_system()
    try:
        llama_cpp = importlib.import_module("llama_cpp")
        info = llama_cpp.llama_print_system_info()
    except ImportError as e:  # not installed (pip could not build it)
        problem = f"llama_cpp is not installed ({e})"
        found = compilers(system)
        cmake = shutil.which("cmake.exe" if system == WINDOWS else "cmake")
        if found and cmake:
            detail = (f"{problem}; a C/C++ compiler ({', '.join(found)}) and CMake ({cmake}) are present, so it can "
                      "be built")
            fix = "pip install -e . in the project's .venv (builds llama-cpp-python, about 10 minutes on 2 cores)"
        else:
            lacking = " and ".join(x for x, have in (("a C/C++ compiler", found), ("CMake", cmake)) if not have)
            detail = f"{problem}; building it needs {lacking}, which this machine lacks"
            fix = f"{COMPILER_FIX[system]}, then pip install -e . in the project's .venv again"
        if system == WINDOWS:
            fix += f"; or a prebuilt CPU wheel: {LLAMA_WHEEL}"
        return Check("llama.cpp", False, detail, fix, required)
    except (OSError, AttributeError, RuntimeError) as e:  # installed, but its library does not load
        version = _version("llama-cpp-python")
        return Check("llama.cpp", False, f"llama_cpp {version} is installed but its library does not load ({e})",
                     f"rebuild it: pip install --force-reinstall --no-cache-dir llama-cpp-python=={version}", required)
    if isinstance(info, bytes):
        info = info.decode(errors="replace")
    features = [f.split("=")[0].split(":")[-1].strip() for f in str(info).split("|") if f.strip().endswith("= 1")]
    shown = f", CPU features {' '.join(features[:8])}" if features else ""
    return Check("llama.cpp", True, f"llama_cpp {_version('llama-cpp-python')} loads{shown}", required=required)


def tesseract_command() -> str | None:
    """Where the tesseract program is; None when it is not found. Every Tesseract lookup of the install
    check goes through here, so it follows ocr.py once that finds Tesseract outside PATH too."""
    return shutil.which("tesseract")


def tesseract_languages(cmd: str) -> tuple[str, list[str]]:
    """(version line, installed languages) from `tesseract --version` / `--list-langs`."""
    def run(*args: str) -> str:
        out = subprocess.run([cmd, *args], capture_output=True, text=True, timeout=60)
        return out.stdout + "\n" + out.stderr  # Tesseract 3 printed these on stderr

    version = next((line.strip() for line in run("--version").splitlines() if line.strip()), "tesseract")
    langs = [line.strip() for line in run("--list-langs").splitlines()
             if line.strip() and " " not in line.strip() and ":" not in line]
    return version, langs


def check_tesseract(system: str | None = None) -> Check:
    system = system or current_system()
    cmd = tesseract_command()
    skipped = "scanned PDFs (no text layer) will be skipped; everything else works"
    if not cmd:
        return Check("tesseract", False, f"Tesseract not found: {skipped}", TESSERACT_FIX[system], required=False)
    try:
        version, langs = tesseract_languages(cmd)
    except (OSError, subprocess.SubprocessError) as e:
        return Check("tesseract", False, f"{cmd} does not run ({e}): {skipped}", TESSERACT_FIX[system], required=False)
    if "nld" not in langs:
        return Check("tesseract", False, f"{version} at {cmd} has no Dutch model (nld; it has {', '.join(langs) or 'none'}): "
                                         f"{skipped}", DUTCH_FIX[system], required=False)
    return Check("tesseract", True, f"{version} with Dutch (nld) at {cmd}")


def export_recipe(target: Path) -> str | None:
    """The recipe that made the ONNX export in `target` (None: no export there)."""
    from .embed.onnx_rt import MANIFEST, is_export

    if not is_export(target):
        return None
    try:
        return json.loads((Path(target) / MANIFEST).read_text(encoding="utf-8")).get("recipe") or "?"
    except (OSError, ValueError):
        return "?"


def export_wanted(settings) -> bool:
    """Whether these settings embed with the local ONNX export and it is missing or outdated."""
    from .embed.onnx_export import RECIPE, export_folder

    e = settings.embedding
    if e.base_url or e.backend == "torch":
        return False
    return export_recipe(export_folder(settings.embedder_path())) != RECIPE


def export_tools_missing() -> list[str]:
    """The packages the ONNX export needs that are not installed."""
    return [m for m in ("torch", "onnx", "onnxscript") if not installed(m)]


def check_onnx(settings) -> Check:
    """The ONNX export of the embedder is there, or torch + onnx are there to make it."""
    from .embed.onnx_export import export_folder

    e = settings.embedding
    target = export_folder(settings.embedder_path())
    if e.base_url:
        return Check("onnx", True, f"not needed: embeddings come from {e.base_url}")
    has_torch = installed("torch")
    torch = f"torch {_version('torch')}" if has_torch else "torch not installed"
    if e.backend == "torch":
        if installed("torch"):
            return Check("onnx", True, f"not used (embed backend torch): {torch}")
        return Check("onnx", False, "embed backend torch, but torch is not installed", EXPORT_FIX, required=False)
    if not export_wanted(settings):
        return Check("onnx", True, f"ONNX int8 export at {target} " +
                     (f"({torch}, only needed to make it again)" if has_torch else "(torch not installed: not needed)"))
    missing = export_tools_missing()
    if not missing:
        return Check("onnx", True, f"{torch} and onnx {_version('onnx')} present: setup makes the ONNX int8 export "
                                   f"at {target} (about 2 minutes)")
    return Check("onnx", False, f"no ONNX export at {target}, and {', '.join(missing)} not installed to make it: "
                                "the embedding model cannot run", EXPORT_FIX, required=False)


def wanted_models(settings, small: bool = False) -> list[str]:
    """The model keys these settings use locally (the LLM and the embedder, unless served), plus the
    small test LLM with `small`."""
    keys = []
    if not settings.generation.base_url and settings.llm_key():
        keys.append(settings.llm_key())
    if not settings.embedding.base_url and settings.embedder_key():
        keys.append(settings.embedder_key())
    if small and SMALL_LLM not in keys:
        keys.append(SMALL_LLM)
    return keys


def missing_models(settings, small: bool = False) -> list[str]:
    return [k for k in wanted_models(settings, small) if not is_installed(settings.storage.models_dir, k)]


def bytes_needed(settings, small: bool = False, export: bool = True) -> int:
    """Disk the missing models need while they are fetched: each model's size, twice for a zipped
    folder (the zip is unpacked beside itself), plus the ONNX export's when it will be made."""
    need = sum(MODELS[k].size * (2 if MODELS[k].kind == "st" else 1) for k in missing_models(settings, small))
    if export and export_wanted(settings) and not export_tools_missing():
        need += EXPORT_BYTES
    return need


def _existing(folder: Path) -> Path:
    folder = Path(folder).absolute()
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def check_disk(folder: Path, need: int | None, required: bool = True, system: str | None = None) -> Check:
    """Free space in `folder` (or the nearest existing parent) against `need` bytes (None: nothing
    will be fetched)."""
    free = shutil.disk_usage(_existing(folder)).free
    if need is None:
        return Check("disk", True, f"{gb(free)} free in {folder} (no models fetched)")
    if need <= 0:
        return Check("disk", True, f"{gb(free)} free in {folder}; every model is already there")
    if free >= need:
        return Check("disk", True, f"{gb(free)} free in {folder}; the missing models need up to {gb(need)} while they are unpacked and exported")
    return Check("disk", False, f"{gb(free)} free in {folder}, but the missing models need up to {gb(need)} while they are unpacked and exported",
                 f"free {gb(need - free)} on that drive, or put the models on another one: {HOME_FIX[system or current_system()]}",
                 required)


def run_checks(settings, small: bool = False, fetch: bool = True) -> list[Check]:
    """Every check, for these settings (`small`: the test LLM too; `fetch`: the models will be fetched)."""
    return [
        check_python(),
        # A served LLM (ASSISTANT_LLM_BASE_URL) needs no llama.cpp here.
        check_llama(required=not settings.generation.base_url),
        check_tesseract(),
        check_onnx(settings),
        check_disk(settings.storage.models_dir, bytes_needed(settings, small) if fetch else None),
    ]
