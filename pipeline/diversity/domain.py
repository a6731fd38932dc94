"""Keyword-lexicon domain tagger (medicine, law, finance, science, technology, ...).

English terms are matched as whole lowercase words or two-word phrases, Chinese
terms as substrings (Chinese has no word boundaries to match on). The domain with
the most hits wins; ties go to the domain listed first in the taxonomy, and fewer
than ``min_hits`` hits give ``other``.
"""
from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from pipeline.diversity.text import ascii_runs, run_table

_WORDS = re.compile(r"[a-z0-9+#]+(?:['’][a-z]+)?")
_WORD_RUNS = run_table(string.ascii_lowercase + string.digits + "+#")


class DomainTagger:
    """Compiled domain lexicons; build once per worker."""

    def __init__(self, domains: Mapping[str, Mapping[str, list[str]]], min_hits: int = 1,
                 other: str = "other"):
        self.order = list(domains)
        self.min_hits = min_hits
        self.other = other
        self._en: dict[str, str] = {}
        zh: dict[str, str] = {}
        for name, lex in domains.items():
            for term in lex.get("en") or []:
                # The first domain to claim a term keeps it, so the lexicon order decides overlaps.
                self._en.setdefault(str(term).lower(), name)
            for term in lex.get("zh") or []:
                zh.setdefault(str(term), name)
        self._zh = zh
        # One alternation, longest terms first, so "机器学习" wins over "学习".
        terms = sorted(zh, key=len, reverse=True)
        self._zh_rx = re.compile("|".join(map(re.escape, terms))) if terms else None
        # Pure-ASCII text cannot hold a term without ASCII characters: skip the scan there.
        self._zh_ascii = any(t.isascii() for t in zh)
        # First words of two-word phrases: only after one of them is a phrase looked up.
        self._heads = frozenset(t.split(" ", 1)[0] for t in self._en if " " in t)
        self._rank = {d: i for i, d in enumerate(self.order)}

    def hits(self, text: str) -> dict[str, int]:
        """Hit counts per domain in ``text``."""
        counts: dict[str, int] = {}
        low = text.lower()
        if low.isascii() and "'" not in low:
            words = ascii_runs(low, _WORD_RUNS)  # then the words are runs of _WORDS' characters
        else:
            words = _WORDS.findall(low)
        en = self._en
        if self._heads.isdisjoint(words):
            # No phrase can start here: every word stands alone (the common case).
            for name in filter(None, map(en.get, words)):
                counts[name] = counts.get(name, 0) + 1
        else:
            self._count_with_phrases(words, counts)
        if self._zh_rx is not None and (self._zh_ascii or not text.isascii()):
            for m in self._zh_rx.findall(text):
                name = self._zh[m]
                counts[name] = counts.get(name, 0) + 1
        return counts

    def _count_with_phrases(self, words: list[str], counts: dict[str, int]) -> None:
        """Count English hits left to right; a two-word phrase ("machine learning")
        outranks its single words and consumes both."""
        en, heads = self._en, self._heads
        i, n = 0, len(words)
        while i < n:
            w = words[i]
            name = en.get(f"{w} {words[i + 1]}") if i + 1 < n and w in heads else None
            step = 2 if name else 1
            name = name or en.get(w)
            if name:
                counts[name] = counts.get(name, 0) + 1
            i += step

    def tag(self, text: str) -> tuple[str, int]:
        """The winning domain and its hit count (``other`` below ``min_hits``)."""
        counts = self.hits(text)
        if not counts:
            return self.other, 0
        rank = self._rank
        best = min(counts, key=lambda d: (-counts[d], rank.get(d, len(rank))))
        if counts[best] < self.min_hits:
            return self.other, counts[best]
        return best, counts[best]


def domain_problems(domains: Any) -> list[str]:
    """Config problems of the ``domains`` block of the taxonomy."""
    if not isinstance(domains, Mapping) or not domains:
        return ["taxonomy: `domains` must be a non-empty mapping"]
    probs = []
    for name, lex in domains.items():
        if not isinstance(lex, Mapping) or not (lex.get("en") or lex.get("zh")):
            probs.append(f"taxonomy domain {name}: needs `en` and/or `zh` term lists")
    return probs
