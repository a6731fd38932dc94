"""Compile the bilingual cue lists of ``rules/refusal.yaml`` into one regex per group.

Each group (``refusal``, ``clarification``, ...) holds ``{en: [...], zh: [...]}`` lists of
regular-expression strings. Both languages are joined into one alternation: outputs
often mix scripts (English product names in Chinese answers), and a Chinese cue can
never match English text anyway, so there is no reason to pick a list first.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

#: Curly quotes and apostrophes folded before matching, so cue lists need only "'".
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})


def fold(text: str) -> str:
    """Fold apostrophe variants to ASCII "'" (length-preserving)."""
    return text.translate(_FOLD)


def compile_group(block: Mapping[str, list] | None) -> re.Pattern | None:
    """One case-insensitive alternation of every language's patterns (None when empty)."""
    pats = [p for lang in sorted(block or {}) for p in (block or {})[lang] or []]
    if not pats:
        return None
    return re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)


def compile_all(section: Mapping[str, Mapping[str, list]] | None) -> dict[str, re.Pattern | None]:
    """Compile every group of a rules section (``cues`` or ``intent``)."""
    return {name: compile_group(block) for name, block in (section or {}).items()}


#: Characters searched at each end of a longer text. Cue groups are large alternations
#: tried at every position (about a second per MB each, over a dozen groups per record);
#: the cues that matter open or close a request or a reply, not its pasted middle.
EDGE_CHARS = 20_000


def search(pat: re.Pattern | None, text: str) -> re.Match | None:
    """``pat.search(text)`` that tolerates a missing group.

    A text over ``2 * EDGE_CHARS`` is searched in its first and last ``EDGE_CHARS`` only
    (joined by a line break); match positions are then relative to that window, which
    no caller uses on such long texts (they read the truth value and ``group(0)``).
    """
    if pat is None or not text:
        return None
    if len(text) > 2 * EDGE_CHARS:
        text = text[:EDGE_CHARS] + "\n" + text[-EDGE_CHARS:]
    return pat.search(text)


def problems(rules: Mapping) -> list[str]:
    """Patterns that do not compile, as config problems."""
    out = []
    for section in ("cues", "intent"):
        for name, block in (rules.get(section) or {}).items():
            if not isinstance(block, Mapping):
                out.append(f"{section}.{name}: expected a mapping of language -> list")
                continue
            for lang, pats in block.items():
                for i, p in enumerate(pats or []):
                    try:
                        re.compile(p)
                    except (re.error, TypeError) as e:
                        out.append(f"{section}.{name}.{lang}[{i}]: bad pattern: {e}")
    return out
