"""Length signals: empty output, too short (absolute, or for a long-form task), too long.

Lengths are script-aware tokens (CJK characters, words otherwise), thresholds per language.
A one-word answer is legitimate ("Paris.", "In one word..."), so the absolute minimum is
tiny by default; the stronger test is a long-form request ("write an essay", "写一篇文章")
answered with a handful of tokens.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from pipeline.quality.context import Ctx, per_lang
from pipeline.quality.lexicon import compile_phrases


class Length:
    """Scores ``length``; checks ``empty_output``, ``too_short``, ``too_long``."""

    def __init__(self, rules: Mapping[str, Any]):
        checks = rules.get("checks") or {}
        self.short = dict(checks.get("too_short") or {})
        self.long = dict(checks.get("too_long") or {})
        self.longform_re = compile_phrases(rules.get("longform_cues") or {})
        self.size_re = re.compile(r"\d+\s*(?:words?|sentences?|lines?|个?字|句)|one sentence|a sentence|一句话|一段话", re.I)

    def _longform(self, instruction: str) -> bool:
        # The cue must open the instruction ("Write an essay...", "请写一篇..."): "Select a
        # topic to write an essay about" asks for a topic. A stated size ("in 20 words",
        # "一句话") is the format stage's business.
        m = self.longform_re.search(instruction[:300])
        return bool(m) and m.start() <= int(self.short.get("longform_cue_max_offset", 8)) \
            and not self.size_re.search(instruction[:300])

    def __call__(self, ctx: Ctx) -> tuple[dict, list]:
        n = len(ctx.toks)
        scores = {"length": float(n)}
        if not ctx.output.strip():
            return scores, [("empty_output", "output is empty or whitespace")]
        hits = []
        lo = per_lang(self.short.get("min_tokens", 1), ctx.lang) or 0
        if n < lo:
            hits.append(("too_short", f"{n} tokens < {lo}"))
        elif self._longform(ctx.instruction):
            lo_form = per_lang(self.short.get("min_tokens_longform", 0), ctx.lang) or 0
            if n < lo_form:
                hits.append(("too_short", f"long-form task answered in {n} tokens (< {lo_form})"))
        hi = per_lang(self.long.get("max_tokens", 0), ctx.lang) or 0
        if hi and n > hi:
            hits.append(("too_long", f"{n} tokens > {hi}"))
        return scores, hits
