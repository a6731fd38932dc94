"""The case-folding helpers behind the literal prefilters agree with re.IGNORECASE."""
from __future__ import annotations

import re
import string
import sys

import pytest

from pipeline.formatcheck.casefold import IGNORECASE_EXTRA, fold, plain_lower


def test_extra_characters_are_all_that_ignorecase_adds_to_ascii_letters():
    letters = re.compile("[a-z]", re.IGNORECASE)
    found = {}
    for cp in range(128, sys.maxunicode + 1):
        ch = chr(cp)
        if letters.fullmatch(ch):
            found[ch] = next(x for x in string.ascii_lowercase if re.fullmatch(x, ch, re.IGNORECASE))
    assert found == IGNORECASE_EXTRA


@pytest.mark.parametrize("text,literal", [
    ("The ANSWER is B", "answer"), ("ſo the anſwer is B", "so the answer"), ("FİNAL ANSWER: 3", "final answer"),
    ("optıon B", "option"), ("Kelvin \u212aey", "key"), ("答案：B", "答案："), ("Σ ANSWER", "answer"),
])
def test_ignorecase_match_implies_folded_substring(text, literal):
    assert re.search(re.escape(literal), text, re.IGNORECASE)
    assert fold(literal) in fold(text)


def test_fold_without_extra_characters_is_lower():
    for text in ("Hello World", "Ünïcödé TEXT", "中文 ABC", ""):
        assert fold(text) == text.lower()


@pytest.mark.parametrize("text,plain", [("five apples", True), ("fıve", False), ("ſix", False),
                                         ("naïve café", True), ("三个", True)])
def test_plain_lower(text, plain):
    low = text.lower()
    assert plain_lower(low) is plain
    words = re.compile(r"\b(?:five|six)\b")
    if plain:  # then the case-sensitive pattern matches a lower-cased text exactly as IGNORECASE does
        assert words.findall(low) == re.compile(words.pattern, re.IGNORECASE).findall(low)
