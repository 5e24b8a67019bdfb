"""Move installed models between machines without a network: `assistant models export|import`.

Export copies the installed models into a folder (a USB stick) with a `manifest.json` that lists
every file with its size and sha256. Import checks each file against that list (and a registry
GGUF also against its pinned sha256 in models.MODELS) while copying it into the models folder.

Crash safety. Export: each file is written as `<name>.partial`, flushed to disk and then renamed;
`manifest.json` is removed first and written last (also via `.partial`), so a folder without a
manifest is an unfinished export and import refuses it. Import: each item is copied into a temporary
folder inside the models folder (same disk, so the final rename is atomic), verified there, and only
then renamed into place; on any failure the temporary folder is deleted, so nothing of a corrupt item
is left behind. Replacing an installed item (`--replace`) moves the old one aside first, because
os.replace onto an existing folder fails on Windows; the old one is put back if the swap fails.

Manifest (format_version 1): {"format": FORMAT, "format_version": 1, "tool_version", "created",
"items": [{"key", "kind": "gguf"|"st"|"onnx", "path", "files": [{"path", "size", "sha256"}]}]}.
Paths are relative to the export folder, with "/" separators; a file's path starts with its item's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable, Protocol

from . import __version__, models
from .embed.onnx_export import export_folder
from .embed.onnx_rt import is_export
from .errors import InputError, ModelMissingError

FORMAT = "nl-gov-assistant-models"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARTIAL = ".partial"
CHUNK = 1 << 22
KINDS = ("gguf", "st", "onnx")


class Bar(Protocol):
    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


# bar(description, total_bytes) -> a progress bar with update(n)/close(), e.g. tqdm (the CLI's).
BarFactory = Callable[[str, int], Bar]


def _no_bar(desc: str, total: int) -> Bar:
    return _NoBar()


def _quiet(msg: str) -> None:
    pass


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the export folder, "/" separators
    size: int
    sha256: str


@dataclass
class Item:
    key: str  # a key of models.MODELS
    kind: str  # "gguf" | "st" | "onnx"
    path: str  # the item's file or folder, relative to the export folder
    files: list[FileEntry] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict:
        return {"key": self.key, "kind": self.kind, "path": self.path,
                "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files]}


def installed_path(models_dir: Path, key: str, kind: str) -> Path:
    """Where an item of this key and kind lives in a models folder."""
    base = models.model_path(models_dir, key)
    return export_folder(base) if kind == "onnx" else base


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def _copy_hashing(src: Path, dst: Path, bar: Bar) -> tuple[int, str]:
    """Copy src to dst (created or truncated), flushed to disk; the size and sha256 of the bytes read."""
    h = hashlib.sha256()
    n = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while block := fi.read(CHUNK):
            h.update(block)
            fo.write(block)
            n += len(block)
            bar.update(len(block))
        fo.flush()
        os.fsync(fo.fileno())
    return n, h.hexdigest()


def _hash(path: Path, bar: Bar) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
            bar.update(len(block))
    return h.hexdigest()


def _files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _rel(path: str, prefix: str) -> PurePosixPath:
    """A manifest file path relative to its item's path ("." for a single-file item)."""
    return PurePosixPath(path).relative_to(prefix)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


# --- export -------------------------------------------------------------------------------------


