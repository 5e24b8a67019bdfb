"""Any server speaking the OpenAI chat-completions API (llama-server, vLLM, Ollama, ...).

Lets a team move generation to a bigger machine by setting a base URL, no code change. The chat API
cannot continue an assistant turn that code started, so answer.py puts the quote into the user turn
for this backend; next-token probabilities come from the API's `logprobs` / `top_logprobs` where the
server sends them (llama-server and vLLM do), and `choose()` returns None where it does not.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from typing import Sequence

from ..errors import GenerationError
from .base import Abilities, Choice, GenerationSettings, GenerationStats, Prompt, approx_tokens, chat_messages

TOP_LOGPROBS = 20  # alternatives asked for at the one position choose() reads


class OpenAICompatGenerator:
    abilities = Abilities(prefill=False, logits=True, exact_tokens=False)

    def __init__(self, base_url: str, model: str = GenerationSettings.api_model, api_key: str = "", timeout: float = 300):
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise GenerationError(f"LLM base URL must start with http:// or https://, got {base_url!r}")
        self.model, self.api_key, self.timeout = model, api_key, timeout
        self.name = f"{model}@{self.base_url}"
        self.last_stats: GenerationStats | None = None

    def _url(self) -> str:
        return self.base_url + ("/chat/completions" if self.base_url.endswith("/v1") else "/v1/chat/completions")

    def _request(self, body: dict):
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self._url(), data=json.dumps(body).encode(), headers=headers, method="POST")
        return urllib.request.urlopen(req, timeout=self.timeout)

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def close(self) -> None:
        pass  # one HTTP request per call: nothing held open

    def stream(self, prompt: Prompt, max_tokens: int, temperature: float):
        if prompt.prefix:
            raise GenerationError("an OpenAI-compatible server cannot continue a pre-filled reply (abilities.prefill "
                                  "is False): put the text into the user turn instead")
        body = {"model": self.model, "stream": True, "max_tokens": max_tokens, "temperature": temperature,
                "messages": chat_messages(prompt)}
        self.last_stats = None
        try:
            with self._request(body) as resp:
                for raw in resp:
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    piece = (json.loads(data).get("choices") or [{}])[0].get("delta", {}).get("content")
                    if piece:
                        yield piece
        except urllib.error.URLError as e:
            raise GenerationError(f"LLM server at {self.base_url} failed: {e}") from e
        except ValueError as e:
            raise GenerationError(f"LLM server at {self.base_url} sent an unreadable stream: {e}") from e

    def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice | None:
        """Probabilities of the options from the first reply token's top_logprobs: an option counts
        the alternatives that start it ("NOT" for "NOT_FOUND") or that it starts with. None when the
        reply would have to continue a prefix, or the server sends no logprobs."""
        if prompt.prefix:
            return None
        body = {"model": self.model, "stream": False, "max_tokens": 1, "temperature": 0.0,
                "logprobs": True, "top_logprobs": TOP_LOGPROBS, "messages": chat_messages(prompt)}
        try:
            with self._request(body) as resp:
                data = json.loads(resp.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as e:
            if e.code in (400, 422, 501):  # the server does not take logprobs
                return None
            raise GenerationError(f"LLM server at {self.base_url} failed: {e}") from e
        except urllib.error.URLError as e:
            raise GenerationError(f"LLM server at {self.base_url} failed: {e}") from e
        except ValueError as e:
            raise GenerationError(f"LLM server at {self.base_url} sent unreadable JSON: {e}") from e
        try:
            top = data["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        except (KeyError, IndexError, TypeError):
            return None
        raw = {o: 0.0 for o in options}
        for alt in top:
            token = (alt.get("token") or "").strip()
            if not token:
                continue
            for o in options:
                if o.startswith(token) or token.startswith(o):
                    raw[o] += math.exp(float(alt.get("logprob", -math.inf)))
                    break
        mass = sum(raw.values())
        if mass <= 0:
            return Choice({o: 1.0 / len(options) for o in options}, 0.0)
        return Choice({o: v / mass for o, v in raw.items()}, mass)
