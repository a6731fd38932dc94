"""Measurements on output text: script share, code stripping, list items, sentences, length.

Everything here is bilingual: Chinese has no spaces, so lengths count characters for
CJK and words for space-delimited text; sentence ends include 。！？; list markers
include ``1.``, ``1)``, ``(1)``, ``-``, ``*``, ``•``, ``①``, ``一、`` and ``（一）``.
Functions return None when the structure is not clear enough to count: a verifier
must never accuse an output on a guess.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
WORD_RE = re.compile(r"[A-Za-z0-9\u00c0-\u024f]+(?:['’\-][A-Za-z0-9\u00c0-\u024f]+)*")
FENCE_RE = re.compile(r"```[^\n]*\n?.*?(?:```|\Z)", re.S)
INLINE_CODE_RE = re.compile(r"`[^`\n]{1,200}`")

_NUM_MARK = r"\d{1,3}[.)、．:：](?!\d)|[(（]\d{1,3}[)）]"
_BULLET_MARK = r"--?(?=\s)|[*•·●○▪◦‣+](?=\s)|-(?=[A-Za-z\u4e00-\u9fff])"
_ZH_MARK = (r"[①-⑳]|[一二三四五六七八九十]{1,3}[、．.]|[(（][一二三四五六七八九十]{1,3}[)）]"
            r"|第[一二三四五六七八九十\d]{1,3}(?:步|点|条|项|个|部分)?[，,、：:]")
_ROMAN_MARK = r"(?:I|II|III|IV|V|VI|VII|VIII|IX|X|XI|XII)\.(?=\s)"
ITEM_RE = re.compile(rf"^(?P<indent>[ \t\u3000]*)(?:(?P<num>{_NUM_MARK})|(?P<zh>{_ZH_MARK})|(?P<roman>{_ROMAN_MARK})"
                     rf"|(?P<bul>{_BULLET_MARK}))\s*")
INLINE_NUM_RE = re.compile(r"(?:^|(?<=\s))(\d{1,2})[.)]\s+(?=\S)")
DIGITS_RE = re.compile(r"\d+")
# Sentence ends: CJK terminators end a sentence anywhere; Latin ones need a following space
# and a capital/quote/digit (or the end), so "3.5", "e.g. this" and "U.S. law" do not split.
ZH_END_RE = re.compile(r"[。！？!?]+[”’」』）)\"']*|…{1,2}[”’」』\"']*(?=\s*$)")
EN_END_RE = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")


def strip_code(text: str) -> str:
    """Remove fenced code blocks and inline code spans (numbered lines in code are not items)."""
    if "`" not in text:
        return text
    return INLINE_CODE_RE.sub(" ", FENCE_RE.sub("\n", text))


def fence_count(text: str) -> int:
    """Number of ``` fence markers at line starts (odd means an unclosed block)."""
    return len(re.findall(r"^\s*```", text, re.M))


def cjk_share(text: str) -> float | None:
    """Share of CJK characters among CJK + Latin letters; None when there are fewer than 4 letters."""
    cjk = len(CJK_RE.findall(text))
    lat = len(LATIN_RE.findall(text))
    if cjk + lat < 4:
        return None
    return cjk / (cjk + lat)


def word_count(text: str) -> int:
    """Space-delimited words (letters/digits, with inner apostrophes and hyphens)."""
    return len(WORD_RE.findall(text))


def zh_char_count(text: str) -> int:
    """Chinese "字" count: one per CJK character plus one per Latin word or number; no punctuation."""
    return len(CJK_RE.findall(text)) + len(WORD_RE.findall(text))


@dataclass(frozen=True)
class Items:
    """A counted list: ``n`` items found by ``method`` (markers, inline, blocks, lines, separators)."""

    n: int
    method: str
    style: str  # "number", "bullet", "zh", "roman" or "plain"