def _plan_export(models_dir: Path, keys: list[str] | None, include_st: bool) -> list[tuple[Item, Path]]:
    """The items to export with their installed paths (files not yet listed)."""
    explicit = bool(keys)
    keys = list(dict.fromkeys(keys)) if keys else list(models.MODELS)
    unknown = [k for k in keys if k not in models.MODELS]
    if unknown:
        raise ModelMissingError(f"unknown model {unknown[0]!r}; known: {', '.join(models.MODELS)}")
    plan: list[tuple[Item, Path]] = []
    for key in keys:
        spec = models.MODELS[key]
        path = models.model_path(models_dir, key)
        if spec.kind == "gguf":
            if path.is_file():
                plan.append((Item(key, "gguf", spec.name), path))
            elif explicit:
                raise ModelMissingError(models.missing_message(f"{key} (GGUF file)", path, key))
            continue
        onnx = export_folder(path)
        has_st, has_onnx = path.is_dir(), is_export(onnx)
        if not include_st and has_st and not has_onnx:
            raise InputError(
                f"--no-st leaves out the sentence-transformers folder of {key}, but it has no ONNX export at "
                f"{onnx}, so nothing of the embedder would be exported: make the export with "
                f"`assistant models fetch {key}`, or leave out --no-st."
            )
        if has_st and include_st:
            plan.append((Item(key, "st", spec.name), path))
        if has_onnx:
            plan.append((Item(key, "onnx", onnx.name), onnx))
        if explicit and not has_st and not has_onnx:
            raise ModelMissingError(models.missing_message(f"{key} (embedding model)", path, key))
    if not plan:
        raise ModelMissingError(
            f"no models installed in {models_dir}: nothing to export. Run `assistant models fetch` first, "
            "or point --home / ASSISTANT_HOME at the folder that holds them."
        )
    # GGUF files first: a damaged one stops the export before the big folders are copied.
    plan.sort(key=lambda p: p[0].kind != "gguf")
    return plan


def _check_target_folder(models_dir: Path, folder: Path) -> None:
    target, home = folder.resolve(), models_dir.resolve()
    if target == home or home in target.parents:
        raise InputError(f"cannot export into the models folder itself ({folder}): choose another folder, e.g. on a USB stick.")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file, not a folder: give a folder to export into.")
    old = folder / MANIFEST
    if old.is_file():
        try:
            ours = json.loads(old.read_text(encoding="utf-8")).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise InputError(f"{old} exists and is not a model export's manifest: export into an empty folder instead.")


def export_models(
    models_dir: Path,
    folder: Path,
    keys: list[str] | None = None,
    include_st: bool = True,
    bar: BarFactory = _no_bar,
    log: Callable[[str], None] = _quiet,
) -> dict:
    """Copy installed models into `folder` and write its manifest last; returns the manifest.
    keys: model keys (default every installed one); the embedder brings its ONNX export along.
    include_st=False leaves out a sentence-transformers folder whose ONNX export is exported."""
    models_dir, folder = Path(models_dir), Path(folder)
    plan = _plan_export(models_dir, keys, include_st)
    _check_target_folder(models_dir, folder)
    for item, src in plan:
        srcs = [src] if item.kind == "gguf" else _files_of(src)
        item.files = [FileEntry(item.path if item.kind == "gguf" else f"{item.path}/{p.relative_to(src).as_posix()}",
                                p.stat().st_size, "") for p in srcs]
        spec = models.MODELS[item.key]
        if item.kind == "gguf" and item.size != spec.size:
            raise ModelMissingError(
                f"refusing to export {item.key}: {src} has {item.size} bytes, not the pinned {spec.size}; the installed "
                f"file is damaged or another model. Delete it and run `assistant models fetch {item.key}`."
            )
    total = sum(item.size for item, _ in plan)
    folder.mkdir(parents=True, exist_ok=True)
    reused = sum((folder / f.path).stat().st_size for item, _ in plan for f in item.files if (folder / f.path).is_file())
    free = shutil.disk_usage(folder).free
    if total - reused > free:
        raise InputError(f"{folder} has {_gb(free)} free, the export needs {_gb(total - reused)}: "
                         "free some space, use a bigger stick, or export fewer models (give their keys).")
    manifest_path = folder / MANIFEST
    if manifest_path.exists():
        log(f"replacing the previous export in {folder}")
        manifest_path.unlink()  # from here on the folder is an unfinished export until the new manifest is written
    written: list[Path] = []
    progress = bar(f"export to {folder}", total)
    try:
        for item, src in plan:
            dest_root = folder / item.path
            if item.kind != "gguf" and dest_root.exists():
                _remove(dest_root)  # an older export of this item: its files may differ
            entries = []
            for f in item.files:
                source = src if item.kind == "gguf" else src / _rel(f.path, item.path)
                dest = folder / f.path
                partial = dest.with_name(dest.name + PARTIAL)
                written.append(partial)
                size, digest = _copy_hashing(source, partial, progress)
                spec = models.MODELS[item.key]
                if item.kind == "gguf" and digest != spec.sha256:
                    raise ModelMissingError(
                        f"refusing to export {item.key}: {source} has sha256 {digest}, not the pinned {spec.sha256}; "
                        f"the installed file is damaged. Delete it and run `assistant models fetch {item.key}`."
                    )
                os.replace(partial, dest)
                written.append(dest)
                entries.append(FileEntry(f.path, size, digest))
            item.files = entries
            log(f"{item.key} ({item.kind}): {len(entries)} file{'s' if len(entries) != 1 else ''}, {_gb(item.size)} -> {dest_root}")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tool_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "items": [item.to_json() for item, _ in plan],
        }
        tmp = folder / (MANIFEST + PARTIAL)
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(manifest, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, manifest_path)
    except BaseException as e:
        # Nothing of this run is kept: without a manifest the files are useless, and they may be large.
        for p in reversed(written):
            _remove(p)
        for item, _ in plan:
            if item.kind != "gguf":
                _remove(folder / item.path)
        (folder / (MANIFEST + PARTIAL)).unlink(missing_ok=True)
        if isinstance(e, OSError):  # a full or pulled-out stick, no write permission, ...
            raise InputError(f"export to {folder} failed: {e}. Nothing of this export was kept; fix that and "
                             "export again.") from None
        raise
    finally:
        progress.close()
    return manifest


