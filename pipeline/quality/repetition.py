"""Repetition signals: duplicate lines, repeated token n-grams, looping sentences.

Designed to spare repetition by design: short lines (poetry, code braces, list
markers) do not count as duplicate lines; songs and poems (choruses, refrains) are
exempt from the duplicate-line test; n-gram repetition is only judged on prose long
enough for the ratio to mean something; a loop is the same sentence several times *in
a row* (a chorus comes back after a verse, a degenerate generation does not stop).
"""
from __future__ import annotations

import re
import zlib
from collections import Counter
from functools import lru_cache
from typing import Any, Callable, Mapping

from pipeline.quality.context import Ctx, per_lang
from pipeline.quality.lexicon import compile_phrases
from pipeline.text import script

# Western terminators only count before whitespace ("org.jsoup" is not two sentences).
_SENT_SPLIT_RE = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])|\n+")
# The whitespace cuts of the same split, as a pattern that starts with a character class.
_SENT_SPLIT_WS_RE = re.compile(r"\s(?:(?<=[.!?;]\s)\s*|(?<=\n)\n*)")
_CJK_SENT_RE = re.compile(r"[^。！？；]*[。！？；]|[^。！？；]+")
_LETTER_RE = re.compile(r"[^\W\d_]")


def dup_line_fraction(text: str, min_chars: int) -> tuple[float, int]:
    """Share of substantive lines (>= ``min_chars``) that repeat an earlier line, and their count."""
    raw = text.splitlines()
    if len(raw) < 2:  # one line cannot repeat an earlier one
        return 0.0, 0
    lines = [" ".join(ln.split()).lower() for ln in raw]
    lines = [ln for ln in lines if len(ln) >= min_chars]
    if not lines:
        return 0.0, 0
    dups = len(lines) - len(set(lines))
    return dups / len(lines), dups


def ngram_repetition(toks: list[str], n: int) -> float:
    """Share of token ``n``-gram positions covered by an n-gram that occurs more than once."""
    total = len(toks) - n + 1
    if total <= 0:
        return 0.0
    if len(set(toks)) == len(toks):  # no token repeats, so no n-gram does
        return 0 / total
    grams = list(script.ngrams(toks, n))
    if len(set(grams)) == total:  # the common case: counting is not needed
        return 0 / total
    # Positions covered by a repeated n-gram: all but those of the n-grams seen once.
    return (total - list(Counter(grams).values()).count(1)) / total


def compression_ratio(text: str, max_chars: int = 20_000) -> float:
    """zlib-compressed size / raw size of the text's head: near 0 for degenerate repetition.

    Catches repetition that token n-grams cannot see, such as one 200k-character "word"
    or a run of one CJK character, in any script.
    """
    raw = text[:max_chars].encode("utf-8")
    return len(zlib.compress(raw, 6)) / len(raw) if raw else 1.0


def _split_sentences(text: str) -> list[str]:
    """``_SENT_SPLIT_RE.split(text)`` up to empty and whitespace-only pieces.

    Two cheaper passes with the same cut points: whitespace cuts (after a Western
    terminator, or a run of new lines) with a pattern that starts with a whitespace
    class, so ``re`` skips ahead in C; then cuts after each CJK terminator, if any.
    """
    parts = _SENT_SPLIT_WS_RE.split(text)
    if "。" in text or "！" in text or "？" in text or "；" in text:
        return [s for p in parts for s in _CJK_SENT_RE.findall(p)]
    return parts


@lru_cache(maxsize=None)
def _letters_at_least(k: int) -> Callable[[str], bool]:
    """A test "has at least ``k`` letters" that stops at the k-th letter."""
    if k <= 0:
        return lambda s: True
    # The first letter, then k - 1 more, each after a (possibly empty) run of non-letters.
    rx = re.compile(r"[^\W\d_](?:[\W\d_]*[^\W\d_]){%d}" % (k - 1))
    return lambda s: rx.search(s) is not None


def max_consecutive_repeats(text: str, min_chars: int) -> tuple[int, str]:
    """Longest run of one sentence (>= ``min_chars``, with letters) repeated back to back."""
    sents = [s.lower() for s in map(str.strip, _split_sentences(text)) if s]
    if not any(map(str.__eq__, sents, sents[1:])):
        # No sentence follows itself: the answer is a run of 1 at the first long sentence.
        enough = _letters_at_least(min_chars // 2)
        for s in sents:
            if len(s) >= min_chars and enough(s):
                return 1, s
        return 0, ""
    best, best_s, run = 0, "", 0
    for i, s in enumerate(sents):
        run = run + 1 if i and s == sents[i - 1] else 1
        if run > best and len(s) >= min_chars and len(_LETTER_RE.findall(s)) >= min_chars // 2:
            best, best_s = run, s
    return best, best_s


class Repetition:
    """Scores ``dup_line_frac``, ``ngram_rep``, ``loop_repeats``; checks ``repetition`` and ``looping``."""

    def __init__(self, rules: Mapping[str, Any]):
        checks = rules.get("checks") or {}
        self.rep = dict(checks.get("repetition") or {})
        self.loop = dict(checks.get("looping") or {})
        self.exempt_re = compile_phrases(rules.get("repetition_exempt_cues") or {})

    def __call__(self, ctx: Ctx) -> tuple[dict, list]:
        r = self.rep
        frac, dups = dup_line_fraction(ctx.prose, int(r.get("line_min_chars", 12)))
        n = int(per_lang(r.get("ngram_n", 4), ctx.lang))
        toks = ctx.toks if ctx.prose is ctx.output else script.tokens(ctx.prose)
        rep = ngram_repetition(toks, n) if len(toks) >= n else 0.0
        k, sent = max_consecutive_repeats(ctx.prose, int(self.loop.get("sentence_min_chars", 10)))
        zmin = int(r.get("zlib_min_chars", 400))
        zratio = compression_ratio(ctx.output) if len(ctx.output) >= zmin else 1.0
        scores = {"dup_line_frac": round(frac, 4), "ngram_rep": round(rep, 4), "loop_repeats": float(k),
                  "zlib_ratio": round(zratio, 4)}
        hits = []
        if zratio < float(r.get("min_zlib_ratio", 0.06)):
            # Degenerate output (one character or chunk over and over): flagged even in code.
            hits.append(("repetition", f"output compresses to {zratio:.1%} of its size"))
            return scores, hits
        if k >= int(self.loop.get("min_repeats", 3)) and not ctx.codeish:
            hits.append(("looping", f"sentence repeated {k}x in a row: {sent[:60]!r}"))
        if ctx.codeish or self.exempt_re.search(ctx.instruction[:300]):
            return scores, hits
        if dups >= int(r.get("min_dup_lines", 3)) and frac > float(per_lang(r.get("max_dup_line_frac", 0.5), ctx.lang)):
            hits.append(("repetition", f"{dups} duplicate lines ({frac:.0%})"))
        elif len(toks) >= int(r.get("ngram_min_tokens", 50)) and rep > float(per_lang(r.get("max_ngram_rep", 0.6), ctx.lang)):
            hits.append(("repetition", f"{rep:.0%} of {n}-grams repeated"))
        return scores, hits
