"""Portability: nothing in assistant/ needs a POSIX-only module or call, so the tool runs on Windows
and macOS; and what differs there (the index's write lock, reading rows of the exact vectors,
fsync of a folder, faiss' memory map, where Tesseract is) is checked here on Linux.

The first tests run the code in a subprocess where, for assistant/ only, the POSIX-only modules
are missing and os/signal/time lack their POSIX-only names (tests/windows_like.py): every module
must import, and an ingest + search + remove + check must work with the flat and the HNSW store.
A static scan catches the same names in code paths those runs do not reach. The CI workflow
(.github/workflows/ci.yml) runs the whole suite on Windows and macOS; the last test checks that it
runs the same test command as .ci/run."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import windows_like  # its constants only: the guard is installed by its main(), in a subprocess
from test_index import _write_docs

from assistant import index, ocr
from assistant.errors import IndexFileError
from assistant.store import build_store, common, faiss_hnsw, open_store

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _windows_like(*args: str, timeout: int = 300) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "windows_like.py"), *args], capture_output=True,
                          text=True, env=_env(), timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["error"] is None, out["error"]
    return out


# -- assistant/ as on Windows -------------------------------------------------------------------------
def test_every_module_imports_without_posix_only_modules():
    out = _windows_like("imports")
    assert out["failed"] == {}, "\n".join(f"{k}: {v}" for k, v in out["failed"].items())
    assert out["blocked_attempts"] == []
    expected = {"assistant.index.writer", "assistant.store.faiss_hnsw", "assistant.ocr", "assistant.ui.app",
                "assistant.cli.serve", "assistant.__main__"}
    assert expected <= set(out["imported"]) and len(out["imported"]) > 60


@pytest.mark.parametrize("store", ["flat", "hnsw"])
def test_ingest_and_search_without_posix_only_calls(tmp_path, store):
    docs = tmp_path / "docs"
    _write_docs(docs)
    out = _windows_like("ingest", str(docs), str(tmp_path), store)
    assert out["blocked_attempts"] == []
    assert out["added"] == ["docs/altena.txt", "docs/lochem.txt", "docs/sezen.txt"] and out["problems"] == []
    assert out["kind"] == store
    assert out["first_hit"] == "docs/sezen.txt" and out["first_dense"] > 0.3  # exact vectors read back
    assert out["removed"] == ["docs/sezen.txt"] and out["sources_after"] == ["docs/altena.txt", "docs/lochem.txt"]
    assert out["second_hit"] == "docs/lochem.txt"
    assert out["check_ok"], out["check"]
    assert len(out["generations"]) == 1  # the first generation was removed after the second went live


def test_the_windows_view_hides_what_windows_lacks():
    """The guard itself: a module of the assistant package sees no os.pread and cannot import fcntl."""
    code = ("import os, sys\nsys.path.insert(0, sys.argv[1])\nimport windows_like\nwindows_like.install()\n"
            "ns = {'__name__': 'assistant.fake'}\n"
            "exec('import os\\nprint(hasattr(os, \"pread\"), getattr(os, \"O_NOFOLLOW\", 0), hasattr(os, \"replace\"))', ns)\n"
            "try:\n    exec('import fcntl', ns)\nexcept ImportError as e:\n    print('blocked', e.name)\n"
            "exec('import signal\\nprint(hasattr(signal, \"SIGKILL\"), hasattr(signal, \"SIGTERM\"))', ns)\n"
            "print(hasattr(os, 'pread'))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "tests")], capture_output=True, text=True,
                          env=_env(), timeout=60)
    outside = str(hasattr(os, "pread"))  # the rest of the process keeps its os (True here, False on Windows)
    assert proc.stdout.split("\n")[:4] == ["False 0 True", "blocked fcntl", "False True", outside], proc.stderr


def _posix_only_uses(tree: ast.AST) -> list[str]:
    gone = {"os": windows_like.OS_ONLY_POSIX, "time": windows_like.TIME_ONLY_POSIX,
            "signal": {n for n in dir(__import__("signal")) if n.startswith("SIG") and not n.startswith("SIG_")}
            - windows_like.SIGNAL_ON_WINDOWS}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr in gone.get(node.value.id, ()):
            out.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Import):
            out += [f"line {node.lineno}: import {a.name}" for a in node.names
                    if a.name.partition(".")[0] in windows_like.BLOCKED]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            if (node.module or "").partition(".")[0] in windows_like.BLOCKED:
                out.append(f"line {node.lineno}: from {node.module} import ...")
            elif node.module in gone:
                out += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                        if a.name in gone[node.module]]
    return sorted(out, key=lambda u: int(u.split()[1].rstrip(":")))


def test_no_posix_only_name_anywhere_in_the_source():
    """Also in code the runs above do not reach: os.pread, os.fork, signal.SIGKILL, import fcntl, ...
    (getattr(os, "O_NOFOLLOW", 0) is fine: it has a default where the name is missing)."""
    found = {}
    for path in sorted((ROOT / "assistant").rglob("*.py")):
        if uses := _posix_only_uses(ast.parse(path.read_text(encoding="utf-8"))):
            found[str(path.relative_to(ROOT))] = uses
    assert found == {}
    assert _posix_only_uses(ast.parse("import fcntl\nos.pread(1, 2, 3)\nfrom os import fork\nsignal.SIGKILL")) == [
        "line 1: import fcntl", "line 2: os.pread", "line 3: from os import fork", "line 4: signal.SIGKILL"]


def _text_without_encoding(tree: ast.AST) -> list[int]:
    """Lines that open a text file without naming its encoding: open(p[, "w"]) and Path.read_text /
    write_text. (Path.open is left out: zipfile's .open looks the same and is binary.)"""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id == "open":
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            binary = isinstance(mode, ast.Constant) and "b" in str(mode.value)
            devnull = bool(node.args) and ast.unparse(node.args[0]) == "os.devnull"
            if not binary and not devnull and len(node.args) < 4:
                lines.append(node.lineno)
        elif isinstance(f, ast.Attribute) and f.attr in ("read_text", "write_text"):
            if len(node.args) < (1 if f.attr == "read_text" else 2):
                lines.append(node.lineno)
    return sorted(lines)


def test_every_text_file_is_opened_with_its_encoding():
    """Windows' default encoding is the ANSI code page (cp1252), not UTF-8: a text file read or
    written without encoding= would be read wrongly there (a JSON file, a model's config)."""
    found = {}
    for path in sorted((ROOT / "assistant").rglob("*.py")):
        if lines := _text_without_encoding(ast.parse(path.read_text(encoding="utf-8"))):
            found[str(path.relative_to(ROOT))] = lines
    assert found == {}
    assert _text_without_encoding(ast.parse(
        "open(p)\nopen(p, 'rb')\np.read_text()\np.write_text(t, encoding='utf-8')\nopen(os.devnull, 'w')")) == [1, 3]


def test_the_lexical_file_opens_in_a_folder_whose_name_has_uri_characters(tmp_path, monkeypatch):
    """SQLite opens it by URI (read-only): a "#" or "%" in a folder name ("?" too, where a name may
    hold one), or a Windows drive path, must not change which file is opened."""
    from assistant import lexical

    folder = tmp_path / ("a#b%20c é" if os.name == "nt" else "a#b?c%20d é")
    folder.mkdir()
    path = folder / lexical.FILE
    lexical.write_stored(path, ["de raad vergadert", "het college besluit"])
    stored = lexical.StoredBM25(path)
    try:
        assert stored.n == 2 and lexical.verify(path, 2) == ""
    finally:
        stored.close()
    assert lexical.read_only_uri(path).startswith("file:///") and "#" not in lexical.read_only_uri(path)
    with monkeypatch.context() as m:  # the URIs of Windows paths (a drive, a network share)
        m.setattr(lexical.os.path, "abspath", lambda p: p)
        m.setattr(lexical.os, "sep", "\\")
        drive = lexical.read_only_uri("C:\\Users\\Zoë\\index #1\\lexical.sqlite", immutable=True)
        share = lexical.read_only_uri("\\\\server\\share\\index\\lexical.sqlite")
    assert drive == "file:///C:/Users/Zoë/index %231/lexical.sqlite?mode=ro&immutable=1"
    assert share == "file:////server/share/index/lexical.sqlite?mode=ro"


# -- the write lock (filelock: flock / LockFileEx) ---------------------------------------------------
def test_the_write_lock_is_the_os_lock_never_the_soft_one():
    from filelock import SoftFileLock

    from assistant.index import lock

    assert not issubclass(lock._OsLock, SoftFileLock)
    assert lock._OsLock.__name__ == ("WindowsFileLock" if sys.platform == "win32" else "UnixFileLock")


def test_a_killed_holder_leaves_the_write_lock_free(tmp_path):
    """Another process holds the lock: this one waits; the holder is killed (SIGKILL; TerminateProcess
    on Windows): the OS drops its lock and this one gets it."""
    folder = tmp_path / "index"
    code = ("import sys, time\nfrom pathlib import Path\nfrom assistant.index import write_lock\n"
            "with write_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        got = threading.Event()

        def take():
            with index.write_lock(folder):
                got.set()

        waiter = threading.Thread(target=take, daemon=True)
        waiter.start()
        assert not got.wait(0.5)  # held by the other process: waits
        holder.kill()
        holder.wait(timeout=30)
        assert got.wait(15)
        waiter.join(5)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()


def test_threads_wait_for_each_other_and_one_thread_reenters(tmp_path):
    folder, events = tmp_path / "index", []

    def second():
        with index.write_lock(folder):
            events.append("second")

    with index.write_lock(folder):
        with index.write_lock(folder):  # re-entrant in this thread
            t = threading.Thread(target=second)
            t.start()
            t.join(0.3)
            assert t.is_alive()  # the other thread waits
            events.append("first")
    t.join(10)
    assert events == ["first", "second"]


# -- RawFile: positioned reads without os.pread --------------------------------------------------------
@pytest.fixture
def raw_file(tmp_path):
    rows = np.random.default_rng(0).standard_normal((500, 24)).astype(np.float32)
    path = tmp_path / "vectors.npy"
    np.save(path, rows)
    raw = faiss_hnsw.RawFile(path)
    yield raw, rows
    raw.close()


@pytest.mark.parametrize("pread", [True, False], ids=["pread", "seek"])
def test_raw_file_reads_the_rows_asked_for(raw_file, pread):
    raw, rows = raw_file
    if not pread:
        raw._pread = None  # as on Windows
    for labels in ([7], [3, 4, 5, 6], [499, 0, 250], list(range(500)), []):
        assert np.array_equal(raw.rows(np.asarray(labels, dtype=np.int64)), rows[labels])
    with pytest.raises(IndexError, match="row 500 out of range"):
        raw.rows(np.asarray([1, 500]))


def test_raw_file_without_pread_is_safe_for_threads(raw_file):
    """The browser answers several questions at a time: without pread, the seek and the read of
    one thread are never split by another's."""
    raw, rows = raw_file
    raw._pread = None
    errors = []

    def reader(seed):
        rng = np.random.default_rng(seed)
        for _ in range(300):
            labels = rng.integers(0, len(rows), size=int(rng.integers(1, 6)))
            if not np.array_equal(raw.rows(labels), rows[labels]):
                errors.append(seed)

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_raw_file_cut_while_open_is_named(raw_file, tmp_path):
    raw, rows = raw_file
    with open(tmp_path / "vectors.npy", "r+b") as f:
        f.truncate(raw.offset + raw.row_bytes * 10)
    for pread in (raw._pread, None):
        raw._pread = pread
        with pytest.raises(IndexFileError, match="vectors.npy is cut off: row 12 is missing"):
            raw.rows(np.asarray([12]))
    assert np.array_equal(raw.rows(np.asarray([9])), rows[[9]])


def test_hnsw_store_reads_its_graph_into_memory_where_faiss_cannot_map_it(tmp_path, monkeypatch):
    """faiss maps files on Linux and Windows only; on macOS read_index(IO_FLAG_MMAP_IFC) raises
    "Not implemented": the store then reads the graph into memory and works the same."""
    import faiss

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((60, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"c{i}" for i in range(60)]
    build_store("hnsw", ids, vectors, tmp_path).close()
    real, flags = faiss.read_index, []

    def read_index(path, flag=0):
        flags.append(flag)
        if flag & faiss.IO_FLAG_MMAP_IFC:
            raise RuntimeError("Error in faiss::MmappedFileMappingOwner::PImpl::PImpl(FILE *) at "
                               "faiss/impl/mapped_io.cpp:220: Not implemented")
        return real(path, flag)

    monkeypatch.setattr(faiss, "read_index", read_index)
    store = open_store(tmp_path)
    try:
        assert flags == [faiss.IO_FLAG_MMAP_IFC, 0] and store._path is None
        found, scores = store.search(vectors[17], 3)
        assert found[0] == "c17" and abs(float(scores[0]) - 1.0) < 1e-5
    finally:
        store.close()

    def damaged(path, flag=0):
        raise RuntimeError("Error in faiss::read_index at faiss/impl/index_read.cpp:1: bad magic")

    monkeypatch.setattr(faiss, "read_index", damaged)
    with pytest.raises(IndexFileError, match="vectors.hnsw.faiss is unreadable .bad magic"):  # not read again
        open_store(tmp_path)


def _as_on(system: str, monkeypatch, call):
    """call() with os.name set to `system` ("nt" or "posix"); the result is checked after it is put
    back (while os.name is "nt", pathlib cannot make a path here, not even for a failure report)."""
    with monkeypatch.context() as m:
        m.setattr(os, "name", system)
        return call()


# -- fsync of a folder ---------------------------------------------------------------------------------
def test_fsync_path_on_windows_skips_folders_and_opens_files_for_writing(tmp_path, monkeypatch):
    """Windows cannot open a folder (nor needs its fsync: NTFS journals metadata), and its fsync
    (FlushFileBuffers) needs a handle with write access."""
    opened = []
    real_open = os.open
    # (no Path() while os.name is "nt": pathlib would make a WindowsPath, which cannot be made here)
    monkeypatch.setattr(common.os, "open", lambda path, flags, *a: opened.append((str(path), flags)) or
                        real_open(path, flags, *a))
    file = tmp_path / "f.bin"
    file.write_bytes(b"x")
    if os.name != "nt":
        common.fsync_path(tmp_path)
        common.fsync_path(file)
        assert [(p, f & (os.O_RDWR | os.O_WRONLY)) for p, f in opened] == [(str(tmp_path), 0), (str(file), 0)]
        opened.clear()
    _as_on("nt", monkeypatch, lambda: (common.fsync_path(tmp_path), common.fsync_path(file)))
    assert [(p, f & os.O_RDWR) for p, f in opened] == [(str(file), os.O_RDWR)]


# -- Tesseract's location ------------------------------------------------------------------------------
def _fake_exe(folder: Path) -> Path:
    exe = folder / "Tesseract-OCR" / "tesseract.exe"
    exe.parent.mkdir(parents=True)
    exe.write_bytes(b"MZ")
    return exe


def test_tesseract_cmd_from_the_environment_wins(monkeypatch):
    env = {"TESSERACT_CMD": ' "D:\\Tools\\tesseract.exe" '}
    for system in ("posix", "nt"):
        assert _as_on(system, monkeypatch, lambda: ocr.tesseract_cmd(env)) == "D:\\Tools\\tesseract.exe"


def test_tesseract_cmd_on_windows_looks_in_the_install_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)  # not on PATH (the installers do not add it)
    isfile = os.path.isfile  # only the fake install folders (on a Windows runner, C:\\Program Files has one)
    monkeypatch.setattr(ocr.os.path, "isfile", lambda p: str(p).startswith(str(tmp_path)) and isfile(p))
    local, program_files = tmp_path / "Local", tmp_path / "Program Files"
    env = {"LOCALAPPDATA": str(local), "ProgramFiles": str(program_files)}
    on_windows = lambda: _as_on("nt", monkeypatch, lambda: ocr.tesseract_cmd(env))  # noqa: E731
    assert on_windows() is None  # nowhere: pytesseract's default, and the error says how to install it
    mine = _fake_exe(local / "Programs")
    assert on_windows() == str(mine)  # installed for this user only
    machine = _fake_exe(program_files)
    assert on_windows() == str(machine)  # for all users: Program Files first
    monkeypatch.setattr(ocr.shutil, "which", lambda name: "C:\\bin\\tesseract.exe")
    assert on_windows() is None  # on PATH: pytesseract finds it itself


def test_tesseract_cmd_elsewhere_is_the_one_on_path(tmp_path, monkeypatch):
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    _fake_exe(tmp_path / "Programs")
    assert _as_on("posix", monkeypatch, lambda: ocr.tesseract_cmd({"LOCALAPPDATA": str(tmp_path)})) is None


def test_pytesseract_is_pointed_at_the_program_found(tmp_path, monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "tesseract")
    monkeypatch.setenv("TESSERACT_CMD", str(tmp_path / "tesseract.exe"))
    assert ocr._pytesseract().pytesseract.tesseract_cmd == str(tmp_path / "tesseract.exe")


def test_missing_tesseract_says_how_to_install_it_on_each_system(monkeypatch, tmp_path):
    assert "apt-get install tesseract-ocr tesseract-ocr-nld" in ocr.install_hint("linux")
    assert "brew install tesseract tesseract-lang" in ocr.install_hint("darwin")
    windows = ocr.install_hint("win32")
    assert "UB Mannheim" in windows and "Dutch" in windows and "TESSERACT_CMD" in windows
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", pytesseract.pytesseract.tesseract_cmd)
    monkeypatch.setenv("TESSERACT_CMD", str(tmp_path / "nowhere" / "tesseract"))
    ocr.missing.cache_clear()
    try:
        why = ocr.missing()
    finally:
        ocr.missing.cache_clear()
    assert why.startswith(f"Tesseract is not installed (no program at {tmp_path / 'nowhere' / 'tesseract'}): ")
    assert ocr.install_hint() in why


# -- the CI workflow -----------------------------------------------------------------------------------
def test_ci_workflow_runs_the_same_test_command_on_each_system():
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("exec ./run.sh test")
    try:
        import yaml
    except ImportError:  # a text check only
        for command in ("test: .ci/run", "test: ./run.sh test", "test: pwsh ./run.ps1 test", "run: ${{ matrix.test }}"):
            assert command in text
        return
    commands = {}
    for job in yaml.safe_load(text)["jobs"].values():
        (step,) = [s for s in job["steps"] if s.get("id") == "tests"]  # each job has one test step
        for system in job.get("strategy", {}).get("matrix", {}).get("include") or [{"os": job["runs-on"]}]:
            run = step["run"]
            for key, value in system.items():
                run = run.replace("${{ matrix.%s }}" % key, value)
            commands[system["os"]] = run.strip()
    assert commands == {"ubuntu-latest": ".ci/run", "macos-latest": "./run.sh test",
                        "windows-latest": "pwsh ./run.ps1 test"}
