"""Non-answer and truncation signals.

Non-answers: a placeholder ("N/A", "<noinput>", "I don't know", "不知道") with nothing
else; an output equal to the instruction or the input (unless the task is to correct
or copy text that may already be right); an output that only restates the question.
Truncation: unclosed code fence or bracket, a trailing list marker with no item, an
ending on a dangling function word ("... and the"), a trailing ellipsis on a long answer.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from typing import Any, Mapping

from pipeline.quality.context import Ctx
from pipeline.quality.lexicon import compile_phrases
from pipeline.text import script

_NORM_RE = re.compile(r"[\W_]+")
# A list marker with nothing after it, on its own last line after earlier lines.
_BARE_MARKER_RE = re.compile(r"\n\s*(?:\d{1,3}[.)、]|[-*•]|[一二三四五六七八九十]+、)\s*$")
# Bracket families; full- and half-width parentheses mix freely in Chinese text.
_OPENERS, _CLOSERS = "([{（【《", ")]}）】》"
_TERMINAL = ".!?。！？…"
_ORDINARY_PUNCT = frozenset(".,;:!?'\"。，；：！？、“”‘’")
_LIST_ITEM_RE = re.compile(r"(?:^|\n)\s*(?:\d{1,3}[.)、]|[-*•]|[一二三四五六七八九十]+、)\s*\S")


def norm(text: str) -> str:
    """Case-folded text with punctuation and whitespace removed, for placeholder tests."""
    return _NORM_RE.sub("", text.casefold())


def light_norm(text: str) -> str:
    """Text with whitespace collapsed (case and punctuation kept).

    Echo tests use this light form: inserting punctuation or spaces ("I like running" ->
    "I like running.", "Iamadoglover" -> "I am a dog lover") or changing case ("heard" ->
    "HEARD") is a real answer.
    """
    return " ".join(text.split())


def ends_inside_bracket(text: str) -> str:
    """The opener when the text ends inside an unclosed bracket (or ``` fence), else ""."""
    if text.count("```") % 2:
        return "```"
    last_open = max(map(text.rfind, _OPENERS))
    if last_open < 0 or max(map(text.rfind, _CLOSERS)) > last_open:
        return ""
    if text.rstrip()[-1:] in _TERMINAL:
        return ""
    return text[last_open]


class Answers:
    """Scores ``non_answer``, ``echo``, ``restate_sim``, ``truncated``; same-named checks
    (``restates_question`` for the similarity one)."""

    def __init__(self, rules: Mapping[str, Any]):
        checks = rules.get("checks") or {}
        self.placeholders = {norm(p) for p in (rules.get("non_answers") or ())} - {""}
        self.placeholder_raw = {p.strip().lower() for p in (rules.get("non_answers") or ())}
        self.placeholder_max = max(map(len, self.placeholders), default=0)
        self.echo_exempt_re = compile_phrases(rules.get("echo_exempt_cues") or {})
        self.echo = dict(checks.get("echo") or {})
        self.restate = dict(checks.get("restates_question") or {})
        self.restate_exempt_re = compile_phrases(rules.get("restate_exempt_cues") or {})
        self.trunc = dict(checks.get("truncated") or {})
        self.dangling_re = compile_phrases(rules.get("dangling_endings") or {})

    def __call__(self, ctx: Ctx) -> tuple[dict, list]:
        out = ctx.output.strip()
        hits = []
        # An ASCII output keeps at least one character per token in ``norm``, so one with
        # more tokens than the longest placeholder has cannot be one (skips the regex).
        placeholder = out.lower() in self.placeholder_raw
        if not placeholder and not (out.isascii() and len(ctx.toks) > self.placeholder_max):
            n_out = norm(out)
            placeholder = bool(n_out) and n_out in self.placeholders
        if placeholder:
            hits.append(("non_answer", f"placeholder output {out[:40]!r}"))
        echo = self._echo(ctx, light_norm(out))
        if echo:
            hits.append(("echo", echo))
        sim = 0.0 if placeholder or echo else self._restate_sim(ctx)
        if sim >= float(self.restate.get("min_similarity", 0.85)):
            hits.append(("restates_question", f"output {sim:.0%} similar to the instruction"))
        trunc = self._truncated(ctx, out) if out else ""
        if trunc:
            hits.append(("truncated", trunc))
        scores = {"non_answer": float(placeholder), "echo": float(bool(echo)),
                  "restate_sim": round(sim, 4), "truncated": float(bool(trunc))}
        return scores, hits

    def _echo(self, ctx: Ctx, n_out: str) -> str:
        if len(ctx.toks) < int(self.echo.get("min_tokens", 3)):
            return ""
        if n_out == light_norm(ctx.instruction):
            return "output repeats the instruction"
        if ctx.input and n_out == light_norm(ctx.input) and not self.echo_exempt_re.search(ctx.instruction):
            return "output repeats the input"
        return ""

    def _restate_sim(self, ctx: Ctx) -> float:
        # Only an output about as long as the question can be a mere restatement; a long
        # answer that starts by repeating the question is fine.
        n_out = len(ctx.toks)
        # The instruction has at most one token per character: a longer output is already
        # too long, without tokenising the instruction.
        if n_out < int(self.restate.get("min_tokens", 4)) or n_out > 1.2 * len(ctx.instruction):
            return 0.0
        n_ins = len(ctx.ins_toks)
        if not n_ins or self.restate_exempt_re.search(ctx.instruction):
            return 0.0
        if not 0.6 * n_ins <= n_out <= 1.2 * n_ins:
            return 0.0
        a = [t.lower() for t in ctx.toks]
        b = [t.lower() for t in ctx.ins_toks]
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        if sm.real_quick_ratio() < 0.85:
            return 0.0
        # Tokens of the output beyond those of the instruction (as a multiset: "可以，用户可以..."
        # answers "用户可以...吗？") are new information.
        new = Counter(a) - Counter(b)
        # Symbols are answers too ("R中的注释符号是#。").
        symbols = {c for c in ctx.output if not c.isalnum() and not c.isspace()} - set(ctx.instruction) - _ORDINARY_PUNCT
        if symbols:
            return 0.0
        return sm.ratio() if sum(new.values()) <= int(self.restate.get("max_new_tokens", 0)) else 0.0

    def _truncated(self, ctx: Ctx, out: str) -> str:
        """Why the stripped, non-empty output ``out`` looks cut off, or ""."""
        u = ends_inside_bracket(out)
        if u == "```" or (u and not ctx.codeish):
            return f"ends inside an unclosed {u}"
        # A bare marker ends a list only when a list precedes it ("答案是\n3." is an answer).
        m = _BARE_MARKER_RE.search(out)
        if m and _LIST_ITEM_RE.search(out[:m.start()]):
            return "ends with an empty list item"
        tail = script.strip_code(out).rstrip()[-40:]
        if tail and tail[-1].isalnum() and len(ctx.toks) >= int(self.trunc.get("min_tokens", 8)):
            word = self.dangling_re.ends_with(tail)
            if word:
                return f"ends mid-sentence on {word!r}"
        if out.endswith(("...", "…")) and len(ctx.toks) >= int(self.trunc.get("ellipsis_min_tokens", 30)):
            return "ends with an ellipsis"
        return ""
