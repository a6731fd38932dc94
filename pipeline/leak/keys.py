"""Key values of an output and give-away spans of a prompt.

A *key value* is what a grader would check: the whole output when it is short, the
option letter it chooses, or the final number after an answer marker ("#### 18",
"答案是18"). A *give-away span* is a place in the prompt where an answer would be
stated: after "Answer:" / "答案：" / "Hint:" / a pre-filled "Output:", after "the
answer is" / "正确答案是", inside parentheses, or alone after the question mark.

Matching rules, chosen so that ordinary prompts do not match:
- parentheses and after-question spans must *equal* the key ("(Paris)" for "Paris");
- marker spans must equal a short key (< 3 units), or contain a longer key or a number
  key as whole units; spans that list alternatives ("Answer: yes or no") never match;
- an option letter must open the span ("答案：B", "Answer: (B) ...").
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.decontam.text import has_cjk, normalize, units
from pipeline.formatcheck.casefold import fold

_NUM = r"-?\d[\d,]*(?:\.\d+)?"
# An option letter that opens a text: "B", "(B)", "B.", "B、", "B：..." (not "A dog").
_LETTER_AT_START = re.compile(r"^\s*[\(（\[]?\s*([A-H])\s*(?:[\)）\].．、:：,，]|$)")
# Any digit: a number key needs one, so outputs without digits skip the marker scan.
_DIGIT = re.compile(r"\d")
# Parenthesised text not preceded by a word character (so not a call like print("x")).
_PAREN = re.compile(r"(?<![\w])[(（]([^()（）\n]{1,60})[)）]")


@dataclass(frozen=True)
class Key:
    """A key value: ``kind`` is short, option or number; ``units`` its matching form."""

    kind: str
    text: str
    units: tuple[str, ...]


@dataclass(frozen=True)
class Span:
    """A give-away span of the prompt: ``kind`` is marker, paren or after_question."""

    kind: str
    text: str
    cue: str


def _alt_re(words: list[str]) -> re.Pattern:
    return re.compile("|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)), re.IGNORECASE)


class KeyFinder:
    """Compiled marker lists from the leak rules."""

    def __init__(self, rules: Mapping[str, Any]):
        self.short_words = int(rules.get("short_output_words", 6))
        self.short_chars = int(rules.get("short_output_chars", 12))
        self.span_max = int(rules.get("span_max_chars", 80))
        colon = rules.get("colon_markers") or []
        phrase = rules.get("phrase_markers") or []
        # English markers need a word boundary on the left ("answer:" but not "reanswer:").
        self.marker_re = re.compile(
            rf"(?:(?<![A-Za-z])(?P<c>{_alt_re(colon).pattern})\s*[:：]|(?<![A-Za-z])(?P<p>{_alt_re(phrase).pattern}))"
            rf"[ \t]*(?P<span>[^\n]{{1,{self.span_max}}})", re.IGNORECASE)
        self.alternatives = {w.casefold() for w in rules.get("alternative_words") or []}
        out_markers = rules.get("output_answer_markers") or []
        self.out_num_re = re.compile(rf"(?:{_alt_re(out_markers).pattern})[^\d\n-]{{0,20}}({_NUM})", re.IGNORECASE)
        self.out_letter_re = re.compile(
            rf"(?:{_alt_re(out_markers).pattern}|option|choice|选)\s*[\(（]?([A-H])(?![A-Za-z])", re.IGNORECASE)
        # Every match of these two patterns starts with a marker, so an output whose folded
        # text (see pipeline.formatcheck.casefold) holds none skips the scans (most outputs).
        # An empty marker (or none at all) can match anywhere: then "" keeps them always on.
        self._num_cues = tuple(sorted({fold(w) for w in out_markers})) or ("",)
        self._letter_cues = self._num_cues + ("option", "choice", "选")

    # -- outputs --------------------------------------------------------------
    def is_short(self, us: list[str], text: str) -> bool:
        return len(us) <= (self.short_chars if has_cjk(text) else self.short_words)

    def keys(self, output: str, out_units: list[str] | None = None) -> list[Key]:
        """Key values of an output, most specific first (``out_units``: ``units(output)``
        when the caller has it)."""
        out: list[Key] = []
        low = None
        m = None
        # Only an upper-case A-H is ever kept as a chosen option, so outputs without one
        # skip both scans (the marker alternation is the costly one).
        if any(map(output.__contains__, "ABCDEFGH")):
            m = _LETTER_AT_START.match(output)
            if m is None:
                low = fold(output)
                if any(map(low.__contains__, self._letter_cues)):
                    m = self.out_letter_re.search(output)
        if m and (m.re is _LETTER_AT_START or m.group(1).isupper()):
            out.append(Key("option", m.group(1), (m.group(1).casefold(),)))
        nums = []
        if _DIGIT.search(output):
            low = fold(output) if low is None else low
            if any(map(low.__contains__, self._num_cues)):
                nums = self.out_num_re.findall(output)
        if nums:
            n = nums[-1].replace(",", "")
            out.append(Key("number", n, tuple(units(n))))
        # "The answer is Paris." -> "Paris."; "答案：巴黎" -> "巴黎"
        lead = self.marker_re.match(output.strip())
        if lead:
            us = units(lead.group("span"))
        else:
            us = units(output) if out_units is None else out_units
        if us and self.is_short(us, output):
            out.append(Key("short", output.strip(), tuple(us)))
        return out

    # -- prompts --------------------------------------------------------------
    def spans(self, text: str, question_text: str = "") -> list[Span]:
        """Give-away spans of a prompt text; ``question_text`` is checked for an
        answer standing alone after its last question mark."""
        found = [Span("marker", m.group("span").strip(), (m.group("c") or m.group("p")).strip())
                 for m in self.marker_re.finditer(text or "")]
        parens = [Span("paren", m.group(1).strip(), m.group(0)) for m in _PAREN.finditer(text or "")]
        # "(1) ... (2) ..." or "sarcastic (1) or not (0)": enumeration labels, not answers.
        labels = [s for s in parens if len(units(s.text)) == 1 and len(s.text) <= 2]
        found += [s for s in parens if not (len(labels) >= 2 and s in labels)]
        q = question_text or ""
        cut = max(q.rfind("?"), q.rfind("？"))
        if 0 <= cut < len(q) - 1 and q[cut + 1:].strip():
            found.append(Span("after_question", q[cut + 1:].strip(), q[max(0, cut - 30):cut + 1]))
        return found

    def matches(self, key: Key, span: Span) -> bool:
        """Whether a give-away span states the key value (see module docstring)."""
        if key.kind == "option":
            m = _LETTER_AT_START.match(span.text)
            return bool(m) and m.group(1) == key.text and span.kind == "marker"
        su = units(span.text)
        if not su or not key.units:
            return False
        if span.kind != "marker" or len(key.units) < 3 and key.kind == "short":
            return tuple(su) == key.units
        if any(u in self.alternatives for u in su) and tuple(su) != key.units:
            return False
        return _contains(su, key.units)


def _contains(hay: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(tuple(hay[i:i + n]) == needle for i in range(len(hay) - n + 1))


def clean(text: str) -> str:
    """Matching form for display-free comparisons (NFKC + casefold)."""
    return normalize(text)
