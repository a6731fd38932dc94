"""Lexicon signals: AI boilerplate, identity/cutoff leaks, toxic words.

Boilerplate and leaks can be stripped: the sentences containing them are removed from
the output, and an output left empty by stripping becomes an ``empty_output`` hit.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from pipeline.quality.context import Ctx
from pipeline.quality.lexicon import PhraseSet, compile_phrases

# Sentence pieces: text up to and including a terminator (Western or CJK) or a line end.
_SENT_RE = re.compile(r"[^.!?。！？\n]*(?:[.!?。！？]+[\"”’)）]*|\n|$)")


def strip_sentences(text: str, pattern: re.Pattern) -> str:
    """Remove every sentence that matches ``pattern``; tidy the whitespace left behind."""
    kept = [s for s in _SENT_RE.findall(text) if s and not pattern.search(s)]
    out = "".join(kept)
    out = re.sub(r"[ \t]+\n", "\n", out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


class Phrases:
    """Scores ``boilerplate``, ``identity_leak``, ``toxic``; same-named checks."""

    def __init__(self, rules: Mapping[str, Any]):
        lead = [p for lst in (rules.get("strip_leading_connectives") or {}).values() for p in (lst or ())]
        self.lead_re = re.compile("^(?:" + "|".join(map(re.escape, lead)) + r")[,，、\s]*", re.I) if lead else None
        self.boiler_re = compile_phrases(rules.get("boilerplate") or {})
        self.leak_re = compile_phrases(rules.get("identity_leaks") or {})
        self.toxic_re = compile_phrases(rules.get("toxic") or {})
        # Most outputs hold none of these phrases: one scan for all three lists says so.
        self.any_re = PhraseSet.union((self.boiler_re, self.leak_re, self.toxic_re))

    def __call__(self, ctx: Ctx) -> tuple[dict, list]:
        hits = []
        if not self.any_re.contains(ctx.output):
            return {"boilerplate": 0.0, "identity_leak": 0.0, "toxic": 0.0}, hits
        b = self.boiler_re.search(ctx.output)
        if b:
            hits.append(("boilerplate", f"AI boilerplate {b.group(0)!r}"))
        leak = self.leak_re.search(ctx.output)
        if leak:
            hits.append(("identity_leak", f"identity/cutoff leak {leak.group(0)!r}"))
        tox = self.toxic_re.findall(ctx.output)
        if tox:
            hits.append(("toxic", f"toxic terms {sorted({t.lower() for t in tox})[:5]}"))
        return {"boilerplate": float(bool(b)), "identity_leak": float(bool(leak)), "toxic": float(len(tox))}, hits

    def strip(self, text: str, check: str) -> str:
        """The text with every sentence hit by ``check`` (boilerplate or identity_leak) removed."""
        out = strip_sentences(text, self.boiler_re if check == "boilerplate" else self.leak_re)
        # "As an AI, I can't X. However, Y" -> "Y": a leading connective now refers to nothing.
        if self.lead_re is not None and out:
            stripped = self.lead_re.sub("", out, count=1)
            out = stripped[:1].upper() + stripped[1:] if stripped != out else out
        return out
