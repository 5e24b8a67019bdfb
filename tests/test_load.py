"""The chat under load (eval/load.py, `python eval/bench.py load`) with the fake pipeline, and the
full queue: extra clients get "busy" at once instead of hanging."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest
from fakes import seeds_runtime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "eval"))

import load  # noqa: E402

from assistant import ui  # noqa: E402


def test_concurrent_clients_get_their_own_answers():
    out = load.run_load(clients=4, questions=2, answer_s=0.3, timeout_s=60)
    assert out["errors"] == 0 and out["mixed_answers"] == 0 and out["unmatched_answers"] == 0, out["problems"]
    assert out["answered"] == out["asked"] == 8 and out["busy_refusals"] == 0
    for key in ("queue_wait_s", "total_latency_s"):
        assert 0 <= out[key]["p50"] <= out[key]["p95"] < 60
    # One answer at a time (the generator's lock): 8 answers take at least 8 x 0.3 s.
    assert out["wall_s"] >= 2.4 and out["total_latency_s"]["p95"] >= out["queue_wait_s"]["p50"]
    assert out["rss_mb"]["before"] > 0 and out["rss_mb"]["after"] > 0


class SwappedRefs(load.SlowTaggedGenerator):
    """A broken server would do this: answer with another question's ref."""

    def stream(self, prompt, max_tokens, temperature):
        system, user, examples = prompt.system, prompt.user, prompt.examples
        for piece in super().stream(prompt, max_tokens, temperature):
            yield load.REF.sub(lambda m: f"C{int(m.group(1)) + 1}Q{m.group(2)}", piece)


def test_mixed_answers_are_detected():
    out = load.run_load(clients=2, questions=1, answer_s=0.1, timeout_s=60, generator=SwappedRefs(0.1))
    assert out["mixed_answers"] + out["unmatched_answers"] == 2


def test_full_queue_answers_busy_at_once():
    # Up to 4 answers run at once (the ask event's concurrency limit) and 1 may wait; the rest are refused.
    # Answers take 4 s, so a refusal that waited for the queue would take >= 4 s; a busy machine still
    # answers a refusal in well under that.
    out = load.run_load(clients=8, questions=1, answer_s=4.0, timeout_s=90, queue_max_size=1)
    assert out["errors"] == 0 and out["mixed_answers"] == 0, out["problems"]
    assert out["busy_refusals"] >= 1 and out["answered"] >= 1  # how many get in depends on the burst timing
    assert out["busy_refusals"] + out["answered"] == 8
    assert out["busy_answer_s_max"] < 3.5  # at once, not after the queue drained


@pytest.fixture
def full_server(tmp_path, seeds_dir):
    runtime = seeds_runtime(tmp_path / "index", seeds_dir)
    demo, url = ui.serve(runtime, "127.0.0.1", load._free_port(), queue_max_size=0)  # always full
    try:
        yield demo, url
    finally:
        demo.close()


def test_busy_message_over_http_and_gradio_client(full_server):
    demo, url = full_server
    fn_index = next(i for i, fn in demo.fns.items() if fn.api_name == "ask")
    t0 = time.perf_counter()
    r = httpx.post(url.rstrip("/") + "/gradio_api/queue/join", timeout=10,
                   json={"data": ["Waarom?", 3, None], "fn_index": fn_index, "session_hash": "loadtest1",
                         "trigger_id": None, "event_data": None})
    assert r.status_code == 503 and r.json()["detail"] == ui.BUSY_MESSAGE
    assert time.perf_counter() - t0 < 2.0

    from gradio_client import Client
    from gradio_client.utils import QueueError

    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    with pytest.raises(QueueError, match="try again"):
        client.predict("Waarom?", 3, api_name="/ask")
    assert ui.QUEUE_MAX_SIZE == 16
