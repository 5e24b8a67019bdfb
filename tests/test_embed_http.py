"""The HTTP embedder against a real OpenAI-compatible /v1/embeddings server on 127.0.0.1 (http.server
in a thread) that computes vectors with the hashed fake embedder."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from fakes import HashEmbedder
from test_index import _sync, _write_docs

from assistant import index
from assistant.config import Settings
from assistant.embed.base import EMBEDDINGGEMMA_PROMPTS, document_text, query_text
from assistant.embed.http import HttpEmbedder
from assistant.errors import EmbedderError, IndexStoreError
from assistant.pipeline import build, make_embedder
from assistant.retrieve import HybridRetriever


class FakeServer:
    """POST /v1/embeddings: HashEmbedder vectors times 3 (not unit length), listed in reverse order
    with their "index", after `delay` seconds. Records every request's inputs and the most requests
    in flight at once. `mode`: "ok", "error" (HTTP 500), "short" (one vector too few)."""

    def __init__(self, model_id: str = "hash-served-v1", delay: float = 0.05):
        self.emb = HashEmbedder(dim=64)
        self.model_id, self.delay, self.mode = model_id, delay, "ok"
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay)
                    if self.path != "/v1/embeddings":
                        return self._send(404, {"error": "not found"})
                    if server.mode == "error":
                        return self._send(500, {"error": {"message": "model failed to load"}})
                    texts = body["input"]
                    vecs = server.emb.embed_documents(texts) * 3.0
                    data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]
                    if server.mode == "short":
                        data = data[:-1]
                    self._send(200, {"object": "list", "model": server.model_id, "data": data[::-1]})
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _send(self, code, obj):
                raw = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def expected(self, full_texts: list[str]) -> np.ndarray:
        return np.stack([self.emb._vec(t) for t in full_texts])


@pytest.fixture
def server():
    s = FakeServer()
    s.thread.start()
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()


def test_batches_in_parallel_keep_order_and_normalise(server):
    emb = HttpEmbedder(server.url, "served-model", batch_size=32, concurrency=4)
    texts = [f"Tekst nummer {i} over woningbouw en {'fietspaden ' * (i % 5)}" for i in range(200)]
    titles = [f"Rapport {i % 7}" for i in range(200)]
    done = []
    vecs = emb.embed_documents(texts, progress=done.append, titles=titles)
    assert vecs.shape == (200, 64) and vecs.dtype == np.float32
    full = [document_text(EMBEDDINGGEMMA_PROMPTS, t, x) for t, x in zip(titles, texts)]
    assert np.allclose(vecs, server.expected(full), atol=1e-6)  # order kept, unit length (the server sent 3x)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert sum(done) == 200
    sizes = [len(r["input"]) for r in server.requests]
    assert sorted(sizes) == [8] + [32] * 6 and all(r["model"] == "served-model" for r in server.requests)
    assert 2 <= server.max_in_flight <= 4
    # EmbeddingGemma's prompts: the title in its slot, the query prompt for questions.
    assert server.requests[0]["input"][0].startswith("title: Rapport ") and " | text: Tekst nummer" in server.requests[0]["input"][0]
    q = emb.embed_query("Hoeveel woningen?")
    assert server.requests[-1]["input"] == ["task: search result | query: Hoeveel woningen?"]
    assert np.allclose(q, server.expected([query_text(EMBEDDINGGEMMA_PROMPTS, "Hoeveel woningen?")])[0], atol=1e-6)


def test_name_records_requested_and_served_model_and_prompts(server):
    emb = HttpEmbedder(server.url, "served-model")
    assert emb.name.startswith("http:served-model=hash-served-v1+p") and emb.dim == 64
    assert HttpEmbedder(server.url, "served-model", prompts={}).name != emb.name  # other prompts, other vectors
    s = Settings.from_env({"ASSISTANT_EMBED_BASE_URL": server.url, "ASSISTANT_EMBED_API_MODEL": "m",
                           "ASSISTANT_EMBED_PROMPTS": '{"query": "q: ", "document": "d: "}'})
    made = make_embedder(s)
    assert isinstance(made, HttpEmbedder) and made.model == "m" and made.prompts == {"query": "q: ", "document": "d: "}
    made.embed_documents(["x"], titles=["T"])
    assert server.requests[-1]["input"] == ["d: T\nx"]


def test_clear_errors(server):
    emb = HttpEmbedder(server.url, batch_size=2)
    server.mode = "error"
    with pytest.raises(EmbedderError) as e:
        emb.embed_documents(["a", "b", "c"])
    msg = str(e.value)
    assert f"{server.url}/v1/embeddings answered HTTP 500" in msg and "model failed to load" in msg
    assert "ASSISTANT_EMBED_BASE_URL" in msg
    server.mode = "short"
    with pytest.raises(EmbedderError, match=r"returned 1 vectors for 2 texts"):
        emb.embed_documents(["a", "b", "c"])
    server.mode = "ok"
    with pytest.raises(EmbedderError, match="no /v1/embeddings endpoint"):
        HttpEmbedder(server.url + "/wrong").embed_query("x")
    closed = HttpEmbedder("http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(EmbedderError, match=r"cannot reach the embedding server at http://127.0.0.1:9/v1/embeddings .*ASSISTANT_EMBED_BASE_URL"):
        closed.embed_query("x")
    with pytest.raises(EmbedderError, match="http://"):
        HttpEmbedder("gpu-box:8080")


def test_ingest_and_search_over_http_and_no_mixing(tmp_path, server):
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    emb = HttpEmbedder(server.url, batch_size=4)
    report = _sync(idx_dir, docs, emb)
    assert report.chunks_total > 3 and not report.problems
    idx = index.load(idx_dir)
    assert idx.manifest["embedder"] == emb.name and idx.manifest["dim"] == 64
    hits = HybridRetriever(idx, emb).search("geen projectplan opgesteld Sezen", k=3)
    assert hits[0].chunk.source == "docs/sezen.txt"
    idx.store.close()

    # Local vectors never join an index built over HTTP, and the other way round.
    with pytest.raises(IndexStoreError, match="built with embedder http:"):
        build(Settings().with_(index_dir=idx_dir), with_llm=False, embedder=HashEmbedder(dim=64))
    local_dir = tmp_path / "local-index"
    _sync(local_dir, docs, HashEmbedder(dim=64))
    with pytest.raises(IndexStoreError, match="settings select http:"):
        build(Settings().with_(index_dir=local_dir, embed_base_url=server.url), with_llm=False)
    p = build(Settings().with_(index_dir=idx_dir, embed_base_url=server.url, embed_api_model="local"), with_llm=False)
    assert isinstance(p.embedder, HttpEmbedder)
    # An ingest with another embedder re-embeds everything instead of mixing.
    again = _sync(idx_dir, docs, HashEmbedder(dim=64))
    assert again.rebuilt.startswith("embedder changed (http:")
