"""`assistant eval`: run a gold question set through the real answer path and write a report.

    assistant eval --gold eval/gold.jsonl --out eval/runs/latest [--compare eval/runs/prev]
                   [--retrieval-only] [--limit N] [-k 5]

Per question it does a separate k=10 search for the retrieval metrics (the answer itself uses the
configured k, normally 5) and then `Assistant.answer()`, the same path as `ask` and the chat UI.
Outputs in --out:
    records.jsonl  one line per question: the full `ask --json` output ("ask"), the top-10
                   retrieval with relevance flags, the located evidence and the per-question metrics.
                   Written as records.jsonl.partial while running (appended and fsynced per
                   question, so a crash keeps the finished ones), renamed when the run completes.
    report.json    metrics overall and per language (+ "compare" with --compare)
    report.md      the same as tables, the misses, the comparison, and the plot
    report.png     metrics per language and latency distribution
Every report file is written to a temporary name and renamed, so none is ever half-written.

An interrupted run leaves records.jsonl.partial and .run-meta.json behind. Running the same
command again (same gold file, models, k and index generation) resumes it: finished questions are
kept, failed and missing ones are asked. `python -m assistant.evaluate OUT` writes the report of
an unfinished run from what it has so far (marked partial).

Relevance: a passage is relevant when its [start, end) span overlaps a place where an evidence
quote occurs verbatim in the indexed text of the question's document(s). See assistant/metrics.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import cite as cite_mod
from . import lang as lang_mod
from . import metrics as M
from .errors import AssistantError, InputError

RETRIEVAL_K = 10
# Evidence budgets (tokens) for the context-recall curve of --retrieval-only runs.
BUDGETS = (150, 200, 250, 300, 400, 500, 600, 800)
LANGS = ("en", "nl")
RECORDS = "records.jsonl"
PARTIAL = "records.jsonl.partial"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_PNG = "report.png"
RUN_META = ".run-meta.json"  # the run's settings while it runs, so a partial run can be reported
MAX_QUESTION_CHARS = 2000  # the assistant refuses longer questions


class GoldError(InputError):
    """The gold file is malformed; the message lists every problem with its line number."""


def code_version() -> str | None:
    """The git commit of the code being evaluated (+"-dirty" with uncommitted changes), so runs can
    be traced to code; None outside a git checkout (e.g. an installed wheel)."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


# -- gold file -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GoldItem:
    line: int
    id: str
    question: str
    lang: str
    answerable: bool
    evidence: tuple[str, ...]
    keywords: tuple[tuple[str, ...], ...]
    docs: tuple[str, ...]  # the "doc" field as a tuple: one name, several, or none
    reference_answer: str = ""
    multi_passage: bool = False
    pair: str | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)


_REQUIRED = ("id", "question", "lang", "answerable", "evidence", "keywords", "doc")
_OPTIONAL = {"reference_answer": str, "pair": str, "multi_passage": bool}


def _is_str_list(v, allow_empty: bool = True) -> bool:
    return isinstance(v, list) and (allow_empty or v) and all(isinstance(x, str) and x.strip() for x in v)


