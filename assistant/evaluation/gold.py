"""The gold file: its format, the validator that names every problem by line, and where each
evidence quote lies in the indexed text.

Relevance: a passage is relevant when its [start, end) span overlaps a place where an evidence quote
occurs verbatim in the indexed text of the question's document(s). See assistant/metrics.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import metrics as M
from ..answer import MAX_QUESTION_CHARS  # a longer question would be refused by the assistant
from ..errors import InputError

LANGS = ("en", "nl")  # the languages a question may be in; reports give metrics per language


class GoldError(InputError):
    """The gold file is malformed; the message lists every problem with its line number."""


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
    yesno: str | None = None  # "yes" or "no": the right answer of a yes/no question, None for others
    raw: dict = field(default_factory=dict, compare=False, repr=False)


_REQUIRED = ("id", "question", "lang", "answerable", "evidence", "keywords", "doc")
_OPTIONAL = {"reference_answer": str, "pair": str, "multi_passage": bool}
YESNO = ("yes", "no")


def _is_str_list(v, allow_empty: bool = True) -> bool:
    return isinstance(v, list) and (allow_empty or v) and all(isinstance(x, str) and x.strip() for x in v)


def validate_gold(path: Path, docs_text_by_name: dict[str, str]) -> list[GoldItem]:
    """Parse and check a gold JSONL file; raise GoldError listing every problem by line.

    Each line is an object with id (str, unique), question (str), lang ("en"|"nl"), answerable
    (bool), evidence (list of str: verbatim quotes from the document(s)), keywords (list of groups,
    each a non-empty list of alternative strings), doc (document name, list of names, or null),
    and optionally reference_answer (str), pair (str), multi_passage (bool), yesno ("yes"|"no": the
    right answer of a yes/no question).
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
        if "yesno" in row and row["yesno"] not in YESNO:
            bad.append(f"'yesno' must be \"yes\" or \"no\" (or left out for a question that is not yes/no), "
                       f"got {row['yesno']!r}")
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
                pair=row.get("pair"), yesno=row.get("yesno"), raw=row,
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
