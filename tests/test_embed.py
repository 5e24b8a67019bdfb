import numpy as np
import pytest

from assistant.embed import SentenceTransformerEmbedder, fingerprint
from assistant.errors import ModelMissingError


class _StubModel:
    prompts = {"query": "q: ", "document": "d: "}

    def encode_document(self, batch, **kw):
        return np.array([[len(t), 1.0] for t in batch], dtype=np.float32)

    def get_sentence_embedding_dimension(self):
        return 2


def test_length_sorted_batches_come_back_in_input_order(tmp_path):
    (tmp_path / "modules.json").write_text("[]")
    emb = SentenceTransformerEmbedder(tmp_path, batch_size=2)
    emb._model = _StubModel()
    texts = ["ccc", "a", "eeeee", "bb", "dddd"]
    seen = []
    out = emb.embed_documents(texts, progress=seen.append)
    assert out[:, 0].tolist() == [3, 1, 5, 2, 4] and sum(seen) == 5


def test_missing_folder_and_fingerprint(tmp_path):
    with pytest.raises(ModelMissingError, match="models fetch"):
        SentenceTransformerEmbedder(tmp_path / "nope", key="embeddinggemma-300m")
    (tmp_path / "config.json").write_text("{}")
    a = fingerprint(tmp_path)
    (tmp_path / "config.json").write_text('{"x": 1}')
    assert fingerprint(tmp_path) != a
