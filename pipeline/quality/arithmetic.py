"""Simple arithmetic in the prompt ("37+48", "12乘以7", "91-33=") whose answer is wrong.

Only fires when it is certain: the prompt holds exactly one expression of numbers and
+ - * / (Chinese operator words and ×÷ included), little else besides a computation cue
("what is", "计算", "等于多少", "="), no conversion cue (binary, fraction, 化简...), and
no other number in the prompt, and the output states a number that is not an operand and
is not the value (rounding to the output's own precision is accepted).
"""
from __future__ import annotations

import ast
import operator
import re
from typing import Any, Mapping

from pipeline.quality.context import Ctx
from pipeline.quality.lexicon import compile_phrases
from pipeline.text import script

_WORD_OPS = (("乘以", "*"), ("除以", "/"), ("加上", "+"), ("减去", "-"), ("加", "+"), ("减", "-"),
             ("×", "*"), ("÷", "/"), ("＋", "+"), ("－", "-"), ("＊", "*"), ("／", "/"), ("＝", "="),
             ("−", "-"), ("plus", "+"), ("minus", "-"), ("times", "*"), ("multiplied by", "*"),
             ("divided by", "/"))
_NUM = r"\d+(?:\.\d+)?"
_EXPR_RE = re.compile(rf"(?<![A-Za-z0-9_.\-/:])\(?\s*{_NUM}(?:\s*\)?\s*[-+*/x]\s*\(?\s*{_NUM})+\s*\)?(?![A-Za-z0-9_.%/:])")
_OUT_NUM_RE = re.compile(r"(?<![\d.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\d.])-?\d+(?:\.\d+)?")
_FRACTION_RE = re.compile(r"(?<![\d.])(\d+)\s*/\s*(\d+)(?![\d.])")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def safe_eval(expr: str) -> float | None:
    """Value of an expression made only of numbers, + - * / and parentheses (None otherwise)."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return None

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        raise ValueError("not simple arithmetic")

    try:
        return float(ev(tree))
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def _normalise(text: str) -> str:
    for a, b in _WORD_OPS:
        text = text.replace(a, f" {b} " if a.isascii() else b)
    # "3 x 4" means multiplication only with spaces around: "3x2" is usually algebra.
    return re.sub(r"(?<=\d)\s+x\s+(?=\d)", "*", text)


def _matches(x: float, v: float, raw: str) -> bool:
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    return abs(x - v) <= 0.5 * 10 ** -decimals + 1e-9 * max(1.0, abs(v))


class Arithmetic:
    """Scores ``arithmetic`` (1.0 = wrong result); check ``arithmetic``."""

    def __init__(self, rules: Mapping[str, Any]):
        self.cfg = dict((rules.get("checks") or {}).get("arithmetic") or {})
        self.cue_re = compile_phrases(rules.get("arithmetic_cues") or {})
        self.skip_re = compile_phrases(rules.get("arithmetic_skip_cues") or {})

    def __call__(self, ctx: Ctx) -> tuple[dict, list]:
        detail = self._check(ctx)
        return {"arithmetic": float(bool(detail))}, ([("arithmetic", detail)] if detail else [])

    def _check(self, ctx: Ctx) -> str:
        prompt = ctx.prompt
        if len(prompt) > int(self.cfg.get("max_prompt_chars", 200)) or not any(map(str.isdigit, prompt)):
            return ""
        if self.skip_re.search(prompt) or any(c in prompt for c in "^√[]"):
            return ""
        norm = _normalise(prompt)
        exprs = _EXPR_RE.findall(norm)
        if len(exprs) != 1:
            return ""
        expr = exprs[0].strip()
        rest = norm.replace(exprs[0], " ")
        # Another number besides the expression (a claimed result, a second operand)
        # means the task is not "compute this".
        if any(map(str.isdigit, rest)) or script.token_count(rest) > int(self.cfg.get("max_other_tokens", 10)):
            return ""
        if "=" not in rest and "?" not in rest and "？" not in rest and not self.cue_re.search(prompt):
            return ""
        # "1/4 cup" is a fraction, not a division task - unless the prompt asks "52/4=".
        if re.fullmatch(r"\d+/\d+", expr) and "=" not in rest and not any(c in prompt for c in "÷除"):
            return ""
        v = safe_eval(expr.replace("x", "*"))
        if v is None:
            return ""
        bare = expr.replace(" ", "")
        for a, b in _FRACTION_RE.findall(ctx.output):  # "5/7" answers "2/7 + 3/7"; "52/4" restates "52/4="
            if int(b) and f"{a}/{b}" != bare and abs(int(a) / int(b) - v) < 1e-9:
                return ""
        operands = re.findall(_NUM, expr)
        found = [n.replace(",", "") for n in _OUT_NUM_RE.findall(ctx.output)]
        for op in operands:  # numbers copied from the question are not answers
            if op in found:
                found.remove(op)
        if not found or any(_matches(float(n), v, n) for n in found):
            return ""
        shown = int(v) if v == int(v) else round(v, 4)
        return f"{expr} = {shown}, output says {', '.join(found[:3])}"
