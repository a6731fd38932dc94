"""Literal prefilters (pipeline/diversity/text.py) never change what a regex finds."""
import random
import re

import pytest

from pipeline.config import RULES_DIR, read_yaml
from pipeline.diversity.complexity import _rx
from pipeline.diversity.task import _compile
from pipeline.diversity.text import (
    TEXT_WORDS,
    Searcher,
    _bare,
    literal_clauses,
    literal_test,
    lowercase_safe,
    top_alternatives,
)

TAX = read_yaml(RULES_DIR / "taxonomy.yaml")
DIV = read_yaml(RULES_DIR / "diversity.yaml")


def _pattern_lists():
    out = [(f"rule:{r['id']}", (r.get("en") or []) + (r.get("zh") or [])) for r in TAX["rules"]]
    q = TAX.get("question") or {}
    out.append(("question", (q.get("en") or []) + (q.get("zh") or [])))
    return out


def _texts(patterns: list[str], n: int, seed: int) -> list[str]:
    """Texts made of the patterns' own literals, words, digits, punctuation and CJK, so
    literal tests pass often and the patterns match some of them."""
    rnd = random.Random(seed)
    pieces = ["the", "a", "is", "what", "or", "and", "if", "you", "in", "3", "42", "x", "y", "2 + 3",
              "?", ",", ":", ";", ".", "!", "\n", "  ", "```", "(", ")", "=", "你", "的", "是", "吗", "？",
              "，", "。", "dear", "sorry", "i'm", "can't", "def f(x):", "a, b, c", "café"]
    for p in patterns:
        for c in literal_clauses(p) or []:
            pieces.extend(_bare(s) for s in c)
        pieces.extend(re.findall(r"[a-z]+|[\u4e00-\u9fff]+", p))
    texts = []
    for _ in range(n):
        k = rnd.randint(1, 12)
        sep = rnd.choice(["", " ", " ", "\n"])
        texts.append(sep.join(rnd.choice(pieces) for _ in range(k)))
    return texts


def test_searcher_equals_the_alternation():
    matched = 0
    lists = _pattern_lists()
    for name, patterns in lists:
        pats = [p for p in patterns if p]
        src = "|".join(f"(?:{p})" for p in pats)
        whole = re.compile(src, 0 if lowercase_safe(src) else re.IGNORECASE)
        searcher = _compile(pats)
        hits = 0
        for t in _texts(pats, 2000, seed=len(name)):
            want = bool(whole.search(t))
            assert searcher.search(t) == want, (name, t)
            hits += want
        matched += hits > 0
    # Most rules must have matched some generated texts, or the comparison proves little.
    assert matched >= 0.8 * len(lists), (matched, len(lists))


@pytest.mark.parametrize("key", ["constraint_patterns", "reasoning_patterns"])
def test_complexity_prefilters_keep_match_counts(key):
    block = DIV["complexity"][key]
    pats = (block.get("en") or []) + (block.get("zh") or [])
    parts = _rx(block)
    hits = 0
    for t in _texts(pats, 3000, seed=7):
        w = set(TEXT_WORDS.findall(t))
        for (wide, test, rx), p in zip(parts, pats):
            plain = re.compile(p, 0 if lowercase_safe(p) else re.IGNORECASE)
            want = len(plain.findall(t))
            skipped = (wide and t.isascii()) or (test is not None and not test(t, w))
            got = 0 if skipped else len(rx.findall(t))
            assert got == want, (p, t)
            hits += want
    assert hits > 0
    # Some patterns need non-ASCII text (the Chinese cues), and are skipped for ASCII text.
    assert any(wide for wide, _t, _rx in parts)


def test_word_tests_respect_whole_words():
    # "ad" (a whole word) must not stand in for "headline" (which contains it).
    s = Searcher([r"\b(ad|headline)\b"])
    assert s.search("a news headline")
    assert s.search("an ad here")
    assert not s.search("a headlined ads")
    t = literal_test(literal_clauses(r"\b(cat|dog)\b"))
    assert t("my dog", set(TEXT_WORDS.findall("my dog")))
    assert not t("dogma", set(TEXT_WORDS.findall("dogma")))


def test_literal_clauses():
    (c,) = literal_clauses(r"\btranslat(e|ion)\b")[:1]
    assert {_bare(x) for x in c} <= {"translat", "translate", "translation"}
    # Nothing literal to require: no clause, the regex always runs.
    assert literal_clauses(r"\d+\s*\w") is None
    # Case-insensitive patterns are never prefiltered.
    assert literal_clauses("abc", re.IGNORECASE) is None
    assert literal_clauses("(?i)abc") is None


def test_non_ascii_parts_are_skipped_only_for_ascii_text():
    s = Searcher(["翻译", r"\btranslate\b"])
    assert s.search("请翻译")
    assert s.search("translate this")
    assert not s.search("nothing here")


def test_top_alternatives():
    assert top_alternatives(r"a|b(c|d)|[|x]") == ["a", "b(c|d)", "[|x]"]
    assert top_alternatives(r"\|a|b") == [r"\|a", "b"]
    assert top_alternatives(r"[]|]|z") == ["[]|]", "z"]
    # Inline flags and group references keep the pattern whole.
    assert top_alternatives(r"(?i)a|b") == [r"(?i)a|b"]
    assert top_alternatives(r"(a)\1|b") == [r"(a)\1|b"]