def validate_gold(path: Path, docs_text_by_name: dict[str, str]) -> list[GoldItem]:
    """Parse and check a gold JSONL file; raise GoldError listing every problem by line.

    Each line is an object with id (str, unique), question (str), lang ("en"|"nl"), answerable
    (bool), evidence (list of str: verbatim quotes from the document(s)), keywords (list of groups,
    each a non-empty list of alternative strings), doc (document name, list of names, or null),
    and optionally reference_answer (str), pair (str), multi_passage (bool).
    An answerable question needs evidence and a doc; an unanswerable one has no evidence.
    Every doc must be a key of docs_text_by_name and every evidence quote must occur verbatim in
    the text of one of the question's docs.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise GoldError(f"cannot read gold file {path}: {e}") from e
    except UnicodeDecodeError as e:
        raise GoldError(f"gold file {path} is not UTF-8: {e}") from e
    problems: list[str] = []
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name} line {no}"
        try:
            row = json.loads(line)
        except ValueError as e:
            problems.append(f"{where}: not valid JSON ({e})")
            continue
        if not isinstance(row, dict):
            problems.append(f"{where}: expected a JSON object, got {type(row).__name__}")
            continue
        if isinstance(row.get("id"), str):
            where += f" (id {row['id']!r})"
        bad: list[str] = []
        missing = [k for k in _REQUIRED if k not in row]
        if missing:
            bad.append("missing field(s) " + ", ".join(repr(k) for k in missing))
        if "id" in row:
            if not isinstance(row["id"], str) or not row["id"].strip():
                bad.append("'id' must be a non-empty string")
            elif row["id"] in seen:
                bad.append(f"duplicate id (first on line {seen[row['id']]})")
            else:
                seen[row["id"]] = no
        if "question" in row:
            q = row["question"]
            if not isinstance(q, str) or not q.strip():
                bad.append("'question' must be a non-empty string")
            elif len(q.strip()) > MAX_QUESTION_CHARS:
                bad.append(f"'question' is longer than {MAX_QUESTION_CHARS} characters")
        if "lang" in row and row["lang"] not in LANGS:
            bad.append(f"'lang' must be one of {', '.join(LANGS)}, got {row['lang']!r}")
        if "answerable" in row and not isinstance(row["answerable"], bool):
            bad.append(f"'answerable' must be true or false, got {row['answerable']!r}")
        if "evidence" in row and not _is_str_list(row["evidence"]):
            bad.append("'evidence' must be a list of non-empty strings")
        if "keywords" in row:
            kw = row["keywords"]
            if not isinstance(kw, list) or not all(_is_str_list(g, allow_empty=False) for g in kw):
                bad.append("'keywords' must be a list of groups, each a non-empty list of non-empty strings")
        docs: list[str] = []
        if "doc" in row:
            d = row["doc"]
            if d is None:
                docs = []
            elif isinstance(d, str) and d.strip():
                docs = [d]
            elif _is_str_list(d, allow_empty=False):
                docs = list(d)
            else:
                bad.append("'doc' must be a document name, a non-empty list of names, or null")
        for key, typ in _OPTIONAL.items():
            if key in row and not isinstance(row[key], typ):
                bad.append(f"{key!r} must be {'true or false' if typ is bool else 'a string'}, got {row[key]!r}")
        if not bad:
            if row["answerable"] and not row["evidence"]:
                bad.append("answerable question without evidence")
            if row["answerable"] and not docs:
                bad.append("answerable question without 'doc'")
            if not row["answerable"] and row["evidence"]:
                bad.append("unanswerable question with evidence (set answerable to true, or remove the evidence)")
            unknown = [d for d in docs if d not in docs_text_by_name]
            for d in unknown:
                bad.append(f"doc {d!r} is not among the indexed documents (ingest the folder it is in)")
            if not unknown:
                for i, quote in enumerate(row["evidence"], 1):
                    if not any(quote in docs_text_by_name[d] for d in docs):
                        hint = ""
                        squeeze = " ".join(quote.split())
                        if any(squeeze in " ".join(docs_text_by_name[d].split()) for d in docs):
                            hint = " (it does match when whitespace is ignored: copy it exactly)"
                        short = quote if len(quote) <= 80 else quote[:77] + "..."
                        bad.append(f"evidence {i} not found verbatim in {', '.join(docs)}{hint}: {short!r}")
        if bad:
            problems.extend(f"{where}: {b}" for b in bad)
            continue
        items.append(
            GoldItem(
                line=no, id=row["id"], question=row["question"].strip(), lang=row["lang"],
                answerable=row["answerable"], evidence=tuple(row["evidence"]),
                keywords=tuple(tuple(g) for g in row["keywords"]), docs=tuple(docs),
                reference_answer=row.get("reference_answer", ""), multi_passage=row.get("multi_passage", False),
                pair=row.get("pair"), raw=row,
            )
        )
    if problems:
        shown = problems[:25]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise GoldError(f"gold file {path} has {len(problems)} problem(s):\n  " + "\n  ".join(shown) + more)
    if not items:
        raise GoldError(f"gold file {path} has no questions")
    return items


def doc_names(sources) -> dict[str, str]:
    """Names a gold file may use for an indexed document -> its index source.

    "seeds/000_x.txt" can be named by its full source or by its path inside the ingested folder
    ("000_x.txt"), the latter only when no other folder has a document of that name."""
    sources = list(sources)
    out = {s: s for s in sources}
    rel: dict[str, list[str]] = {}
    for s in sources:
        if "/" in s:
            rel.setdefault(s.split("/", 1)[1], []).append(s)
    for name, srcs in rel.items():
        if len(srcs) == 1 and name not in out:
            out[name] = srcs[0]
    return out


# -- one question --------------------------------------------------------------------------------
def locate_evidence(item: GoldItem, names: dict[str, str], texts: dict[str, str]) -> M.Evidence:
    """Per evidence quote: every (source, start, end) where it occurs in one of the item's docs."""
    out: M.Evidence = []
    for quote in item.evidence:
        locs: list[M.Span] = []
        for d in item.docs:
            src = names[d]
            locs.extend((src, s, e) for s, e in M.locate(texts[src], quote))
        out.append(locs)
    return out


def _span(p: dict) -> M.Span:
    return (p["source"], p["start"], p["end"])