# --- import -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    key: str
    kind: str
    path: Path  # where it is installed
    status: str  # "installed" | "replaced" | "skipped"


def _safe_rel(path: object, where: str) -> str:
    """A manifest path must stay inside the export folder: relative, no '..', no drive letters."""
    if not isinstance(path, str) or not path:
        raise InputError(f"{where}: missing or empty path")
    p = PurePosixPath(path)
    if p.is_absolute() or any(part in ("", ".", "..") or ":" in part or "\\" in part for part in p.parts):
        raise InputError(f"{where}: unsafe path {path!r} (must be relative, inside the export folder)")
    return p.as_posix()


def _parse_item(raw: object, i: int, manifest_path: Path) -> Item:
    where = f"{manifest_path} item {i + 1}"
    if not isinstance(raw, dict):
        raise InputError(f"{where}: not an object")
    key, kind = raw.get("key"), raw.get("kind")
    if kind not in KINDS:
        raise InputError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    path = _safe_rel(raw.get("path"), where)
    files = []
    for f in raw.get("files") or []:
        fpath = _safe_rel(f.get("path") if isinstance(f, dict) else None, where)
        if fpath != path and not fpath.startswith(path + "/"):
            raise InputError(f"{where}: file {fpath!r} is not inside the item's path {path!r}")
        size, digest = f.get("size"), f.get("sha256")
        if not isinstance(size, int) or size < 0 or not isinstance(digest, str) or len(digest) != 64:
            raise InputError(f"{where}: file {fpath!r} has no valid size and sha256")
        files.append(FileEntry(fpath, size, digest.lower()))
    if not files:
        raise InputError(f"{where}: lists no files")
    if kind == "gguf" and [f.path for f in files] != [path]:
        raise InputError(f"{where}: a gguf item is exactly one file, its path {path!r}")
    return Item(str(key), kind, path, files)


