"""The report as text: the metric rows (the plot draws the same), the metrics table printed by
`assistant eval` and the whole of report.md."""

from __future__ import annotations

from .gold import LANGS
from .score import RETRIEVAL_K

ROWS = [  # (section, label, key, kind) kind: "m" metric 0..1, "s" seconds; "answer" rows only in full runs
    ("retrieval", "recall@1", "recall@1", "m"),
    ("retrieval", "recall@5", "recall@5", "m"),
    ("retrieval", "recall@10", "recall@10", "m"),
    ("retrieval", "MRR@10", "mrr@10", "m"),
    ("retrieval", "nDCG@10", "ndcg@10", "m"),
    ("retrieval", "context recall (evidence inside the excerpts given to the model)", "context_recall", "m"),
    ("retrieval", "prompt question-part tokens p50 (--retrieval-only)", "prompt_tokens_p50", "n"),
    ("answer", "keyword accuracy (the answer alone)", "keyword_accuracy", "m"),
    ("answer", "keyword accuracy of quote + answer (what the reader sees)", "quote_keyword_accuracy", "m"),
    ("answer", "utilisation (right among questions whose excerpts hold every keyword group)", "utilisation", "m"),
    ("answer", "yes/no accuracy (questions with a gold verdict)", "yesno_accuracy", "m"),
    ("answer", "quote inside the gold evidence", "quote_in_evidence", "m"),
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
    ("answer", "quote shown p50 (s)", "quote_p50_s", "s"),
    ("answer", "first token p50 (s)", "first_token_p50_s", "s"),
    ("answer", "first token p95 (s)", "first_token_p95_s", "s"),
    ("answer", "total p50 (s)", "total_p50_s", "s"),
    ("answer", "total p95 (s)", "total_p95_s", "s"),
]


def fmt(v, kind: str = "m") -> str:
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
        lines.append(f"| {label} | " + " | ".join(fmt(summary[c].get(key), kind) for c in cols) + " |")
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
            out.append(f"| {c['budget']} | {fmt(c['context_recall'])} | {fmt(c['context_recall_en'])} | "
                       f"{fmt(c['context_recall_nl'])} | {fmt(c['tokens_p50'], 'n')} | {fmt(c['tokens_p95'], 'n')} |")
        out.append("")
    failures = summary.get("all", {}).get("failures")
    if failures:
        out += ["## Why answers are wrong (answerable questions with keywords, first that applies)", "",
                "| failure | " + " | ".join(c for c in ("all", *LANGS) if c in summary) + " |",
                "|---|" + "---:|" * len([c for c in ("all", *LANGS) if c in summary])]
        for mode in failures:
            out.append(f"| {mode} | " + " | ".join(str((summary[c].get("failures") or {}).get(mode, 0))
                                                   for c in ("all", *LANGS) if c in summary) + " |")
        out += ["", "right: every keyword group in the answer; verdict_wrong: yes/no answered the wrong way; "
                "false_not_found: abstained although the excerpts held every keyword group; evidence_missing: the "
                "excerpts did not; restates: the answer only repeats the question; part_missing: some keyword "
                "groups, not all; wrong_fact: the excerpts held the answer, the answer has none of it.", ""]
    ab = report.get("abstention_curve")
    if ab:
        out += ["## Abstention by p(NOT_FOUND) threshold", "",
                f"The run used threshold {meta.get('not_found_threshold', 'n/a')}; rows above it are not valid "
                "(those answers were never written).", "",
                "| threshold | abstention recall | false abstention | keyword accuracy |", "|---:|---:|---:|---:|"]
        for c in ab:
            out.append(f"| {c['threshold']} | {fmt(c['abstention_recall'])} | {fmt(c['false_abstention_rate'])} | "
                       f"{fmt(c['keyword_accuracy'])} |")
        out.append("")
    yc = report.get("yes_curve")
    if yc:
        out += [f"## Yes/no accuracy by yes threshold ({yc[0]['questions']} questions)", "",
                "| threshold | p(yes) as it is | corrected for the model's bias |", "|---:|---:|---:|"]
        for c in yc:
            out.append(f"| {c['threshold']} | {fmt(c['accuracy_raw'])} | {fmt(c['accuracy_calibrated'])} |")
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
    ranked = ", ".join(f"`{r['id']}` (recall@5 {fmt(r['metrics'].get('recall@5'))}, first relevant rank "
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
            out.append(f"| {key} | {fmt(v['before'], kind)} | {fmt(v['after'], kind)} | {delta} |")
        out.append("")
        out.append("A change of fewer than about 6 questions net is within the run-to-run noise of greedy "
                   "decoding on another CPU (README \"Measuring\"): read the paired flips, not only the totals.")
        out.append("")
        for key, label in (("recall@5", "recall@5"), ("keyword_accuracy", "keyword accuracy"),
                           ("quote_keyword_accuracy", "quote + answer keyword accuracy"),
                           ("yesno_accuracy", "yes/no verdict"),
                           ("abstention_correct", "abstention (correct = abstained iff unanswerable)")):
            out.append(f"- {label}: better {len(cmp[key]['better'])} {_ids(cmp[key]['better'])}; "
                       f"worse {len(cmp[key]['worse'])} {_ids(cmp[key]['worse'])}")
    out.append("")
    return "\n".join(out)
