"""Phrase lists from YAML, matched fast and script-aware.

A big case-insensitive regex alternation is slow in Python's ``re`` (every position tries
every phrase), so phrases are matched with ``str.find`` on the lower-cased text (C speed).
English (ASCII) phrases must sit on ASCII word boundaries, so "ass" does not match
"class" but "Python" does match in "用Python写" (``\\b`` would fail there, because CJK
characters are word characters); a trailing ``*`` turns an English phrase into a prefix;
Chinese phrases match as plain substrings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

_WORDISH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


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

    def __bool__(self) -> bool:
        return bool(self.items)

    @staticmethod
    def _bounded(low: str, i: int, j: int, left: bool, right: bool) -> bool:
        return not (left and i > 0 and low[i - 1] in _WORDISH) and not (right and j < len(low) and low[j] in _WORDISH)

    def _iter(self, text: str):
        low = text.lower()
        if len(low) != len(text):  # rare case-mapping that changes length: positions would drift
            low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        for p, left, right in self.items:
            i = low.find(p)
            while i >= 0:
                j = i + len(p)
                if self._bounded(low, i, j, left, right):
                    yield Hit(text[i:j], i, j)
                i = low.find(p, i + 1)

    def search(self, text: str) -> Hit | None:
        """The earliest occurrence of any phrase, or None."""
        if not self.items or not text:
            return None
        best = None
        for h in self._iter(text):
            if best is None or h.begin < best.begin:
                best = h
                if h.begin == 0:
                    break
        return best

    def findall(self, text: str) -> list[str]:
        """Every occurrence (overlaps between different phrases included)."""
        return [h.text for h in self._iter(text)] if self.items and text else []

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
