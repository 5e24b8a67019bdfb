"""Export the installed sentence-transformers model to one ONNX graph and quantise it to int8.

Runs offline from the local model folder (torch + onnxscript do the export, ONNX Runtime the
quantisation) and writes `<model>-onnx-int8/` beside it, atomically (temp folder + rename).

The graph covers the whole sentence-transformers pipeline (transformer, mean pooling, the two dense
layers, L2 normalisation), so the runtime needs only ONNX Runtime and a tokenizer. Quantisation is
dynamic int8 on the MatMul weights, per output channel, EXCEPT the MLP down-projections: their
inputs have outliers ~100x their RMS in every layer of EmbeddingGemma, and quantising them too gave
vectors with cosine 0.961 to the fp32 ones and recall@1 -0.027 on the gold set; without them the
cosine is 0.994 and recall is unchanged (measured 2026-11-25; README "Speed").

Weights are quantised to 7 bits (`reduce_range`). On a CPU without VNNI (AVX2 only) ONNX Runtime
multiplies u8 activations by s8 weights with VPMADDUBSW, whose int16 sums saturate: there the
full-range export gave vectors with cosine 0.973 (min 0.954) to PyTorch's, against 0.994 (min 0.992)
with 7-bit weights at the same speed (115 seed texts, 2026-12-03, AMD EPYC with AVX2 only). ONNX
Runtime's quantisation docs name reduce_range as the fix for that saturation.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from .base import fingerprint, read_prompts

RECIPE = "onnx-int8-nodown-rr-v2"  # v1: full-range int8 weights (saturates on AVX2-only CPUs)


def export_folder(source: Path) -> Path:
    source = Path(source)
    return source.parent / f"{source.name}-onnx-int8"


def export(source: Path, target: Path | None = None, log: Callable[[str], None] = print) -> Path:
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    source = Path(source)
    target = Path(target) if target else export_folder(source)
    prompts = read_prompts(source)
    t0 = time.perf_counter()
    st = SentenceTransformer(str(source), device="cpu", local_files_only=True)

    class Whole(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model({"input_ids": input_ids, "attention_mask": attention_mask})["sentence_embedding"]

    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the model folder is readable like the others
    try:
        sample = st.tokenizer([prompts.get("query", "") + "hallo", prompts.get("document", "") + "een langere tekst"],
                              padding=True, return_tensors="pt")
        fp32 = tmp / "fp32.onnx"
        log(f"exporting {source.name} to ONNX (about a minute) ...")
        with torch.no_grad():
            torch.onnx.export(
                Whole(st).eval(), (sample["input_ids"], sample["attention_mask"]), str(fp32),
                input_names=["input_ids", "attention_mask"], output_names=["sentence_vector"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                              "sentence_vector": {0: "batch"}},
                dynamo=True, verbose=False,
            )
        keep_fp32 = _down_projections(onnx.load(str(fp32), load_external_data=False))
        log(f"quantising to int8 ({len(keep_fp32)} down-projections kept in fp32) ...")
        quantize_dynamic(str(fp32), str(tmp / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=keep_fp32,
                         extra_options={"MatMulConstBOnly": True}, use_external_data_format=True)
        for p in tmp.glob("fp32.onnx*"):
            p.unlink()
        tok = st.tokenizer
        shutil.copy(source / "tokenizer.json", tmp / "tokenizer.json")
        meta = {
            "source_name": f"{source.name}@{fingerprint(source)}",
            "recipe": RECIPE,
            "model_file": "model.onnx",
            "dim": int(st.get_sentence_embedding_dimension()),
            "max_tokens": int(st.max_seq_length or 2048),
            "pad_id": int(tok.pad_token_id if tok.pad_token_id is not None else 0),
            "pad_token": tok.pad_token or "<pad>",
            "prompts": prompts,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        (tmp / "embedder.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"ONNX embedder ready at {target} ({time.perf_counter() - t0:.0f} s)")
    return target


def _down_projections(model) -> list[str]:
    """Names of the MatMul nodes of the MLP down-projections, found by shape rather than by node
    name: a gated MLP has a gate and an up projection of shape (width, hidden) per layer and one
    down projection of shape (hidden, width), so the down shape is the transpose of a shape that
    occurs exactly twice as often."""
    from collections import Counter

    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    weights = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and len(node.input) == 2 and len(shapes.get(node.input[1], ())) == 2:
            weights[node.name] = shapes[node.input[1]]
    count = Counter(weights.values())
    down = {s for s in count if s[0] > s[1] and count.get((s[1], s[0]), 0) == 2 * count[s]}
    return [name for name, s in weights.items() if s in down]
