"""The quality stage's fast paths agree with plain reference implementations on random text."""
from __future__ import annotations

import random
import re

from pipeline.quality import repetition
from pipeline.quality.garbage import _SPACE_RE, _SYMBOL_RE, _TABLE_ROW_RE, symbol_ratio
from pipeline.quality.lexicon import _WORDISH, PhraseSet

_ALPHA = list("abxyz_09 .-*'İıKk中文字和AZ\n") + ["ß", "ǅ", "Σ"]


def naive_search(phrases: list[str], text: str):
    """Earliest bounded occurrence, longest-first phrase order at one position (the spec)."""
    if not text:
        return None
    uniq = sorted({p.lower() for p in phrases if p}, key=lambda p: (-len(p), p))
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    best = None
    for raw in uniq:
        p = raw.rstrip("*")
        left = raw.isascii() and raw[0] in _WORDISH
        right = raw.isascii() and not raw.endswith("*") and raw[-1] in _WORDISH
        i = low.find(p)
        while i >= 0:
            j = i + len(p)
            ok = not (left and i > 0 and low[i - 1] in _WORDISH) and not (right and j < len(low) and low[j] in _WORDISH)
            if ok and (best is None or i < best[1]):
                best = (text[i:j], i, j)
            i = low.find(p, i + 1)
    return best


def test_phrase_search_matches_the_reference_scan():
    rng = random.Random(7)
    for _ in range(1500):
        phrases = ["".join(rng.choice(_ALPHA) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 8))]
        ps = PhraseSet(phrases)
        for _ in range(20):
            text = "".join(rng.choice(_ALPHA) for _ in range(rng.randint(0, 30)))
            hit = ps.search(text)
            assert (None if hit is None else (hit.text, hit.begin, hit.stop)) == naive_search(phrases, text), (phrases, text)


def test_phrase_search_boundaries_and_prefixes():
    ps = PhraseSet({"en": ["ass", "punctuat*", "check if"], "zh": ["检查"]})
    assert ps.search("class") is None
    assert ps.search("Fix the PUNCTUATION.").group(0) == "PUNCTUATION"[:8]
    assert ps.search("用Python检查一下").group(0) == "检查"
    assert ps.search("check iffy") is None and ps.search("Check if so").start() == 0
    assert ps.findall("ass, ass") == ["ass", "ass"]


def test_sentence_split_matches_the_original_pattern():
    rng = random.Random(3)
    alpha = list(" \n\t.!?;。！？；ab\u3000\x85\u2028") + ["。\n", ". "]

    def clean(parts):
        return [s.strip() for s in parts if s and s.strip()]

    for _ in range(20000):
        text = "".join(rng.choice(alpha) for _ in range(rng.randint(0, 14)))
        assert clean(repetition._SENT_SPLIT_RE.split(text)) == clean(repetition._split_sentences(text)), repr(text)


def test_letters_at_least_counts_letters():
    rng = random.Random(5)
    for _ in range(5000):
        text = "".join(rng.choice("ab1_ .中é!") for _ in range(rng.randint(0, 12)))
        for k in range(6):
            assert repetition._letters_at_least(k)(text) == (len(re.findall(r"[^\W\d_]", text)) >= k), (text, k)


def test_symbol_ratio_ascii_path_matches_the_regex_path():
    rng = random.Random(11)
    for _ in range(5000):
        text = "".join(rng.choice("ab #$^&@~`\\|\t\n\x1c.,x") for _ in range(rng.randint(0, 30)))
        body = _SPACE_RE.sub("", _TABLE_ROW_RE.sub("", text) if "|" in text else text)
        want = (len(_SYMBOL_RE.findall(body)) / len(body), len(body)) if body else (0.0, 0)
        assert symbol_ratio(text) == want, repr(text)