def evaluate_one(pipe, item: GoldItem, evidence: M.Evidence, retrieval_only: bool, where=None) -> dict:
    """Run one question; return its record (JSON-ready). Raises on failure. `where` (filters.Where)
    restricts retrieval as `assistant ask --where` does."""
    assistant = pipe.assistant
    t0 = time.perf_counter()
    hits = assistant.search(item.question, k=RETRIEVAL_K, where=where)
    search_s = time.perf_counter() - t0
    passages = [h.to_json(i + 1) for i, h in enumerate(hits)]
    spans = [_span(p) for p in passages]
    flags = M.relevant_flags(spans, evidence)
    n_relevant = sum(
        1 for c in pipe.index.chunks if any(M.covers((c.source, c.start, c.end), ev) for ev in evidence)
    )
    m: dict = {"lang": item.lang, "answerable": item.answerable, "multi_passage": item.multi_passage}
    for k in M.RETRIEVAL_KS:
        m[f"recall@{k}"] = M.evidence_recall_at_k(spans, evidence, k)
    m["mrr@10"] = M.mrr_at_k(flags, RETRIEVAL_K) if evidence else None
    m["ndcg@10"] = M.ndcg_at_k(flags, n_relevant, RETRIEVAL_K) if evidence else None
    m["first_relevant_rank"] = next((i + 1 for i, f in enumerate(flags) if f), None) if evidence else None
    ask = None
    if retrieval_only:
        m.update(abstained=None, keyword_accuracy=None, citation_precision=None, citation_recall=None,
                 language_match=None, answer_language=None,
                 retrieve_s=round(search_s, 4), first_token_s=None, total_s=None)
        m["context"], m["context_recall"], m["prompt_tokens"] = context_at_budgets(assistant, item, evidence, where)
    else:
        answer = assistant.answer(item.question, where=where)
        ask = answer.to_json()
        cited = [_span(c) if c["valid"] else None for c in ask["citations"]]
        # A terse answer ("In Eemnes [1].") has no language of its own: it is not counted as wrong.
        detected = lang_mod.guess(cite_mod.MARKER.sub(" ", ask["answer"]))
        m.update(
            abstained=bool(ask["abstained"]),
            # An abstention answers nothing, even if the not-found text happens to contain a keyword.
            keyword_accuracy=(0.0 if ask["abstained"] and item.keywords else M.keyword_match(ask["answer"], item.keywords))
            if item.answerable else None,
            citation_precision=M.citation_precision(cited, evidence),
            citation_recall=M.citation_recall(cited, evidence),
            context_recall=M.context_recall([_span(e) for e in ask["evidence"]], evidence) if not ask["abstained"] or ask["evidence"] else None,
            prompt_tokens_total=ask.get("prompt_tokens"),  # whole prompt; its fixed part is cached
            prompt_tokens_evaluated=ask["timings"].get("prompt_tokens_evaluated"),
            language_match=None if detected is None else detected == item.lang,
            answer_language=detected,
            citations=len(ask["citations"]),
            citations_attributed=sum(1 for c in ask["citations"] if c.get("origin") == "attributed"),
            retrieve_s=ask["timings"].get("retrieve_s"),
            first_token_s=ask["timings"].get("first_token_s"),
            total_s=ask["timings"].get("total_s"),
        )
    for p, f in zip(passages, flags):
        p["relevant"] = f
        p.pop("text", None)  # the text is in the index (and in "ask" for the passages the model saw)
    return {
        "id": item.id,
        "question": item.question,
        "lang": item.lang,
        "answerable": item.answerable,
        "multi_passage": item.multi_passage,
        "doc": item.raw.get("doc"),
        "reference_answer": item.reference_answer,
        "evidence_locations": [[{"source": s, "start": a, "end": b} for s, a, b in ev] for ev in evidence],
        "retrieval": {"k": RETRIEVAL_K, "search_s": round(search_s, 4), "relevant_in_index": n_relevant, "passages": passages},
        "ask": ask,
        "metrics": m,
        "error": None,
    }


def context_at_budgets(assistant, item: GoldItem, evidence: M.Evidence, where=None) -> tuple[dict, float | None, int | None]:
    """The evidence the model would get at each budget in BUDGETS: its context recall and the tokens of
    the question part of the prompt (the part that is not cached). Judge-free, no LLM: seconds for the
    whole gold set. Also returns the recall and tokens at the configured budget."""
    retrieval = (assistant.retriever.retrieve(item.question, assistant.top_k, where) if where
                 else assistant.retriever.retrieve(item.question, assistant.top_k))
    language = lang_mod.detect(item.question)
    count = assistant.selector.count_tokens
    curve = {}
    for budget in sorted({*BUDGETS, assistant.selector.settings.budget}):
        excerpts = assistant.selector.select(retrieval, budget)
        _, _, user = assistant.messages(item.question, language, excerpts)
        spans = [(e.source, e.start, e.end) for e in excerpts]
        curve[str(budget)] = {"recall": M.context_recall(spans, evidence), "tokens": count(user)}
    default = curve[str(assistant.selector.settings.budget)]
    return curve, default["recall"], default["tokens"]


def _error_record(item: GoldItem, exc: BaseException) -> dict:
    m = {"lang": item.lang, "answerable": item.answerable, "multi_passage": item.multi_passage, "abstained": None}
    return {
        "id": item.id, "question": item.question, "lang": item.lang, "answerable": item.answerable,
        "multi_passage": item.multi_passage, "doc": item.raw.get("doc"), "reference_answer": item.reference_answer,
        "evidence_locations": [], "retrieval": None, "ask": None, "metrics": m,
        "error": f"{type(exc).__name__}: {exc}",
    }


