"""Classify an output as ``answer``, ``refusal``, ``clarification`` or ``correction``.

Measuring is cue based, EN and ZH. What separates a refusal from text that merely
contains "cannot" or "抱歉" is *where* and *how* the cue appears:

- cues are first-person declines ("I can't help with", "我无法提供"), not bare negations;
- a cue only counts in the head of the output (refusals lead with their cue);
- quoted speech is removed first, so a character who refuses inside a story is content;
- for a requested composition (story, letter, apology) a refusal must be short and
  decline in its first sentence;
- a long answer after the cue is an answer with a caveat, not a refusal.

Scores are in [0, 1]: a cue scores 1.0 and each penalty multiplies it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.refusal.cues import compile_all, fold, guard, search
from pipeline.refusal.prefilter import Haystack

CLASSES = ("answer", "refusal", "clarification", "correction")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
# Quoted spans: double quotes of every script, CJK corner brackets, and single-quoted
# spans whose quotes are not apostrophes inside a word ("can't" stays intact). Guarded
# by a lookahead on the opening quote, so positions without one are rejected at once.
_QUOTES = (r"\"[^\"\n]{1,400}\"|\u201c[^\u201d]{1,400}\u201d|\u300c[^\u300d]{1,400}\u300d"
           r"|\u300e[^\u300f]{1,400}\u300f|(?<!\w)'(?:[^'\n]|(?<=\w)'(?=\w)){1,400}'(?!\w)")
_QUOTED = re.compile(guard(_QUOTES, 0))
_SENTENCE_END = re.compile(r"[.!?。！？\n]")
_QUESTION = re.compile(r"[?？]")


def script_lang(text: str) -> str:
    """'zh' when Han characters make up at least 30% of letters, 'en' when Latin letters exist, else ''."""
    if text.isascii():  # no Han possible; count letters in C instead of building a match list
        raw = text.encode("ascii")
        han, latin = 0, len(raw) - len(raw.translate(None, _ASCII_LETTERS))
    else:
        han = len(_HAN.findall(text))
        latin = len(_LATIN.findall(text))
    if han and han >= 0.3 * (han + latin / 4):  # ~4 Latin letters per English word vs 1 Han char
        return "zh"
    return "en" if latin else ""


def text_len(text: str, lang: str) -> int:
    """Length in the unit that fits the script: Han characters + words for zh, words for en."""
    if lang == "zh":
        return len(_HAN.findall(text)) + len(_LATIN.sub("", _HAN.sub("", text)).split())
    return len(text.split())


def _first_end(head: str) -> int:
    """End of the first sentence of the head (sentence ends before position 8 do not count)."""
    return m.end() if (m := _SENTENCE_END.search(head, 8)) else len(head)


def strip_quotes(text: str) -> str:
    """Replace quoted spans by a same-length run of spaces (keeps cue positions meaningful)."""
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), text)


@dataclass(frozen=True)
class Detection:
    """What :func:`Detector.classify` found for one output.

    Attributes:
        response_type: One of :data:`CLASSES`.
        cue: The matched cue text of the winning class ("" for answers).
        scores: ``refusal_score``, ``clarification_score`` and ``correction_score``.
    """

    response_type: str
    cue: str = ""
    scores: Mapping[str, float] = field(default_factory=dict)


def _per_lang(value: Any, lang: str, default: float) -> float:
    if isinstance(value, Mapping):
        return float(value.get(lang, value.get("en", default)))
    return float(value if value is not None else default)


class Detector:
    """Cue-based response classifier configured by the ``detect`` and ``cues`` rules."""

    def __init__(self, rules: Mapping[str, Any]):
        self.cfg = dict(rules.get("detect") or {})
        self.cues = compile_all(rules.get("cues"))
        self.min_score = float(self.cfg.get("min_score", 0.5))
        self._consts: dict[tuple, float] = {}  # _c() results

    def _c(self, key: str, lang: str, default: float) -> float:
        got = self._consts.get((key, lang, default))
        if got is None:
            got = self._consts[key, lang, default] = _per_lang(self.cfg.get(key), lang, default)
        return got

    def classify(self, instruction: str, output: str) -> Detection:
        """Classify one output given the instruction it answers."""
        text = fold(output or "").strip()
        if not text:
            return Detection("answer", "", {"refusal_score": 0.0, "clarification_score": 0.0,
                                            "correction_score": 0.0})
        lang = script_lang(text) or "en"
        head = strip_quotes(text[: int(self._c("head_chars", lang, 300))])
        hay = Haystack(head)  # shared by the cue groups' prefilters
        ref = search(self.cues.get("refusal"), hay)
        cla = search(self.cues.get("clarification"), hay)
        cor = search(self.cues.get("correction"), hay)
        # Length and composition only matter once a cue is found (most outputs have none).
        n = text_len(text, lang) if ref or cla else 0
        composed = bool(ref or cor) and self._composed(instruction, text)
        penalty = self._c("long_penalty", lang, 0.4)

        rs = 0.0
        if ref:
            rs = 1.0
            if text_len(text[ref.end():], lang) > self._c("long_words", lang, 160):
                rs *= penalty
            if composed and (n > self._c("composed_max", lang, 60) or ref.start() >= _first_end(head)):
                rs *= self._c("composed_penalty", lang, 0.2)

        cs = 0.0
        if cla:
            cs = 1.0 if _QUESTION.search(text) or re.search(r"\bplease\b|请", head, re.IGNORECASE) else 0.6
            if n > self._c("clarification_max", lang, 120):
                cs *= penalty

        ks = 0.0
        if cor:
            ks = 1.0
            if composed:
                ks *= self._c("composed_penalty", lang, 0.2)

        scores = {"refusal_score": round(rs, 3), "clarification_score": round(cs, 3),
                  "correction_score": round(ks, 3)}
        ok = self.min_score
        if ks >= ok and ks >= rs:
            return Detection("correction", cor.group(0), scores)
        if rs >= ok and cs >= ok:
            # "I can't summarise it without the text. Could you paste it?" asks, not declines.
            asks = cla.start() < ref.start() or search(self.cues.get("missing_info"), hay)
            return Detection("clarification", cla.group(0), scores) if asks else \
                Detection("refusal", ref.group(0), scores)
        if rs >= ok:
            return Detection("refusal", ref.group(0), scores)
        if cs >= ok:
            return Detection("clarification", cla.group(0), scores)
        return Detection("answer", "", scores)

    def _composed(self, instruction: str, text: str) -> bool:
        """Whether the instruction asks for a composition or the (folded) output reads as one."""
        return bool(search(self.cues.get("composed_request"), Haystack(fold(instruction or "")))
                    or search(self.cues.get("salutation"), text))

    def refusal_has_reason(self, output: str) -> bool:
        """Whether a refusal explains why it declines."""
        return bool(search(self.cues.get("reason"), fold(output or "")))

    def refusal_has_alternative(self, output: str) -> bool:
        """Whether a refusal offers something else the user can do."""
        return bool(search(self.cues.get("alternative"), fold(output or "")))
