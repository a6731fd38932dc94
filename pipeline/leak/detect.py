"""The five answer-leak cases, each a function of one record returning ``(check, detail)`` or None.

- ``marked_option``: multiple-choice options in the prompt mark one as right
  ("(correct)", "√", "← answer", or a stated key "答案：B") and the output picks it.
- ``answer_in_prompt``: a key value of the output (short output, option letter,
  final number) stands in a give-away span of the prompt.
- ``earlier_turn``: an earlier assistant turn already holds the final output.
- ``echo``: the output is the input (or instruction) again, verbatim, for a generation task.
- ``skeleton``: one prompt part holds most of the output's n-grams, for a non-editing
  task, and the output is not a small excerpt of a long passage.

:func:`overlap` is the measurement stored as ``scores.leak_overlap``: the share of the
output's n-grams found anywhere in the prompt. :func:`matched_span` names the longest
run of output text found in a prompt part, for the detail.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.decontam.text import gram_set, is_cjk_units, units
from pipeline.leak.intent import Intent
from pipeline.leak.keys import KeyFinder, Span

# An option start: "A.", "(B)", "C、", "D：" preceded by a line start, space or bracket.
_OPTION = re.compile(r"(?:^|(?<=[\s(（:：?？。，,；;!！]))[\(（]?([A-H])\s*[.．、:：\)）]\s*", re.MULTILINE)


@dataclass
class Ctx:
    """Everything the checks need about one record, computed once.

    ``out_units`` is ``units(output)``.
    ``out_cjk`` may be passed when the caller already knows it; ``units_of``,
    ``output_keys`` and ``parts`` memoise per record what several checks would otherwise
    recompute.
    """

    rec: Mapping[str, Any]
    intent: Intent
    out_units: list[str]
    n: int
    out_cjk: bool | None = None
    _units: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)
    _keys: list | None = field(default=None, repr=False, compare=False)
    _parts: list | None = field(default=None, repr=False, compare=False)

    @property
    def output(self) -> str:
        return self.rec.get("output") or ""

    def cjk(self) -> bool:
        """Whether the output is CJK by units (see ``is_cjk_units``)."""
        if self.out_cjk is None:
            self.out_cjk = is_cjk_units(self.out_units)
        return self.out_cjk

    def units_of(self, text: str) -> list[str]:
        """``units(text)``, computed once per record and text (callers must not mutate it)."""
        us = self._units.get(text)
        if us is None:
            us = self._units[text] = units(text)
        return us

    def output_keys(self, kf: KeyFinder) -> list:
        """``kf.keys(output)``, computed once per record."""
        if self._keys is None:
            self._keys = kf.keys(self.output, self.out_units)
        return self._keys

    def parts(self) -> list[tuple[str, str]]:
        """``prompt_parts(rec)``, computed once per record (callers must not mutate it)."""
        if self._parts is None:
            self._parts = prompt_parts(self.rec)
        return self._parts


def _join(us: Sequence[str]) -> str:
    return ("" if is_cjk_units(us) else " ").join(us)


def prompt_parts(rec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(part name, text)`` of the user-visible prompt, without earlier assistant turns."""
    parts = [("system", rec.get("system") or "")]
    parts += [(f"history[{i}].instruction", t.get("instruction") or "")
              for i, t in enumerate(rec.get("history") or [])]
    parts += [("instruction", rec.get("instruction") or ""), ("input", rec.get("input") or "")]
    return [(k, v) for k, v in parts if v.strip()]


def containment(out_units: Sequence[str], text: str, n: int, text_units: Sequence[str] | None = None) -> float:
    """Share of the output's n-grams present in ``text`` (0 for an empty output).

    ``text_units`` may pass ``units(text)`` when the caller already has it.
    """
    n = min(n, len(out_units))  # a short output is one gram: itself
    og = gram_set(out_units, n)
    if not og:
        return 0.0
    return len(og & gram_set(units(text) if text_units is None else text_units, n)) / len(og)


