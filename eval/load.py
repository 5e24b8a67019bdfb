"""Load test of the browser chat: `python eval/bench.py load [--clients 8] [--questions 3] [--real]`.

Starts the chat server (assistant/ui/server.py `serve`) in this process on 127.0.0.1 and lets N clients
(threads, each with its own gradio_client session = its own browser tab) ask Q questions each, as a
conversation, through the server's HTTP API (Gradio's queue: /gradio_api/queue/join + the SSE stream).

Default pipeline: fakes (a hashed bag-of-words embedder over an index of seeds/, and a generator that
takes --answer-s seconds per answer behind one lock, like the one llama.cpp model, and answers with
the question's reference "C<client>Q<question>"), so answers can be matched to their questions.
--real uses the real embedder and the small LLM (qwen2.5-coder-0.5b) instead; answers are then
matched by the conversation's own turns (the question echoed in the turn) and by refs.

Report (JSON): errors (must be 0), mixed answers (an answer in a conversation that is not its own
question's; must be 0), busy refusals (a full queue), queue wait p50/p95 (submit -> the server starts
the event), total latency p50/p95 (submit -> last output), RSS before/after (this process: server +
clients).
"""

from __future__ import annotations

import html
import json
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.generate import Abilities, approx_tokens  # noqa: E402  (after the sys.path set-up)

REF = re.compile(r"\bC(\d+)Q(\d+)\b")
GOLD = ROOT / "eval" / "gold.jsonl"
SMALL_LLM = "qwen2.5-coder-0.5b"


class SlowTaggedGenerator:
    """A fake LLM: one answer at a time (a lock, like llama.cpp), `answer_s` seconds per answer,
    streamed in a few pieces. The answer quotes the first sentence of excerpt [1] (so the support
    check accepts it) and starts with the question's ref, the last C<n>Q<m> in the prompt."""

    name = "fake-slow-tagged"
    abilities = Abilities()  # like a plain chat server: no pre-filled replies, no logits
    last_stats = None

    def __init__(self, answer_s: float = 0.5, rewrite_s: float = 0.05):
        self.answer_s, self.rewrite_s = answer_s, rewrite_s
        self._lock = threading.Lock()
        self.calls = 0

    def choose(self, prompt, options):
        return None

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def close(self) -> None:
        pass

    def stream(self, prompt, max_tokens, temperature):
        system, user, examples = prompt.system, prompt.user, prompt.examples
        refs = REF.findall(user)
        ref = f"C{refs[-1][0]}Q{refs[-1][1]}" if refs else "C?Q?"
        with self._lock:
            self.calls += 1
            if system.startswith("You rewrite search questions"):  # Assistant.rewrite (follow-ups)
                time.sleep(self.rewrite_s)
                yield f"Question {ref} about the documents"
                return
            m = re.search(r"^\[1\] (?:\([^)]*\) )?(.*)$", user, re.M)
            first = re.split(r"(?<=[.!?])\s", m.group(1).strip())[0] if m else "NOT_FOUND"
            pieces = re.findall(r"\S+\s*", f"Antwoord op {ref}: {first} [1]")
            for piece in pieces:
                time.sleep(self.answer_s / len(pieces))
                yield piece


def rss_mb() -> dict:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))], 3)


def gold_questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    qs = [r["question"] for r in rows if r.get("answerable")]
    return [qs[i % len(qs)] for i in range(n)]


def last_turn(page: str) -> tuple[str, str, bool]:
    """(question, answer text, error shown) of the last turn of a rendered conversation."""
    turns = page.split('<div class="turn"')
    last = turns[-1] if len(turns) > 1 else ""
    q = re.search(r'<div class="q"><span class="who">You</span>(.*?)</div>', last, re.S)
    a = re.search(r'<div class="answer-text[^"]*">(.*?)</div>', last, re.S)

    def plain(x):
        return html.unescape(re.sub(r"<[^>]+>", "", x)) if x else ""

    return plain(q.group(1) if q else ""), plain(a.group(1) if a else ""), '<div class="error">' in last


def _client(url: str, cid: int, questions: list[str], k: int, deadline: float, out: list, lock: threading.Lock,
            fake: bool, start: threading.Barrier | None) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError, Status

    started = {Status.PROCESSING, Status.ITERATING, Status.FINISHED}
    try:
        client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    except Exception as e:  # noqa: BLE001 - a failed connection is an error of this client
        with lock:
            out.extend({"client": cid, "question": i, "error": f"connect: {e}"} for i in range(len(questions)))
        return
    if start is not None:
        start.wait()
    mine: set[str] = set()
    try:
        for i, q in enumerate(questions):
            ref = f"C{cid}Q{i}"
            mine.add(ref)
            question = f"{q} (ref {ref})"
            rec = {"client": cid, "question": i, "ref": ref}
            t0 = time.time()
            try:
                job = client.submit(question, k, api_name="/ask")
                wait = None
                while not job.done():
                    st = job.status()
                    if wait is None and st.code in started and st.time is not None:
                        wait = st.time.timestamp() - t0
                    if time.time() > deadline:
                        job.cancel()
                        raise TimeoutError("deadline passed")
                    time.sleep(0.005)
                job.result(timeout=max(1.0, deadline - time.time()))
                rec["total_s"] = time.time() - t0
                rec["queue_wait_s"] = wait if wait is not None else rec["total_s"]
                pages = [o[0] for o in job.outputs() if isinstance(o, (list, tuple)) and o and isinstance(o[0], str)]
                page = pages[-1] if pages else ""
                asked, answer, shown_error = last_turn(page)
                refs = {f"C{a}Q{b}" for a, b in REF.findall(html.unescape(re.sub(r"<[^>]+>", " ", page)))}
                rec["answer"] = answer[:200]
                if shown_error:
                    rec["error"] = f"the page shows an error: {answer[:200]}"
                elif asked != question or refs - mine:
                    rec["mixed"] = f"turn question {asked[:80]!r}, refs {sorted(refs - mine)}"
                elif fake and ref not in answer:
                    other = REF.search(answer)
                    rec["mixed" if other else "unmatched"] = answer[:200]
            except QueueError as e:
                rec["busy"] = str(e)
                rec["total_s"] = time.time() - t0
            except (AppError, TimeoutError, Exception) as e:  # noqa: BLE001
                rec["error"] = f"{type(e).__name__}: {e}"
                rec["total_s"] = time.time() - t0
            with lock:
                out.append(rec)
    finally:
        try:
            client.close()
        except Exception:  # noqa: BLE001
            pass


