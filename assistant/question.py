"""What a question asks, read in code: its language, whether it is a yes/no question, and its parts.

A 1.5B model answers one part of "who ... and when ..." and forgets the other, and says "yes" to
almost every yes/no question. Both are decided better in code: `analyse()` finds the parts a
question asks (Dutch and English: "wie ... en wanneer", "what ... and since when", "hoeveel ... en
voor wie", "X en Y respectievelijk") and what kind of answer each needs (a date, a number, a name,
a place, a reason), and `answered()` checks an answer against a part, so answer.py can ask a short
follow-up turn for a part that is missing. Pattern rules, no model: a question is a few words in
one of two languages, and every rule here is tested in tests/test_question.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import cite, lang
from .lexical import Tokenizer

# What a part asks for. "other" is checked only for saying something new.
DATE, NUMBER, NAME, PLACE, REASON, OTHER = "date", "number", "name", "place", "reason", "other"

# Question words, longest first, with the kind of answer they ask for.
_ASKS: list[tuple[str, str]] = [
    # English
    (r"since when|until when|by when|from when|on what date|on which date|what date|which date|in what year"
     r"|in which year|what year|which year|when", DATE),
    (r"how many|how much|how long|how often|how large|how big|how high|what amount|which amount|what percentage"
     r"|what share|what number", NUMBER),
    (r"who|whom|whose|which person|which people|which council member|which firm|which firms|which company"
     r"|which companies|which consultant|which consultants|which organisation|which organization"
     r"|which organisations|which organizations|which party|which parties|which municipality"
     r"|which municipalities|which analysts|which advisers|which advisors|which agency|which agencies", NAME),
    (r"where(?!.*\bcomes? from\b)|in which place|in what place|in which town|in which building", PLACE),
    (r"why|for what reason|what is the reason|what was the reason", REASON),
    # Dutch
    (r"sinds wanneer|tot wanneer|per wanneer|vanaf wanneer|op welke datum|welke datum|in welk jaar|welk jaar"
     r"|wanneer", DATE),
    (r"hoeveel|hoe lang|hoe vaak|hoe groot|hoe hoog|om welk bedrag|welk bedrag|welk percentage|welk aantal", NUMBER),
    (r"wie|wiens|welk raadslid|welke raadsleden|welke persoon|welke personen|welk bureau|welke bureaus"
     r"|welke adviseur|welke adviseurs|welke deskundigen|welk bedrijf|welke bedrijven|welke organisatie"
     r"|welke organisaties|welke partij|welke partijen|welke fractie|welke fracties|welke gemeente"
     r"|welke gemeenten", NAME),
    # "which outside firms", "welke externe bureaus": a question word, up to two words, then a noun for
    # people or organisations.
    (r"(?:which|what|welke?)\s+(?:[\w-]+\s+){0,2}?(?:firms?|compan(?:y|ies)|consultan\w*|analysts?|advis[eo]rs?"
     r"|agenc(?:y|ies)|bureaus?|organi[sz]ations?|organisaties?|persons?|people|personen|deskundigen|adviseurs?"
     r"|partij(?:en)?|part(?:y|ies)|fracties?|raadsleden|raadslid|council members?|aldermen|alderman|wethouders?"
     r"|municipalit(?:y|ies)|gemeenten?|directors?|directeuren|managers?|members?|leden)\b", NAME),
    (r"waar(?=\s|$)(?!.*\b(?:vandaan|uit)\b)|in welke plaats|in welk gebouw|in welke kern", PLACE),
    (r"waarom|om welke reden|wat is de reden|wat was de reden|hoe komt het", REASON),
    (r"what|which|how|wat|welke|welk|hoe|waarmee|waardoor|waarover|waaruit|waarvoor|waaraan|waarop|describe"
     r"|beschrijf|noem|name|list|explain|leg uit", OTHER),
]
_ASK_RE = [(re.compile(rf"^(?:{words})\b", re.IGNORECASE), kind) for words, kind in _ASKS]

# A yes/no question starts with a finite verb (Dutch) or an auxiliary (English).
_EN_AUX = ("is|are|was|were|will|would|does|do|did|has|have|had|can|could|should|shall|may|might|must"
           "|isn't|aren't|wasn't|weren't|doesn't|don't|didn't|hasn't|haven't|won't|can't")
_EN_YESNO = re.compile(rf"^(?:{_EN_AUX})\b", re.IGNORECASE)
# "Can you give / list / name ...?" asks for something, not for a verdict.
_REQUEST = re.compile(r"^(?:can|could|would|will)\s+(?:you|u|je|jij)\b", re.IGNORECASE)
_NL_QWORD = re.compile(r"^(?:wie|wat|waar\w*|wanneer|waarom|hoe|hoeveel|welke?|wiens|sinds|tot|per|vanaf|op|in"
                       r"|om|met|voor|van|bij|door|uit|naar|volgens|beschrijf|noem|geef|leg)\b", re.IGNORECASE)
# Dutch finite verbs that open yes/no questions in government texts (a word list, not a tagger: a
# question that opens with another verb still counts when it ends in "?" and opens with no question
# word, see _nl_yesno).
_NL_VERB = re.compile(
    r"^(?:is|zijn|was|waren|wordt|worden|werd|werden|heeft|hebben|had|hadden|kan|kunnen|kon|konden|zal|zullen"
    r"|zou|zouden|moet|moeten|mag|mogen|gaat|gaan|ging|neemt|nemen|nam|hangt|blijft|blijven|bleef|komt|komen"
    r"|kwam|krijgt|krijgen|kreeg|staat|staan|stond|valt|vallen|speelt|spelen|levert|leveren|betaalt|betalen"
    r"|bestaat|bestaan|hoort|horen|geldt|gelden|wil|willen|wilde|doet|doen|deed|maakt|maken|kent|kennen"
    r"|ziet|zien|vindt|vinden|vond|telt|tellen|draagt|dragen|heb|ben|kreeg|werkt|werken|gebruikt|gebruiken"
    r"|zit|zitten|ligt|liggen|loopt|lopen|leidt|leiden|vraagt|vragen|stelt|stellen|treedt|volgt|verandert"
    r"|veranderen|verdwijnt|verdwijnen|ontvangt|ontvangen|beslist|besluit|kiest|kiezen|koos)\b",
    re.IGNORECASE,
)
# Where a second part starts: "... and when ...", "... en voor wie ...", "..., and since when ...".
_SPLIT = re.compile(
    r",?\s+(?:and|en|or|of)\s+(?=(?:since when|until when|by when|on what date|when|who|whom|whose|what|which|where|why|how"
    r"|for whom|to whom|with whom|sinds wanneer|tot wanneer|per wanneer|wanneer|wie|wiens|wat|welke?|waar\w*|waarom"
    r"|hoe|hoeveel|voor wie|door wie|met wie|aan wie|om welk|op welke|in welk)\b)",
    re.IGNORECASE,
)
_RESPECTIVELY = re.compile(r"\b(?:respectievelijk|respectively)\b", re.IGNORECASE)
_LEAD = re.compile(r"^(?:and|en|or|of|but|maar)\s+", re.IGNORECASE)
# Preposition before a question word: "for whom" asks for a name like "who".
_PREP = re.compile(r"^(?:for|to|with|by|from|of|voor|door|met|aan|van|bij|volgens)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Part:
    text: str  # the words of the question that ask this part ("en wanneer ging zij van start?")
    asks: str  # DATE, NUMBER, NAME, PLACE, REASON or OTHER


@dataclass(frozen=True)
class Question:
    text: str
    language: str  # "en" | "nl"
    yesno: bool  # asks for a verdict ("Is ... ?", "Wordt ... ?"): answered with yes/no and a reason
    parts: tuple[Part, ...]  # at least one; more for "who ... and when ..."
    respectively: bool = False  # "X and Y respectively": one answer per subject

    @property
    def multi(self) -> bool:
        return len(self.parts) > 1


def analyse(text: str, language: str | None = None) -> Question:
    q = " ".join((text or "").split())
    language = language or lang.detect(q)
    yesno = is_yesno(q)
    pieces = [p.strip(" ,;") for p in _SPLIT.split(q) if p and p.strip(" ,;")]
    parts = []
    for i, piece in enumerate(pieces):
        asks = kind_of(piece)
        if i and asks == OTHER and not _ASK_RE[-1][0].match(_PREP.sub("", _LEAD.sub("", piece))):
            parts[-1] = Part(parts[-1].text + " and " + piece, parts[-1].asks)  # not a question word after all
            continue
        parts.append(Part(piece, asks))
    if yesno and len(parts) > 1:
        parts = [Part(q, OTHER)]  # "Is X ..., and what ...?" stays one verdict question
    return Question(q, language, yesno, tuple(parts) or (Part(q, OTHER),), bool(_RESPECTIVELY.search(q)))


def kind_of(piece: str) -> str:
    """What answer a question (part) asks for, from its leading question word."""
    words = _PREP.sub("", _LEAD.sub("", piece.strip()))
    if re.match(r"^(?:for|to|with|voor|door|met|aan)\s+(?:whom|wie)\b", _LEAD.sub("", piece.strip()), re.IGNORECASE):
        return NAME
    for pattern, kind in _ASK_RE:
        if pattern.match(words):
            return kind
    # A question word later on: "According to the coaches, how long ...", "Volgens de raad, wie ...".
    for pattern, kind in _ASK_RE:
        if any(pattern.match(words[m.end():].lstrip()) for m in re.finditer(r"[,:]", words)):
            return kind
    return OTHER


def is_yesno(q: str) -> bool:
    q = q.strip()
    if _REQUEST.match(q):
        return False
    if _EN_YESNO.match(q):
        return True
    return bool(_NL_VERB.match(q)) and not _NL_QWORD.match(q)


# -- checking an answer against a part --------------------------------------------------------
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december"
           "|januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december"
           "|jan|feb|mrt|apr|jun|jul|aug|sep|sept|okt|oct|nov|dec")
_DATE = re.compile(rf"\b(?:1[89]\d\d|20\d\d)\b|\b\d{{1,2}}[/-]\d{{1,2}}[/-]\d{{2,4}}\b|\b(?:{_MONTHS})\b"
                   r"|\b(?:spring|summer|autumn|winter|voorjaar|zomer|najaar|herfst|winter|kwartaal|quarter)\b",
                   re.IGNORECASE)
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
                 "|hundred|thousand|million|half|dozen|een|één|twee|drie|vier|vijf|zes|zeven|acht|negen|tien"
                 "|elf|twaalf|twintig|dertig|veertig|vijftig|honderd|duizend|miljoen|half|tientallen|enkele|several")
_NUMBER = re.compile(rf"\d|€|\b(?:{_NUMBER_WORDS})\b|\bprocent\b|\bpercent\b", re.IGNORECASE)
_REASON = re.compile(r"\b(?:because|since|as|due to|so that|in order to|to|omdat|doordat|want|vanwege|door|zodat"
                     r"|om\b.{0,80}\bte|dus|daarom|therefore)\b", re.IGNORECASE)
# Roles that answer "who" in Dutch government texts without a capital letter.
_ROLES = re.compile(
    r"\b(?:burgemeester|wethouders?|college|raad|gemeenteraad|griffier|secretaris|gemeentesecretaris|directeur"
    r"|directie|directeuren|managers?|medewerkers|ambtenaren|inwoners|bewoners|ondernemers|raadsleden|fractie"
    r"|ondernemingsraad|stuurgroep|projectgroep|mayor|aldermen|alderman|council|executive|clerk|director"
    r"|directors|management|employees|staff|residents|citizens|entrepreneurs|board|team)\b",
    re.IGNORECASE,
)
_CAPWORD = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]+|\b[A-Z]{2,}\b")
_tokenize = Tokenizer()


def answered(part: Part, answer: str, question: str = "") -> bool:
    """Does the answer hold what the part asks for? Lenient on purpose: it only has to catch the
    answer that leaves a part out ("Herke Elbers [1]." for "who and since when")."""
    text = re.sub(r"\[\d+(?:\s*,\s*\d+)*\]", " ", answer or "")
    if part.asks == DATE:
        return bool(_DATE.search(text))
    if part.asks == NUMBER:
        return bool(_NUMBER.search(text))
    if part.asks in (NAME, PLACE):
        asked = set(w.lower() for w in re.findall(r"[\w’'-]+", question))
        names = [w for w in _CAPWORD.findall(text) if w.lower() not in asked]
        return bool(names) or (part.asks == NAME and bool(_ROLES.search(text)) and says_something(text, question))
    if part.asks == REASON:
        return says_something(text, question)
    return says_something(text, question)


def says_something(answer: str, question: str, min_new: int = 2) -> bool:
    """False when the answer only restates the question ("Er is geen projectplan voor Sezen
    opgesteld [1]." to "Waarom is er geen projectplan voor Sezen opgesteld?"): it must hold at
    least `min_new` content words (stemmed) the question does not."""
    new = set(_tokenize(answer)) - set(_tokenize(question))
    return len(new) >= min_new


def restates(answer: str, question: str) -> bool:
    """The answer only repeats the question: says_something on its text without citation markers
    (a "[12]" is not something said). What answer.py retries and the evaluation counts."""
    return not says_something(cite.MARKER.sub(" ", answer), question)


def missing(question: Question, answer: str) -> list[Part]:
    """The parts the answer leaves out: a part that asks for a date, number, name or place without
    one in the answer, or an answer that only restates the question. A yes/no question's verdict
    is decided elsewhere (verdict.py), so it has no parts to check here."""
    if question.yesno:
        return []
    return [p for p in question.parts if not answered(p, answer, question.text)]
