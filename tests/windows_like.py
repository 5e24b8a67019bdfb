"""Run the assistant's code as if on Windows, as far as Python's modules go (used by test_portable.py).

    python tests/windows_like.py imports                  import every module under assistant/
    python tests/windows_like.py ingest DOCS WORK STORE   ingest DOCS into WORK/index with the hashed
                                                          embedder and vector store STORE, search it,
                                                          remove a document, search again, check it

Before `assistant` is imported, a guard is put around `import` (install(); importing this module
does nothing else): for code in the assistant package
only, (1) the POSIX-only modules (fcntl, resource, pwd, grp, termios, ...) do not exist, and (2) `os`,
`signal`, `time` and `shutil` are copies without the names CPython 3.11 on Windows lacks (os.pread,
os.pwrite, os.fork, os.getuid, os.O_NOFOLLOW, os.O_NONBLOCK, signal.SIGKILL, time.tzset, ...; the list
follows typeshed's `sys.platform != "win32"` sections of those modules). So `import fcntl` or
`os.pread(...)` in assistant/ fails here as it would on Windows, and `getattr(os, "O_NOFOLLOW", 0)`
gets its default as it would there.

Third-party packages are left alone: they bring their own Windows code (filelock uses LockFileEx
there), which their own CI tests; here they keep their Linux code. os.name, sys.platform, path
syntax and the file system are Linux's: what this checks is that no POSIX-only call is left in
assistant/, not Windows' file semantics (the CI workflow's Windows job runs the suite for those).

Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import builtins
import json
import sys
import traceback
import types
from pathlib import Path

BLOCKED = {"fcntl", "resource", "pwd", "grp", "termios", "tty", "pty", "posix", "syslog", "crypt", "spwd",
           "nis", "readline", "curses", "_posixsubprocess", "_posixshmem", "posix_ipc"}

# Names of the Linux module that CPython 3.11 on Windows does not have (the ones anyone might use).
OS_ONLY_POSIX = {
    "pread", "pwrite", "preadv", "pwritev", "readv", "writev", "sendfile", "copy_file_range", "splice",
    "fork", "forkpty", "register_at_fork", "wait", "wait3", "wait4", "waitid", "WNOHANG", "WUNTRACED",
    "WIFEXITED", "WEXITSTATUS", "WIFSIGNALED", "WTERMSIG", "posix_spawn", "posix_spawnp", "spawnlp",
    "spawnlpe", "spawnvp", "spawnvpe",
    "getuid", "geteuid", "getgid", "getegid", "getgroups", "setuid", "seteuid", "setgid", "setegid",
    "setgroups", "getresuid", "getresgid", "setresuid", "setresgid", "setreuid", "setregid", "initgroups",
    "getgrouplist", "getpgid", "getpgrp", "setpgid", "setpgrp", "getsid", "setsid", "killpg", "getpriority",
    "setpriority", "nice", "PRIO_PROCESS",
    "chown", "fchown", "lchown", "fchmod", "lchmod", "chroot", "fchdir", "mkfifo", "mknod", "major", "minor",
    "makedev", "statvfs", "fstatvfs", "sync", "fdatasync", "posix_fadvise", "posix_fallocate", "lockf",
    "F_LOCK", "F_TLOCK", "F_ULOCK", "F_TEST", "pipe2", "get_blocking", "set_blocking", "memfd_create",
    "eventfd", "pidfd_open", "getxattr", "setxattr", "listxattr", "removexattr",
    "O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC", "O_DIRECTORY", "O_SYNC", "O_DSYNC", "O_NOCTTY", "O_ASYNC",
    "O_NDELAY", "O_DIRECT", "O_NOATIME", "O_PATH", "O_TMPFILE", "O_ACCMODE", "O_EXLOCK", "O_SHLOCK",
    "uname", "getloadavg", "sysconf", "sysconf_names", "confstr", "confstr_names", "pathconf",
    "fpathconf", "pathconf_names", "ttyname", "ctermid", "openpty", "tcgetpgrp", "tcsetpgrp",
    "sched_getaffinity", "sched_setaffinity", "sched_yield", "sched_param", "sched_getscheduler",
    "environb", "getenvb", "fwalk", "RTLD_LAZY", "RTLD_NOW", "RTLD_GLOBAL", "RTLD_LOCAL",
}
SIGNAL_ON_WINDOWS = {"SIGABRT", "SIGBREAK", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM", "CTRL_C_EVENT",
                     "CTRL_BREAK_EVENT", "NSIG", "SIG_DFL", "SIG_IGN", "default_int_handler", "getsignal",
                     "raise_signal", "set_wakeup_fd", "signal", "strsignal", "valid_signals", "Signals", "Handlers"}
TIME_ONLY_POSIX = {"tzset", "clock_gettime", "clock_gettime_ns", "clock_settime", "clock_settime_ns", "clock_getres",
                   "pthread_getcpuclockid", "CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_MONOTONIC_RAW",
                   "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID", "CLOCK_BOOTTIME", "CLOCK_TAI"}


def _removed(module: types.ModuleType) -> set[str]:
    if module.__name__ == "os":
        return OS_ONLY_POSIX
    if module.__name__ == "signal":
        return {n for n in dir(module) if not n.startswith("_") and n not in SIGNAL_ON_WINDOWS}
    if module.__name__ == "time":
        return TIME_ONLY_POSIX
    return {"chown"}  # shutil


class WindowsView(types.ModuleType):
    """A module as the assistant sees it: the real one without the names Windows lacks."""

    def __init__(self, real: types.ModuleType):
        super().__init__(real.__name__, real.__doc__)
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_gone", _removed(real))

    def __getattr__(self, name: str):
        if name in self._gone:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} (not on Windows)")
        return getattr(self._real, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._real, name, value)

    def __dir__(self):
        return [n for n in dir(self._real) if n not in self._gone]


_real_import = builtins.__import__
VIEWS: dict[str, WindowsView] = {}
blocked_attempts: list[str] = []


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__") or ""
    if level == 0 and (importer == "assistant" or importer.startswith("assistant.")):
        top = name.partition(".")[0]
        if top in BLOCKED:
            blocked_attempts.append(f"{importer}: import {name}")
            raise ModuleNotFoundError(f"No module named {name!r} (a POSIX-only module: not on Windows)", name=name)
        if top in VIEWS:
            real = _real_import(name, globals, locals, fromlist, level)
            # `import os`, `import os.path` and `from os import x` get the view; `from os.path import x` the real os.path
            return VIEWS[top] if name == top or not fromlist else real
    return _real_import(name, globals, locals, fromlist, level)


def install() -> None:
    """Put the guard around `import` (for the rest of this process: only in a subprocess)."""
    for name in ("os", "signal", "time", "shutil"):
        VIEWS[name] = WindowsView(__import__(name))
    builtins.__import__ = _guarded_import


def import_everything() -> dict:
    import importlib
    import pkgutil

    import assistant

    done, failed = [], {}
    names = ["assistant"] + [m.name for m in pkgutil.walk_packages(assistant.__path__, "assistant.",
                                                                   onerror=lambda n: failed.setdefault(n, "walk failed"))]
    for name in names:
        argv = sys.argv
        try:
            if name == "assistant.__main__":  # it runs the CLI: ask for the help, which exits 0
                sys.argv = ["assistant", "--help"]
            importlib.import_module(name)
            done.append(name)
        except SystemExit as e:
            (done.append(name) if e.code in (0, None) else failed.__setitem__(name, f"SystemExit({e.code})"))
        except BaseException as e:  # noqa: BLE001 - every failure is reported with its module
            missing = getattr(e, "name", None) if isinstance(e, ModuleNotFoundError) else None
            failed[name] = "".join(traceback.format_exception_only(type(e), e)).strip() + (
                f" [missing module: {missing}]" if missing else "")
        finally:
            sys.argv = argv
    return {"imported": done, "failed": failed}


def ingest_and_search(docs: Path, work: Path, store: str) -> dict:
    from assistant import index
    from assistant.check import check
    from assistant.config import Settings
    from assistant.embed.hashing import HashEmbedder
    from assistant.library import Library
    from assistant.retrieve import HybridRetriever

    s = Settings().with_(home=work / "home", index_dir=work / f"index-{store}", chunk_size=300, chunk_overlap=30,
                         vector_store=store)
    emb = HashEmbedder()
    lib = Library(s, emb)
    added = lib.add_folder(docs)
    out = {"added": sorted(added.added), "problems": [p.reason for p in added.problems]}
    idx = index.load(s.storage.index_dir, store)
    out["kind"] = idx.store.kind
    out["store_class"] = type(idx.store).__name__
    hits = HybridRetriever(idx, emb).search("geen projectplan opgesteld Sezen", k=3)
    out["first_hit"] = hits[0].chunk.source if hits else None
    out["first_dense"] = hits[0].dense if hits else None
    idx.store.close()
    removed = lib.remove("docs/sezen.txt")  # a second generation: vectors copied from the first (RawFile)
    out["removed"] = removed.removed
    idx = index.load(s.storage.index_dir, store)
    hits = HybridRetriever(idx, emb).search("motie regiegemeente Lochem", k=3)
    out["second_hit"] = hits[0].chunk.source if hits else None
    out["sources_after"] = sorted(idx.docs)
    idx.store.close()
    report = check(s.storage.index_dir, store)
    out["check_ok"] = report.ok
    out["check"] = report.text()
    out["generations"] = sorted(p.name for p in s.storage.index_dir.iterdir() if p.is_dir() and p.name.startswith("gen-"))
    return out


def main(argv: list[str]) -> int:
    install()  # before anything imports assistant
    try:
        if argv[0] == "imports":
            result = import_everything()
        elif argv[0] == "ingest":
            result = ingest_and_search(Path(argv[1]), Path(argv[2]), argv[3])
        else:
            raise SystemExit(f"usage: {__doc__}")
        result["error"] = None
    except Exception:  # noqa: BLE001 - reported to the test as a whole
        result = {"error": traceback.format_exc()}
    result["blocked_attempts"] = blocked_attempts
    sys.stdout.flush()
    print("\n" + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
