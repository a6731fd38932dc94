"""What an instruction asks for: clearly harmful, benign despite scary words, or needing an input.

The over-refusal judgement needs to know whether declining was warranted. A request is
*harmful* when a harmful cue remains after removing benign technical/everyday senses
("kill a process", "shoot a photo", "杀死僵尸进程"), which are matched first.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline.refusal.cues import compile_all, fold, search
from pipeline.refusal.prefilter import Haystack


class Intent:
    """Instruction-side lexicons from the ``intent`` rules."""

    def __init__(self, rules: Mapping[str, Any]):
        self.pats = compile_all(rules.get("intent"))

    def benign_sense(self, prompt: str) -> str:
        """The first benign-sense phrase in the prompt ("" if none)."""
        m = search(self.pats.get("benign_sense"), fold(prompt or ""))
        return m.group(0) if m else ""

    def harmful(self, prompt: str) -> str:
        """The first harmful cue left after blanking benign-sense phrases ("" if none)."""
        text = fold(prompt or "")
        benign = self.pats.get("benign_sense")
        if benign is not None:
            text = benign.regex.sub(lambda m: " " * len(m.group(0)), text)
        m = search(self.pats.get("harmful"), text)
        return m.group(0) if m else ""

    def safety_reason(self, output: str) -> str:
        """A safety/ethics justification in a refusal ("" if none)."""
        m = search(self.pats.get("safety_reason"), fold(output or ""))
        return m.group(0) if m else ""

    def needs_input(self, instruction: str) -> tuple[str, str]:
        """(cue phrase, missing thing) when the instruction points at content it expects.

        The missing thing is the first capture group of the matching pattern, e.g.
        ("the following article", "article") or ("以下文章", "文章").
        """
        pat = self.pats.get("needs_input")
        m = search(pat, Haystack(fold(instruction or "")))
        if not m:
            return "", ""
        noun = next((g for g in m.groups() if g), "")
        return m.group(0), noun.lower() if noun.isascii() else noun


def missing_noun(noun: str) -> str:
    """Normalise a captured noun for use in a response ("sentences" -> "sentence")."""
    noun = noun.strip()
    return re.sub(r"(?<=[a-z])s$", "", noun) if noun.isascii() and noun not in ("lyrics", "words", "numbers") else noun