def overlap(ctx: Ctx) -> float:
    """``scores.leak_overlap``: output n-grams found in the whole prompt (all turns)."""
    rec = ctx.rec
    text = "\n".join([rec.get("system") or ""]
                     + [f"{t.get('instruction', '')}\n{t.get('output', '')}" for t in rec.get("history") or []]
                     + [rec.get("instruction") or "", rec.get("input") or ""])
    return containment(ctx.out_units, text, ctx.n)


def matched_span(out_units: Sequence[str], text: str, n: int, max_units: int = 30) -> str:
    """The longest run of the output whose n-grams all occur in ``text`` (shortened)."""
    n = min(n, len(out_units))
    if n == 0:
        return ""
    have = gram_set(units(text), n)
    best, run_start, best_span = 0, None, (0, 0)
    grams = [tuple(out_units[i:i + n]) for i in range(max(len(out_units) - n + 1, 0))]
    for i, g in enumerate(grams + [None]):
        if g is not None and g in have:
            run_start = i if run_start is None else run_start
        elif run_start is not None:
            if i - run_start > best:
                best, best_span = i - run_start, (run_start, i - 1 + n)
            run_start = None
    piece = list(out_units[best_span[0]:best_span[1]])
    more = "…" if len(piece) > max_units else ""
    return _join(piece[:max_units]) + more


# -- the checks -----------------------------------------------------------------
def marked_option(ctx: Ctx, kf: KeyFinder, marks: Sequence[str]) -> tuple[str, str] | None:
    """Options in the prompt with one marked right, and the output chooses it."""
    if not ctx.intent.giveaway_checked:
        return None
    for name, text in ctx.parts():
        opts = _options(text)
        if len({letter for letter, _ in opts}) < 2:
            continue
        marked = [(letter, body, mk) for letter, body in opts for mk in marks if mk.casefold() in body.casefold()]
        marked += [(s.text.strip()[:1].upper(), dict(opts).get(s.text.strip()[:1].upper(), ""), f"{s.cue}: {s.text}")
                   for s in kf.spans(text) if s.kind == "marker" and _stated_letter(kf, s)]
        for letter, body, mk in marked:
            if _output_picks(ctx, kf, letter, _strip_marks(body, marks)):
                return "marked_option", f"{name}: option {letter} marked by {mk!r}: {body.strip()[:60]!r}"
    return None


def _options(text: str) -> list[tuple[str, str]]:
    """``(letter, option text)`` pairs when the text has consecutive options A, B, ..."""
    if "A" not in text or "B" not in text:
        return []  # options A and B are required, and most prompts have no capital A or B
    starts = list(_OPTION.finditer(text))
    opts = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[m.end():end].split("\n", 1)[0]
        opts.append((m.group(1), body))
    letters = [letter for letter, _ in opts]
    return opts if "A" in letters and "B" in letters else []


def _stated_letter(kf: KeyFinder, span: Span) -> bool:
    return any(k.kind == "option" for k in kf.keys(span.text)) and len(units(span.text)) <= 8


def _strip_marks(body: str, marks: Sequence[str]) -> str:
    for mk in marks:
        body = re.sub(re.escape(mk), " ", body, flags=re.IGNORECASE)
    return body


def _output_picks(ctx: Ctx, kf: KeyFinder, letter: str, body: str) -> bool:
    if any(k.kind == "option" and k.text == letter for k in ctx.output_keys(kf)):
        return True
    bu = units(body)
    if not bu or (len(bu) < 2 and not kf.is_short(ctx.out_units, ctx.output)):
        return False
    n = len(bu)
    return any(ctx.out_units[i:i + n] == bu for i in range(len(ctx.out_units) - n + 1))


def answer_in_prompt(ctx: Ctx, kf: KeyFinder) -> tuple[str, str] | None:
    """A key value of the output sits in a give-away span of the prompt."""
    if not ctx.intent.giveaway_checked:
        return None
    keys = ctx.output_keys(kf)
    if not keys:
        return None
    for name, text in ctx.parts():
        for span in kf.spans(text, text if name in ("instruction", "input") else ""):
            for key in keys:
                if kf.matches(key, span):
                    where = {"marker": f"after {span.cue!r}", "paren": "in parentheses",
                             "after_question": "after the question"}[span.kind]
                    return "answer_in_prompt", f"{name}: {key.kind} {key.text[:40]!r} {where}: {span.text[:60]!r}"
    return None


