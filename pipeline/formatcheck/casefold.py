"""Plain-string stand-ins for case-insensitive regexes, for cheap literal prefilters.

A pattern compiled with ``re.IGNORECASE`` equates an ASCII letter not only with its
other ASCII case but also with a few other characters: ``İ`` and ``ı`` with ``i``,
``ſ`` with ``s``, the Kelvin sign ``K`` with ``k`` (:data:`IGNORECASE_EXTRA`; the
tests check the list against every code point). ``str.lower()`` alone misses some of
them (``"ſ".lower()`` is ``"ſ"``, ``"İ".lower()`` is two characters), so:

- :func:`fold` maps them first, then lower-cases: when an IGNORECASE pattern matches
  an ASCII literal (e.g. "answer") in a text, ``fold(literal)`` is a substring of
  ``fold(text)``. A literal absent from ``fold(text)`` rules the match out.
- :func:`plain_lower` says when a lower-cased text holds none of those characters, so
  that a pattern whose literals are lower-case ASCII matches it the same with and
  without IGNORECASE (and the case-sensitive pattern is several times faster).
"""
from __future__ import annotations

#: Characters that ``re.IGNORECASE`` equates with an ASCII letter, other than ASCII letters.
IGNORECASE_EXTRA = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
_FOLD = str.maketrans(IGNORECASE_EXTRA)


def fold(text: str) -> str:
    """``text`` lower-cased, with the other IGNORECASE equivalents of ASCII letters mapped to them."""
    if text.isascii() or not any(c in text for c in IGNORECASE_EXTRA):
        return text.lower()
    return text.translate(_FOLD).lower()


def plain_lower(lowered: str) -> bool:
    """True when the lower-cased ``lowered`` has no character IGNORECASE would equate with
    another ASCII letter (``ı``, ``ſ``; ``İ`` and ``K`` do not survive ``lower()``)."""
    return lowered.isascii() or not any(c in lowered for c in IGNORECASE_EXTRA)
