"""Explicit output-format requirements in the instruction, the system prompt and the input.

:class:`Extractor` turns prompt text into a list of JSON-able requirement dicts, e.g.
``{"kind": "item_count", "n": 3, "op": "eq", "source": "instruction", "span": "list three"}``.
Only explicit phrasing counts: "three" must follow a list verb ("list three", "给出三个")
or introduce a countable noun, so "the three-body problem" or "三国" are not requirements.
Word lists (verbs, classifiers, nouns) come from ``rules/format.yaml``; the grammar of
each phrase is here. Count/length phrases live in :mod:`pipeline.formatcheck.countphrases`.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from pipeline.formatcheck.casefold import fold
from pipeline.formatcheck.countphrases import CountPhrases

I = re.I

_CODE_NOUNS = ("function", "program", "script", "code", "class", "method", "query", "algorithm", "snippet", "regex",
               "regular expression", "api", "loop", "module", "sql", "mysql", "html", "css", "command", "curl",
               "statement")
_CODE_REQUEST = re.compile(
    r"\b(?:write|create|implement|develop|generate|construct|design|build|edit|modify|fix|debug|complete|"
    rf"rewrite|refactor|optimi[sz]e)\b[^.\n]{{0,60}}?\b(?:{'|'.join(_CODE_NOUNS)})\b"
    r"|编写|写一个(?:函数|程序|脚本|类)|(?:函数|程序|代码|脚本)(?:实现|来|，)|代码", I)
# Every match of _CODE_REQUEST holds one of these: an English noun (in the folded text, see
# pipeline.formatcheck.casefold) or a Chinese word. Most prompts hold none.
_CODE_ZH = ("编写", "写一个", "函数", "程序", "代码", "脚本")


def _asks_code(text: str) -> bool:
    """Whether ``text`` asks for code (``_CODE_REQUEST``), skipping the search when it cannot match."""
    if not text:
        return False
    low = fold(text)
    if not any(map(low.__contains__, _CODE_NOUNS)) and (text.isascii() or not any(map(text.__contains__, _CODE_ZH))):
        return False
    return bool(_CODE_REQUEST.search(text))

_JSON_PATTERNS = [
    re.compile(r"\b(?:output|return|respond|answer|reply|format|formatted|give|provide|present|write|express|"
               r"represent|convert|transform|turn|rewrite|put|structure|organi[sz]e|generate|create|produce|"
               r"encode|serialize|list|summari[sz]e|extract|store)\b[^.\n]{0,60}?\b(?:in|as|into|to|using)\s+"
               r"(?:a\s+|an\s+)?(?:valid\s+|proper\s+|well-formed\s+|the\s+)?json\b(?!\s+(?:file|library|module|parser))", I),
    re.compile(r"\b(?:create|generate|construct|build|write|produce|make|provide|give|design|compose|form)\s+"
               r"(?:me\s+)?(?:a|an|the|some|sample|example)?\s*(?:valid\s+|simple\s+|sample\s+|new\s+)?json\s+"
               r"(?:object|array|string|document|structure|response|representation|output|schema)\b", I),
    re.compile(r"\b(?:output|return|respond\s+with|reply\s+with|answer\s+with|give|provide)\s+(?:a\s+|the\s+|only\s+)?"
               r"(?:valid\s+)?json\b(?!\s+(?:file|library|module|parser|data\s+(?:from|into|to)))", I),
    re.compile(r"\b(?:output|response|answer|result)s?\s+(?:should|must|needs?\s+to|will)\s+be\s+(?:in\s+)?"
               r"(?:valid\s+)?json\b", I),
    re.compile(r"(?:以|用|使用|按照?|采用)\s*json\s*(?:格式|形式)|(?:转换|转化|转|输出|返回|回答|整理|表示|生成)(?:成|为|到)?\s*json"
               r"|json\s*格式(?:输出|返回|回答|表示|给出)", I),
]
# "Explain how to debug a function in Python" asks for prose about code, not code.
_EXPLAIN = re.compile(r"\s*(?:explain|describe|what|why|how|compare|discuss|summari[sz]e|name|list|identify|define)\b"
                      r"|\s*(?:解释|说明|介绍|描述|什么|为什么|如何|怎么|比较)", I)
_JSON_KEYS_HINT = re.compile(r"\b(?:keys?|fields?|properties|attributes)\b|字段|键|属性", I)
_QUOTED = re.compile(r"[\"'“‘`]([A-Za-z_][\w\- ]{0,30}?)[\"'”’`]")
_UNQUOTED_KEYS = re.compile(r"\b(?:keys?|fields?|properties)\s+(?:named\s+|called\s+|:\s*)?"
                            r"([a-z_]\w*(?:\s*,\s*[a-z_]\w*)*(?:,?\s+and\s+[a-z_]\w*))", I)
_KEY_STOP = {"and", "or", "the", "a", "an", "for", "with", "that", "which", "of", "to", "in", "values",
             "value", "corresponding", "two", "three", "four", "each", "their", "its"}

_YES_NO = [
    re.compile(r"\b(?:answer|respond|reply|output|return|say|indicate|state|write|print|classify|label|tell)\b"
               r"[^.?!\n]{0,30}?\b(?:with\s+)?(?:a\s+|an\s+)?(?:simple\s+|single\s+)?"
               r"(?:[\"'“]?yes[\"'”]?\s*(?:or|/)\s*[\"'“]?no\b[\"'”]?|[\"'“]?true[\"'”]?\s*(?:or|/)\s*[\"'“]?false\b[\"'”]?)"
               r"(?!\s+(?:question|answer\s+question))", I),
    re.compile(r"(?:回答|回复|输出|判断|只需回答|请回答|答)[^，。？！\n]{0,8}?(?:[“\"]?是[”\"]?\s*(?:或|还是|/)\s*[“\"]?(?:否|不是)[”\"]?"
               r"|[“\"]?对[”\"]?\s*(?:或|还是|/)\s*[“\"]?错[”\"]?|正确\s*(?:或|还是|/)\s*错误|yes\s*(?:或|/|or)\s*no)", I),
]
_STRICT = re.compile(r"\bonly\b|\bjust\b|\bsimply\b|只|仅", I)

_OPTION = [
    re.compile(r"\b(?:only|just)\s+(?:the\s+|a\s+)?(?:single\s+)?(?:corresponding\s+|correct\s+)?(?:option|choice|answer)\s+letter\b"
               r"|\b(?:only|just)\s+(?:the\s+)?letter\s+of\s+the\s+(?:correct\s+|right\s+)?(?:option|answer|choice)", I),
    re.compile(r"\b(?:answer|respond|reply|output|return|give|choose|select|pick)\b[^.\n]{0,40}?\b(?:with|using)\s+"
               r"(?:only\s+|just\s+)?(?:the\s+|a\s+)?(?:single\s+)?(?:corresponding\s+|correct\s+)?"
               r"(?:option|choice|answer)\s+letter\b", I),
    re.compile(r"\b(?:[Aa]nswer|[Rr]espond|[Rr]eply)\s+with\s+(?:only\s+)?[\"']?A[\"']?,\s*[\"']?B[\"']?,\s*"
               r"(?:[\"']?C[\"']?,\s*)?(?:or\s+)?[\"']?[CD][\"']?\b"),
    re.compile(r"只(?:需|要|能)?(?:回答|输出|给出|写出|返回)[^，。\n]{0,6}?(?:选项|字母|[A-D](?:\s*[/、,，或]\s*[A-D]){1,4})"
               r"|(?:回答|输出|给出)(?:正确)?选项(?:的)?(?:字母|编号|序号)"),
]
_SINGLE_WORD = [
    re.compile(r"\b(?:in|with|using)\s+(?:just\s+|only\s+)?(?:one|a\s+single|a)\s+word\b"
               r"(?=\s*(?:[.,;:!?)]|$)|\s+(?:only|please|answer|response)\b)", I),
    re.compile(r"\bone[-\s]word\s+(?:answer|response|reply|description|summary)\b", I),
    re.compile(r"(?:用|以)(?:一个|1个|一)?(?:词|词语|单词)(?:来)?(?:回答|概括|形容|描述|总结|表达)|一个词(?:回答|概括|形容|描述|总结)"),
]
_REGISTER_EN = re.compile(
    r"\b(?P<more>more\s+)?(?P<reg>formal|informal|casual|colloquial|conversational|professional)\b"
    r"(?=\s+(?:tone|style|language|register|manner|way|voice|wording|email|letter|version|writing|english|"
    r"phrasing|words?)\b)|\b(?:more|less)\s+(?P<reg2>formal|informal|casual|professional)\b", I)
_REGISTER_ZH = re.compile(r"(?P<f>更正式|用正式|正式(?:的)?(?:语气|口吻|风格|语言|措辞|文风|书信|信函|邮件|表达|书面语)|书面语)"
                          r"|(?P<i>口语化|口语(?:的)?(?:风格|语气|表达)|轻松(?:的)?(?:语气|口吻)|随意(?:的)?(?:语气|口吻))")
_TABLE = [
    re.compile(r"\b(?:in|as|into|using)\s+(?:a\s+)?(?:markdown\s+|html\s+|simple\s+)?(?:table|tabular)"
               r"(?:\s+(?:form|format))?\b(?!\s+(?:called|named|that|which|where|in\s+the\s+database))", I),
    # "build a table" may be furniture: a data table names its content or kind.
    re.compile(r"\b(?:create|construct|make|generate|build|produce|draw|design|prepare)\s+(?:a|an)\s+(?:[\w-]+\s+){0,3}?"
               r"(?:(?:data|comparison|summary|truth|frequency|markdown|html|contingency|timeline)\s+table\b"
               r"|table\s+(?:that\s+(?:shows|lists|compares|summari[sz]es|contains)|showing|comparing|listing|"
               r"summari[sz]ing|of\b|with\s+(?:columns|rows|the\b)|to\s+(?:compare|show|summari[sz]e|display)))", I),
    re.compile(r"(?:用|以|做成|制作|画|生成|整理成|列成|制成|列出)(?:一个|一张)?[^，。\n]{0,4}表格|表格(?:形式|格式)"),
]
_NUMBERED = re.compile(r"\bnumbered\s+(?:list|steps|points|items)\b|\bas\s+(?:a\s+)?list\s+of\s+(?:numbered\s+)?steps\b"
                       r"|(?:用|以|加上?|带)编号|编号(?:列出|列表|的形式)|分步骤(?:列出|说明|回答)", I)
_BULLETS = re.compile(r"\bbullet(?:ed)?[-\s]?(?:points?|list|form)\b|\bin\s+bullets\b|\bin\s+(?:a\s+)?list\s+(?:form|format)\b"
                      r"|\bas\s+a\s+(?:bulleted\s+)?list\b|分点|列点|以列表(?:的)?形式|列表形式", I)
_FENCE_REQ = re.compile(r"\b(?:in|inside|within|using)\s+(?:a\s+)?(?:markdown\s+)?code\s*(?:block|fence)s?\b"
                        r"|(?:用|以|放在|放到|写在|包含在|包裹在)(?:一个)?(?:markdown\s*)?代码块", I)


# "in Chinese culture" is a topic; "in Chinese." / "in Chinese, please" is a language.
_lang_end = r"(?![ \t]*(?!(?:and|please|only|language|text|words?|as|if|so|with|using|for\s+(?:me|us))\b)[A-Za-z-])"


_TRIG_CLOSED = re.compile(r"yes|true|letter|word|[是对选字词]|[a-d]\s*[/、,，或]\s*[a-d]")
_TRIG_REGISTER = re.compile(r"formal|casual|colloquial|conversational|professional|正式|口语|轻松|随意|书面")
_TRIG_STRUCTURE = re.compile(r"table|tabular|numbered|bullet|list|steps|code|program|function|script|query|snippet|"
                             r"表格|编号|分点|列点|列表|步骤|代码|程序|函数|脚本|用|使用")


class Extractor:
    """Extract requirement dicts from prompt text, configured by ``rules.requirements``.

    Args:
        lex: The ``requirements`` block of the format rules (word lists and limits).
    """

    def __init__(self, lex: Mapping[str, Any]):
        self.lex = dict(lex)
        self.counts = CountPhrases(self.lex)
        langs = self.lex.get("languages") or {}
        self.languages = {k.lower(): v for k, v in langs.items()}
        alt = "|".join(sorted((re.escape(k) for k in self.languages), key=len, reverse=True))
        self._lang_en = re.compile(
            rf"\b(?:answer|respond|reply|write|output|response|explain|summari[sz]e|describe|rewrite|"
            rf"paraphrase|reword|say)\b[^.?!\n]{{0,40}}?\bin\s+(?P<l1>{alt})\b{_lang_end}"
            rf"|\btranslat\w*\b[^\n]{{0,200}}?\b(?:in|into|to)\s+(?P<l2>{alt})\b{_lang_end}", I)
        self._lang_zh = re.compile(rf"(?:用|以|使用)(?P<l1>{alt})(?:来)?(?:回答|回复|作答|输出|写|表述|描述|解释|翻译|表达)"
                                   rf"|(?:翻译|译)(?:成|为|到)(?P<l2>{alt})|请用(?P<l3>{alt})", I)
        self._trig_lang = re.compile("translat|翻译|译|" + "|".join(re.escape(k) for k in self.languages))
        codes = [re.escape(c) for c in self.lex.get("code_languages") or []]
        calt = "|".join(sorted(codes, key=len, reverse=True))
        self._code_lang = re.compile(
            rf"(?:\b(?:in|using|with)\s+|(?:用|使用))(?P<l1>{calt})(?![\w+#])|\b(?P<l2>{calt})(?![\w+#])\s*"
            rf"(?:function|program|script|code|class|snippet|query|method|statement|implementation|代码|函数|程序|脚本)", I)

    def extract(self, instruction: str, system: str = "", input_text: str = "") -> list[dict]:
        """All explicit requirements, instruction first; one per kind (structure: one per form).

        Args:
            instruction: The user's request (final turn).
            system: The system prompt.
            input_text: Alpaca input / Dolly context; scanned only when short, because long
                inputs are data ("three reasons" inside an article is not a request).
                For the same reason only the first and last ``scan_instruction_edge_chars``
                of a very long instruction or system prompt are scanned.
        """
        # A huge instruction is mostly pasted material: its requirements sit before or after
        # it, and scanning all of it (dozens of alternations per pattern) costs seconds per MB.
        edge = int(self.lex.get("scan_instruction_edge_chars", 20_000))
        if len(instruction) > 2 * edge:
            instruction = instruction[:edge] + "\n" + instruction[-edge:]
        if len(system) > 2 * edge:
            system = system[:edge] + "\n" + system[-edge:]
        sources = [("instruction", instruction), ("system", system)]
        if input_text and len(input_text) <= int(self.lex.get("scan_input_max_chars", 300)):
            sources.append(("input", input_text))
        out: list[dict] = []
        seen: set[tuple] = set()
        code = _asks_code(instruction) or _asks_code(system)
        for source, text in sources:
            if not text:
                continue
            # The instruction and system prompt were searched just above; only the input is new.
            is_code = code or (source == "input" and _asks_code(text))
            for req in self._from_text(text, is_code, source != "input"):
                key = (req["kind"], req.get("form"))
                if key not in seen:
                    seen.add(key)
                    out.append({**req, "source": source})
        return out

    def _from_text(self, text: str, code: bool, items: bool = True) -> list[dict]:
        # Cheap keyword triggers first: most prompts state no format, and the full
        # patterns (dozens of alternations each) only run where their keyword occurs.
        low = text.lower()
        found: list[dict] = []
        if "json" in low:
            found += self._json(text, code)
        if _TRIG_CLOSED.search(low):
            found += self._closed(text, code)
        if self._trig_lang.search(low):
            found += self._language(text)
        if not code:
            found += self.counts.find(text, items)
        if _TRIG_REGISTER.search(low):
            found += self._register(text)
        if _TRIG_STRUCTURE.search(low):
            found += self._structure(text, code)
        return found

    def _json(self, text: str, code: bool) -> list[dict]:
        for rx in _JSON_PATTERNS:
            m = rx.search(text)
            if m and not (code and rx is not _JSON_PATTERNS[1]):  # in code tasks only "create a JSON object"
                keys = self._json_keys(text[m.start():])
                req = {"kind": "json", "span": m.group(0)[:80]}
                if keys:
                    req["keys"] = keys
                return [req]
        return []

    @staticmethod
    def _json_keys(tail: str) -> list[str]:
        hint = _JSON_KEYS_HINT.search(tail)
        if not hint:
            return []
        window = tail[hint.start(): hint.start() + 160]
        quoted = [q.strip() for q in _QUOTED.findall(window)]
        if len(quoted) >= 1:
            return list(dict.fromkeys(quoted))
        m = _UNQUOTED_KEYS.search(window)
        if not m:
            return []
        toks = [t for t in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", m.group(1)) if t]
        if len(toks) < 2 or any(t.lower() in _KEY_STOP for t in toks):
            return []
        return toks

    def _closed(self, text: str, code: bool) -> list[dict]:
        out = []
        for rx in _OPTION:
            m = rx.search(text)
            if m:
                out.append({"kind": "option_letter", "span": m.group(0)[:80]})
                break
        for rx in () if code else _YES_NO:
            m = rx.search(text)
            if m:
                strict = bool(_STRICT.search(text[max(0, m.start() - 20): m.end() + 10]))
                out.append({"kind": "yes_no", "strict": strict, "span": m.group(0)[:80]})
                break
        for rx in _SINGLE_WORD:
            m = rx.search(text)
            if m:
                out.append({"kind": "single_word", "span": m.group(0)[:80]})
                break
        return out

    def _language(self, text: str) -> list[dict]:
        if not self.languages:  # no language names configured: the patterns would match empty names
            return []
        for rx in (self._lang_en, self._lang_zh):
            m = rx.search(text)
            if m:
                name = next(g for g in m.groups() if g)
                lang = self.languages.get(" ".join(name.lower().split()))
                if lang:
                    return [{"kind": "answer_language", "lang": lang, "span": m.group(0)[-80:]}]
        return []

    @staticmethod
    def _register(text: str) -> list[dict]:
        m = _REGISTER_EN.search(text)
        if m:
            word = (m.group("reg") or m.group("reg2")).lower()
            others = {w.lower() for w in re.findall(r"\b(?:in)?formal\b|\bcasual\b", text, I)}
            if len(others) > 1 and not re.search(r"\b(?:to|into|more)\s+(?:an?\s+)?" + word, text, I):
                return []  # "formal or informal?" is a question about tone, not a request
            style = "formal" if word in ("formal", "professional") else "informal"
            if m.group(0).lower().startswith("less"):
                style = "informal" if style == "formal" else "formal"
            return [{"kind": "register", "style": style, "span": m.group(0)[:80]}]
        m = _REGISTER_ZH.search(text)
        if m:
            return [{"kind": "register", "style": "formal" if m.group("f") else "informal", "span": m.group(0)}]
        return []

    def _structure(self, text: str, code: bool) -> list[dict]:
        out = []
        if not code:
            for rx in _TABLE:
                m = rx.search(text)
                if m:
                    out.append({"kind": "structure", "form": "table", "span": m.group(0)[:80]})
                    break
            m = _NUMBERED.search(text)
            if m:
                out.append({"kind": "structure", "form": "numbered", "span": m.group(0)[:80]})
            else:
                m = _BULLETS.search(text)
                if m:
                    out.append({"kind": "structure", "form": "list", "span": m.group(0)[:80]})
        m = _FENCE_REQ.search(text)
        if m:
            out.append({"kind": "structure", "form": "code_fence", "span": m.group(0)[:80]})
        if code and not _EXPLAIN.match(text):
            m = self._code_lang.search(text)
            if m:
                lang = (m.group("l1") or m.group("l2")).lower()
                out.append({"kind": "structure", "form": "code", "language": lang, "span": m.group(0)[:80]})
        return out