# -- comparison ----------------------------------------------------------------------------------
def load_run(folder: Path) -> dict:
    """An earlier run's records by id (records.jsonl, or the .partial of an unfinished run)."""
    folder = Path(folder)
    path = folder / RECORDS
    if not path.is_file():
        path = folder / PARTIAL
    if not path.is_file():
        raise InputError(f"--compare: no {RECORDS} in {folder} (is it an `assistant eval` output folder?)")
    records: dict[str, dict] = {}
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            records[rec["id"]] = rec
        except (ValueError, KeyError, TypeError):
            if path.name == PARTIAL:  # a crash can cut the last line short
                continue
            raise InputError(f"--compare: {path} line {no} is not a record")
    return {"path": str(path), "records": records}


def _abstention_correct(m: dict) -> bool | None:
    if m.get("abstained") is None:
        return None
    return m["abstained"] == (not m["answerable"])


COMPARE_OVERALL = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "keyword_accuracy",
                   "citation_precision", "citation_recall", "abstention_precision", "abstention_recall",
                   "language_match", "total_p50_s")


def compare_runs(previous: dict[str, dict], current: list[dict]) -> dict:
    """Per-question changes between two runs (records by id / records in order)."""
    cur_ids = [r["id"] for r in current]
    common = [r for r in current if r["id"] in previous]
    out: dict = {
        "common": len(common),
        "only_previous": sorted(set(previous) - set(cur_ids)),
        "only_current": [i for i in cur_ids if i not in previous],
    }
    for key, getter in (
        ("recall@5", lambda m: m.get("recall@5")),
        ("keyword_accuracy", lambda m: m.get("keyword_accuracy")),
        ("abstention_correct", _abstention_correct),
    ):
        better, worse = [], []
        for r in common:
            before, after = getter(previous[r["id"]]["metrics"]), getter(r["metrics"])
            if before is None or after is None or before == after:
                continue
            entry = {"id": r["id"], "lang": r["lang"], "before": before, "after": after}
            (better if after > before else worse).append(entry)
        out[key] = {"better": better, "worse": worse}
    before = M.summarize([previous[r["id"]]["metrics"] for r in common])
    after = M.summarize([r["metrics"] for r in common])
    out["overall"] = {
        k: {"before": before.get(k), "after": after.get(k),
            "delta": (after[k] - before[k]) if before.get(k) is not None and after.get(k) is not None else None}
        for k in COMPARE_OVERALL
    }
    return out


# -- outputs -------------------------------------------------------------------------------------
def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


ROWS = [  # (section, label, key, kind) kind: "m" metric 0..1, "s" seconds; "answer" rows only in full runs
    ("retrieval", "recall@1", "recall@1", "m"),
    ("retrieval", "recall@5", "recall@5", "m"),
    ("retrieval", "recall@10", "recall@10", "m"),
    ("retrieval", "MRR@10", "mrr@10", "m"),
    ("retrieval", "nDCG@10", "ndcg@10", "m"),
    ("retrieval", "context recall (evidence inside the excerpts given to the model)", "context_recall", "m"),
    ("retrieval", "prompt question-part tokens p50 (--retrieval-only)", "prompt_tokens_p50", "n"),
    ("answer", "keyword accuracy", "keyword_accuracy", "m"),
    ("answer", "citation precision", "citation_precision", "m"),
    ("answer", "citation recall", "citation_recall", "m"),
    ("answer", "abstention precision", "abstention_precision", "m"),
    ("answer", "abstention recall", "abstention_recall", "m"),
    ("answer", "false abstention rate (lower is better)", "false_abstention_rate", "m"),
    ("answer", "answer-language match", "language_match", "m"),
    ("answer", "prompt tokens p50 (whole prompt, fixed part included)", "prompt_tokens_total_p50", "n"),
    ("answer", "prompt tokens evaluated p50 (not cached)", "prompt_tokens_evaluated_p50", "n"),
    ("answer", "prompt tokens evaluated p95", "prompt_tokens_evaluated_p95", "n"),
    ("latency", "retrieve p50 (s)", "retrieve_p50_s", "s"),
    ("latency", "retrieve p95 (s)", "retrieve_p95_s", "s"),
    ("answer", "first token p50 (s)", "first_token_p50_s", "s"),
    ("answer", "first token p95 (s)", "first_token_p95_s", "s"),
    ("answer", "total p50 (s)", "total_p50_s", "s"),
    ("answer", "total p95 (s)", "total_p95_s", "s"),
]


def _fmt(v, kind: str = "m") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v).lower()
    if kind == "n":
        return f"{v:.0f}"
    return f"{v:.2f}" if kind == "s" else f"{v:.3f}"