#: Returned by the marker counter when markers exist but the count is ambiguous.
AMBIGUOUS = Items(0, "ambiguous", "plain")
_CODE_LINE = re.compile(r"^\s*(?:def |class |import |from \w+ import|SELECT\b|FROM\b|WHERE\b|ORDER BY\b|LIMIT\b|"
                        r"function\b|const |let |var |return\b|if\s*\(|for\s*\(|while\s*\(|#include|public |private |"
                        r"print\(|console\.log|\}|<\w+[^>]*>\s*$)", re.M)
_PARENS = re.compile(r"\([^()\n]*\)|（[^（）\n]*）")
_COPULA = re.compile(r"\b(?:is|are|was|were|there|include|includes|including|such as)\b", re.I)


def _marker_items(lines: list[str]) -> Items | None:
    marked = [m for ln in lines if (m := ITEM_RE.match(ln))]
    if len(marked) < 2:
        return None
    # Top level = the shallowest indentation of the first marker's family (one stray
    # space of indent is noise, not nesting); deeper or other-family markers are
    # sub-items, and unmarked continuation lines belong to their item.
    first = marked[0]
    fam = next(g for g in ("num", "zh", "roman", "bul") if first.group(g))
    same = [m for m in marked if m.group(fam)]
    depth = min(len(m.group("indent").expandtabs(4)) for m in same)
    top = [m for m in same if len(m.group("indent").expandtabs(4)) <= depth + 1]
    if fam == "num":
        nums = [int(DIGITS_RE.search(m.group("num")).group()) for m in top]
        # A restart (1,2,3,1,2) means several lists; the count is ambiguous.
        if any(b != a + 1 for a, b in zip(nums, nums[1:])):
            return AMBIGUOUS
    style = {"num": "number", "zh": "zh", "bul": "bullet", "roman": "roman"}[fam]
    return Items(len(top), "markers", style)


def _inline_items(text: str) -> Items | None:
    # "1. Red 2. Blue 3. Yellow" on one line: accept only a strict 1..k run.
    nums = [int(m.group(1)) for m in INLINE_NUM_RE.finditer(text)]
    if len(nums) < 2 or nums[0] != 1:
        return None
    k = 1
    for v in nums[1:]:
        if v == k + 1:
            k = v
        elif v != k:
            return None
    return Items(k, "inline", "number") if k >= 2 else None


def _short(seg: str, max_words: int, max_zh: int) -> bool:
    return len(CJK_RE.findall(seg)) <= max_zh and word_count(seg) <= max_words


def count_items(text: str, max_item_words: int = 15, max_item_zh_chars: int = 40) -> Items | None:
    """Count list items in an output, or None when it is not clearly a list.

    Recognises marker lists (items may span several lines; nested markers are
    sub-items), inline numbered runs, blank-line separated short blocks (Q/A jokes),
    one-item-per-line lists of short lines, and single-line enumerations separated by
    ``；``/``;``, ``、`` or commas (method ``separators``, which over-counts items that
    contain commas, so callers should only trust it for clear mismatches).

    Args:
        text: The output; fenced code is ignored.
        max_item_words: Longest line/segment (EN words) still read as an item.
        max_item_zh_chars: Longest line/segment (CJK characters) still read as an item.
    """
    body = strip_code(text).strip()
    if not body:
        return None
    lines = [ln for ln in body.splitlines() if ln.strip()]
    if looks_like_code(body) or sum("|" in ln for ln in lines) >= 3:
        return None  # unfenced code or a table: its lines are not list items
    # Several unmarked sub-headings ("Ingredients:", "Instructions:") split the output
    # into sections; which level the request counts is unclear.
    if sum(1 for ln in lines[1:] if ln.rstrip().endswith((":", "：")) and not ITEM_RE.match(ln)) >= 1 \
            and any(ITEM_RE.match(ln) for ln in lines):
        return None
    found = _marker_items(lines)
    if found:
        return None if found is AMBIGUOUS else found
    if len(lines) == 1:
        if ITEM_RE.match(lines[0]) and not _inline_items(body):
            return Items(1, "markers", "bullet" if ITEM_RE.match(lines[0]).group("bul") else "number")
        return _inline_items(body) or _separated_items(body, max_item_zh_chars)
    # An intro line ending with a colon is not an item.
    if lines[0].rstrip().endswith((":", "：")):
        lines = lines[1:]
        body = body.split("\n", 1)[1] if "\n" in body else ""
    if any(ln.rstrip().endswith((":", "：")) for ln in lines):
        return None  # sub-headings ("Pros:", "Cons:") make the top level unclear
    if any(_line_sentences(ln, frozenset()) > 1 for ln in lines):
        return None  # paragraphs of prose, not one item per line
    blocks = [b for b in re.split(r"\n\s*\n", body.strip()) if b.strip()]
    if len(blocks) >= 2 and len(blocks) < len(lines):
        if all(len(b.strip().splitlines()) <= 3 and _short(b, 2 * max_item_words, 2 * max_item_zh_chars) for b in blocks):
            return Items(len(blocks), "blocks", "plain")
        return None
    if len(lines) >= 2 and all(len(ln.strip()) >= 2 and _short(ln, max_item_words, max_item_zh_chars) for ln in lines):
        return Items(len(lines), "lines", "plain")
    return None


