"""Which embedding backend `make_embedder` picks with ASSISTANT_EMBED_BACKEND=auto, and that
`assistant models fetch` redoes an ONNX export made by an older recipe (no models loaded: the
embedders load their weights lazily, and the export itself is replaced by a stand-in)."""

import json

from assistant import cli
from assistant.config import Settings
from assistant.embed import onnx_export
from assistant.embed.onnx_export import RECIPE, export_folder
from assistant.embed.torch_st import SentenceTransformerEmbedder
from assistant.pipeline import make_embedder


def _model_with_export(tmp_path, recipe=RECIPE):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    torch_name = SentenceTransformerEmbedder(model).name
    export = export_folder(model)
    export.mkdir()
    (export / "embedder.json").write_text(json.dumps({
        "source_name": torch_name, "recipe": recipe, "model_file": "model.onnx", "dim": 8, "max_tokens": 16,
        "pad_id": 0, "pad_token": "<pad>", "prompts": {}}))
    return model, torch_name


def test_auto_keeps_pytorch_only_for_an_index_pytorch_built(tmp_path):
    model, torch_name = _model_with_export(tmp_path)
    s = Settings.from_env({}, embedder=str(model), home=tmp_path)
    assert make_embedder(s).backend == "onnx"  # a new index
    assert make_embedder(s, torch_name).backend == "torch"  # built by PyTorch: keeps it until a rebuild
    onnx = make_embedder(s, f"{torch_name}+{RECIPE}")
    assert onnx.backend == "onnx" and onnx.name == f"{torch_name}+{RECIPE}"
    # Built by an older export recipe: the current export, whose other name makes the next ingest
    # re-embed (not a silent switch to the 2x slower PyTorch).
    assert make_embedder(s, f"{torch_name}+onnx-int8-nodown-v1").backend == "onnx"


def test_models_fetch_exports_again_when_the_recipe_changed(tmp_path, monkeypatch, capsys):
    model, _ = _model_with_export(tmp_path, recipe="onnx-int8-nodown-v1")
    calls = []
    monkeypatch.setattr(onnx_export, "export", lambda folder, target, log=print: calls.append((folder, target)))
    cli.models.export_onnx(model)
    assert calls == [(model, export_folder(model))]
    assert "made by onnx-int8-nodown-v1, not " + RECIPE in capsys.readouterr().err

    calls.clear()
    (export_folder(model) / "embedder.json").write_text(json.dumps({"recipe": RECIPE}))
    cli.models.export_onnx(model)
    assert calls == []  # the current recipe: nothing to do
