"""`leak`: the prompt must not give the answer away (rule 5 of the design).

Per record: recognise the task intent from the instruction
(:mod:`pipeline.leak.intent`), measure ``scores.leak_overlap`` (share of the
output's n-grams found in the prompt), and run the leak cases of
:mod:`pipeline.leak.detect` in priority order: ``marked_option``,
``answer_in_prompt``, ``earlier_turn``, ``echo``, ``skeleton``. Tasks whose output
legitimately overlaps the prompt (rewrite, extract, convert, translate, summarise,
classify/sort, repeat) never trigger echo or skeleton; give-away checks run for them
only where the rules say so (classification: a label in the prompt is a leak).
Reasons are ``leak_<case>``; the detail names the prompt part and the matched span.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.decontam.text import is_cjk_units, units
from pipeline.leak import detect
from pipeline.leak.intent import IntentRecognizer
from pipeline.leak.keys import KeyFinder
from pipeline.processor import Stage, judge
from pipeline.record import Batch, Verdict
from pipeline.registry import register

CHECKS = ("marked_option", "answer_in_prompt", "earlier_turn", "echo", "skeleton")


@register
class Leak(Stage):
    """Answer leaks inside one record."""

    name = "leak"

    def setup(self) -> None:
        self._intent = IntentRecognizer(self.rules)
        self._keys = KeyFinder(self.rules)
        self._marks = [str(m) for m in self.rules.get("option_marks") or []]
        self._checks = tuple(c for c in CHECKS if self.enabled(c))

    @classmethod
    def validate_rules(cls, rules: Mapping[str, Any]) -> list[str]:
        probs = []
        for k in ("earlier_min_containment", "skeleton_min_containment", "skeleton_min_share", "echo_min_share"):
            v = rules.get(k, 0.5)
            if not isinstance(v, (int, float)) or not 0 < v <= 1:
                probs.append(f"{k}: must be in (0, 1], got {v!r}")
        for k in ("n_word", "n_char"):
            v = rules.get(k, 1)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                probs.append(f"{k}: must be a positive integer, got {v!r}")
        known = set(rules.get("intents") or {})
        for k in ("legit_overlap", "giveaway_checked"):
            for label in rules.get(k) or []:
                if label not in known:
                    probs.append(f"{k}: {label!r} is not an intent in `intents`")
        return probs

    def _ready(self) -> None:
        if not hasattr(self, "_intent"):
            self.setup()

    def check_record(self, rec: Mapping[str, Any]) -> tuple[list[tuple[str, str]], float, str]:
        """``(hits, leak_overlap, intent label)`` for one record, hits in priority order."""
        self._ready()
        output = rec.get("output") or ""
        out_units = units(output)
        cjk = not output.isascii() and is_cjk_units(out_units)  # ASCII text has no CJK units
        n = int(self.rules.get("n_char" if cjk else "n_word", 3))
        ctx = detect.Ctx(rec, self._intent(rec.get("instruction") or "", rec.get("system") or ""), out_units, n, cjk)
        score = round(detect.overlap(ctx), 4)
        if not out_units:
            return [], score, ctx.intent.label
        found = {
            "marked_option": lambda: detect.marked_option(ctx, self._keys, self._marks),
            "answer_in_prompt": lambda: detect.answer_in_prompt(ctx, self._keys),
            "earlier_turn": lambda: detect.earlier_turn(ctx, self.rules),
            "echo": lambda: detect.echo(ctx, self.rules),
            "skeleton": lambda: detect.skeleton(ctx, self.rules),
        }
        hits: list[tuple[str, str]] = []
        for check in self._checks:
            if check == "answer_in_prompt" and hits and hits[-1][0] == "marked_option":
                continue  # the same evidence, already reported
            if check == "skeleton" and any(h[0] == "echo" for h in hits):
                continue
            hit = found[check]()
            if hit:
                hits.append(hit)
        return hits, score, ctx.intent.label

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        self._ready()
        verdicts = []
        n = len(batch.get("id") or [])
        keys = ("system", "history", "instruction", "input", "output")
        for i in range(n):
            rec = {k: batch[k][i] for k in keys}
            hits, score, _ = self.check_record(rec)
            verdicts.append(judge(self, hits, {"leak_overlap": score}))
        return batch, verdicts
