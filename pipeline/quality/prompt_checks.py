"""Prompt-side signals: missing input, and tasks a text model cannot do.

Missing input: the instruction points at content ("the following article", "给定的句子")
while the input is empty and the instruction itself does not carry that content (no
colon/quote/new line followed by text, nothing substantial after the pointer).

Impossible tasks: drawing or generating an image, opening a URL, listening to audio or
watching a video. Only outputs that *pretend* to do the task are hits; an output that
says it cannot (a refusal) is left to the refusal stage.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from pipeline.quality.context import Ctx
from pipeline.quality.lexicon import compile_phrases
from pipeline.text import script

# Inline content after a pointer: "...: <text>", "... - <text>", a new line, a quoted
# span, or a further sentence ("Answer the following question. Puppies have...").
_INLINE_RE = re.compile(
    r"[:：]\s*\S|\s[-–—]+\s*\S.{3,}|\n\s*\S|[\"“「『'‘][^\"”」』'’]{4,}[\"”」』'’]"
    r"|[.?!。？！]\s*\S.{6,}", re.S)


class PromptChecks:
    """Scores ``missing_input``, ``impossible_task``; same-named checks."""

    def __init__(self, rules: Mapping[str, Any]):
        checks = rules.get("checks") or {}
        self.missing = dict(checks.get("missing_input") or {})
        self.missing_re = compile_phrases(rules.get("missing_input_cues") or {})
        self.not_missing_re = compile_phrases(rules.get("missing_input_exceptions") or {})
        self.impossible_re = compile_phrases(rules.get("impossible_task_cues") or {})
        self.url_task_re = compile_phrases(rules.get("url_task_cues") or {})
        self.cannot_re = compile_phrases(rules.get("inability_cues") or {})

    def __call__(self, ctx: Ctx) -> tuple[dict, list]:
        hits = []
        miss = self._missing(ctx)
        if miss:
            hits.append(("missing_input", miss))
        imp = self._impossible(ctx)
        if imp:
            hits.append(("impossible_task", imp))
        return {"missing_input": float(bool(miss)), "impossible_task": float(bool(imp))}, hits

    def _missing(self, ctx: Ctx) -> str:
        # A clarification asking for the missing input is exactly the right answer.
        if ctx.input.strip() or ctx.response_type == "clarification":
            return ""
        ins = ctx.instruction
        m = self.missing_re.search(ins)
        if not m or self.not_missing_re.search(ins):
            return ""
        after = ins[m.end():]
        if _INLINE_RE.search(after) or _INLINE_RE.search(ins[:m.start()]):
            return ""
        if script.token_count(after) >= int(self.missing.get("max_tokens_after_cue", 12)):
            return ""
        return f"instruction refers to {m.group(0)!r} but no input is given"

    def _impossible(self, ctx: Ctx) -> str:
        # Drawing with code (turtle, Scratch, canvas) is a text task.
        m = None if ctx.codeish else self.impossible_re.search(ctx.instruction)
        what = m.group(0) if m else ""
        if not what and not ctx.codeish and script.URL_RE.search(ctx.prompt):
            m = self.url_task_re.search(ctx.instruction)
            what = f"open a URL ({m.group(0)})" if m else ""
        if not what or not ctx.output.strip():
            return ""
        if self.cannot_re.search(ctx.output[:600]):
            return ""
        return f"asks to {what!r} and the output pretends to do it"
