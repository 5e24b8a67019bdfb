"""report.png: the metrics per language and the latency distribution. matplotlib is imported when
the plot is drawn, and a run without it still writes every other file."""

from __future__ import annotations

import os
from pathlib import Path

from .gold import LANGS
from .markdown import ROWS


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
