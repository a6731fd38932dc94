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
from typing import Any, Mapping

from pipeline.quality.context import Ctx, per_lang
from pipeline.quality.lexicon import compile_phrases
from pipeline.text import script

# Western terminators only count before whitespace ("org.jsoup" is not two sentences).
_SENT_SPLIT_RE = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])|\n+")
_LETTER_RE = re.compile(r"[^\W\d_]")


def dup_line_fraction(text: str, min_chars: int) -> tuple[float, int]:
    """Share of substantive lines (>= ``min_chars``) that repeat an earlier line, and their count."""
    lines = [" ".join(ln.split()).lower() for ln in text.splitlines()]
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
    counts = Counter(script.ngrams(toks, n))
    return sum(c for c in counts.values() if c > 1) / total


def compression_ratio(text: str, max_chars: int = 20_000) -> float:
    """zlib-compressed size / raw size of the text's head: near 0 for degenerate repetition.

    Catches repetition that token n-grams cannot see, such as one 200k-character "word"
    or a run of one CJK character, in any script.
    """
    raw = text[:max_chars].encode("utf-8")
    return len(zlib.compress(raw, 6)) / len(raw) if raw else 1.0


def max_consecutive_repeats(text: str, min_chars: int) -> tuple[int, str]:
    """Longest run of one sentence (>= ``min_chars``, with letters) repeated back to back."""
    sents = [s.strip().lower() for s in _SENT_SPLIT_RE.split(text) if s and s.strip()]
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
