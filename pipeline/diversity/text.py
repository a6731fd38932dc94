"""Small bilingual text measurements shared by the diversity taggers.

Chinese has no spaces, so lengths count CJK characters one by one and
space-delimited words as whole units; a mixed sentence gets the sum of both.
"""
from __future__ import annotations

import re

# CJK Unified Ideographs (+ extension A) and CJK punctuation/full-width forms.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_LIST_LINE = re.compile(r"^\s*(?:[-*•·]|\d{1,3}[.)、]|[一二三四五六七八九十]+[、.])\s*\S", re.MULTILINE)


def cjk_count(text: str) -> int:
    """Number of CJK ideographs in ``text``."""
    return len(_CJK.findall(text))


def units(text: str) -> int:
    """Length in language-neutral units: CJK characters plus non-CJK words."""
    if not text:
        return 0
    return cjk_count(text) + len(_WORD.findall(text))


def guess_lang(text: str) -> str:
    """'zh' when at least a fifth of the length units are CJK characters, else 'en'.

    Used only when the language stage has not tagged the record; the diversity
    stage never writes this guess into the record's ``lang`` field.
    """
    n = units(text)
    return "zh" if n and cjk_count(text) / n >= 0.2 else "en"


def list_items(text: str) -> int:
    """Number of lines that look like list items (bullets, ``1.``, ``一、``)."""
    return len(_LIST_LINE.findall(text)) if text else 0


_ITEM_SEP = re.compile(r"[,，、;；]")


def comma_items(text: str, max_units: int = 4) -> int:
    """Number of parts of a comma/semicolon enumeration ("red, green, blue"; "吉他、长笛").

    Prose with a few commas is not a list, so parts longer than ``max_units`` on
    average give 0.
    """
    parts = [p for p in _ITEM_SEP.split(text) if p.strip()]
    if len(parts) < 2 or sum(units(p) for p in parts) > max_units * len(parts):
        return 0
    return len(parts)


def first_sentence(text: str, limit: int = 120) -> str:
    """The first sentence (or line) of ``text``, at most ``limit`` characters."""
    text = text.strip()
    m = re.search(r"[.!?。！？\n]", text)
    cut = text[: m.start() + 1] if m and m.start() > 0 else text
    return cut[:limit]


def lowercase_safe(pattern: str) -> bool:
    """True when ``pattern`` has no uppercase literal, so matching it case-sensitively
    against lowercased text equals matching it case-insensitively against the text.

    Escapes (``\\W``, ``\\S``, ``\\N{...}``) are skipped: their letters are not literals.
    """
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if pattern.startswith("N{", i + 1):
                end = pattern.find("}", i)
                i = end + 1 if end > 0 else n
            else:
                i += 2
            continue
        if c != c.lower():
            return False
        i += 1
    return True
