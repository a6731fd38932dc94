"""Compile the bilingual cue lists of ``rules/refusal.yaml`` into one regex per group.

Each group (``refusal``, ``clarification``, ...) holds ``{en: [...], zh: [...]}`` lists of
regular-expression strings. Both languages are joined into one alternation: outputs
often mix scripts (English product names in Chinese answers), and a Chinese cue can
never match English text anyway, so there is no reason to pick a list first. A group
also carries a :class:`~pipeline.refusal.prefilter.Prefilter`, checked first when the
text is given as a :class:`~pipeline.refusal.prefilter.Haystack`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.refusal.prefilter import Haystack, Prefilter

try:  # the regex parser is private; without it patterns simply go unguarded (see guard())
    import re._constants as _K
    import re._parser as _P
except ImportError:  # Python < 3.11
    import sre_constants as _K  # type: ignore[no-redef]
    import sre_parse as _P  # type: ignore[no-redef]

#: Curly quotes and apostrophes folded before matching, so cue lists need only "'".
_FOLD = ("\u2019", "\u2018", "\u02bc", "\uff07")


def fold(text: str) -> str:
    """Fold apostrophe variants to ASCII "'" (length-preserving)."""
    if not text.isascii():
        for ch in _FOLD:  # a few scans in C beat str.translate's per-character lookups
            if ch in text:
                text = text.replace(ch, "'")
    return text


_CATEGORIES = {_K.CATEGORY_WORD: r"\w", _K.CATEGORY_NOT_WORD: r"\W", _K.CATEGORY_DIGIT: r"\d",
               _K.CATEGORY_NOT_DIGIT: r"\D", _K.CATEGORY_SPACE: r"\s", _K.CATEGORY_NOT_SPACE: r"\S"}
_REPEATS = (_K.MAX_REPEAT, _K.MIN_REPEAT, getattr(_K, "POSSESSIVE_REPEAT", _K.MAX_REPEAT))


def _char(c: int) -> str:
    return f"\\U{c:08x}"


#: Zero-width conditions a match start can be known to satisfy, strongest last.
_ANCHORS = ("", "\\b", "\\A")


def _first(seq, anchor: int = 0) -> tuple[list[set[str]] | None, bool]:
    """Class items that can start a match of a parsed sequence, and whether it can match empty.

    Items are split by the anchor met before them at the same position (index into
    :data:`_ANCHORS`: none, a word boundary, the start of the text; ``^`` means the start
    because the cue patterns are compiled without MULTILINE). Returns ``(None, ...)``
    for anything not understood; the caller then adds no guard.
    """
    sets: list[set[str]] = [set(), set(), set()]
    for op, av in seq:
        if op is _K.AT:
            if av is _K.AT_BEGINNING or av is _K.AT_BEGINNING_STRING:
                anchor = 2
            elif av is _K.AT_BOUNDARY:
                anchor = max(anchor, 1)
            continue
        if op is _K.ASSERT or op is _K.ASSERT_NOT:  # lookarounds consume nothing: look further
            continue
        if op is _K.LITERAL:
            sets[anchor].add(_char(av))
            return sets, False
        if op is _K.IN:
            for iop, iav in av:
                if iop is _K.LITERAL:
                    sets[anchor].add(_char(iav))
                elif iop is _K.RANGE:
                    sets[anchor].add(f"{_char(iav[0])}-{_char(iav[1])}")
                elif iop is _K.CATEGORY and iav in _CATEGORIES:
                    sets[anchor].add(_CATEGORIES[iav])
                else:  # NEGATE and anything exotic
                    return None, False
            return sets, False
        if op is _K.BRANCH:
            alts = av[1]
        elif op is _K.SUBPATTERN:
            if av[1] or av[2]:  # scoped flags change matching; keep it simple
                return None, False
            alts = [av[3]]
        elif op in _REPEATS:
            alts = [av[2]]
        elif op is getattr(_K, "ATOMIC_GROUP", None):
            alts = [av]
        else:  # ANY, NOT_LITERAL, group references, ...
            return None, False
        nullable = op in _REPEATS and av[0] == 0
        for alt in alts:
            sub, empty = _first(alt, anchor)
            if sub is None:
                return None, False
            for mine, theirs in zip(sets, sub):
                mine |= theirs
            nullable |= empty
        if not nullable:
            return sets, False
    return sets, True


def guard(pattern: str, flags: int) -> str:
    """``pattern`` behind a lookahead on how a match can start.

    Python's ``re`` tries every alternative at every position; the big cue alternations
    (most branches opening with ``\\b``) cost about 40 steps per character. The lookahead
    (a word boundary then one of the first letters of the ``\\b`` branches, the start of
    the text then a first letter of the ``^`` branches, or a first character of the
    others) rejects most positions in a step or two. It is a necessary condition only,
    so matches, positions and groups are exactly those of ``pattern``; when the start
    cannot be worked out, ``pattern`` is returned.
    """
    if flags & re.MULTILINE:
        return pattern
    try:
        sets, empty = _first(_P.parse(pattern, flags))
    except Exception:  # a bad pattern fails at re.compile with the usual error
        return pattern
    if sets is None or empty or not any(sets):
        return pattern
    alts = [f"{a}[{''.join(sorted(items))}]" for a, items in zip(_ANCHORS, sets) if items]
    return f"(?={'|'.join(alts)})(?:{pattern})"


@dataclass(frozen=True)
class CueGroup:
    """One group's guarded alternation and the prefilter of its patterns (None: none)."""

    regex: re.Pattern
    prefilter: Prefilter | None


def compile_group(block: Mapping[str, list] | None) -> CueGroup | None:
    """One case-insensitive alternation of every language's patterns (None when empty)."""
    pats = [p for lang in sorted(block or {}) for p in (block or {})[lang] or []]
    if not pats:
        return None
    joined = "|".join(f"(?:{p})" for p in pats)
    regex = re.compile(guard(joined, re.IGNORECASE), re.IGNORECASE)
    return CueGroup(regex, Prefilter.build(pats, re.IGNORECASE))


def compile_all(section: Mapping[str, Mapping[str, list]] | None) -> dict[str, CueGroup | None]:
    """Compile every group of a rules section (``cues`` or ``intent``)."""
    return {name: compile_group(block) for name, block in (section or {}).items()}


#: Characters searched at each end of a longer text. Cue groups are large alternations
#: tried at every position (about a second per MB each, over a dozen groups per record);
#: the cues that matter open or close a request or a reply, not its pasted middle.
EDGE_CHARS = 20_000


def search(group: CueGroup | None, text: str | Haystack) -> re.Match | None:
    """``group.regex.search(text)`` that tolerates a missing group.

    Given a :class:`Haystack`, the group's prefilter is checked first; it only skips
    texts the regex cannot match. A text over ``2 * EDGE_CHARS`` is searched in its
    first and last ``EDGE_CHARS`` only (joined by a line break, and not prefiltered);
    match positions are then relative to that window, which no caller uses on such
    long texts (they read the truth value and ``group(0)``).
    """
    if group is None:
        return None
    hay = text if isinstance(text, Haystack) else None
    text = hay.text if hay is not None else text
    if not text:
        return None
    if len(text) > 2 * EDGE_CHARS:
        text = text[:EDGE_CHARS] + "\n" + text[-EDGE_CHARS:]
    elif hay is not None and group.prefilter is not None and not group.prefilter.possible(hay):
        return None
    return group.regex.search(text)


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