def metrics_table(summary: dict, retrieval_only: bool) -> str:
    cols = [c for c in ("all", *LANGS) if c in summary]
    head = "| metric | " + " | ".join(f"{c} (n={summary[c]['questions']})" for c in cols) + " |"
    lines = [head, "|---|" + "---:|" * len(cols),
             "| answerable / unanswerable | " + " | ".join(
                 f"{summary[c]['answerable']} / {summary[c]['unanswerable']}" for c in cols) + " |"]
    for section, label, key, kind in ROWS:
        if retrieval_only and section == "answer":
            continue
        lines.append(f"| {label} | " + " | ".join(_fmt(summary[c].get(key), kind) for c in cols) + " |")
    return "\n".join(lines)


def _ids(entries, limit: int = 40) -> str:
    names = [f"`{e['id']}`" for e in entries]
    more = f" ... and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "none"


def render_markdown(report: dict, records: list[dict]) -> str:
    meta, summary = report["meta"], report["metrics"]
    ro = meta["mode"] == "retrieval-only"
    out = [
        "# Evaluation report",
        "",
        f"- gold file: `{meta['gold']}` ({meta['questions']} questions"
        + (f", first {meta['limit']}" if meta.get("limit") else "") + ")",
        f"- mode: {meta['mode']}; LLM: " + (f"`{meta['llm']}`" if meta["llm"] else "none") + f"; embedder: `{meta['embedder']}`",
        f"- evidence: sentences of the top {meta['top_k']} chunks, up to {meta.get('evidence_tokens', 'n/a')} tokens; "
        f"retrieval metrics from a separate top-{RETRIEVAL_K} search",
        f"- index: `{meta['index_dir']}` (generation `{meta['index_generation']}`)",
    ] + ([f"- filters: `--where " + " --where ".join(f"{k}={v}" for k, vs in meta["where"].items() for v in vs)
          + "` (retrieval restricted to matching documents; only questions about them)"] if meta.get("where") else []) + [
        f"- code: `{meta.get('code') or 'unknown'}`"
        + (f" (resumed {meta['resumed']} finished questions of a run by `{meta.get('resumed_from') or 'unknown'}`)"
           if meta.get("resumed") else ""),
        f"- started {meta['started']}"
        + (f", took {meta['duration_s']:.0f} s" if meta.get("duration_s") is not None else "")
        + (f" (model loading {meta['load_s']:.1f} s, not in latencies)" if meta.get("load_s") is not None else ""),
    ]
    if meta.get("partial"):
        out.append(f"- **partial run**: built from the {meta['questions']} questions finished so far")
    if meta["errors"]:
        out.append(f"- **{meta['errors']} question(s) failed** (see below); their metrics are missing from the averages")
    out += ["", "## Metrics", "", metrics_table(summary, ro), ""]
    pre = meta.get("prefill") or {}
    ft = summary.get("all", {}).get("first_token_p50_s")
    if pre.get("prefill_tok_s") and ft is not None:
        out += [f"Speed, machine-independent: first token p50 {ft:.2f} s x raw llama.cpp prefill "
                f"{pre['prefill_tok_s']:.1f} tokens/s (the faster of CPU repack off {pre.get('repack_off')} / on "
                f"{pre.get('repack_on')}, ~800 Dutch tokens, measured after the questions in this run) = "
                f"**{ft * pre['prefill_tok_s']:.0f} token equivalents**.", ""]
    curve = report.get("context_curve")
    if curve:
        out += ["## Context recall by evidence budget", "",
                "Evidence quotes lying inside the excerpts the model would get (>= 80% of a quote's characters), "
                "and the tokens of the prompt's question part (excerpts + question + instruction; the system "
                "prompt and examples are cached), per budget:", "",
                "| budget (tokens) | context recall | en | nl | question-part tokens p50 | p95 |", "|---:|---:|---:|---:|---:|---:|"]
        for c in curve:
            out.append(f"| {c['budget']} | {_fmt(c['context_recall'])} | {_fmt(c['context_recall_en'])} | "
                       f"{_fmt(c['context_recall_nl'])} | {_fmt(c['tokens_p50'], 'n')} | {_fmt(c['tokens_p95'], 'n')} |")
        out.append("")
    if meta.get("plot"):
        out += [f"![metrics per language and latency distribution]({meta['plot']})", ""]
    out += [
        "Definitions: a passage is relevant when its character span overlaps a verbatim occurrence of an "
        "evidence quote in the question's document. recall@k = share of a question's evidence quotes "
        "overlapped by the top-k passages (averaged over answerable questions); MRR@10 and nDCG@10 use binary "
        "passage relevance (ideal = all relevant chunks of the index). ",
    ]
    if not ro:
        out[-1] += (
            "Keyword accuracy: every keyword group has an alternative in the answer (answerable questions). "
            "Citation precision: valid cited passages overlapping evidence / citations (questions with citations); "
            "citation recall: evidence quotes covered by a cited passage (answerable questions). "
            "Abstention: positive class = abstained, truth = unanswerable. Latencies from the answer's own timings."
        )
    out.append("")

    rows = [r for r in records if r["error"] is None]
    misses_r = [r for r in rows if r["answerable"] and (r["metrics"].get("recall@5") or 0) < 1]
    ranked = ", ".join(f"`{r['id']}` (recall@5 {_fmt(r['metrics'].get('recall@5'))}, first relevant rank "
                       f"{r['metrics'].get('first_relevant_rank') or '>10'})" for r in misses_r) or "none"
    out += ["## Misses", "", f"- evidence not fully in the top 5 ({len(misses_r)}): {ranked}"]
    if not ro:
        kw = [r for r in rows if r["metrics"].get("keyword_accuracy") == 0]
        false_abst = [r for r in rows if r["answerable"] and r["metrics"].get("abstained")]
        missed_abst = [r for r in rows if not r["answerable"] and r["metrics"].get("abstained") is False]
        wrong_lang = [r for r in rows if r["metrics"].get("language_match") is False]
        out += [
            f"- keyword miss ({len(kw)}): {_ids(kw)}",
            f"- abstained on an answerable question ({len(false_abst)}): {_ids(false_abst)}",
            f"- answered an unanswerable question ({len(missed_abst)}): {_ids(missed_abst)}",
            f"- answer not in the question's language ({len(wrong_lang)}): {_ids(wrong_lang)}",
        ]
    errors = [r for r in records if r["error"] is not None]
    if errors:
        out += ["", "## Errors", ""] + [f"- `{r['id']}`: {r['error']}" for r in errors[:50]]
    cmp = report.get("compare")
    if cmp:
        out += ["", "## Compared with the previous run", "",
                f"Previous: `{cmp['previous']}`. {cmp['common']} questions in both runs"
                + (f"; only in the previous run: {len(cmp['only_previous'])}" if cmp["only_previous"] else "")
                + (f"; only in this run: {len(cmp['only_current'])}" if cmp["only_current"] else "") + ".", "",
                "| metric (common questions) | before | after | change |", "|---|---:|---:|---:|"]
        for key, v in cmp["overall"].items():
            if v["before"] is None and v["after"] is None:
                continue
            kind = "s" if key.endswith("_s") else "m"
            delta = "n/a" if v["delta"] is None else f"{v['delta']:+.3f}"
            out.append(f"| {key} | {_fmt(v['before'], kind)} | {_fmt(v['after'], kind)} | {delta} |")
        out.append("")
        for key, label in (("recall@5", "recall@5"), ("keyword_accuracy", "keyword accuracy"),
                           ("abstention_correct", "abstention (correct = abstained iff unanswerable)")):
            out.append(f"- {label}: better {len(cmp[key]['better'])} {_ids(cmp[key]['better'])}; "
                       f"worse {len(cmp[key]['worse'])} {_ids(cmp[key]['worse'])}")
    out.append("")
    return "\n".join(out)


