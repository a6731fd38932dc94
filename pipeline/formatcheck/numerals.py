"""Number words to integers, for English words and Chinese numerals.

Requirement phrases say "list three", "top 10", "列举五个", "两点建议". The regular
expressions in :mod:`pipeline.formatcheck.requirements` capture the number token and
these helpers turn it into an int (or None when it is not a number we understand).
"""
from __future__ import annotations

EN_NUMBERS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "hundred": 100, "a dozen": 12, "dozen": 12, "a single": 1, "single": 1,
    "a couple of": 2, "a couple": 2, "a pair of": 2, "a": 1, "an": 1,
}
#: Regex alternation of English number tokens (longest first so "a dozen" wins over "a").
EN_NUMBER_ALT = "|".join(sorted((k.replace(" ", r"\s+") for k in EN_NUMBERS if k not in ("a", "an")),
                                key=len, reverse=True))

ZH_DIGITS: dict[str, int] = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
                             "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
#: Character class of Chinese numeral characters (digits plus 十 and 百).
ZH_NUMERAL_CHARS = "零〇一二两三四五六七八九十百"
FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def parse_zh(token: str) -> int | None:
    """Parse a Chinese numeral up to 999: 三 → 3, 十 → 10, 十五 → 15, 二十 → 20, 两百 → 200.

    Returns:
        The value, or None when the token is not a well-formed numeral.
    """
    if not token or any(c not in ZH_NUMERAL_CHARS for c in token):
        return None
    total, current = 0, None
    for ch in token:
        if ch == "百":
            total += (current if current is not None else 1) * 100
            current = None
        elif ch == "十":
            total += (current if current is not None else 1) * 10
            current = None
        else:
            if current is not None:  # two digits in a row ("三四" = "three or four"): ambiguous
                return None
            current = ZH_DIGITS[ch]
    return total + (current or 0)


def parse_number(token: str) -> int | None:
    """Parse a digit string, an English number word or a Chinese numeral.

    Args:
        token: The captured number text, e.g. "5", "five", "a dozen", "十", "两", "５".

    Returns:
        The integer value, or None when the token is not a number.
    """
    t = " ".join(token.strip().lower().split()).translate(FULLWIDTH)
    if not t:
        return None
    if t.isdigit():
        return int(t)
    if t in EN_NUMBERS:
        return EN_NUMBERS[t]
    return parse_zh(t)
