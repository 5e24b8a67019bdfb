"""Detect whether a question is English or Dutch, so the answer comes back in the same language.

A stopword vote is enough for questions (a model would be overkill and another download); ties
fall back to Dutch-specific letter patterns, then to English.
"""

from __future__ import annotations

import re

NAMES = {"en": "English", "nl": "Dutch"}

_EN = set("""the a an is are was were be been being of to in on for with by at from what why how who whom
which when where does did do has have had not no there their they this that these those it its can could
would should will shall may might about and or but than then if any some many much more most our your
was were been tell explain give list describe""".split())
_NL = set("""de het een is zijn was waren wordt werd worden van te in op voor met door bij uit wat waarom hoe
wie welke welk wanneer waar heeft hebben had niet geen er hun deze dit die dat kan kunnen zou moet
moeten zal zullen over en of maar dan als ook nog al meer veel ons onze jullie u je ik wij ze
gemeente raad college wethouder burgemeester beschrijf noem leg uit geef""".split())
_WORD = re.compile(r"[a-zà-ÿ']+")


def detect(text: str) -> str:
    return guess(text) or "en"


def guess(text: str) -> str | None:
    """"en", "nl", or None when the text gives no evidence either way (a name, "In Eemnes [1].")."""
    words = _WORD.findall((text or "").lower())
    en = sum(w in _EN for w in words)
    nl = sum(w in _NL for w in words)
    if en != nl:
        return "en" if en > nl else "nl"
    low = (text or "").lower()
    if re.search(r"\b\w*(ij|oe|aa|ui|sch)\w*\b", low) and not re.search(r"\b\w*(th|wh|ing)\b", low):
        return "nl"
    if re.search(r"\b\w*(th|wh|ing)\b", low):
        return "en"
    return None