def render_plot(report: dict, records: list[dict], path: Path) -> bool:
    """Bar chart of the metrics per language + box plot of latencies. False if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    summary = report["metrics"]
    ro = report["meta"]["mode"] == "retrieval-only"
    keys = [(label.split(" (")[0], key) for section, label, key, kind in ROWS
            if kind == "m" and not (ro and section == "answer")]
    cols = [c for c in ("all", *LANGS) if c in summary]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [2.2, 1]})
    width = 0.8 / max(1, len(cols))
    for j, c in enumerate(cols):
        vals = [summary[c].get(k) for _, k in keys]
        xs = [i + (j - (len(cols) - 1) / 2) * width for i in range(len(keys))]
        ax1.bar(xs, [v if v is not None else 0 for v in vals], width, label=f"{c} (n={summary[c]['questions']})")
        for x, v in zip(xs, vals):
            if v is None:
                ax1.text(x, 0.01, "n/a", rotation=90, ha="center", va="bottom", fontsize=7, color="grey")
    ax1.set_xticks(range(len(keys)))
    ax1.set_xticklabels([lbl for lbl, _ in keys], rotation=35, ha="right")
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel("score")
    ax1.set_title("Metrics per language")
    ax1.legend(loc="upper right", fontsize=8)
    ax1.grid(axis="y", alpha=0.3)

    stages = [("retrieve_s", "retrieve")] + ([] if ro else [("first_token_s", "1st token"), ("total_s", "total")])
    data, labels = [], []
    for key, name in stages:
        for lg in LANGS:
            vals = [r["metrics"].get(key) for r in records if r["lang"] == lg and r["metrics"].get(key) is not None]
            data.append(vals or [0.0])
            labels.append(f"{name}\n{lg}")
    if _old_boxplot():
        ax2.boxplot(data, labels=labels)
    else:
        ax2.boxplot(data, tick_labels=labels)
    ax2.set_ylabel("seconds")
    ax2.set_title("Latency distribution")
    ax2.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def _old_boxplot() -> bool:
    import matplotlib

    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    return (major, minor) < (3, 9)


# -- run -----------------------------------------------------------------------------------------
def _warm_up(pipe, retrieval_only: bool) -> None:
    """Load the embedder, BM25 and the LLM, and read the fixed prompt prefix, before the clock starts."""
    if retrieval_only:
        pipe.assistant.search("warm-up", k=1)
    else:
        pipe.assistant.warm_up()


_RESUME_KEYS = ("gold_sha256", "limit", "mode", "llm", "embedder", "top_k", "evidence_tokens", "min_similarity",
                "index_dir", "index_generation", "prompts_sha256", "where")


def _read_json(path: Path) -> dict:
    """A JSON object from `path`, or {} when it is missing or unreadable (a run's own leftovers)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _resumable(out: Path, old: dict, meta: dict, ids: set[str]) -> dict[str, dict]:
    """Finished records of the interrupted run in `out` (whose settings were `old`) if it had exactly
    these settings (same gold file, models, k and index generation), by id; failed questions are
    run again. Else {}."""
    if not old or any(old.get(k) != meta.get(k) for k in _RESUME_KEYS) or not (out / PARTIAL).is_file():
        return {}
    records = load_run(out)["records"]
    return {i: r for i, r in records.items() if i in ids and not r.get("error")}


def run(settings, gold: Path, out: Path, compare: Path | None = None, retrieval_only: bool = False,
        limit: int | None = None, *, embedder=None, generator=None, show_progress: bool = True,
        measure_prefill: bool = True, where: list[str] | None = None) -> dict:
    """Evaluate and write records.jsonl, report.json, report.md, report.png into `out`; return the report.
    `where` ("key=value" strings, as `--where`): retrieval is restricted to matching documents and
    only the questions about them are asked (answerable ones whose documents all match, and the
    unanswerable ones)."""
    from tqdm import tqdm

    from .filters import Where, resolve
    from .pipeline import build

    filters = Where.parse(where)  # a malformed --where fails before the models load

    gold, out = Path(gold), Path(out)
    if limit is not None and limit < 1:
        raise InputError("--limit must be at least 1")
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t_start = time.perf_counter()
    pipe = build(settings, with_llm=not retrieval_only, embedder=embedder, generator=generator)
    names = doc_names(pipe.index.docs)
    texts_by_name = {n: pipe.index.docs[s].text for n, s in names.items()}
    texts = {s: d.text for s, d in pipe.index.docs.items()}
    items = validate_gold(gold, texts_by_name)
    filters = resolve(filters, pipe.index.docs)
    if filters:
        items = [i for i in items if all(filters.matches(pipe.index.docs[names[d]]) for d in i.docs)]
        if not items:
            raise InputError(f"no gold question is about documents matching {filters.describe()}")
        print(f"--where {filters.describe()}: {len(items)} gold questions about matching documents "
              "(or not answerable)", file=sys.stderr)
    if limit is not None:
        items = items[:limit]
    previous = load_run(compare) if compare else None

    out.mkdir(parents=True, exist_ok=True)
    for name in (RECORDS, REPORT_JSON, REPORT_MD, REPORT_PNG):  # never leave another run's files beside this one
        (out / name).unlink(missing_ok=True)
    gen = pipe.assistant.generator
    meta = {
        "gold": str(gold),
        "gold_sha256": hashlib.sha256(gold.read_bytes()).hexdigest(),
        "limit": limit,
        "mode": "retrieval-only" if retrieval_only else "full",
        "llm": None if retrieval_only or gen is None else getattr(gen, "name", type(gen).__name__),
        "embedder": pipe.embedder.name,
        "top_k": settings.top_k,
        "evidence_tokens": settings.evidence_tokens,
        "retrieval_k": RETRIEVAL_K,
        "min_similarity": settings.min_similarity,
        "index_dir": str(settings.index_dir),
        "index_generation": pipe.index.generation,
        # A resumed run must not mix answers made with other prompts.
        "prompts_sha256": hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(settings.prompts_dir).glob("*.txt")))).hexdigest(),
        "started": started,
        "code": code_version(),
        "where": filters.to_json(),
    }
    old_meta = _read_json(out / RUN_META)
    done = _resumable(out, old_meta, meta, {i.id for i in items})
    partial = out / PARTIAL
    # Rewrite what is kept (drops a line cut short by a crash), then append to it.
    _atomic_write(partial, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in done.values()).encode("utf-8"))
    t_load = time.perf_counter()
    _warm_up(pipe, retrieval_only)
    meta["load_s"] = round(time.perf_counter() - t_load, 2)
    meta["resumed"] = len(done)
    if done:  # the kept questions may come from other code; say so rather than hide it
        meta["resumed_from"] = old_meta.get("code")
    _atomic_write(out / RUN_META, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))

    records: list[dict] = []
    bar = tqdm(total=len(items), desc="eval", unit="q", file=sys.stderr, dynamic_ncols=True, disable=not show_progress)
    if done:
        bar.write(f"resuming the unfinished run in {out}: {len(done)} question(s) already done", file=sys.stderr)
    try:
        with open(partial, "a", encoding="utf-8") as f:
            for item in items:
                if item.id in done:
                    rec = done[item.id]
                else:
                    try:
                        rec = evaluate_one(pipe, item, locate_evidence(item, names, texts), retrieval_only, filters)
                    except Exception as e:  # one failing question must not lose a long run
                        rec = _error_record(item, e)
                        bar.write(f"{item.id}: {rec['error']}", file=sys.stderr)
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                records.append(rec)
                bar.update(1)
                running = M.summarize([r["metrics"] for r in records])
                post = {"r@5": _fmt(running["recall@5"])}
                if not retrieval_only:
                    post["kw"] = _fmt(running["keyword_accuracy"])
                bar.set_postfix(post, refresh=False)
    finally:
        bar.close()
    if all(r["error"] for r in records):
        raise AssistantError(f"every question failed; the first: {records[0]['error']}")
    os.replace(partial, out / RECORDS)

    meta["duration_s"] = round(time.perf_counter() - t_start, 1)
    if not retrieval_only and type(gen).__name__ == "LlamaCppGenerator" and measure_prefill:
        # The machine's own prompt-reading speed, in the same run: first token x this = token equivalents.
        from . import prefill

        bar_note = "measuring raw llama.cpp prefill speed (repack off / on) for the report ..."
        print(bar_note, file=sys.stderr)
        meta["prefill"] = prefill.both()
    report = write_report(out, records, meta, previous)
    (out / RUN_META).unlink(missing_ok=True)
    return report


