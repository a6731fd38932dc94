"""Cheap, certain correctness checks: Python that does not parse, JSON that does not parse
when the output claims to be JSON.

Both only run when the claim is explicit (a ```python / ```json fence, or the
instruction asks for Python/JSON and the output is plainly code/JSON), so prose that
merely mentions code is never parsed.
"""
from __future__ import annotations

import ast
import json
import re
import textwrap
import warnings
from typing import Any, Mapping

from pipeline.quality.context import Ctx
from pipeline.quality.lexicon import compile_phrases
from pipeline.text import script

_PY_TAGS = {"python", "py", "python3", "py3"}
_PY_LINE_RE = re.compile(r"^(?:def |class |import |from [\w.]+ import |for |while |if |print\(|#|@|try:|with |[\w.\[\]]+\s*[+\-*/]?=[^=]|[\w.]+\()")
# A prose line: starts like a sentence and has no code punctuation.
_PROSE_LINE_RE = re.compile(r"^[A-Z\u4e00-\u9fff][^=(){}\[\]:;#]*[.。:：]?$")
_PYTHON_RE = re.compile(r"(?<![A-Za-z])python(?![A-Za-z])", re.I)


def _clean_python(code: str) -> str:
    """Drop notebook magics and REPL prompts/outputs so only the source remains."""
    lines = code.splitlines()
    if any(ln.startswith(">>> ") for ln in lines):
        lines = [ln[4:] for ln in lines if ln.startswith((">>> ", "... "))]
    lines = [ln for ln in lines if not ln.lstrip().startswith(("!", "%"))]
    return textwrap.dedent("\n".join(lines))


def python_error(code: str) -> str:
    """The ``ast.parse`` error of ``code`` as "line N: message", or "" when it parses."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in user code
            ast.parse(_clean_python(code))
    except SyntaxError as e:
        return f"line {e.lineno}: {e.msg}"
    except (ValueError, RecursionError, MemoryError) as e:
        return f"{type(e).__name__}: {e}"[:80]
    return ""


def json_error(text: str) -> str:
    """The JSON decode error of the value that starts ``text`` (trailing text allowed), or ""."""
    s = text.strip()
    try:
        json.JSONDecoder().raw_decode(s)
    except json.JSONDecodeError as e:
        return f"line {e.lineno} col {e.colno}: {e.msg}"
    except RecursionError:
        return "nested too deeply"
    return ""


class Verify:
    """Scores ``code_syntax`` and ``json_syntax`` (1.0 = failed); same-named checks."""

    def __init__(self, rules: Mapping[str, Any]):
        self.json_re = compile_phrases(rules.get("json_cues") or {})

    def __call__(self, ctx: Ctx) -> tuple[dict, list]:
        hits = []
        blocks = script.code_blocks(ctx.output) if "```" in ctx.output else []
        py = self._python(ctx, blocks)
        if py:
            hits.append(("code_syntax", py))
        js = self._json(ctx, blocks)
        if js:
            hits.append(("json_syntax", js))
        return {"code_syntax": float(bool(py)), "json_syntax": float(bool(js))}, hits

    def _python(self, ctx: Ctx, blocks: list[tuple[str, str]]) -> str:
        asks_python = bool(_PYTHON_RE.search(ctx.instruction[:500]))
        for tag, body in blocks:
            looks = not tag and asks_python and _PY_LINE_RE.match(body.lstrip())
            if tag in _PY_TAGS or looks:
                err = python_error(body)
                if err:
                    return f"python block does not parse: {err}"
        if blocks or not asks_python or script.HAN_RE.search(ctx.output):
            return ""
        lines = [ln for ln in ctx.output.strip().splitlines() if ln.strip()]
        if not lines or not _PY_LINE_RE.match(lines[0]) or any(_PROSE_LINE_RE.match(ln) for ln in lines):
            return ""
        err = python_error(ctx.output)
        return f"python output does not parse: {err}" if err else ""

    def _json(self, ctx: Ctx, blocks: list[tuple[str, str]]) -> str:
        for tag, body in blocks:
            if tag == "json":
                err = json_error(body)
                if err:
                    return f"json block does not parse: {err}"
        if not self.json_re.search(ctx.instruction[:500]):
            return ""
        candidates = [b for t, b in blocks if not t and b.lstrip()[:1] in ("{", "[")]
        if not blocks and ctx.output.lstrip()[:1] in ("{", "["):
            candidates.append(ctx.output)
        for body in candidates:
            err = json_error(body)
            if err:
                return f"JSON output does not parse: {err}"
        return ""
