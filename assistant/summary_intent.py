"""Is a chat message a request to summarise a document? Recognised by code, in Dutch and English.

A request is an imperative or a polite "can you ..." at the start of the message ("vat dit document
samen", "samenvatting van de brief", "kun je de nota samenvatten?", "summarise this document",
"summary of the plan"). A question ABOUT a summary is not one: "wat staat er in de samenvatting van
de brief?" and "what does the summary of the report say?" ask for what a document's own summary
says, so they go to the answer path (the document may well have a section "Samenvatting"). Hence
the patterns are anchored at the start, and a message that starts with a question word never matches.

What is named becomes `target`: "" for this document / "dit document" / "it" (the chat then takes the
document shown or cited last), else the words naming it ("de brief over Amersfoort"), which the chat
matches against the index's titles (find_title).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_POLITE = r"(?:(?:kun|kunt|kan|wil|wilt|zou|zoudt)\s+(?:je|jij|u)\s+(?:even\s+|eens\s+|mij\s+|me\s+)*)?"
_PLEASE_NL = r"(?:graag\s+|alsjeblieft\s+|alstublieft\s+|svp\s+)?"
_PLEASE_EN = r"(?:please\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
_GIVE_NL = r"(?:(?:geef|maak|schrijf)\s+(?:me\s+|mij\s+|ons\s+)?)?(?:een\s+|de\s+)?(?:korte\s+|beknopte\s+)?"
_GIVE_EN = r"(?:(?:give|write|make|show)\s+(?:me\s+|us\s+)?)?(?:a\s+|the\s+)?(?:short\s+|brief\s+|quick\s+)?"
_END = r"\s*(?:alsjeblieft|alstublieft|graag|please)?\s*[?.!]*\s*$"

_PATTERNS = [
    ("nl", re.compile(rf"^{_PLEASE_NL}vat\s+(?:(?P<t>.+?)\s+)?(?:kort\s+)?samen{_END}", re.I)),
    ("nl", re.compile(rf"^{_PLEASE_NL}{_POLITE}(?P<t>.+?)\s+(?:kort\s+)?samenvatten{_END}", re.I)),
    ("nl", re.compile(rf"^{_PLEASE_NL}{_POLITE}{_GIVE_NL}samenvatting(?:\s+(?:van|over)\s+(?P<t>.+?))?{_END}", re.I)),
    ("nl", re.compile(rf"^{_PLEASE_NL}samenvatten\s*:?\s*(?P<t>.*?){_END}", re.I)),
    ("en", re.compile(rf"^{_PLEASE_EN}(?:summari[sz]e|sum\s+up)\s*:?\s*(?P<t>.*?){_END}", re.I)),
    ("en", re.compile(rf"^{_PLEASE_EN}{_GIVE_EN}summary(?:\s+(?:of|for)\s+(?P<t>.+?))?{_END}", re.I)),
]
# Words that point at "the document we are talking about", not at a title.
_THIS = re.compile(r"^(?:(?:dit|deze|de|het|dat|die|this|that|the|it)\s*)?(?:document|stuk|tekst|brief|bestand|nota|"
                   r"rapport|verslag|file|text|letter|report|one)?$", re.I)
_QUESTION = re.compile(r"^(?:wat|wie|waar|waarom|welke?|wanneer|hoe|is|staat|heeft|zijn|bevat|what|who|where|why|which|"
                       r"when|how|is|does|do|did|has|are)\b", re.I)

_ASKS = re.compile(r"\b(?:wat|wie|waarom|welke|wanneer|hoe|what|who|why|which|when|how)\b", re.I)


@dataclass(frozen=True)
class SummaryRequest:
    language: str  # "nl" | "en": the summary's language
    target: str  # "" = the document at hand; else the words that name it


def match(message: str) -> SummaryRequest | None:
    text = " ".join((message or "").split())
    if not text or len(text) > 300 or _QUESTION.match(text):
        return None
    for language, pattern in _PATTERNS:
        m = pattern.match(text)
        if m:
            target = (m.group("t") or "").strip(" \"'“”‘’:")
            if _QUESTION.match(target) or _ASKS.search(target):
                return None  # "vat wat er staat samen"? a question inside: leave it to the answer path
            return SummaryRequest(language, "" if _THIS.match(target) else target)
    return None


def find_title(target: str, titles: dict[str, str], cutoff: float = 0.55) -> str | None:
    """The source whose title (or file name) `target` names best, or None when none is close
    enough or two are equally close. Fuzzy: the best of the whole-string likeness and the share of
    the target's words found in the title (a user names "de brief over Amersfoort", the title is
    "Amersfoort — raadsinformatiebrief 2014-089 ..."); a word no title has ("questions" for a Dutch
    title's "vragen") counts half, so one distinctive name ("Sezen") can carry the match."""
    want = _words(target)
    if not want:
        return None
    have = {source: _words(title) | _words(source.rsplit("/", 1)[-1]) for source, title in titles.items()}
    known = {w for w in want if any(_has(h, w) for h in have.values())}
    scored = []
    for source, title in titles.items():
        found = sum(1 for w in known if _has(have[source], w))
        overlap = found / (len(known) + 0.5 * (len(want) - len(known)))
        ratio = difflib.SequenceMatcher(None, target.lower(), title.lower()).ratio()
        scored.append((max(overlap, ratio), source))
    scored.sort(reverse=True)
    if not scored or scored[0][0] < cutoff or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


def _has(words: set[str], w: str) -> bool:
    """A title word that is the target's word, or starts with it / is its start ("Amersfoort" and
    "Amersfoortse"); prefixes only for words of four letters or more."""
    return w in words or len(w) >= 4 and any(len(h) >= 4 and (h.startswith(w) or w.startswith(h)) for h in words)


_STOP = set("de het een van over voor en in op met the a an of about for and on with document brief stuk".split())


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-zà-ÿ0-9]+", text.lower()) if w not in _STOP and len(w) >= 2}
