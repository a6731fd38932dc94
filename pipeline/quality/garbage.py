r"""Garbage-character signals: symbol ratio, mojibake, replacement characters, leftover escapes.

The symbol ratio is script-aware (CJK and general punctuation, brackets and operators are
not symbols) and is measured on prose only: code blocks and Markdown table rows are
stripped and code tasks are exempt, because code and tables legitimately consist of
symbols. What remains counted is what garbage is made of: ``#$^&@~`\|``, control and
private-use characters, and non-ASCII symbols (emoji, box drawing, dingbats).
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from pipeline.quality.context import Ctx, per_lang
from pipeline.quality.lexicon import compile_phrases
from pipeline.text import script

_SPACE_RE = re.compile(r"\s+")
# ASCII junk symbols, plus non-ASCII characters outside letters/digits, Latin-1
# punctuation, general punctuation (U+2010-205E), arrows/math (U+2190-22FF), CJK
# punctuation and full-width forms.
_SYMBOL_RE = re.compile(r"[#$^&@~`\\|]|[^\w\s\x00-\x7f\u00a0-\u00bf\u00d7\u00f7\u2010-\u205e\u2190-\u22ff\u3000-\u303f\uff00-\uffef]")
_ASCII_SYMBOL_BYTES = b"#$^&@~`\\|"
# The ASCII characters str.split() treats as whitespace.
_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace())
_TABLE_ROW_RE = re.compile(r"^\s*\|.*$", re.M)
# A UTF-8 lead byte read as cp1252/latin-1, followed by continuation-byte characters.
_CP1252_CONT = "\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
_LATIN1_MOJI_RE = re.compile(f"[\u00c2-\u00f4][{_CP1252_CONT}]+(?:[\u00c2-\u00f4][{_CP1252_CONT}]+)*")
_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff\u3000-\u30ff\uff00-\uffef]{4,}")
_ENTITY_RE = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{2,5}|#x[0-9a-fA-F]{2,4});")
_LITERAL_ESC_RE = re.compile(r"\\[nrt](?![a-z])")


def symbol_ratio(text: str) -> tuple[float, int]:
    """Share of non-space characters that are symbols, and the non-space character count."""
    if "|" not in text and text.isascii():
        # ASCII without table rows: only the ASCII junk symbols can count, and the
        # symbol pattern never matches whitespace, so count bytes of the text itself.
        raw = text.encode()
        n = len(raw.translate(None, _ASCII_SPACE))
        if not n:
            return 0.0, 0
        return (len(raw) - len(raw.translate(None, _ASCII_SYMBOL_BYTES))) / n, n
    body = _SPACE_RE.sub("", _TABLE_ROW_RE.sub("", text) if "|" in text else text)
    if not body:
        return 0.0, 0
    return len(_SYMBOL_RE.findall(body)) / len(body), len(body)


def latin1_mojibake(text: str) -> str:
    """A run of UTF-8 bytes mis-decoded as cp1252/latin-1 ("cafÃ©", "â€™"), or ""."""
    for m in _LATIN1_MOJI_RE.finditer(text):
        run = m.group(0)
        try:
            fixed = run.encode("cp1252").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            try:
                fixed = run.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
        if fixed != run:
            return run
    return ""


def gbk_mojibake(text: str, probe_re: re.Pattern) -> str:
    """A run of UTF-8 Chinese mis-decoded as GBK ("浣犲ソ" for "你好"), or "".

    Only runs containing a probe character (frequent in such garbage, rare in real
    text) are re-encoded, which keeps the check cheap on clean Chinese.
    """
    if not probe_re.search(text):
        return ""
    for m in _HAN_RUN_RE.finditer(text):
        run = m.group(0)
        if not probe_re.search(run):
            continue
        try:
            raw = run.encode("gbk")
        except UnicodeEncodeError:
            continue
        # Real Chinese re-read this way is mostly invalid UTF-8; mojibake decodes almost
        # fully (the run's edges may cut a character, hence "ignore" and a 90% bar).
        fixed = raw.decode("utf-8", errors="ignore")
        if len(fixed.encode("utf-8")) >= 0.9 * len(raw) and script.han_count(fixed) >= 2:
            return run
    return ""


class Garbage:
    """Scores ``symbol_ratio``, ``mojibake``, ``replacement_chars``, ``escapes``; same-named checks
    (``replacement_char`` for the last but one)."""

    def __init__(self, rules: Mapping[str, Any]):
        checks = rules.get("checks") or {}
        self.sym = dict(checks.get("symbol_ratio") or {})
        moj = dict(checks.get("mojibake") or {})
        self.markers_re = compile_phrases(moj.get("markers") or [])
        self.probe_re = re.compile("|".join(map(re.escape, moj.get("gbk_probe_chars") or ["\x00"])))
        self.esc = dict(checks.get("escapes") or {})
        # Pure-ASCII text cannot hold mis-decoded runs (they are non-ASCII by
        # construction) nor, when every marker is non-ASCII, a marker.
        self.ascii_clean = all(not p.isascii() for p, _, _ in self.markers_re.items)

    def __call__(self, ctx: Ctx) -> tuple[dict, list]:
        hits = []
        ratio, n = symbol_ratio(ctx.prose)
        if not ctx.codeish and n >= int(self.sym.get("min_chars", 20)):
            limit = float(per_lang(self.sym.get("max_ratio", 0.25), ctx.lang))
            if ratio > limit:
                hits.append(("symbol_ratio", f"{ratio:.0%} symbols"))
        texts = (ctx.output, ctx.instruction, ctx.input)
        moj = ""
        for t in texts:
            if self.ascii_clean and t.isascii():
                continue
            m = self.markers_re.search(t)
            moj = m.group(0) if m else (latin1_mojibake(t) or gbk_mojibake(t, self.probe_re))
            if moj:
                break
        if moj:
            hits.append(("mojibake", f"mis-decoded text {moj[:20]!r}"))
        repl = sum(t.count("\ufffd") for t in texts)
        if repl:
            hits.append(("replacement_char", f"{repl} U+FFFD replacement characters"))
        esc = 0
        # A prompt that itself shows an escape is asking about it, not leaking one.
        if not ctx.codeish and "\\" not in ctx.prompt and "&" not in ctx.prompt:
            for t in (ctx.prose, ctx.instruction):
                if "&" in t:
                    esc += len(_ENTITY_RE.findall(t))
                if "\\" in t:
                    esc += len(_LITERAL_ESC_RE.findall(t))
            if esc >= int(self.esc.get("min_count", 1)):
                hits.append(("escapes", f"{esc} literal escapes / HTML entities"))
        scores = {"symbol_ratio": round(ratio, 4), "mojibake": float(bool(moj)),
                  "replacement_chars": float(repl), "escapes": float(esc)}
        return scores, hits