def _separated_items(line: str, max_zh: int) -> Items | None:
    core = _PARENS.sub("", line).strip().rstrip("。.!！")
    if _COPULA.search(core):
        return None  # a sentence that mentions items, not an enumeration
    if "；" in core or ";" in core:
        segs = re.split(r"[；;]", core)
        if all(s.strip() and _short(s, 25, max_zh * 2) for s in segs):
            return Items(len(segs), "separators", "plain")
        return None
    if "、" in core:
        segs = re.split(r"、|和|及|与|以及", core)
        if len(segs) >= 2 and all(s.strip() and _short(s, 3, 12) for s in segs):
            return Items(len(segs), "separators", "plain")
        return None
    if "," in core and not CJK_RE.search(core):
        segs = [s.strip() for s in core.split(",") if s.strip()]
        last = segs[-1] if segs else ""
        if re.match(r"(?:and|or)\s", last):
            segs[-1] = last.split(None, 1)[1]  # Oxford comma: "a, b, and c"
        elif len(segs) >= 2 and re.search(r"\s(?:and|or|&)\s", last):
            segs[-1:] = re.split(r"\s(?:and|or|&)\s", last, maxsplit=1)  # "a, b and c"
        if len(segs) >= 2 and all(word_count(s) <= 4 and "." not in s for s in segs):
            return Items(len(segs), "separators", "plain")
    return None


def looks_like_code(text: str) -> bool:
    """Unfenced code: at least two lines that start like code statements."""
    return len(_CODE_LINE.findall(strip_code(text))) >= 2


def count_sentences(text: str, abbreviations: frozenset[str] = frozenset()) -> int:
    """Count sentences: 。！？ and .!? ends, line breaks and list items; semicolons do not split.

    Args:
        text: The output; fenced code is ignored.
        abbreviations: Lower-case tokens (without the dot) after which a period does not
            end a sentence, e.g. "e.g", "mr", "u.s".
    """
    body = strip_code(text).strip()
    n = 0
    for line in body.splitlines():
        line = ITEM_RE.sub("", line, count=1).strip()
        if not line:
            continue
        n += _line_sentences(line, abbreviations)
    return n


def _line_sentences(line: str, abbreviations: frozenset[str]) -> int:
    pieces = [p for p in ZH_END_RE.split(line) if p and p.strip(" \"'”’」』)")]
    n = 0
    for piece in pieces:
        parts = EN_END_RE.split(piece)
        count = 1
        for left in parts[:-1]:
            last = left.rstrip("\"'”’)] ").split()[-1].rstrip(".").lower() if left.split() else ""
            # "e.g. Paris", "Dr. Smith", initials ("J. Smith") do not end a sentence.
            if last in abbreviations or (len(last) == 1 and last.isalpha()):
                continue
            count += 1
        n += count
    return n
