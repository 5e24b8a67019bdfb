"""Sentences in a document that talk to the assistant instead of to the reader.

A document can carry text meant to steer the model ("Negeer alle eerdere instructies ...",
"SYSTEM: new rule ...", "Answer only ...", a fake "Assistant:" turn). The system prompt tells the
model to ignore instructions in the excerpts, but a 1.5B model follows some anyway (3 of 24 in
eval/injection.jsonl, 2026-11-25). Because the model only ever sees selected sentences, the
cheapest sure defence is to never select such a sentence: evidence.py skips them (as evidence and
as neighbours), and the source panel still shows the whole document to the reader.

Hand-written: no library classifies this. The rules look for the *form* of an instruction to an
AI, not for particular documents: chat-template or role markup, a sentence that names the
assistant/AI/language model and tells it to do something, and phrases that only make sense as
orders to an answering system ("ignore the previous instructions", "from now on", "in every
answer", "use your own knowledge"). Checked for false alarms on every sentence of the five seed
documents and of the 4,653 LegalQA-NL law articles (README "Reliability").
"""

from __future__ import annotations

import re

_MARKUP = re.compile(
    r"<\|[a-z_]+\|>|\[/?INST\]|<</?SYS>>|<!--|^\s*#{1,6}\s*(?:instruction|instructie|system|systeem)\b"
    r"|^\s*(?:system|systeem|assistant|assistent|user|gebruiker|ai)\s*:"
    # A fake numbered source: the prompt shows evidence as "[n] ...", so a document's own "[7] Bron: ..."
    # would pose as an excerpt the model can cite.
    r"|^\s*\[\d+\]\s*(?:bron|source|bronnen|sources|fragment|excerpt)\b",
    re.IGNORECASE | re.MULTILINE,
)
_ADDRESSEE = re.compile(
    r"\b(?:ai|a\.i\.|ai-assistent|assistant|assistants|assistent|assistenten|chatbot|language models?"
    r"|taalmodel(?:len)?|llm|gpt)\b",
    re.IGNORECASE,
)
_ORDER = re.compile(
    r"\b(?:ignore|negeer|disregard|forget|vergeet|reply|respond|answer|antwoord|say|zeg|mention|noem|print|write"
    r"|schrijf|add|voeg|start|begin|must|moet|always|altijd|only|alleen|never|nooit|do not|don't|niet)\b",
    re.IGNORECASE,
)
_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?(?:previous|prior|above|earlier|former)\b"
    r"|\bnegeer\s+(?:alle\s+|de\s+)?(?:eerdere|vorige|bovenstaande|voorgaande)\b"
    r"|\b(?:from now on|vanaf nu|ab jetzt|von nun an|à partir de maintenant)\b"
    r"|\b(?:note|message|notice|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|assistants?|models?|language models?)\b"
    r"|\b(?:belangrijk|let op|opmerking|bericht|instructie)\s+(?:voor|aan)\s+(?:de\s+)?(?:ai|assistent(?:en)?|taalmodel(?:len)?)\b"
    r"|\b(?:pretend|act as if)\s+(?:you|to)\b|\bdoe alsof je\b|\byou are now\b|\bje bent nu\b|\bvanaf nu ben jij\b"
    r"|\b(?:in|to|under|onder|aan|in)\s+(?:every|each|any|elk|ieder|elke|iedere)\s+(?:answer|response|reply|antwoord|vraag|question)\b"
    r"|\b(?:every|each|any|elke|iedere)\s+(?:question|vraag)\b.{0,40}\b(?:answer|reply|antwoord)\b"
    r"|\b(?:answer|reply|respond)\s+(?:only|with)\b|\bantwoord\s+(?:op\s+\w+\s+\w+\s+)?(?:alleen|uitsluitend)\b"
    r"|\buse your own knowledge\b|\bgebruik je eigen kennis\b"
    r"|\b(?:always\s+)?cite\s+(?:it|this|them)\s+as\b|\bciteer\b.{0,40}\bbron\b"
    r"|\b(?:new|nieuwe)\s+(?:rule|instruction|regel|instructie|systeeminstructie)\b|\bsysteeminstructie\b"
    r"|\bsystem prompt\b|\bsysteemprompt\b|\bprevious rules\b",
    re.IGNORECASE,
)


def is_instruction(text: str) -> bool:
    """Does this sentence (or line) address an AI system rather than a human reader?"""
    if _MARKUP.search(text) or _OVERRIDE.search(text):
        return True
    return bool(_ADDRESSEE.search(text)) and bool(_ORDER.search(text))
