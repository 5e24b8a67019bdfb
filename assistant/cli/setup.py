"""`assistant setup`: check this machine, fetch the missing models, build the first index, and say
where everything is and what to run next. What ./run.sh and .\\run.ps1 run once the Python packages
are installed, on every OS.

Each step starts with a `==> step` line and ends with one result line, all on stderr; the summary
(locations, next command) is on stdout. Setup installs no system packages: for a missing compiler or
Tesseract it names the command for this OS (install_check.py). Exit 1 when a required check fails
(llama.cpp missing) or a step fails, 0 otherwise, also with warnings (no Tesseract).
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

from ..errors import AssistantError
from .common import settings


def _step(title: str) -> None:
    print(f"\n==> {title}", file=sys.stderr, flush=True)


def _say(line: str) -> None:
    sys.stdout.flush()  # what a step printed on stdout (ingest's summary) comes first
    print(line, file=sys.stderr, flush=True)


def _me() -> str:
    """How to call this program again: `assistant` when that is what PATH finds, else its path."""
    exe = Path(sys.argv[0])
    if exe.stem != "assistant" or exe.suffix.lower() not in ("", ".exe"):
        return "assistant"
    found = shutil.which("assistant")
    return "assistant" if found and Path(found).resolve() == exe.resolve() else str(exe)


def _checks(s, args) -> list:
    from .. import install_check

    _step(f"checking this machine ({platform.system()} {platform.machine()}, Python {platform.python_version()})")
    checks = install_check.run_checks(s, small=args.small, fetch=not args.no_models)
    width = max(len(c.name) for c in checks)
    for c in checks:
        _say(f"  {c.status:4}  {c.name:{width}}  {c.detail}")
        if not c.ok:
            _say(f"  {'':4}  {'':{width}}  fix: {c.fix}")
    failed = sum(1 for c in checks if not c.ok and c.required)
    warned = sum(1 for c in checks if not c.ok and not c.required)
    _say(f"checks: {len(checks) - failed - warned} ok, {warned} warning{'s' * (warned != 1)}, {failed} failed")
    return checks


def _models(s, args, checks) -> bool:
    """Fetch the missing models and make the ONNX export (--check: only say what is missing). False
    when it failed or could not run."""
    from .. import install_check, models
    from .models import fetch_models

    _step(f"models in {s.storage.models_dir}")
    if args.no_models:
        _say("models: skipped (--no-models)")
        return True
    keys = install_check.wanted_models(s, args.small)
    for what, path, base_url in (("LLM", s.llm_path(), s.generation.base_url),
                                 ("embedding model", s.embedder_path(), s.embedding.base_url)):
        if base_url:
            _say(f"{what}: served by {base_url}")
        elif (s.llm_key() if what == "LLM" else s.embedder_key()) is None:  # the user's own file or folder
            _say(f"{what}: your own, at {path}" if path.exists() else models.missing_message(what, path))
    missing = install_check.missing_models(s, args.small)
    export = install_check.export_wanted(s)
    if args.check:
        for key in keys:
            state = "missing" if key in missing else "installed"
            _say(f"{key}: {state} ({models.model_path(s.storage.models_dir, key)})")
        todo = [f"fetch {', '.join(missing)}"] if missing else []
        if export:
            todo.append("make the ONNX export of the embedder")
        need = install_check.bytes_needed(s, args.small)
        _say(f"models: setup would {' and '.join(todo)} (up to {install_check.gb(need)} of disk)" if todo else "models: ready")
        return True
    disk = next(c for c in checks if c.name == "disk")
    if not disk.ok:
        _say(f"models: not fetched: {disk.detail}")
        return False
    try:
        fetch_models(s, keys)
    except AssistantError as e:
        _say(f"models: failed: {e}")
        return False
    if export and install_check.export_wanted(s):
        _say("models: ready, without the ONNX export (see the onnx check above)")
        return True
    _say(f"models: ready ({', '.join(keys) or 'all served'})")
    return True


def _index(s, args, checks, models_ok: bool) -> bool:
    """Ingest the bundled seeds into the index (incremental: an up-to-date index embeds nothing)."""
    from .. import index
    from ..index.layout import read_manifest
    from .index import ingest_folder

    seeds, target = s.storage.seeds_dir, s.storage.index_dir
    _step(f"first index: {seeds} into {target}")
    if args.no_index:
        _say("index: skipped (--no-index)")
        return True
    gen = index.current_generation(target)
    if args.check:
        if gen is None:
            _say(f"index: none yet in {target}: setup builds it from {seeds}")
            return True
        try:
            manifest = read_manifest(gen)
        except AssistantError as e:
            _say(f"index: cannot be read: {e}")
            return False
        _say(f"index: {len(manifest.get('documents', {}))} documents, {manifest.get('chunks', '?')} chunks "
             f"(updated {manifest.get('updated', '?')}); setup adds what changed in {seeds.name}/")
        return True
    if not models_ok:
        _say("index: not built: the models step failed")
        return False
    onnx = next(c for c in checks if c.name == "onnx")
    if not onnx.ok:
        _say(f"index: not built: {onnx.detail}; {onnx.fix}")
        return False
    try:
        report = ingest_folder(s, seeds)
    except AssistantError as e:
        _say(f"index: failed: {e}")
        return False
    _say(f"index: ready, {len(report.added) + len(report.updated) + len(report.unchanged)} documents, "
         f"{report.chunks_total} chunks")
    return True


def _pending(s, args) -> bool:
    """Whether `assistant setup` would still fetch, export or index something."""
    from .. import index, install_check

    models = not args.no_models and bool(install_check.missing_models(s, args.small) or install_check.export_wanted(s))
    return models or (not args.no_index and index.current_generation(s.storage.index_dir) is None)


def cmd_setup(args) -> int:
    from ..config import Settings

    s = settings(args)
    default_home = Settings().storage.home  # where the assistant looks without ASSISTANT_HOME
    checks = _checks(s, args)
    models_ok = _models(s, args, checks)
    index_ok = _index(s, args, checks, models_ok)

    _step("summary")
    failed = [c for c in checks if not c.ok and c.required]
    warned = [c for c in checks if not c.ok and not c.required]
    pip = os.environ.get("PIP_CACHE_DIR")
    lines = [
        f"models  {s.storage.models_dir}",
        f"index   {s.storage.index_dir}",
        f"cache   {s.storage.home} (models/, OCR'd pages in ocr/{', pip wheels in ' + pip if pip else ''})",
    ]
    if os.environ.get("ASSISTANT_HOME") and s.storage.home != default_home:
        lines.append(f"        (the cache is ASSISTANT_HOME: set it in a new shell too, or the assistant looks in "
                     f"{default_home})")
    for c in warned:
        lines.append(f"warning {c.name}: {c.fix}")
    me = _me()
    if failed or not (models_ok and index_ok):
        what = ", ".join([c.name for c in failed] + ["the models"] * (not models_ok) + ["the index"] * (not index_ok))
        lines.append(f"not ready: fix {what} (see above), then run `{me} setup` again")
    elif args.check and _pending(s, args):
        lines.append(f"next    `{me} setup` (fetches what is missing, builds the index), then `{me} chat`")
    else:
        lines.append(f"next    `{me} chat` (the browser chat on http://127.0.0.1:7860)")
    sys.stderr.flush()
    print("\n".join(lines), flush=True)
    return 1 if failed or not (models_ok and index_ok) else 0


def add(sub, default) -> None:
    p = sub.add_parser("setup", help="check this machine, fetch the missing models, build the first index "
                                     "(what run.sh / run.ps1 run; exit 1 when something required is missing)")
    p.add_argument("--check", action="store_true", help="only report what is there and what is missing; change nothing")
    p.add_argument("--small", action="store_true", help="also fetch the small 0.5B LLM used by the tests")
    p.add_argument("--no-models", action="store_true", help="fetch no models and make no ONNX export")
    p.add_argument("--no-index", action="store_true", help="do not index the bundled seeds/")
    p.set_defaults(func=cmd_setup)
