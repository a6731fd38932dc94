"""Verify one output against one requirement, with real parsers.

:class:`Verifier` maps a requirement dict (see :mod:`pipeline.formatcheck.requirements`)
to ``(check, detail)`` when the output violates it, or None. The check name is the
reason suffix (``format_<check>``). When the output's structure is unclear (a prose
answer to "list three"), nothing is reported: the stage only accuses on evidence.
"""
from __future__ import annotations

import ast
import json
import re
from typing import Any, Callable, Mapping

from pipeline.formatcheck import textstats as ts

Hit = tuple[str, str]
_FENCE_TAG = re.compile(r"^\s*```\s*([\w+#.-]*)[^\n]*\n(.*?)(?:^\s*```|\Z)", re.S | re.M)
_TABLE_MD = re.compile(r"^\s*\|?[^|\n]*\|[^|\n]*\|?.*$", re.M)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$", re.M)
_CODE_SIGNAL = re.compile(
    r"^\s*(?:def |class |import |from \w+ import|function\b|const |let |var |public |private |#include|"
    r"using |package |fn |func |SELECT\b|INSERT\b|UPDATE\b|CREATE\b|<\w+[^>]*>|for\s*\(|for \w+ in |while\s*\(|if\s*\()"
    r"|[;{}]\s*$|=>|\bprint\(|console\.log|System\.out|^#!|\bSELECT\b.+\bFROM\b"
    r"|^\s*(?:echo|mkdir|cd|ls|pwd|export|sudo|apt(?:-get)?|pip|npm|git|curl|grep|awk|sed|cat|rm|cp|mv|chmod|puts)\b"
    r"|^\s*[A-Za-z_][\w.\[\]]*\s*=\s*\S|<!--|</\w+>",
    re.M | re.I)
_LANG_ALIASES = {"py": "python", "python3": "python", "js": "javascript", "node": "javascript", "ts": "typescript",
                 "cpp": "c++", "cxx": "c++", "cs": "c#", "csharp": "c#", "go": "golang", "sh": "bash", "shell": "bash",
                 "zsh": "bash", "rb": "ruby", "kt": "kotlin", "rs": "rust", "htm": "html", "mysql": "sql",
                 "postgresql": "sql", "sqlite": "sql", "jsx": "javascript", "tsx": "typescript"}
_NEUTRAL_TAGS = {"", "text", "plaintext", "txt", "output", "console", "json", "yaml", "xml", "markdown", "md", "csv"}
_PREFIX_STRIP = re.compile(r"^\s*(?:(?:the\s+)?(?:correct\s+)?(?:answer|option|choice)\s*(?:is)?\s*[:：]?|答案\s*(?:是|为)?\s*[:：]?|选\s*)", re.I)


def _norm_lang(tag: str) -> str:
    t = tag.strip().lower()
    return _LANG_ALIASES.get(t, t)


