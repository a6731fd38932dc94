"""Script detection, script-aware tokens and n-grams, code stripping and text sampling.

Chinese has no spaces, so every length or repetition measure here counts one token per
CJK character and one token per run of letters/digits for space-delimited scripts.
All counting uses compiled regular expressions (C speed) rather than Python loops over
characters, because these helpers run on every record of multi-million-row corpora.
"""
from __future__ import annotations

import re
from typing import Iterator

# Han ideographs (BMP blocks + extension A + compatibility ideographs). Kana and Hangul
# are separate scripts: a text with kana is Japanese even when it is mostly kanji.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA = "\u3040-\u309f\u30a0-\u30ff"
_HANGUL = "\uac00-\ud7af\u1100-\u11ff"
_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"

SCRIPTS: dict[str, re.Pattern] = {
    "han": re.compile(f"[{_HAN}]"),
    "kana": re.compile(f"[{_KANA}]"),
    "hangul": re.compile(f"[{_HANGUL}]"),
    "latin": re.compile(f"[{_LATIN}]"),
    "cyrillic": re.compile("[\u0400-\u04ff]"),
    "arabic": re.compile("[\u0600-\u06ff\u0750-\u077f]"),
    "devanagari": re.compile("[\u0900-\u097f]"),
    "thai": re.compile("[\u0e00-\u0e7f]"),
    "greek": re.compile("[\u0370-\u03ff]"),
    "hebrew": re.compile("[\u0590-\u05ff]"),
}

HAN_RE = SCRIPTS["han"]
_ASCII_NON_LETTERS = bytes(c for c in range(256) if not (65 <= c <= 90 or 97 <= c <= 122))
HAN_RUN_RE = re.compile(f"[{_HAN}]+")
# One token per CJK character, one per word elsewhere (letters, digits, apostrophes).
TOKEN_RE = re.compile(f"[{_HAN}{_KANA}{_HANGUL}]|[^\\W_{_HAN}{_KANA}{_HANGUL}]+(?:'[^\\W_]+)*")
WORD_RE = re.compile(f"[{_LATIN}]+(?:'[{_LATIN}]+)*")
# Fenced blocks (closed or running to the end of the text) and inline code spans.
FENCE_RE = re.compile(r"```[^\n]*\n?.*?(?:```|\Z)", re.S)
INLINE_CODE_RE = re.compile(r"`[^`\n]{1,200}`")
URL_RE = re.compile(r"(?:https?://|www\.)\S+")


def script_counts(text: str) -> dict[str, int]:
    """Letter counts per script (only scripts that occur).

    Args:
        text: Any string; callers should sample long texts first (see :func:`sample`).

    Returns:
        ``{script: count}`` for the scripts in :data:`SCRIPTS` with a non-zero count.
    """
    if text.isascii():  # only Latin letters can occur: count them without a regex
        n = len(text.encode("ascii").translate(None, _ASCII_NON_LETTERS))
        return {"latin": n} if n else {}
    out = {}
    for name, rx in SCRIPTS.items():
        n = len(rx.findall(text))
        if n:
            out[name] = n
    return out


def han_count(text: str) -> int:
    """Number of Han characters."""
    return len(HAN_RE.findall(text))


def han_ratio(text: str) -> float:
    """Share of Han characters among tokens (0.0 for text without tokens)."""
    toks = TOKEN_RE.findall(text)
    if not toks:
        return 0.0
    return sum(1 for t in toks if len(t) == 1 and HAN_RE.match(t)) / len(toks)


# TOKEN_RE on ASCII text: there ``[^\W_]`` is exactly ``[A-Za-z0-9]`` and no CJK can occur,
# and a plain class is much cheaper for ``re`` than the negated Unicode one.
_ASCII_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z0-9]+)*")


def tokens(text: str) -> list[str]:
    """Script-aware tokens: each CJK character alone, words (letters/digits) otherwise."""
    return (_ASCII_TOKEN_RE if text.isascii() else TOKEN_RE).findall(text)


def token_count(text: str) -> int:
    """Length in script-aware tokens: characters for CJK, words for space-delimited text."""
    return len(tokens(text))


def ngrams(toks: list[str], n: int) -> Iterator[tuple[str, ...]]:
    """Successive ``n``-grams of a token list (nothing when it is shorter than ``n``)."""
    return zip(*(toks[i:] for i in range(n)))


def char_ngrams(text: str, n: int) -> list[str]:
    """Character ``n``-grams of ``text`` with whitespace collapsed."""
    s = " ".join(text.split())
    return [s[i:i + n] for i in range(len(s) - n + 1)]


def strip_code(text: str) -> str:
    """Remove fenced code blocks and inline code spans, which carry no natural language."""
    if "`" not in text:
        return text
    return INLINE_CODE_RE.sub(" ", FENCE_RE.sub("\n", text))


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Fenced code blocks as ``(language tag, body)``; an unclosed fence runs to the end."""
    out = []
    for m in FENCE_RE.finditer(text):
        block = m.group(0)
        first, _, rest = block.partition("\n")
        tag = first[3:].strip().lower()
        body = rest[:-3] if rest.endswith("```") else rest
        out.append((tag, body))
    return out


def sample(text: str, max_chars: int) -> str:
    """A bounded sample of a long text: head, middle and tail slices.

    Detectors and ratios must never see megabytes; three slices keep a representative
    picture of texts whose beginning differs from their body (a title, a code block).
    """
    if len(text) <= max_chars:
        return text
    part = max_chars // 3
    mid = len(text) // 2
    return "\n".join((text[:part], text[mid - part // 2: mid + part // 2], text[-part:]))
