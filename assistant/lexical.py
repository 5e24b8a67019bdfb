"""BM25 over chunks with Dutch-aware tokens: lowercase, accents folded, stopwords out, Snowball stems.

English questions rarely share words with Dutch text, but names, numbers and loan words
("Sezen", "InAxis", "50.000", "clinic") do, and those are exactly where dense retrieval is weakest.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

import numpy as np
import snowballstemmer

_STOP = set(
    """de het een en van in op te dat die voor met is zijn er aan om ook als bij of door naar
    uit over tot wat wordt worden werd dan nog niet wel maar hun hij zij ze we wij je u ik dit deze
    daar hier heeft hebben had was waren zal zullen kan kunnen moet moeten al meer geen zo
    the a an and of to in on for with is are was were be been by at as or from that this these those
    it its which who whom what why how when where did do does has have had not no than then there
    their they them he she we you i our your""".split()
)
_WORD = re.compile(r"[0-9a-z]+(?:[.,][0-9]+)*")


class Tokenizer:
    def __init__(self):
        self._stem = snowballstemmer.stemmer("dutch")  # not thread-safe: one per tokenizer

    def __call__(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKD", text.lower())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        words = [w for w in _WORD.findall(text) if w not in _STOP and len(w) > 1]
        return self._stem.stemWords(words)


class BM25:
    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75):
        self.tokenize = Tokenizer()
        self.k1, self.b = k1, b
        docs = [Counter(self.tokenize(t)) for t in texts]
        self.lengths = np.array([sum(d.values()) for d in docs], dtype=np.float32)
        self.avg = float(self.lengths.mean()) if len(docs) else 0.0
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for i, d in enumerate(docs):
            for term, tf in d.items():
                self.postings.setdefault(term, []).append((i, tf))
        n = len(docs)
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()}
        self.n = n

    def scores(self, query: str, min_idf: float = 0.0) -> np.ndarray:
        """BM25 of every text for the query. Terms with an IDF below `min_idf` (common in this
        corpus) are ignored: used for English questions, whose only useful matches in Dutch text
        are rare terms such as names and numbers."""
        out = np.zeros(self.n, dtype=np.float32)
        if not self.n:
            return out
        norm = self.k1 * (1 - self.b + self.b * self.lengths / max(self.avg, 1e-9))
        for term in set(self.tokenize(query)):
            if self.idf.get(term, 0.0) < min_idf:
                continue
            for i, tf in self.postings.get(term, ()):
                out[i] += self.idf[term] * tf * (self.k1 + 1) / (tf + norm[i])
        return out
