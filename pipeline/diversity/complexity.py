"""Complexity score in [0, 1] and its easy/medium/hard bucket.

The score is a weighted sum of five saturating terms, each in [0, 1]:

* instruction length (CJK characters + words, log-scaled),
* number of constraints (cue phrases such as "at most 3", "用JSON格式", plus the
  format stage's requirements in ``meta.format.requirements`` when present),
* reasoning cues ("step by step", "why", "证明", "分析"),
* output length (log-scaled) and structure (list items, code blocks, headings),
* multi-turn depth (earlier turns).

Weights, saturation points, cue patterns and bucket edges live in
``rules/diversity.yaml`` under ``complexity``.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.diversity.text import (
    list_items,
    literal_clauses,
    literal_test,
    lowercase_safe,
    needs_non_ascii,
    units,
    word_set,
)

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s|^\s*\*\*[^*\n]{2,60}\*\*\s*$", re.MULTILINE)
TERMS = ("instruction", "constraints", "reasoning", "output", "turns")


@dataclass(frozen=True)
class Complexity:
    """The score, its bucket and the raw feature values that produced it."""

    score: float
    bucket: str
    features: dict


def _sat(x: float, full: float) -> float:
    return min(1.0, x / full) if full > 0 else 0.0


def _log_sat(x: float, full: float) -> float:
    return min(1.0, math.log1p(x) / math.log1p(full)) if full > 0 else 0.0


def _rx(block: Mapping[str, Any] | None) -> list[tuple]:
    """(needs non-ASCII text, literal test or None, compiled pattern) per pattern (see
    ``text.literal_clauses``).

    Matched against lowercased text; IGNORECASE (slow) only for patterns with uppercase
    literals. A text that fails the literal test has no match, so the pattern is skipped;
    so is a pattern that needs a non-ASCII literal, in ASCII text.
    """
    block = block or {}
    out = []
    for p in (block.get("en") or []) + (block.get("zh") or []):
        flags = 0 if lowercase_safe(p) else re.IGNORECASE
        clauses = literal_clauses(p, flags)
        out.append((needs_non_ascii(clauses), literal_test(clauses), re.compile(p, flags)))
    return out


def complexity_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Config problems of the ``complexity`` block."""
    probs = []
    weights = cfg.get("weights") or {}
    for k in weights:
        if k not in TERMS:
            probs.append(f"complexity.weights.{k}: unknown term; known: {', '.join(TERMS)}")
    if any(float(v) < 0 for v in weights.values()):
        probs.append("complexity.weights: weights must be >= 0")
    b = cfg.get("buckets") or {}
    med, hard = float(b.get("medium", 0.3)), float(b.get("hard", 0.6))
    if not 0 <= med <= hard <= 1:
        probs.append(f"complexity.buckets: need 0 <= medium ({med}) <= hard ({hard}) <= 1")
    for key in ("constraint_patterns", "reasoning_patterns"):
        for p in ((cfg.get(key) or {}).get("en") or []) + ((cfg.get(key) or {}).get("zh") or []):
            try:
                re.compile(p)
            except re.error as e:
                probs.append(f"complexity.{key}: bad pattern {p!r}: {e}")
    return probs


class ComplexityScorer:
    """Compiled complexity rules; build once per worker."""

    def __init__(self, cfg: Mapping[str, Any]):
        self.weights = {k: float((cfg.get("weights") or {}).get(k, 0.0)) for k in TERMS}
        self._total_w = sum(self.weights.values()) or 1.0
        f = cfg.get("saturation") or {}
        self._sat_at = {k: float(f.get(k, d)) for k, d in (  # where each term reaches 1.0
            ("instruction_units", 80), ("constraints", 4), ("reasoning_cues", 2), ("output_units", 400),
            ("output_structure", 8), ("turns", 4))}
        b = cfg.get("buckets") or {}
        self.medium, self.hard = float(b.get("medium", 0.3)), float(b.get("hard", 0.6))
        # Per text kind: the patterns for ASCII text (True) and for any text (False).
        cons, reason = _rx(cfg.get("constraint_patterns")), _rx(cfg.get("reasoning_patterns"))
        self._constraints = {a: [(t, rx) for wide, t, rx in cons if not (a and wide)] for a in (True, False)}
        self._reasoning = {a: [(t, rx) for wide, t, rx in reason if not (a and wide)] for a in (True, False)}

    def bucket(self, score: float) -> str:
        """easy / medium / hard by the configured edges."""
        return "hard" if score >= self.hard else "medium" if score >= self.medium else "easy"

    def score(self, instruction: str, input_: str, output: str, history_len: int,
              requirements: int = 0, *, out_units: int | None = None,
              out_items: int | None = None) -> Complexity:
        """Score one record.

        Args:
            instruction: The request; its length and cue phrases count.
            input_: Context; counted at half weight in the instruction length, since
                a long context makes a task harder to read but not harder to specify.
            output: The answer; its length and structure count.
            history_len: Earlier turns.
            requirements: Format requirements found by the format stage.
            out_units: ``units(output)`` when the caller has it already (else computed here).
            out_items: ``list_items(output)`` likewise.
        """
        f = self._sat_at
        n_instr = units(instruction) + units(input_) / 2
        low = instruction.lower()
        words = word_set(low)
        n_cons = requirements
        ascii = low.isascii()
        for test, rx in self._constraints[ascii]:
            if test is None or test(low, words):
                n_cons += len(rx.findall(low))
        n_reason = 0
        for test, rx in self._reasoning[ascii]:
            if (test is None or test(low, words)) and rx.search(low):
                n_reason += 1
        n_out = units(output) if out_units is None else out_units
        n_struct = (list_items(output) if out_items is None else out_items) + output.count("```") // 2
        if "#" in output or "**" in output:  # each heading form needs one of them
            n_struct += len(_HEADING.findall(output))
        terms = {
            "instruction": _log_sat(n_instr, f["instruction_units"]),
            "constraints": _sat(n_cons, f["constraints"]),
            "reasoning": _sat(n_reason, f["reasoning_cues"]),
            "output": 0.7 * _log_sat(n_out, f["output_units"]) + 0.3 * _sat(n_struct, f["output_structure"]),
            "turns": _sat(history_len, f["turns"]),
        }
        s = round(sum(self.weights[k] * terms[k] for k in TERMS) / self._total_w, 4)
        feats = {"instruction_units": n_instr, "constraints": n_cons, "reasoning_cues": n_reason,
                 "output_units": n_out, "output_structure": n_struct, "turns": history_len}
        return Complexity(s, self.bucket(s), feats)