def earlier_turn(ctx: Ctx, rules: Mapping[str, Any]) -> tuple[str, str] | None:
    """An earlier assistant turn already holds the final output."""
    if ctx.intent.label == "repeat" or not ctx.out_units or not ctx.rec.get("history"):
        return None
    cjk = ctx.cjk()
    long_enough = len(ctx.out_units) >= int(rules.get("earlier_min_chars" if cjk else "earlier_min_words", 8))
    q_units = ctx.units_of(ctx.rec.get("instruction") or "")
    for i, turn in enumerate(ctx.rec.get("history") or []):
        prev = turn.get("output") or ""
        c = containment(ctx.out_units, prev, ctx.n)
        if c < float(rules.get("earlier_min_containment", 0.9)):
            continue
        same_q = _jaccard(q_units, units(turn.get("instruction") or ""), ctx.n)
        if long_enough or same_q >= float(rules.get("earlier_same_question", 0.8)):
            return "earlier_turn", f"history[{i}].output holds {c:.0%} of the output: {matched_span(ctx.out_units, prev, ctx.n)!r}"
    return None


def _jaccard(a: Sequence[str], b: Sequence[str], n: int) -> float:
    ga, gb = gram_set(a, n), gram_set(b, n)
    return len(ga & gb) / len(ga | gb) if ga and gb else 0.0


def echo(ctx: Ctx, rules: Mapping[str, Any]) -> tuple[str, str] | None:
    """The input (or the instruction, when there is no input) reappears verbatim as the output."""
    if ctx.intent.legit_overlap or not ctx.out_units:
        return None
    name = "input" if (ctx.rec.get("input") or "").strip() else "instruction"
    text = ctx.rec.get(name) or ""
    src = ctx.units_of(text)
    cjk = not text.isascii() and is_cjk_units(src)  # ASCII text has no CJK units
    if len(src) < int(rules.get("echo_min_chars" if cjk else "echo_min_words", 5)):
        return None
    if len(src) < float(rules.get("echo_min_share", 0.8)) * len(ctx.out_units):
        return None
    if _verbatim(text) not in _verbatim(ctx.output):
        return None
    return "echo", f"output repeats the {name} verbatim: {_join(src[:30])!r}"


def _verbatim(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def skeleton(ctx: Ctx, rules: Mapping[str, Any]) -> tuple[str, str] | None:
    """One prompt part holds most of the output, which is not a small excerpt of it."""
    if ctx.intent.legit_overlap:
        return None
    cjk = ctx.cjk()
    if len(ctx.out_units) < int(rules.get("skeleton_min_chars" if cjk else "skeleton_min_words", 8)):
        return None
    need = float(rules.get("skeleton_min_containment", 0.7))
    share = float(rules.get("skeleton_min_share", 0.3))
    parts = ctx.parts()
    vocab = {u for _, text in parts for u in ctx.units_of(text)}
    max_novel, novel = float(rules.get("skeleton_max_novel", 0.05)) * len(ctx.out_units), 0
    for u in ctx.out_units:
        if u not in vocab:
            novel += 1
            if novel > max_novel:
                return None  # the output adds its own content (e.g. a restated question + answer)
    comprehension = is_question(ctx.rec.get("instruction") or "", rules)
    for name, text in parts:
        if comprehension and name in ("input", "instruction"):
            continue  # restating the question, or answering it from its context
        tu = ctx.units_of(text)
        c = containment(ctx.out_units, text, ctx.n, tu)
        if c >= need and len(ctx.out_units) >= share * len(tu):
            return "skeleton", f"{name} holds {c:.0%} of the output: {matched_span(ctx.out_units, text, ctx.n)!r}"
    return None


def is_question(instruction: str, rules: Mapping[str, Any]) -> bool:
    """Whether an instruction asks a question (see ``question_openers`` in the rules)."""
    t = instruction.strip()
    if t.endswith(("?", "？")):
        return True
    first = units(t)[:1]
    if first and first[0] in {w.casefold() for w in rules.get("question_openers") or []}:
        return True
    return any(w in t for w in rules.get("question_words_zh") or [])
