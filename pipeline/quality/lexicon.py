"""Phrase lists from YAML, matched fast and script-aware.

English (ASCII) phrases must sit on ASCII word boundaries, so "ass" does not match
"class" but "Python" does match in "用Python写" (``\\b`` would fail there, because CJK
characters are word characters); a trailing ``*`` turns an English phrase into a prefix;
Chinese phrases match as plain substrings. Matching is case-insensitive (on the
lower-cased text).

Speed: every phrase list is also compiled into one regular expression shaped as a
character trie (``a(?:bc|d)`` rather than ``abc|ad``), with the word-boundary tests as
look-arounds at each phrase's end. Python's ``re`` then scans for the phrases' first
characters in C and follows one trie branch per candidate position, instead of one
``str.find`` pass per phrase. The regex only answers "is there a hit, and where is the
earliest one"; which phrase wins at that position is decided in Python by the phrase
order (longest first), exactly as a phrase-by-phrase scan would.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping

_WORDISH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_WORD_CLASS = "[a-z0-9_]"


@dataclass(frozen=True)
class Hit:
    """A phrase occurrence; mimics the parts of ``re.Match`` callers use."""

    text: str
    begin: int
    stop: int

    def group(self, _: int = 0) -> str:
        return self.text

    def start(self) -> int:
        return self.begin

    def end(self) -> int:
        return self.stop


@lru_cache(maxsize=16)
def lowered(text: str) -> str:
    """``text`` lower-cased position for position (same length as ``text``).

    A few characters change length when lower-cased ("İ" -> "i̇"); those keep their
    case so that positions in the lower-cased text are positions in ``text``. Cached:
    one row's texts are searched by many phrase lists.
    """
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return low


def trie_regex(items: list[tuple[str, bool, bool]], word_class: str = _WORD_CLASS) -> re.Pattern | None:
    """One pattern that matches at a position iff some phrase (with its boundaries) does.

    ``items``: ``(phrase, needs left boundary, needs right boundary)``; a boundary is a
    character outside ``word_class`` (or the end of the text).
    """
    if not items:
        return None
    trie: dict = {}
    for p, left, right in items:
        node = trie
        for ch in p:
            node = node.setdefault(ch, {})
        # The end marker holds one assertion per phrase ending here (duplicates of one
        # phrase with different boundary flags can share a node).
        node.setdefault("", set()).add(_end_assertion(len(p), left, right, word_class))

    def build(node: dict) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted((k, v) for k, v in node.items() if k)]
        # Longer continuations first; ends last (order does not change where a match starts).
        if "" in node:
            alts += sorted(node[""])
        if len(alts) == 1:
            return alts[0]
        return "(?:" + "|".join(alts) + ")"

    return re.compile(build(trie), re.S)


def _end_assertion(n: int, left: bool, right: bool, word_class: str) -> str:
    out = ""
    if left:
        # At the phrase's end: the character before its start is not a word character.
        out += f"(?<!{word_class}.{{{n}}})"
    if right:
        out += f"(?!{word_class})"
    return out


class PhraseSet:
    """A list of phrases (or ``{lang: [phrases]}``) to search for.

    Args:
        phrases: Phrases; matching is case-insensitive.
    """

    def __init__(self, phrases: Iterable[str] | Mapping[str, Iterable[str]] | None):
        if isinstance(phrases, Mapping):
            phrases = [p for lst in phrases.values() for p in (lst or ())]
        uniq = sorted({str(p).lower() for p in (phrases or ()) if p}, key=lambda p: (-len(p), p))
        # (phrase, needs left boundary, needs right boundary); a trailing "*" makes a
        # prefix ("punctuat*" matches "punctuation").
        self.items = [(p.rstrip("*"), p.isascii() and p[0] in _WORDISH,
                       p.isascii() and not p.endswith("*") and p[-1] in _WORDISH) for p in uniq]
        self._setup()

    def _setup(self) -> None:
        # Empty phrases (a lone "*") match everywhere; the trie cannot express them, so
        # such a set keeps the plain scan.
        self._plain = any(not p for p, _, _ in self.items)
        self._rx = None if self._plain else trie_regex(self.items)
        by_first: dict[str, list[tuple[str, bool, bool]]] = {}
        for it in self.items:
            if it[0]:
                by_first.setdefault(it[0][0], []).append(it)
        self._by_first = by_first

    def __getstate__(self) -> dict:
        return {"items": self.items}

    def __setstate__(self, state: dict) -> None:
        self.items = state["items"]
        self._setup()

    def __bool__(self) -> bool:
        return bool(self.items)

    @staticmethod
    def _bounded(low: str, i: int, j: int, left: bool, right: bool) -> bool:
        return not (left and i > 0 and low[i - 1] in _WORDISH) and not (right and j < len(low) and low[j] in _WORDISH)

    def _iter(self, text: str, low: str):
        for p, left, right in self.items:
            i = low.find(p)
            while i >= 0:
                j = i + len(p)
                if self._bounded(low, i, j, left, right):
                    yield Hit(text[i:j], i, j)
                i = low.find(p, i + 1)

    def search(self, text: str) -> Hit | None:
        """The earliest occurrence of any phrase (the longest one there), or None."""
        if not self.items or not text:
            return None
        low = lowered(text)
        if self._plain:
            best = None
            for h in self._iter(text, low):
                if best is None or h.begin < best.begin:
                    best = h
                    if h.begin == 0:
                        break
            return best
        m = self._rx.search(low)
        if m is None:
            return None
        i = m.start()
        # Several phrases may match at i: the first in phrase order wins.
        for p, left, right in self._by_first[low[i]]:
            j = i + len(p)
            if low.startswith(p, i) and self._bounded(low, i, j, left, right):
                return Hit(text[i:j], i, j)
        raise AssertionError("phrase regex and phrase list disagree")  # pragma: no cover

    def contains(self, text: str) -> bool:
        """Whether any phrase occurs in ``text`` (``search`` without building the hit)."""
        if not self.items or not text:
            return False
        if self._plain:
            return self.search(text) is not None
        return self._rx.search(lowered(text)) is not None

    @classmethod
    def union(cls, sets: Iterable[PhraseSet]) -> PhraseSet:
        """One set holding every phrase of ``sets``: it hits wherever one of them does."""
        merged = cls(())
        merged.items = sorted({it for s in sets for it in s.items}, key=lambda it: (-len(it[0]), it))
        merged._setup()
        return merged

    def findall(self, text: str) -> list[str]:
        """Every occurrence (overlaps between different phrases included)."""
        if not self.items or not text:
            return []
        low = lowered(text)
        if not self._plain and self._rx.search(low) is None:
            return []
        return [h.text for h in self._iter(text, low)]

    def ends_with(self, text: str) -> str:
        """The phrase that ``text`` ends with (on a word boundary), or ""."""
        low = text.lower()
        for p, left, _ in self.items:
            if low.endswith(p) and self._bounded(low, len(low) - len(p), len(low), left, False):
                return text[len(text) - len(p):]
        return ""


def compile_phrases(phrases: Iterable[str] | Mapping[str, Iterable[str]] | None) -> PhraseSet:
    """Build a :class:`PhraseSet` (kept under this name for callers)."""
    return PhraseSet(phrases)
