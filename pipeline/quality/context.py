"""The per-row view every quality signal reads, computed once per row."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from pipeline.quality.lexicon import trie_regex
from pipeline.text import script

# Cues that a record is about code: symbol ratios and escapes mean nothing there.
# English words stand between non-letters, case-insensitively.
_CODE_WORDS = ("code", "program", "function", "script", "python", "java", "javascript", "c++", "sql", "query",
               "regex", "regular expression", "html", "css", "json", "xml", "class", "method", "algorithm",
               "api", "bash", "shell", "scratch", "compile", "variable", "array", "loop")
_CODE_CUE_RE = re.compile(r"(?<![A-Za-z])(?:" + "|".join(map(re.escape, _CODE_WORDS)) + r")(?![A-Za-z])"
                          r"|代码|程序|函数|编程|脚本|算法|正则|转义|换行符", re.I)
# The same test for lower-cased ASCII text, as a trie that ``re`` can skip through in C
# (a case-insensitive pattern is tried at every position).
_CODE_CUE_ASCII_RE = trie_regex([(w, True, True) for w in _CODE_WORDS], word_class="[a-z]")
_CODE_LINE_RE = re.compile(r"^\s*(?:def |class |import |from \S+ import|for .*:|if .*:|return\b|#include|"
                           r"public |private |function\b|var |let |const |SELECT |<\w+[^>]*>|\}|\{|"
                           r"[A-Za-z_][\w.\[\]]*\s*=\s*[^=\s]|[A-Za-z_][\w.]*\(.*\)[,;]?\s*$)")


@dataclass
class Ctx:
    """Texts and shared measurements of one row.

    Attributes:
        instruction, input, output: The row's texts ("" when absent).
        lang: The record's language tag ("" when the language stage did not run).
        prompt: Instruction and input joined.
        prose: The output without fenced/inline code.
        toks: Script-aware tokens of the output.
        codeish: The task or the output is about code.
        response_type: answer/refusal/clarification/correction when already known
            (injected negative samples), else "".
    """

    instruction: str
    input: str
    output: str
    lang: str = ""
    prompt: str = ""
    prose: str = ""
    toks: list[str] = field(default_factory=list)
    codeish: bool = False
    response_type: str = ""

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Ctx":
        ins, inp, out = (row.get(k) or "" for k in ("instruction", "input", "output"))
        lang = row.get("lang") or ""
        toks = script.tokens(out)
        if lang in ("", "und"):
            # Quality must work without the language stage: fall back to the script.
            lang = "zh" if script.han_count(out) >= 0.3 * max(1, len(toks)) else "en"
        prose = script.strip_code(out)
        codeish = "```" in out or _code_lines(out) >= 2 or _code_cue(ins[:2000])
        return cls(ins, inp, out, lang, f"{ins}\n{inp}", prose, toks, codeish, row.get("response_type") or "")

    @property
    def ins_toks(self) -> list[str]:
        """Script-aware tokens of the instruction (computed once)."""
        toks = self.__dict__.get("_ins_toks")
        if toks is None:
            toks = self.__dict__["_ins_toks"] = script.tokens(self.instruction)
        return toks


def _code_cue(text: str) -> bool:
    """Whether the text names a programming concept (see ``_CODE_WORDS``)."""
    if text.isascii():  # case-insensitive = lower-cased there
        return _CODE_CUE_ASCII_RE.search(text.lower()) is not None
    return _CODE_CUE_RE.search(text) is not None


def _code_lines(text: str) -> int:
    """Code-looking lines among the first 50 (counting stops at 2, all callers need)."""
    n = 0
    for ln in text.splitlines()[:50]:
        if _CODE_LINE_RE.match(ln):
            n += 1
            if n == 2:
                break
    return n


def per_lang(value: Any, lang: str) -> Any:
    """A threshold that may be per-language: ``{zh: .., en: .., default: ..}`` or a scalar."""
    if type(value) is dict or isinstance(value, Mapping):  # the dict test skips a slow ABC check
        return value.get(lang, value.get("default"))
    return value
