"""Prompt templates live as files in prompts/; slots are named like {question}.

Filling a template checks both ways: a slot the template names but the caller did not give is an
error (a silently empty slot makes a silently worse prompt), and so is a template file that is missing.
"""

from __future__ import annotations

import string
from pathlib import Path

from .errors import PromptError


def slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def fill(template: str, name: str = "template", **values) -> str:
    missing = slots(template) - values.keys()
    if missing:
        raise PromptError(f"prompt {name!r} needs slot(s) {', '.join(sorted(missing))} that were not given")
    # Values are inserted verbatim: braces inside a document cannot re-open a slot.
    return template.format(**{k: v for k, v in values.items() if k in slots(template)})


class Prompts:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise PromptError(f"prompt folder not found: {self.folder}")
        self._cache: dict[str, str] = {}

    def text(self, name: str) -> str:
        if name not in self._cache:
            path = self.folder / f"{name}.txt"
            try:
                self._cache[name] = path.read_text(encoding="utf-8").strip("\n")
            except OSError as e:
                raise PromptError(f"prompt template missing: {path}") from e
        return self._cache[name]

    def render(self, name: str, **values) -> str:
        return fill(self.text(name), name, **values)

    def table(self, name: str) -> dict[str, str]:
        """A template of "key: text" lines (lines starting with "#" are comments)."""
        out: dict[str, str] = {}
        for no, line in enumerate(self.text(name).splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            key, sep, value = line.partition(":")
            if not sep or not key.strip():
                raise PromptError(f"prompt {name!r} line {no}: expected 'key: text', got {line!r}")
            out[key.strip()] = value.strip()
        return out

    def excerpts(self, evidence) -> str:
        """Evidence excerpts as the model reads them: each document's title once ("document"), then
        its excerpts ("excerpt": number, heading/question label, text on one line)."""
        blocks: list[str] = []
        for i, e in enumerate(evidence):
            if i == 0 or evidence[i - 1].source != e.source:
                blocks.append(("\n" if blocks else "") + self.render("document", title=e.title))
            label = f"({e.context}) " if e.context else ""
            blocks.append(self.render("excerpt", n=e.n, label=label, text=" ".join(e.text.split())))
        return "\n".join(blocks)

    def examples(self, name: str = "examples") -> list[tuple[str, str]]:
        """Worked examples as (user, assistant) turns, from blocks "=== user" / "=== assistant"."""
        turns: list[tuple[str, list[str]]] = []
        for line in self.text(name).splitlines():
            if line.startswith("#"):
                continue
            if line.strip() in ("=== user", "=== assistant"):
                turns.append((line.strip()[4:], []))
            elif turns:
                turns[-1][1].append(line)
            elif line.strip():
                raise PromptError(f"prompt {name!r}: text before the first '=== user' block")
        roles = [r for r, _ in turns]
        if roles != ["user", "assistant"] * (len(roles) // 2):
            raise PromptError(f"prompt {name!r}: blocks must alternate '=== user' and '=== assistant', got {roles}")
        texts = ["\n".join(lines).strip() for _, lines in turns]
        return [(texts[i], texts[i + 1]) for i in range(0, len(texts), 2)]