def read_manifest(folder: Path) -> list[Item]:
    """The items of an export folder; an InputError naming the problem when it is not a finished export."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        partial = sorted(p.name for p in folder.rglob(f"*{PARTIAL}"))
        why = (f"an interrupted export (left {', '.join(partial[:3])}{' ...' if len(partial) > 3 else ''})"
               if partial else "not a model export, or an unfinished one")
        raise InputError(
            f"{folder} has no {MANIFEST}: {why}. Export is only finished when it writes {MANIFEST} last; "
            f"run `assistant models export {folder}` again on the machine that has the models."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path} cannot be read ({e}): export again with `assistant models export`.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path} is not a model export's manifest (no \"format\": \"{FORMAT}\").")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputError(
            f"{path} has format_version {version!r}; this assistant ({__version__}) reads up to {FORMAT_VERSION}: "
            f"update the assistant here, or export with the version installed here."
        )
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise InputError(f"{path} lists no items: nothing to import.")
    return [_parse_item(raw, i, path) for i, raw in enumerate(items)]


def _check_item(item: Item) -> None:
    """What the manifest must say for an item this assistant can install (before any copying)."""
    spec = models.MODELS.get(item.key)
    if spec is None:
        raise InputError(f"{item.path}: unknown model key {item.key!r} (known: {', '.join(models.MODELS)}); "
                         "the export was made by another version of the assistant")
    want = "gguf" if spec.kind == "gguf" else ("st", "onnx")
    if item.kind not in want:
        raise InputError(f"{item.path}: {item.key} is a {spec.kind} model, the manifest says {item.kind}")
    names = {str(_rel(f.path, item.path)) for f in item.files}
    if item.kind == "gguf":
        f = item.files[0]
        if (f.size, f.sha256) != (spec.size, spec.sha256):
            raise InputError(f"{item.path}: sha256 {f.sha256} ({f.size} bytes) in the manifest is not the pinned "
                             f"{spec.sha256} ({spec.size} bytes) of {item.key}: not this model")
    elif item.kind == "onnx" and "embedder.json" not in names:
        raise InputError(f"{item.path}: an ONNX export without embedder.json")
    elif item.kind == "st" and not names & {"config.json", "modules.json"}:
        raise InputError(f"{item.path}: a sentence-transformers folder without config.json or modules.json")


def _same_as_installed(item: Item, target: Path, bar: BarFactory) -> bool:
    """True when target holds exactly the item's files (same names, sizes and sha256)."""
    if item.kind == "gguf":
        if not target.is_file():
            return False
        pairs = [(target, item.files[0])]
    else:
        if not target.is_dir():
            return False
        by_name = {str(_rel(f.path, item.path)): f for f in item.files}
        have = {p.relative_to(target).as_posix(): p for p in _files_of(target)}
        if set(have) != set(by_name):
            return False
        pairs = [(have[name], by_name[name]) for name in sorted(by_name)]
    if any(p.stat().st_size != f.size for p, f in pairs):
        return False
    progress = bar(f"compare {target.name}", item.size)
    try:
        return all(_hash(p, progress) == f.sha256 for p, f in pairs)
    finally:
        progress.close()


def _swap_into_place(staged: Path, target: Path, aside: Path) -> None:
    """Rename staged to target; an existing target is first renamed to `aside` (os.replace onto an
    existing folder fails on Windows) and put back if the second rename fails."""
    if not target.exists():
        os.replace(staged, target)
        return
    try:
        os.replace(target, aside)
    except OSError as e:
        raise InputError(f"cannot move the installed {target} aside to replace it ({e}): is the assistant running "
                         "and using it? Stop it and import again.") from None
    try:
        os.replace(staged, target)
    except OSError as e:
        os.replace(aside, target)
        raise InputError(f"cannot put the new {target.name} in place ({e}); the old one is back.") from None


