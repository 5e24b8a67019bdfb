"""The browser's filters: municipality, year and type dropdowns that restrict retrieval for the
next question (the same filters as `--where` on the command line; assistant/filters.py).

Their choices are the values the live index holds (metadata.py), refreshed when the page loads, on
a language switch and after an upload or a document change (a new document can bring a new
municipality or year). Nothing chosen: no filter. Several values of one dropdown: either of them;
several dropdowns: all of them.
"""

from __future__ import annotations

from ..filters import Where, known_values
from .i18n import t as _t
from .runtime import Runtime

KEYS = ("municipality", "year", "type")


def choices(runtime: Runtime) -> dict[str, list[str]]:
    """Per dropdown, the values the documents in the live index have."""
    known = known_values(runtime.pipeline.index.docs)
    return {k: known[k] for k in KEYS}


def where_of(municipality=None, year=None, type=None) -> Where:
    """The dropdowns' choices as a Where. run_turn checks it against the index that answers (a value
    that vanished with a removed document is then the turn's message, not a silent empty result)."""
    return Where.from_choices(municipality=municipality, year=year, type=type)


def _label(lang: str, key: str) -> str:
    return _t(lang, {"municipality": "filters.municipality", "year": "filters.year", "type": "filters.type"}[key])


def components(gr, runtime: Runtime, lang: str) -> list:
    """The three dropdowns (elem_id filter-municipality, filter-year, filter-type)."""
    now = choices(runtime)
    return [gr.Dropdown(choices=now[k], value=[], multiselect=True, label=_label(lang, k), elem_id=f"filter-{k}")
            for k in KEYS]


def updated(gr, runtime: Runtime, lang: str | None = None) -> tuple:
    """Updates giving the dropdowns the live index's values (and, with `lang`, labels in it); what a
    tab has chosen stays chosen."""
    now = choices(runtime)
    return tuple(gr.Dropdown(choices=now[k], **({"label": _label(lang, k)} if lang else {})) for k in KEYS)
