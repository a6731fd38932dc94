"""Foreign-script spans inside a text: long English runs in Chinese prose and the reverse.

Used by the ``language_mixed`` check. Code is not prose, so fenced blocks, inline code,
URLs and code-looking lines are skipped before measuring.
"""
from __future__ import annotations

import re

from pipeline.text import script

# A line is treated as code when it carries these programming symbols; prose rarely does.
_CODE_LINE_RE = re.compile(r"[=;{}<>\[\]]|\w\(|\(\s*\)|^\s*(?:import|from|def|class|return|#include|SELECT|print)\b")
# Cheap searches over a whole text that find something whenever some line matches
# _CODE_LINE_RE; lines broken at characters other than "\n" are left to the exact test.
_CODE_SYMBOL_RE = re.compile(r"[=;{}<>\[\]]")
_CODE_PAREN_RE = re.compile(r"\w\(|\(\s*\)")
_CODE_KEYWORD_RE = re.compile(r"^\s*(?:import|from|def|class|return|#include|SELECT|print)\b", re.MULTILINE)
_OTHER_LINE_BREAK_RE = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Han runs may contain CJK punctuation and spaces between characters.
_HAN_SPAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff][\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef\s]*")


# Quoted names ("“When Button () Pressed”" in a Chinese answer) are not untranslated prose.
_QUOTED_RE = re.compile(r"“[^”]{0,200}”|「[^」]{0,200}」|『[^』]{0,200}』|\"[^\"\n]{0,200}\"|《[^》]{0,100}》")
# Chinese punctuation and the ideographic comma separate items in lists of names.
_SEG_SPLIT_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]+")


_ITEM_SPLIT_RE = re.compile(r"[\n、;；，]|,\s")


def prose_like(text: str, min_words: float = 6.0) -> bool:
    """True when the text reads as sentences, not a list of names or short items.

    Lists of proper nouns ("Skunk, Giant Panda, Zebra") are where langdetect guesses
    German or Dutch for English; only prose is evidence of a language.
    """
    items = [s for s in _ITEM_SPLIT_RE.split(without_code(text)) if s.strip()]
    if not items:
        return False
    return len(script.WORD_RE.findall(text)) / len(items) >= min_words


def without_code(text: str) -> str:
    """The text without fenced/inline code and without code-looking lines that have no Han.

    Unfenced code (common in Code Alpaca outputs) would otherwise be "detected" as
    Romanian or Swedish. Lines with Chinese characters are kept: they are prose.
    """
    body = script.strip_code(text)
    if not _may_have_code_line(body):
        return body
    lines = body.splitlines()
    kept = [ln for ln in lines if script.HAN_RE.search(ln) or not _CODE_LINE_RE.search(ln)]
    return "\n".join(kept) if len(kept) != len(lines) else body


def _may_have_code_line(text: str) -> bool:
    """False only when no line of ``text`` matches ``_CODE_LINE_RE`` (one pass per pattern)."""
    return bool(_CODE_SYMBOL_RE.search(text) or ("(" in text and _CODE_PAREN_RE.search(text))
                or _CODE_KEYWORD_RE.search(text) or _OTHER_LINE_BREAK_RE.search(text))


def _prose_lines(text: str) -> list[str]:
    body = _QUOTED_RE.sub(" ", script.URL_RE.sub(" ", script.strip_code(text)))
    return [ln for ln in body.splitlines() if ln.strip() and not _CODE_LINE_RE.search(ln)]


def longest_latin_span(text: str) -> str:
    """The longest run of Latin words not interrupted by Han characters or a line break.

    Returns:
        The span's text ("" when there is none); its word count is what callers compare.
    """
    best, best_n = "", 0
    if not script.WORD_RE.search(text):  # no Latin word anywhere
        return best
    for line in _prose_lines(text):
        for seg in _SEG_SPLIT_RE.split(line):
            n = len(script.WORD_RE.findall(seg))
            if n > best_n:
                best, best_n = seg.strip(), n
    return best


def longest_han_span(text: str) -> str:
    """The longest run of Han characters (CJK punctuation and spaces allowed inside)."""
    best = ""
    if not script.HAN_RE.search(text):  # no Han character anywhere
        return best
    for line in _prose_lines(text):
        for m in _HAN_SPAN_RE.finditer(line):
            if script.han_count(m.group(0)) > script.han_count(best):
                best = m.group(0).strip()
    return best


def normalised(text: str) -> str:
    """Lower-cased, whitespace-free form used to test whether a span is quoted from the prompt."""
    return "".join(text.lower().split())
