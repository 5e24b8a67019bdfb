"""What every command shares: the settings from flags and environment, progress bars, locations."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def offline_env() -> None:
    # The edge of the program decides: never reach for a model hub or send analytics.
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def flag_overrides(args) -> dict:
    """The global settings flags that were given (None: not given), by flat setting name."""
    return dict(
        home=Path(args.home).expanduser() if args.home else None,
        index_dir=Path(args.index_dir).expanduser() if args.index_dir else None,
        llm=args.llm,
        embedder=args.embedder,
        embed_backend=args.embed_backend,
        llm_base_url=args.llm_base_url,
        embed_base_url=args.embed_base_url,
        vector_store=args.vector_store,
        shared_index=args.shared_index,
        n_threads=args.threads,
        n_ctx=args.n_ctx,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
    )


def resolved(args):
    """(settings, where each came from) for this command line: defaults <- config file <- environment <- flags."""
    from ..config import Settings

    config = Path(args.config).expanduser() if getattr(args, "config", None) else None
    return Settings.resolve(config=config, **flag_overrides(args))


def settings(args):
    return resolved(args)[0]


def progress_bar(desc: str, unit: str):
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.n = done
        bar.refresh()

    return bar, update


def location(x) -> str:
    """Where a chunk / excerpt is: source, PDF page when it has one, character span."""
    page = getattr(x, "page", None)
    return f"{x.source}, p. {page}, {x.start}-{x.end}" if page else f"{x.source} {x.start}-{x.end}"


def meta_line(meta, indent: str) -> None:
    label = meta.label() if meta is not None else ""
    if label:
        print(f"{indent}{label}")


def pipeline(args, with_llm: bool):
    from ..pipeline import build

    s = settings(args)
    if getattr(args, "k", None) is not None:
        s = s.with_(top_k=args.k)
    return build(s, with_llm=with_llm)


def where(args, index):
    """The --where filters, checked against the index (an unknown value: an error listing the known ones)."""
    from ..filters import Where, resolve

    return resolve(Where.parse(getattr(args, "where", None)), index.docs)


def add_where(p, note: str = "") -> None:
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="search only documents with this metadata: municipality=, year=, type=, source= or woo_ground= "
                        "(repeat: different keys must all match, one key given twice matches either; "
                        "case-insensitive)" + note)