def write_report(out: Path, records: list[dict], meta: dict, previous: dict | None = None) -> dict:
    """Aggregate the records and write report.json, report.png and report.md (each atomically)."""
    meta = {**meta, "questions": len(records), "errors": sum(1 for r in records if r["error"]), "plot": None}
    report = {"meta": meta, "metrics": M.by_language([r["metrics"] for r in records], LANGS)}
    curve = M.context_curve([r["metrics"] for r in records])
    if curve:
        report["context_curve"] = curve
    if previous is not None:
        report["compare"] = {"previous": previous["path"], **compare_runs(previous["records"], records)}
    if render_plot(report, records, out / REPORT_PNG):
        report["meta"]["plot"] = REPORT_PNG
    _atomic_write(out / REPORT_JSON, (json.dumps(report, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    _atomic_write(out / REPORT_MD, render_markdown(report, records).encode("utf-8"))
    return report


def rebuild_report(out: Path, compare: Path | None = None) -> dict:
    """Write the report again from an output folder's records, also from the records.jsonl.partial
    of a run that is still going or was killed (the report then says it is partial)."""
    out = Path(out)
    run_ = load_run(out)
    records = list(run_["records"].values())
    meta: dict = {}
    for name in (REPORT_JSON, RUN_META):
        if meta := _read_json(out / name):
            meta = meta.get("meta", meta)
            break
    if not meta:
        ro = all(r.get("ask") is None for r in records)
        meta = {"gold": "?", "mode": "retrieval-only" if ro else "full", "llm": None, "embedder": "?", "top_k": "?",
                "index_dir": "?", "index_generation": "?", "started": "?", "load_s": None}
    meta["partial"] = run_["path"].endswith(PARTIAL)
    if meta["partial"]:
        meta["duration_s"] = None
    return write_report(out, records, meta, load_run(compare) if compare else None)


def run_cli(settings, args) -> int:
    if getattr(args, "k", None):
        settings = settings.with_(top_k=args.k)
    report = run(
        settings, Path(args.gold), Path(args.out), Path(args.compare) if args.compare else None,
        retrieval_only=args.retrieval_only, limit=args.limit,
        measure_prefill=not getattr(args, "no_prefill", False), where=getattr(args, "where", None),
    )
    print(metrics_table(report["metrics"], report["meta"]["mode"] == "retrieval-only"))
    cmp = report.get("compare")
    if cmp:
        print("\nvs previous run: " + "; ".join(
            f"{k} better {len(cmp[k]['better'])} / worse {len(cmp[k]['worse'])}"
            for k in ("recall@5", "keyword_accuracy", "abstention_correct")))
    print(f"\nwrote {Path(args.out) / REPORT_MD} (+ {RECORDS}, {REPORT_JSON}, {REPORT_PNG})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """python -m assistant.evaluate OUT_DIR [--compare PREV_DIR]: rebuild the report of a run
    (also of one still going or killed, from its records.jsonl.partial)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m assistant.evaluate", description=main.__doc__)
    ap.add_argument("out", help="an `assistant eval` output folder")
    ap.add_argument("--compare", help="an earlier output folder to compare against")
    args = ap.parse_args(argv)
    try:
        report = rebuild_report(Path(args.out), Path(args.compare) if args.compare else None)
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(metrics_table(report["metrics"], report["meta"].get("mode") == "retrieval-only"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
