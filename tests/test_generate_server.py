"""The OpenAI-compatible generator against a real server: llama-cpp-python's own OpenAI-compatible
server (`python -m llama_cpp.server`, the small GGUF), started by the test on loopback.

A chat API cannot continue a reply that code started, so the answer path puts the quote into the
user turn for this backend; next-token probabilities come from the API's logprobs. Both are checked
here against the real server, and the whole answer path runs through it once.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from assistant.generate import OpenAICompatGenerator, Prompt
from assistant.pipeline import build
from assistant.stream_filter import NOT_FOUND

pytestmark = pytest.mark.real


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(real_settings, tmp_path_factory):
    pytest.importorskip("sse_starlette", reason="llama-cpp-python's server needs the [test] extras (./run.sh test)")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"  # a file: a full stderr pipe would block the server
    out = open(log, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(real_settings.llm_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--n_threads", str(real_settings.generation.n_threads),
         "--logits_all", "true"],  # the server sends logprobs only with all logits kept
        stdout=out, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=2) as r:
                json.load(r)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    out.close()


def test_streams_and_reads_next_token_probabilities_from_a_real_server(server):
    gen = OpenAICompatGenerator(server + "/v1", model="local")
    assert not gen.abilities.prefill and gen.abilities.logits
    text = "".join(gen.stream(Prompt("You answer briefly.", "Say the word yes."), 8, 0.0))
    assert text.strip()
    choice = gen.choose(Prompt("Answer with Yes or No only.", "Is Amsterdam in the Netherlands?"), ["Yes", "No"])
    assert choice is not None and set(choice.probs) == {"Yes", "No"}
    assert abs(sum(choice.probs.values()) - 1) < 1e-6 and 0 < choice.mass <= 1.0001
    assert choice.best == "Yes"
    # A prefix cannot be continued through the chat API: no probabilities rather than wrong ones.
    assert gen.choose(Prompt("s", "u", prefix="[1] «"), ["a", "b"]) is None


def test_answer_path_through_the_server_puts_the_quote_in_the_user_turn(real_settings, server):
    s = real_settings.with_(llm_base_url=server, not_found_threshold=0.999)
    p = build(s)
    sent = []
    stream = p.assistant.generator.stream

    def spy(prompt, max_tokens, temperature):
        sent.append(prompt)
        yield from stream(prompt, max_tokens, temperature)

    p.assistant.generator.stream = spy
    events = list(p.assistant.stream("Wanneer nam de Lochemse gemeenteraad de motie over de regiegemeente aan?"))
    kinds = [e.kind for e in events]
    final = events[-1].data
    assert final.quote is not None and kinds.index("quote") < kinds.index("token")
    doc = p.index.docs[final.quote.source]
    assert doc.text[final.quote.start:final.quote.end] == final.quote.text
    assert sent and not sent[0].prefix and " ".join(final.quote.text.split()) in sent[0].user
    assert final.decision.p_not_found is not None  # read from the server's logprobs
    assert not final.abstained and final.text.strip()
    # The same question with a threshold below its p(NOT_FOUND) is refused before any text is written.
    # (half its p(NOT_FOUND): the server computes it again, with float differences from its own cache)
    s2 = real_settings.with_(llm_base_url=server, not_found_threshold=final.decision.p_not_found / 2)
    a = build(s2).assistant.answer("Wanneer nam de Lochemse gemeenteraad de motie over de regiegemeente aan?")
    assert a.abstained and a.decision.reason == "not_found"
    assert NOT_FOUND not in a.text
