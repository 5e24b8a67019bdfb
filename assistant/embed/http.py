"""Embeddings from an OpenAI-compatible server (`POST {base}/v1/embeddings`): llama.cpp's
`llama-server --embeddings`, vLLM, Ollama, text-embeddings-inference, ...

Lets a large ingest run on a bigger machine (or a GPU) by setting ASSISTANT_EMBED_BASE_URL. Texts
get the same prompts as the local backends (base.document_text / query_text; EmbeddingGemma's by
default, ASSISTANT_EMBED_PROMPTS to change them): the server is sent the full strings and must not
add its own prompt. Requests go out `batch_size` texts at a time, `concurrency` in flight; the
vectors come back in the order of the texts and are L2-normalised here (servers differ in whether
they normalise).

The embedder's `name` (recorded in the index manifest) holds the model asked for, the model id the
server reports and a hash of the prompts, e.g. "http:local=embeddinggemma-300m-Q8_0.gguf+p1a2b3c4d":
an index built over HTTP is never mixed with vectors of a local model or of another served model.
Finding it costs one small request, made on first use of `name` or `dim`.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import numpy as np

from ..errors import EmbedderError
from .base import EMBEDDINGGEMMA_PROMPTS, EmbeddingSettings, document_text, query_text

FIX = "check that the server runs with embeddings enabled, or unset ASSISTANT_EMBED_BASE_URL to use the local model"


class HttpEmbedder:
    backend = "http"

    def __init__(self, base_url: str, model: str = EmbeddingSettings.api_model, prompts: dict[str, str] | None = None,
                 batch_size: int = 32, concurrency: int = 4, timeout: float = 120, api_key: str = ""):
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise EmbedderError(f"embedding server URL must start with http:// or https://, got {base_url!r} "
                                "(ASSISTANT_EMBED_BASE_URL)")
        self.url = self.base_url + ("/embeddings" if self.base_url.endswith("/v1") else "/v1/embeddings")
        self.model = model or EmbeddingSettings.api_model
        self.prompts = dict(EMBEDDINGGEMMA_PROMPTS if prompts is None else prompts)
        self.batch_size = max(1, int(batch_size))
        self.concurrency = max(1, int(concurrency))
        self.timeout = timeout
        self.api_key = api_key
        self._server_model: str | None = None
        self._dim: int | None = None

    # -- identity ---------------------------------------------------------------------------------
    def _probe(self) -> None:
        if self._server_model is None:
            vecs, model = self._post(["probe"])
            self._server_model, self._dim = model or self.model, int(vecs.shape[1])

    @property
    def name(self) -> str:
        self._probe()
        tag = hashlib.sha256(json.dumps(self.prompts, sort_keys=True).encode()).hexdigest()[:8]
        return f"http:{self.model}={self._server_model}+p{tag}"

    @property
    def dim(self) -> int:
        self._probe()
        return int(self._dim)

    # -- requests ---------------------------------------------------------------------------------
    def _post(self, texts: list[str]) -> tuple[np.ndarray, str]:
        """One request: the vectors of `texts` in order (L2-normalised) and the model id reported."""
        body = json.dumps({"model": self.model, "input": texts}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            detail = ""
            try:
                detail = e.read().decode("utf-8", "replace").strip()[:300]
            except OSError:
                pass
            hint = ("the server has no /v1/embeddings endpoint (llama-server needs --embeddings)"
                    if e.code in (404, 405, 501) else FIX)
            raise EmbedderError(f"embedding server {self.url} answered HTTP {e.code} {e.reason}"
                                + (f": {detail}" if detail else "") + f"; {hint}.") from e
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise EmbedderError(f"cannot reach the embedding server at {self.url} ({reason}): start it or fix "
                                "ASSISTANT_EMBED_BASE_URL (or unset it to use the local model).") from e
        try:
            doc = json.loads(raw)
            data = doc["data"]
            if not isinstance(data, list):
                raise TypeError("data is not a list")
            if all(isinstance(d, dict) and "index" in d for d in data):
                data = sorted(data, key=lambda d: d["index"])
            vecs = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as e:
            raise EmbedderError(f"embedding server {self.url} sent an answer that is not an OpenAI embeddings "
                                f"response ({type(e).__name__}: {str(e)[:100]}); {FIX}.") from e
        if vecs.ndim != 2 or vecs.shape[0] != len(texts):
            got = vecs.shape[0] if vecs.ndim >= 1 else 0
            raise EmbedderError(f"embedding server {self.url} returned {got} vectors for {len(texts)} texts; use a "
                                "server that embeds every input of a batch (OpenAI /v1/embeddings) and check its "
                                "batch-size limits.")
        if self._dim is not None and vecs.shape[1] != self._dim:
            raise EmbedderError(f"embedding server {self.url} returned {vecs.shape[1]}-dimensional vectors, earlier "
                                f"{self._dim}: the served model changed; restart the ingest.")
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        if not np.isfinite(vecs).all() or (norms == 0).any():
            raise EmbedderError(f"embedding server {self.url} returned zero or non-finite vectors; {FIX}.")
        return vecs / norms, str(doc.get("model") or "")

    def _embed(self, full: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if not full:
            return np.zeros((0, self.dim), dtype=np.float32)
        spans = [(i, min(i + self.batch_size, len(full))) for i in range(0, len(full), self.batch_size)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(spans))) as pool:
            futures = [pool.submit(self._post, full[a:b]) for a, b in spans]
            try:
                out = self._collect(spans, futures, len(full), progress)
            except BaseException:
                for fut in futures:  # don't send the batches not started yet
                    fut.cancel()
                raise
        return out

    def _collect(self, spans, futures, n: int, progress) -> np.ndarray:
        out: np.ndarray | None = None
        for (a, b), fut in zip(spans, futures):  # in order; later batches keep running meanwhile
            vecs, model = fut.result()
            if out is None:
                out = np.empty((n, vecs.shape[1]), dtype=np.float32)
                if self._server_model is None:
                    self._server_model, self._dim = model or self.model, int(vecs.shape[1])
            elif vecs.shape[1] != out.shape[1]:
                raise EmbedderError(f"embedding server {self.url} returned vectors of {vecs.shape[1]} and "
                                    f"{out.shape[1]} dimensions in one ingest; restart the ingest.")
            if model and self._server_model and model != self._server_model:
                raise EmbedderError(f"embedding server {self.url} now serves {model}, before {self._server_model}: "
                                    "vectors of two models are never mixed; run the ingest again.")
            out[a:b] = vecs
            if progress:
                progress(b - a)
        return out

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None,
                        titles: Sequence[str] | None = None) -> np.ndarray:
        titles = list(titles) if titles is not None else [""] * len(texts)
        return self._embed([document_text(self.prompts, t, x) for t, x in zip(titles, texts)], progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([query_text(self.prompts, text)])[0]
