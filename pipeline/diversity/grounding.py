"""How an answer relates to the context it was given: copied, condensed or spread.

The grounded tasks differ less in wording than in what the answer does with the
input: closed QA returns a short fact, extraction lifts items or sentences from the
text verbatim, summarisation condenses much of the text in new words. These
measurements let the task classifier use that:

* ``ratio``: output length / input length (in bilingual units);
* ``copy``: share of the output's token trigrams that also occur in the input;
* ``cover``: share of the input's token trigrams that the output reproduces;
* ``spread``: share of the input's sentences that the output draws on (at least
  ``sentence_overlap`` of their content tokens reappear in the output);
* ``list_items`` / ``items_in_input``: list items of the output, and the share of
  them found verbatim in the input.

Tokens are lowercased words for space-delimited text and single characters for
CJK (Chinese has no spaces), so trigrams are word trigrams in English and
character trigrams in Chinese. Only the first ``scan_chars`` of each side are read.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

from pipeline.diversity.text import ascii_runs, comma_items, list_items, run_table

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]|[a-z0-9]+")
_TOKEN_RUNS = run_table(string.ascii_lowercase + string.digits)  # _TOKEN on lowercased ASCII text
_SENTENCE = re.compile(r"(?<=[.!?])\s+|[。！？；\n]+")
_ITEM_SPLIT = re.compile(r"\n+|[,，、;；]")
_MARKER = re.compile(r"^\s*(?:[-*•·]|\d{1,3}[.)、:]|[一二三四五六七八九十]+[、.])\s*")
# Function words carry no content; a sentence "drawn on" must share content tokens.
_STOP = frozenset([
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "with", "by", "from", "is", "are",
    "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "as", "he", "she", "they",
    "his", "her", "their", "which", "who", "whom", "what", "when", "where", "why", "how", "not", "no", "also",
    "has", "have", "had", "but", "if", "into", "的", "了", "是", "在", "和", "与", "及", "也", "有", "为", "对", "这", "那",
    "个", "一", "上", "中", "等", "就", "都", "而", "并", "被", "将", "把", "从", "以"
])


@dataclass(frozen=True)
class Grounding:
    """Measurements of an (input, output) pair; see the module docstring."""

    in_units: int
    out_units: int
    ratio: float
    copy: float
    cover: float
    spread: float
    sentences: int
    list_items: int
    items_in_input: float


def tokens(text: str) -> list[str]:
    """Lowercased word tokens, one token per CJK character."""
    return _lowered_tokens(text.lower())


def _lowered_tokens(low: str) -> list[str]:
    return ascii_runs(low, _TOKEN_RUNS) if low.isascii() else _TOKEN.findall(low)


def _trigrams(toks: list[str]) -> set[tuple[str, str, str]]:
    return set(zip(toks, toks[1:], toks[2:]))


def _items(output: str) -> list[str]:
    """Items of a list-shaped answer: bullet/numbered lines, else comma/line-separated parts."""
    parts = [_MARKER.sub("", p).strip(" .。\"'“”") for p in _ITEM_SPLIT.split(output)]
    return [p for p in parts if p]


def measure(input_: str, output: str, scan_chars: int = 2000, sentence_overlap: float = 0.4) -> Grounding:
    """Measure how ``output`` uses ``input_``.

    Args:
        input_: The given context.
        output: The answer.
        scan_chars: Characters read from each side (long texts show their shape early).
        sentence_overlap: Share of a sentence's content tokens that must reappear in
            the output for the sentence to count as drawn on.

    Returns:
        The measurements; all shares are 0.0 when either side is empty.
    """
    inp, out = input_[:scan_chars], output[:scan_chars]
    low_in = inp.lower()
    # The input's tokens, sentence by sentence: no token spans a sentence break.
    sentences = [_lowered_tokens(s) for s in _SENTENCE.split(low_in)]
    ti, to = [t for s in sentences for t in s], tokens(out)
    if not ti or not to:
        return Grounding(len(ti), len(to), 0.0, 0.0, 0.0, 0.0, 0, 0, 0.0)
    gi, go = _trigrams(ti), _trigrams(to)
    shared = len(gi & go)
    copy = shared / len(go) if go else float(all(t in set(ti) for t in to))
    cover = shared / len(gi) if gi else 0.0
    out_set = set(to)
    sents = drawn = 0
    for toks in sentences:
        content = [t for t in toks if t not in _STOP]
        if len(content) < 3:
            continue
        sents += 1
        if sum(t in out_set for t in content) >= sentence_overlap * len(content):
            drawn += 1
    n_items = list_items(out)
    items = _items(out)
    if n_items < 3 and len(to) <= 60:
        # A short comma-separated enumeration is a list too (prose with commas is not).
        n_items = max(n_items, comma_items(out))
    short = [p for p in items if len(p) <= 80]
    in_input = sum(p.lower() in low_in for p in short) / len(short) if short else 0.0
    return Grounding(len(ti), len(to), round(len(to) / len(ti), 4), round(copy, 4), round(cover, 4),
                     round(drawn / sents, 4) if sents else 0.0, sents, n_items, round(in_input, 4))
