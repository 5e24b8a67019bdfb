"""The OpenAI-compatible generator against a tiny local SSE server (loopback only)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.errors import GenerationError, ModelMissingError
from assistant.generate import LlamaCppGenerator, OpenAICompatGenerator, Prompt


class _Handler(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.received.append((self.path, body, self.headers.get("Authorization")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ["Er is ", "geen projectplan", " [1]."]:
            chunk = {"choices": [{"delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_streams_from_openai_compatible_server(server):
    _Handler.received.clear()
    gen = OpenAICompatGenerator(server + "/v1", model="qwen", api_key="sekret")
    out = list(gen.stream(Prompt("sys", "user"), 50, 0.2))
    assert out == ["Er is ", "geen projectplan", " [1]."]
    path, body, auth = _Handler.received[0]
    assert path == "/v1/chat/completions" and auth == "Bearer sekret"
    assert body["stream"] is True and body["max_tokens"] == 50 and body["model"] == "qwen"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_unreachable_server_is_a_clear_error():
    gen = OpenAICompatGenerator("http://127.0.0.1:9", timeout=5)
    with pytest.raises(GenerationError, match="127.0.0.1:9"):
        list(gen.stream(Prompt("s", "u"), 5, 0.0))


def test_bad_url_and_missing_gguf(tmp_path):
    with pytest.raises(GenerationError, match="http"):
        OpenAICompatGenerator("gpu-box:8080")
    with pytest.raises(ModelMissingError, match="nope.gguf"):
        LlamaCppGenerator(tmp_path / "nope.gguf")


def test_every_generator_and_embedder_conforms_to_its_protocol(tmp_path):
    """Backends and fakes declare the same role: the Protocols are runtime_checkable, and answer.py
    asks a generator's `abilities` instead of probing its type."""
    import sys
    from pathlib import Path

    from fakes import LogitsGenerator, ScriptedGenerator

    from assistant.embed import Embedder
    from assistant.embed.hashing import HashEmbedder
    from assistant.generate import Abilities, EchoGenerator, Generator

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))
    import load as load_bench

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")  # the model loads lazily: the object is enough for the Protocol
    generators = [LlamaCppGenerator(gguf), OpenAICompatGenerator("http://127.0.0.1:9"), EchoGenerator(),
                  ScriptedGenerator("x"), LogitsGenerator(["x"]), load_bench.SlowTaggedGenerator()]
    for g in generators:
        assert isinstance(g, Generator), type(g).__name__
        assert isinstance(g.abilities, Abilities)
    assert LlamaCppGenerator.abilities.prefill and LlamaCppGenerator.abilities.logits
    assert not OpenAICompatGenerator.abilities.prefill and not EchoGenerator.abilities.logits
    # (the model-backed embedders are checked where their models load: test_embed*.py, test_real.py)
    assert isinstance(HashEmbedder(), Embedder)