def _clip(text: str, n: int = 60) -> str:
    s = " ".join(text.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def parse_json_output(output: str) -> tuple[bool, Any]:
    """Parse JSON the way a reader would: the whole output, else the single fenced block, else
    the first ``{``/``[`` value preceded only by a short lead-in line.

    Returns:
        ``(ok, value_or_error_message)``.
    """
    text = output.strip()
    candidates = [text]
    for tag, body in ((m.group(1), m.group(2)) for m in _FENCE_TAG.finditer(text)):
        if _norm_lang(tag) in ("json", "", "javascript"):
            candidates.append(body.strip())
    err = ""
    for cand in candidates:
        try:
            return True, json.loads(cand)
        except json.JSONDecodeError as e:
            err = err or f"{e.msg} at line {e.lineno} col {e.colno}"
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if 0 < start <= 120 and "```" not in text:
        try:
            value, end = json.JSONDecoder().raw_decode(text[start:])
            if not text[start + end:].strip():
                return True, value
        except json.JSONDecodeError as e:
            err = f"{e.msg} at line {e.lineno} col {e.colno}"
    return False, err or "no JSON value found"


class Verifier:
    """Check outputs against requirements; thresholds come from the format rules.

    Args:
        rules: The whole format rules dict (``verify``, ``requirements``, ``checks`` blocks).
        schema_check: Optional ``(schema_name, output) -> error or None`` for bound schemas.
    """

    def __init__(self, rules: Mapping[str, Any], schema_check: Callable[[str, str], str | None] | None = None):
        v = dict(rules.get("verify") or {})
        lex = dict(rules.get("requirements") or {})
        checks = rules.get("checks") or {}
        self.v = v
        self.abbrev = frozenset(a.lower() for a in lex.get("abbreviations") or [])
        self.max_item_words = int(lex.get("max_item_words", 15))
        self.max_item_zh = int(lex.get("max_item_zh_chars", 40))
        self.single_zh = int(lex.get("single_word_max_zh_chars", 6))
        self.tol_limit = float((checks.get("length_limit") or {}).get("tolerance", 0.1))
        self.tol_target = float((checks.get("length_target") or {}).get("tolerance", 0.5))
        self.yes_words = sorted({w.lower() for w in v.get("yes_words") or []}, key=len, reverse=True)
        self.schema_check = schema_check
        self._inf_en = self._word_rx(v.get("informal_markers_en"))
        self._for_en = self._word_rx(v.get("formal_markers_en"))
        self._inf_zh = list(v.get("informal_markers_zh") or [])
        self._for_zh = list(v.get("formal_markers_zh") or [])
        # A non-ASCII marker cannot occur in ASCII text: most outputs skip those counts.
        self._inf_zh_ascii = [w for w in self._inf_zh if w.isascii()]
        self._for_zh_ascii = [w for w in self._for_zh if w.isascii()]
        # Every match of a word regex contains one of its words: when none occurs as a
        # substring (most outputs), the regex scan can be skipped with the same count, 0.
        self._inf_en_words = tuple(w.lower() for w in v.get("informal_markers_en") or [])
        self._for_en_words = tuple(w.lower() for w in v.get("formal_markers_en") or [])

    @staticmethod
    def _word_rx(words) -> re.Pattern | None:
        # Whole-word matching: "hey" must not fire inside "they".
        alt = "|".join(sorted((re.escape(w.lower()) for w in words or []), key=len, reverse=True))
        return re.compile(rf"(?<![a-z'])(?:{alt})(?![a-z'])") if alt else None

    def check(self, req: Mapping[str, Any], output: str) -> Hit | None:
        """The violation of ``req`` by ``output``, or None when it holds or cannot be judged."""
        fn = getattr(self, "_" + str(req.get("kind")), None)
        return fn(req, output) if fn else None

    def generic(self, output: str) -> list[Hit]:
        """Checks that need no requirement: an unclosed code fence is always broken markdown."""
        if "```" in output and ts.fence_count(output) % 2:
            return [("structure", "unclosed code fence (odd number of ``` markers)")]
        return []

    # -- JSON and schemas -------------------------------------------------
    def _json(self, req, output) -> Hit | None:
        ok, value = parse_json_output(output)
        if not ok:
            return "json_invalid", f"asked for JSON, output does not parse: {value}"
        keys = req.get("keys")
        if keys:
            objs = value if isinstance(value, list) else [value]
            if not objs or not all(isinstance(o, dict) for o in objs):
                return "json_schema", f"asked for keys {keys}, found a {type(value).__name__}"
            missing = sorted({k for o in objs for k in keys if k not in o})
            if missing:
                return "json_schema", f"asked for keys {keys}, missing {missing}"
        return None

    def _schema(self, req, output) -> Hit | None:
        if self.schema_check is None:
            return None
        err = self.schema_check(req["name"], output)
        if not err:
            return None
        check = "json_schema" if req.get("instance", "json") == "json" else "label_set"
        return check, f"schema {req['name']}: {err}"

    def _option_letter(self, req, output) -> Hit | None:
        if self.schema_check is not None and req.get("schema"):
            err = self.schema_check(req["schema"], output)
            return ("option_letter", f"asked for the option letter only, found '{_clip(output)}'") if err else None
        core = _PREFIX_STRIP.sub("", output.strip()).strip().strip("()（）.。").strip()
        if re.fullmatch(r"[A-Ha-h]", core):
            return None
        return "option_letter", f"asked for the option letter only, found '{_clip(output)}'"

    # -- closed answers ---------------------------------------------------
    def _yes_no(self, req, output) -> Hit | None:
        if ts.looks_like_code(output):
            return None  # a program that prints true/false answers a coding task, not a closed question
        # "1. True" answers a numbered statement; the marker is not part of the answer.
        text = ts.ITEM_RE.sub("", output.strip(), count=1).lower().lstrip("\"'“‘*")
        word = next((w for w in self.yes_words if text.startswith(w)), None)
        # "no" must be a whole word ("nothing" is not an answer); CJK words need no boundary.
        if word and word.isascii() and len(text) > len(word) and text[len(word)].isalnum():
            word = None
        if word is None:
            return "yes_no", f"asked for a yes/no answer, found '{_clip(output, 40)}'"
        if req.get("strict") and ts.word_count(text[len(word):]) + len(ts.CJK_RE.findall(text[len(word):])) > 0:
            return "yes_no", f"asked for only yes/no, found '{_clip(output, 40)}'"
        return None

    def _single_word(self, req, output) -> Hit | None:
        core = output.strip().strip("\"'“”‘’.。!！*")
        cjk = len(ts.CJK_RE.findall(core))
        if cjk:
            if cjk <= self.single_zh and not re.search(r"[，,。；;、\s]", core):
                return None
            return "single_word", f"asked for one word, found {cjk} characters: '{_clip(core, 40)}'"
        n = ts.word_count(core)
        return None if n <= 1 else ("single_word", f"asked for one word, found {n} words: '{_clip(core, 40)}'")

    def _answer_language(self, req, output) -> Hit | None:
        share = ts.cjk_share(ts.strip_code(output))
        if share is None:
            return None
        want = req.get("lang")
        if want == "zh" and share < float(self.v.get("zh_min_cjk_share", 0.3)):
            return "answer_language", f"asked for a Chinese answer, found {share:.0%} CJK letters"
        if want == "en" and share > float(self.v.get("en_max_cjk_share", 0.2)):
            return "answer_language", f"asked for an English answer, found {share:.0%} CJK letters"
        return None

    # -- counts and lengths -----------------------------------------------
    @staticmethod
    def _compare(op: str, found: int, req: Mapping[str, Any]) -> bool:
        n = int(req.get("n", 0))
        if op == "min":
            return found >= n
        if op == "max":
            return found <= n
        if op == "range":
            return n <= found <= int(req.get("n_max", n))
        return found == n

    @staticmethod
    def _wanted(req) -> str:
        op, n = req.get("op", "eq"), req.get("n")
        return {"min": f"at least {n}", "max": f"at most {n}", "range": f"{n}-{req.get('n_max')}"}.get(op, str(n))

    def _item_count(self, req, output) -> Hit | None:
        items = ts.count_items(output, self.max_item_words, self.max_item_zh)
        if items is None or self._compare(req.get("op", "eq"), items.n, req):
            return None
        # Comma counting splits items that contain commas ("Unbent, Unbowed, Unbroken"),
        # so a separator count only accuses when it is short or at least twice the ask.
        if items.method == "separators" and int(req.get("n_max", req.get("n", 0))) <= items.n < 2 * int(req.get("n", 0)):
            return None
        return "item_count", f"asked for {self._wanted(req)} items, found {items.n} ({items.method})"

    def _sentence_count(self, req, output) -> Hit | None:
        if ts.looks_like_code(output):
            return None
        found = ts.count_sentences(output, self.abbrev)
        if found == 0 or self._compare(req.get("op", "eq"), found, req):
            return None
        return "sentence_count", f"asked for {self._wanted(req)} sentence(s), found {found}"

    def _length_limit(self, req, output) -> Hit | None:
        body = ts.strip_code(output)
        unit = req.get("unit")
        if unit == "words":
            if (ts.cjk_share(body) or 0) > 0.5:
                return None  # an English word limit cannot be measured on a Chinese answer
            found = ts.word_count(body)
        elif unit == "zh_chars":
            found = ts.zh_char_count(body)
        else:
            found = len(body.strip())
        label = {"words": "words", "zh_chars": "字", "chars": "characters"}.get(unit, unit)
        op = req.get("op")
        if op in ("max", "range") and req.get("max") and found > req["max"] * (1 + self.tol_limit):
            return "length_limit", f"asked for at most {req['max']} {label}, found {found}"
        if op in ("min", "range") and req.get("min") and found < req["min"] * (1 - self.tol_limit):
            return "length_limit", f"asked for at least {req['min']} {label}, found {found}"
        if op == "eq" and req.get("target") and found != req["target"]:
            return "length_limit", f"asked for exactly {req['target']} {label}, found {found}"
        if op == "target" and req.get("target"):
            t = req["target"]
            if abs(found - t) > t * self.tol_target:
                return "length_target", f"asked for about {t} {label}, found {found}"
        return None

    # -- structure and register ---------------------------------------------
    def _structure(self, req, output) -> Hit | None:
        form = req.get("form")
        if form == "table":
            if _TABLE_RULE.search(output) or "<table" in output.lower():
                return None
            rows = [ln for ln in output.splitlines() if "|" in ln or "\t" in ln or len(re.findall(r"\S\s{3,}\S", ln)) >= 1]
            return None if len(rows) >= 2 else ("structure", "asked for a table, found none")
        if form == "list" and any(ts.ITEM_RE.match(ln) for ln in ts.strip_code(output).splitlines()):
            return None  # a single bullet point is still bullet form
        if form in ("list", "numbered"):
            items = ts.count_items(output, self.max_item_words, self.max_item_zh)
            if items is None or items.method not in ("markers", "inline", "lines"):
                return "structure", f"asked for a {'numbered ' if form == 'numbered' else ''}list, found none"
            if form == "numbered" and items.style not in ("number", "zh"):
                return "structure", f"asked for a numbered list, found a {items.style} list"
            return None
        if form == "code_fence":
            return None if "```" in output else ("structure", "asked for a code block, found no ``` fence")
        if form == "code":
            return self._code(req.get("language", ""), output)
        return None

    def _code(self, lang: str, output: str) -> Hit | None:
        blocks = [(_norm_lang(m.group(1)), m.group(2)) for m in _FENCE_TAG.finditer(output)]
        want = _norm_lang(lang)
        tags = {t for t, _ in blocks if t not in _NEUTRAL_TAGS}
        if tags and want not in tags and not (want in ("html", "css") and tags & {"html", "css", "javascript"}):
            return "structure", f"asked for {lang} code, found ```{sorted(tags)[0]} block"
        if not blocks and not _CODE_SIGNAL.search(output):
            return "structure", f"asked for {lang} code, found no code"
        if want == "python":
            bodies = [b for t, b in blocks if t == "python"]
            for body in bodies:
                try:
                    ast.parse(body)
                except SyntaxError as e:
                    return "structure", f"python code does not parse: {e.msg} (line {e.lineno})"
        return None

    def register_markers(self, output: str) -> tuple[int, int]:
        """``(informal, formal)`` marker counts (whole words for English)."""
        low = output.lower().replace("’", "'")
        ascii_only = output.isascii()
        inf_zh = self._inf_zh_ascii if ascii_only else self._inf_zh
        for_zh = self._for_zh_ascii if ascii_only else self._for_zh
        inf = (len(self._inf_en.findall(low)) if self._inf_en and any(map(low.__contains__, self._inf_en_words))
               else 0) + sum(output.count(w) for w in inf_zh)
        frm = (len(self._for_en.findall(low)) if self._for_en and any(map(low.__contains__, self._for_en_words))
               else 0) + sum(output.count(w) for w in for_zh)
        return inf, frm

    def register_of(self, output: str) -> str | None:
        """"formal"/"informal" when one kind of marker is clearly present and the other absent."""
        inf, frm = self.register_markers(output)
        if inf >= int(self.v.get("formal_min_informal_markers", 2)) and not frm:
            return "informal"
        if frm >= int(self.v.get("informal_min_formal_markers", 2)) and not inf:
            return "formal"
        return None

    def _register(self, req, output) -> Hit | None:
        inf, frm = self.register_markers(output)
        if req.get("style") == "formal" and inf >= int(self.v.get("formal_min_informal_markers", 2)):
            return "register", f"asked for a formal register, found {inf} informal markers"
        if req.get("style") == "informal" and not inf and frm >= int(self.v.get("informal_min_formal_markers", 2)):
            return "register", f"asked for an informal register, found {frm} formal markers and no informal ones"
        return None