def run_load(clients: int = 8, questions: int = 3, answer_s: float = 0.5, real: bool = False,
             timeout_s: float | None = None, queue_max_size: int | None = None, k: int = 3,
             settings=None, together: bool = True, generator=None) -> dict:
    """Serve the chat, let `clients` sessions ask `questions` each at the same time, report."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from assistant import index, ui
    from assistant.config import Settings
    from assistant.library import Library
    from assistant.pipeline import build

    timeout_s = timeout_s or (3600.0 if real else 120.0)
    rss_start = rss_mb()
    with tempfile.TemporaryDirectory(prefix="assistant-load-") as tmp:
        if real:
            settings = (settings or Settings.from_env()).with_(llm=SMALL_LLM)
            if not index.exists(settings.storage.index_dir):
                settings = settings.with_(index_dir=Path(tmp) / "index")
            library = Library(settings)
            embedder = library.embedder()  # the index's own when there is one
            if not index.exists(settings.storage.index_dir):
                library.add_folder(settings.storage.seeds_dir)
            pipeline = build(settings, with_llm=True, embedder=embedder)
            ui.warm_up(pipeline)
            generator_name = pipeline.assistant.generator.name
        else:
            from assistant.embed.hashing import HashEmbedder

            settings = (settings or Settings()).with_(index_dir=Path(tmp) / "index", min_similarity=0.0)
            embedder = HashEmbedder()
            Library(settings, embedder).add_folder(settings.storage.seeds_dir)
            generator = generator or SlowTaggedGenerator(answer_s)
            pipeline = build(settings, embedder=embedder, generator=generator)
            generator_name = f"{generator.name} ({answer_s} s per answer)"
        runtime = ui.Runtime(settings, pipeline)
        kw = {} if queue_max_size is None else {"queue_max_size": queue_max_size}
        demo, url = ui.serve(runtime, "127.0.0.1", _free_port(), **kw)
        rss_before = rss_mb()
        records: list[dict] = []
        lock = threading.Lock()
        qs = gold_questions(clients * questions)
        deadline = time.time() + timeout_s
        barrier = threading.Barrier(clients) if together else None
        t0 = time.perf_counter()
        try:
            threads = [threading.Thread(target=_client, daemon=True, name=f"load-client-{c}",
                                        args=(url, c, qs[c * questions:(c + 1) * questions], k, deadline, records,
                                              lock, not real, barrier))
                       for c in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(max(0.1, deadline + 30 - time.time()))
            wall = time.perf_counter() - t0
            rss_after = rss_mb()
        finally:
            demo.close()
    answered = [r for r in records if not r.get("error") and not r.get("busy")]
    waits = [r["queue_wait_s"] for r in answered if "queue_wait_s" in r]
    totals = [r["total_s"] for r in answered]
    return {
        "mode": "real" if real else "fake",
        "generator": generator_name,
        "clients": clients,
        "questions_per_client": questions,
        "asked": clients * questions,
        "finished": len(records),
        "answered": len(answered),
        "errors": sum(1 for r in records if r.get("error")) + (clients * questions - len(records)),
        "mixed_answers": sum(1 for r in records if r.get("mixed")),
        "unmatched_answers": sum(1 for r in records if r.get("unmatched")),
        "busy_refusals": sum(1 for r in records if r.get("busy")),
        "queue_wait_s": {"p50": _pct(waits, 0.5), "p95": _pct(waits, 0.95), "max": _pct(waits, 1.0)},
        "total_latency_s": {"p50": _pct(totals, 0.5), "p95": _pct(totals, 0.95), "max": _pct(totals, 1.0)},
        "busy_answer_s_max": _pct([r["total_s"] for r in records if r.get("busy")], 1.0),
        "wall_s": round(wall, 2),
        "rss_mb": {"start": rss_start.get("VmRSS"), "before": rss_before.get("VmRSS"),
                   "after": rss_after.get("VmRSS"), "peak": rss_after.get("VmHWM")},
        "queue_max_size": queue_max_size if queue_max_size is not None else ui.QUEUE_MAX_SIZE,
        "problems": [r for r in records if r.get("error") or r.get("mixed") or r.get("unmatched")][:10],
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="bench.py load", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--questions", type=int, default=3, help="questions per client (one conversation)")
    ap.add_argument("--answer-s", type=float, default=0.5, help="seconds per fake answer")
    ap.add_argument("--real", action="store_true", help=f"real embedder + {SMALL_LLM} instead of the fakes")
    ap.add_argument("--timeout", type=float, default=None, help="seconds for the whole run (default 120, --real 3600)")
    ap.add_argument("--queue-size", type=int, default=None, help="the chat's queue max_size (default ui.QUEUE_MAX_SIZE)")
    args = ap.parse_args(argv)
    out = run_load(args.clients, args.questions, args.answer_s, args.real, args.timeout, args.queue_size)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0 if out["errors"] == 0 and out["mixed_answers"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
