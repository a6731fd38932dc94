"""Matching keys for overlap detection: normalisation, units and hashed n-grams.

Everything here produces *matching keys only*; no record text is ever rewritten with
it. The steps are:

1. NFKC (full-width to half-width, compatibility forms) and case folding;
2. stripping a leading "Question:" / "问题：" style prefix (the prefix words come from
   the rules, so this module holds no word lists);
3. splitting into *units*: every CJK character (Han, kana, hangul) is one unit, every
   other run of letters/digits is one unit. Whitespace, punctuation and symbols only
   separate units, so they cannot break a match;
4. hashing units with xxh3 and combining ``n`` consecutive unit hashes into one
   64-bit n-gram hash with vectorised numpy arithmetic.

A text whose units are mostly CJK is matched with character n-grams (``n_char``);
otherwise with word n-grams (``n_word``). Both count units of the same stream, so an
English word inside Chinese text is one unit, as a reader would count it.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np
import xxhash

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
#: One CJK character, or a run of letters/digits that are not CJK (underscores split).
UNIT_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_CJK_RE = re.compile(rf"[{_CJK}]")

# Odd 64-bit constants for the polynomial n-gram combination and the final mix.
_MUL = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def prefix_pattern(prefixes: Iterable[str]) -> re.Pattern | None:
    """A regex that strips one leading ``<prefix>:`` (ASCII or full-width colon).

    Args:
        prefixes: Prefix words such as ``question`` or ``问题``; matched case-insensitively
            after NFKC, so a full-width colon is already ASCII when it is applied.

    Returns:
        The compiled pattern, or None when there are no prefixes.
    """
    words = sorted({p.strip() for p in prefixes if p and p.strip()}, key=len, reverse=True)
    if not words:
        return None
    alt = "|".join(re.escape(unicodedata.normalize("NFKC", w).casefold()) for w in words)
    return re.compile(rf"^\W*(?:{alt})\s*\d*\s*[:.)]\s*")


def normalize(text: str, prefix_re: re.Pattern | None = None) -> str:
    """NFKC + casefold + optional prefix strip: the matching form of a text."""
    t = unicodedata.normalize("NFKC", text or "").casefold().strip()
    if prefix_re is not None:
        t = prefix_re.sub("", t, count=1)
    return t


def units(text: str, prefix_re: re.Pattern | None = None) -> list[str]:
    """The units of a text (see module docstring), after :func:`normalize`."""
    return UNIT_RE.findall(normalize(text, prefix_re))


def is_cjk_units(us: Sequence[str]) -> bool:
    """True when at least half of the units are single CJK characters."""
    if not us:
        return False
    cjk = sum(1 for u in us if len(u) == 1 and _CJK_RE.match(u))
    return 2 * cjk >= len(us)


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text or "") is not None


class UnitHasher:
    """Maps units to stable 64-bit hashes, with a bounded cache.

    Unit vocabularies repeat heavily, so caching the xxh3 of each unit makes hashing
    a dict lookup. The cache is rebuilt lazily after unpickling (it is not state).
    """

    def __init__(self, max_cache: int = 2_000_000):
        self.max_cache = max_cache
        self._cache: dict[str, int] = {}

    def __getstate__(self) -> dict:
        return {"max_cache": self.max_cache}

    def __setstate__(self, state: dict) -> None:
        self.max_cache = state["max_cache"]
        self._cache = {}

    def hashes(self, us: Sequence[str]) -> np.ndarray:
        cache = self._cache
        if len(cache) > self.max_cache:
            cache.clear()
        out = []
        for u in us:
            h = cache.get(u)
            if h is None:
                h = cache[u] = xxhash.xxh3_64_intdigest(u.encode("utf-8"))
            out.append(h)
        return np.array(out, dtype=np.uint64)


def gram_hashes(unit_hashes: np.ndarray, n: int) -> np.ndarray:
    """Unique 64-bit hashes of all ``n``-grams of a unit-hash sequence (empty if too short)."""
    m = len(unit_hashes) - n + 1
    if n <= 0 or m <= 0:
        return np.empty(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = np.full(m, np.uint64(n), dtype=np.uint64) * _MIX2
        for j in range(n):
            h = (h ^ unit_hashes[j:j + m]) * _MUL
        h ^= h >> np.uint64(31)
        h *= _MIX1
        h ^= h >> np.uint64(29)
    return np.unique(h)


def gram_set(us: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Plain Python n-gram set for short texts (used by the leak checks)."""
    if len(us) < n:
        return {tuple(us)} if us else set()
    return {tuple(us[i:i + n]) for i in range(len(us) - n + 1)}
