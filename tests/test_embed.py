import json

import numpy as np
import pytest

from assistant.embed import SentenceTransformerEmbedder, document_text, fingerprint
from assistant.embed.onnx_export import _down_projections
from assistant.embed.onnx_rt import OnnxEmbedder
from assistant.errors import ModelMissingError

GEMMA = {"query": "task: search result | query: ", "document": "title: none | text: "}


class _StubModel:
    def __init__(self):
        self.seen = []

    def encode(self, batch, prompt=None, **kw):
        assert prompt == ""  # the prompts are in the texts already
        self.seen.extend(batch)
        return np.array([[len(t), 1.0] for t in batch], dtype=np.float32)

    def get_sentence_embedding_dimension(self):
        return 2


def _st_folder(tmp_path, prompts=GEMMA):
    (tmp_path / "modules.json").write_text("[]")
    (tmp_path / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts}))
    return tmp_path


def test_length_sorted_batches_come_back_in_input_order(tmp_path):
    emb = SentenceTransformerEmbedder(_st_folder(tmp_path, {}), batch_size=2)
    emb._model = _StubModel()
    texts = ["ccc", "a", "eeeee", "bb", "dddd"]
    seen = []
    out = emb.embed_documents(texts, progress=seen.append)
    assert out[:, 0].tolist() == [3, 1, 5, 2, 4] and sum(seen) == 5


def test_title_goes_in_embeddinggemmas_title_slot(tmp_path):
    emb = SentenceTransformerEmbedder(_st_folder(tmp_path), batch_size=4)
    emb._model = _StubModel()
    emb.embed_documents(["Er is geen plan."], titles=["Noordoostpolder | vragen"])
    assert emb._model.seen == ["title: Noordoostpolder / vragen | text: Er is geen plan."]
    emb.embed_query("waarom?")
    assert emb._model.seen[-1] == "task: search result | query: waarom?"
    # Without a title the model's own document prompt is used unchanged.
    assert document_text(GEMMA, "", "x") == "title: none | text: x"
    # A model without a title slot gets the title as a first line after its own prompt.
    assert document_text({"document": "passage: "}, "T", "x") == "passage: T\nx"


def test_missing_folder_and_fingerprint(tmp_path):
    with pytest.raises(ModelMissingError, match="models fetch"):
        SentenceTransformerEmbedder(tmp_path / "nope", key="embeddinggemma-300m")
    with pytest.raises(ModelMissingError, match="models fetch"):
        OnnxEmbedder(tmp_path / "nope")
    (tmp_path / "config.json").write_text("{}")
    a = fingerprint(tmp_path)
    (tmp_path / "config.json").write_text('{"x": 1}')
    assert fingerprint(tmp_path) != a


def test_down_projections_are_found_by_shape():
    """The exporter keeps the MLP down-projections in fp32: they are the MatMuls whose weight shape is
    the transpose of the gate/up shape, which occurs twice as often."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes, inits = [], []
    for layer in range(2):
        for role, shape in (("q", (8, 8)), ("gate", (8, 12)), ("up", (8, 12)), ("down", (12, 8))):
            w = f"w_{role}_{layer}"
            inits.append(helper.make_tensor(w, TensorProto.FLOAT, shape, [0.0] * (shape[0] * shape[1])))
            nodes.append(helper.make_node("MatMul", ["x", w], [f"y_{role}_{layer}"], name=f"{role}_{layer}"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])], [], inits)
    assert sorted(_down_projections(helper.make_model(graph))) == ["down_0", "down_1"]


@pytest.mark.real
def test_onnx_embedder_lets_go_of_its_model_and_loads_it_again():
    """release() (called by a compaction before it builds a large graph, index/compact.py) drops
    the session and tokenizer; the next call loads them again and gives the same vector."""
    from assistant.config import Settings
    from assistant.pipeline import make_embedder

    emb = make_embedder(Settings.from_env())
    if not isinstance(emb, OnnxEmbedder):
        pytest.skip("the ONNX export is not installed (`assistant models fetch`)")
    first = emb.embed_query("Waarom is er geen projectplan opgesteld?")
    emb.release()
    assert emb._session is None and emb._tokenizer is None
    assert np.array_equal(emb.embed_query("Waarom is er geen projectplan opgesteld?"), first)