def _install(item: Item, source_root: Path, models_dir: Path, target: Path, bar: BarFactory) -> None:
    """Copy the item into a temp folder inside models_dir, verify every file, then rename into place."""
    free = shutil.disk_usage(models_dir).free
    if item.size > free:
        raise InputError(f"{models_dir} has {_gb(free)} free, {item.path} needs {_gb(item.size)}: free some space")
    tmp = Path(tempfile.mkdtemp(dir=models_dir, prefix=f".{target.name}.import-"))
    try:
        staged = tmp / target.name
        progress = bar(f"import {item.path}", item.size)
        try:
            for f in item.files:
                rel = _rel(f.path, item.path)
                dest = staged if item.kind == "gguf" else staged / rel
                src = source_root / f.path
                if not src.is_file():
                    raise InputError(f"{src} is missing (listed in the manifest): copy the whole export folder again")
                size, digest = _copy_hashing(src, dest, progress)
                if (size, digest) != (f.size, f.sha256):
                    raise InputError(
                        f"{src} is corrupt: sha256 {digest} ({size} bytes), the manifest says {f.sha256} "
                        f"({f.size} bytes). Nothing of {item.path} was installed; copy the export again "
                        "(a failing USB stick is the usual cause)."
                    )
        finally:
            progress.close()
        if item.kind == "onnx" and not is_export(staged):
            raise InputError(f"{item.path}: no embedder.json after copying: not an ONNX export")
        _swap_into_place(staged, target, tmp / f"old-{target.name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the temp folder, and the old item after a replace


def _import_items(items: list[Item], source_root: Path, models_dir: Path, replace: bool,
                  bar: BarFactory, log: Callable[[str], None], what: str) -> list[Result]:
    models_dir.mkdir(parents=True, exist_ok=True)
    results, failures = [], []
    for item in items:
        try:
            _check_item(item)
            target = installed_path(models_dir, item.key, item.kind)
            existed = target.exists()
            if existed and _same_as_installed(item, target, bar):
                log(f"{item.key} ({item.kind}): already installed at {target}, identical: skipped")
                results.append(Result(item.key, item.kind, target, "skipped"))
                continue
            if existed and not replace:
                raise InputError(
                    f"{target} is already installed and differs from {item.path} in the export: import again with "
                    f"--replace to replace it, or move it away first"
                )
            _install(item, source_root, models_dir, target, bar)
            status = "replaced" if existed else "installed"
            log(f"{item.key} ({item.kind}): verified and {status} at {target}")
            results.append(Result(item.key, item.kind, target, status))
        except InputError as e:
            log(f"{item.key} ({item.kind}): NOT imported: {e}")
            failures.append(str(e))
        except OSError as e:  # a pulled-out stick, a full disk, no write permission, ...
            log(f"{item.key} ({item.kind}): NOT imported: {e}")
            failures.append(f"{item.path}: {e}; nothing of it was installed")
    if failures:
        done = len(items) - len(failures)
        raise InputError(
            f"{len(failures)} of {len(items)} item{'s' if len(items) != 1 else ''} from {what} not imported"
            f"{f' ({done} imported or already there)' if done else ''}: " + " | ".join(failures)
        )
    return results


def _single_gguf(path: Path, models_dir: Path, bar: BarFactory) -> Item:
    """The registry model a loose .gguf file is, by size and sha256 (the file is read once)."""
    size = path.stat().st_size
    candidates = {k: s for k, s in models.MODELS.items() if s.kind == "gguf" and s.size == size}
    use_it = (f"To use it anyway, point the assistant at the file where it is: ASSISTANT_LLM={path.resolve()} "
              f"(or --llm {path.resolve()}); or copy it to {models_dir}{os.sep} and set ASSISTANT_LLM to its new path. "
              f"Known models: {', '.join(k for k, s in models.MODELS.items() if s.kind == 'gguf')}.")
    if not candidates:
        raise InputError(f"{path} is not one of the models the assistant knows (its size, {size} bytes, "
                         f"matches none of them). {use_it}")
    progress = bar(f"check {path.name}", size)
    try:
        digest = _hash(path, progress)
    finally:
        progress.close()
    for key, spec in candidates.items():
        if digest == spec.sha256:
            return Item(key, "gguf", path.name, [FileEntry(path.name, size, digest)])
    names = ", ".join(candidates)
    raise InputError(
        f"{path} has the size of {names} but sha256 {digest}, not the pinned "
        f"{' / '.join(s.sha256 for s in candidates.values())}: a damaged copy (copy it again) or another model. {use_it}"
    )


def import_models(
    models_dir: Path,
    source: Path,
    replace: bool = False,
    bar: BarFactory = _no_bar,
    log: Callable[[str], None] = _quiet,
) -> list[Result]:
    """Install the models of an export folder (or its manifest.json), or one known .gguf file, into
    models_dir, each verified before it is renamed into place. Uses no network."""
    models_dir, source = Path(models_dir), Path(source)
    if not source.exists():
        raise InputError(f"{source} does not exist: give an export folder (made by `assistant models export`) or a .gguf file.")
    if source.is_file() and source.name == MANIFEST:
        source = source.parent
    if source.is_dir():
        return _import_items(read_manifest(source), source, models_dir, replace, bar, log, str(source))
    if source.suffix.lower() != ".gguf":
        raise InputError(f"{source} is neither an export folder nor a .gguf file: give the folder made by "
                         "`assistant models export` (it holds manifest.json) or a .gguf model file.")
    item = _single_gguf(source, models_dir, bar)
    log(f"{source.name}: sha256 matches {item.key}")
    return _import_items([item], source.parent, models_dir, replace, bar, log, str(source))
