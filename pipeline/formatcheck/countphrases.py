"""Count and length phrases: item counts, sentence counts and length limits, EN + ZH.

A number only becomes a requirement in a counting construction: after a list verb
("list three", "give me at least 5", "给出三个", "列举5个"), after "a list of" /
"what are", or before a countable noun ("两点建议", "三种方法"). Hyphenated numbers
("three-body") and numbers followed by units ("5 minutes", "3点钟") are not counts.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from pipeline.formatcheck.casefold import fold
from pipeline.formatcheck.numerals import EN_NUMBER_ALT, ZH_NUMERAL_CHARS, parse_number

I = re.I
_NUM = rf"(?:\d{{1,3}}|{EN_NUMBER_ALT})"
_ZNUM = rf"(?:\d{{1,3}}|[０-９]{{1,3}}|[{ZH_NUMERAL_CHARS}]{{1,4}})"
_OPS = {"at least": "min", "a minimum of": "min", "minimum of": "min", "no less than": "min",
        "no fewer than": "min", "not less than": "min", "more than": "min", "over": "min",
        "no more than": "max", "not more than": "max", "up to": "max", "at most": "max",
        "a maximum of": "max", "maximum of": "max", "max": "max", "maximum": "max", "under": "max",
        "less than": "max", "fewer than": "max", "within": "max", "below": "max", "not exceeding": "max",
        "no longer than": "max", "exactly": "eq", "only": "eq", "just": "eq",
        "至少": "min", "不少于": "min", "不低于": "min", "多于": "min", "以上": "min",
        "不超过": "max", "不多于": "max", "不得超过": "max", "不要超过": "max", "不能超过": "max",
        "少于": "max", "最多": "max", "至多": "max", "控制在": "max", "限制在": "max", "限定在": "max",
        "以内": "max", "之内": "max", "内": "max", "以下": "max", "左右": "target", "上下": "target",
        "大约": "target", "约": "target"}
_EN_OP = r"(?:at\s+least|exactly|only|just|no\s+more\s+than|not\s+more\s+than|up\s+to|at\s+most|a\s+maximum\s+of|a\s+minimum\s+of)"


# "the longest word in a sentence": the sentence is the data, not the answer's length.
_DATA_NOUNS = {"word", "letter", "vowel", "noun", "verb", "adjective", "adverb", "error", "mistake", "character",
               "punctuation", "phrase", "occurrence", "count", "frequency", "pronoun", "subject", "object", "token"}


def _op(text: str | None, default: str = "eq") -> str:
    return _OPS.get(" ".join((text or "").lower().split()), default) if text else default


def _alt(words) -> str:
    return "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True))


class CountPhrases:
    """Find item-count, sentence-count and length requirements in one text."""

    def __init__(self, lex: Mapping[str, Any]):
        self.min_n = int(lex.get("min_item_count", 2))
        self.max_n = int(lex.get("max_item_count", 100))
        self.min_bare_zh = int(lex.get("min_bare_zh_length", 20))
        self.non_items = {w.lower() for w in lex.get("en_non_item_nouns") or []}
        self.zh_non_items = tuple(lex.get("zh_non_item_nouns") or [])
        verbs, nouns = _alt(lex.get("en_list_verbs") or ["list"]), _alt(lex.get("en_item_nouns") or ["items"])
        self._en_verb = re.compile(
            rf"\b(?:{verbs})\b(?:\s+(?:me|us|out|down|with|for\s+me))?(?:\s+(?P<op>{_EN_OP}|the\s+top|top|the|your\s+top|"
            rf"a\s+list\s+of|a\s+set\s+of|a\s+total\s+of|some|another|other))*\s+(?P<num>{_NUM})\b(?![-–%]|\s*[:：)])"
            rf"(?:\s*(?:-|–|to|or)\s*(?P<num2>{_NUM})\b)?"
            rf"(?:\s+(?P<noun>[A-Za-z][\w'-]*))?", I)
        self._en_list_of = re.compile(
            rf"\b(?:list|set|collection|series|total)\s+of\s+(?:(?P<op>{_EN_OP})\s+)?(?P<num>{_NUM})\b(?![-–%])"
            rf"(?:\s*(?:-|–|to|or)\s*(?P<num2>{_NUM})\b)?"
            rf"(?:\s+(?P<noun>[A-Za-z][\w'-]*))?", I)
        self._en_what = re.compile(rf"\bwhat\s+are\s+(?:some\s+|the\s+)?(?:top\s+)?(?P<num>{_NUM})\b(?![-–%])\s+(?P<noun>[A-Za-z][\w'-]*)", I)
        self._en_lead = re.compile(rf"^\s*(?P<num>{_NUM})\s+(?:\w+\s+)?(?P<noun>{nouns})\b", I)
        self._en_in_points = re.compile(
            rf"\b(?:in|into|with|using)\s+(?P<num>{_NUM})\s+(?:\w+\s+)?(?:bullet\s*points|bullets|points|items)\b", I)
        zverbs, cls = _alt(lex.get("zh_list_verbs") or ["列出"]), _alt(lex.get("zh_classifiers") or ["个"])
        self._zh_needs_cjk = not any(str(w).isascii() for w in lex.get("zh_list_verbs") or ["列出"])
        self._zh_verb = re.compile(
            rf"(?<![序系排队并罗陈选检推创壮科])(?:{zverbs})(?P<gap>[^，。？！；：,.?!;:\n\d０-９{ZH_NUMERAL_CHARS}]{{0,4}}|一(?:个|份|张|组|系列)[^，。？！；\n]{{0,14}}的)"
            rf"(?<!第)(?P<num>{_ZNUM})(?P<cls>{cls})(?P<tail>.{{0,3}})")
        self._zh_noun = re.compile(
            rf"(?<![第前\d{ZH_NUMERAL_CHARS}])(?P<num>{_ZNUM})(?:个|种|条|点|项|大)(?:主要的?|重要的?|关键的?|具体的?|不同的?)?"
            rf"(?:{_alt(lex.get('zh_count_nouns') or ['建议'])})")
        self._zh_top = re.compile(rf"(?<![以之从目提])前(?P<num>{_ZNUM})(?:个|名|位|大|种|本|部)")
        self._zh_has_verb = re.compile(zverbs)
        self._trig_num = re.compile(rf"\d|[０-９{ZH_NUMERAL_CHARS}]|\b(?:{EN_NUMBER_ALT})\b")
        self._trig_len = re.compile(r"word|char|字")
        # "list two pros and two cons": two counts joined, the total is not n.
        self._compound = re.compile(rf"^\s*(?:[\w'-]+\s+){{0,3}}?(?:and|or|&|as\s+well\s+as)\s+(?:{_NUM})\b|^[^，。]{{0,8}}?[和与及][^，。]{{0,2}}{_ZNUM}(?:个|种|条|点|项)", I)
        # "describe two robots' dialogue", "两个国家之间的关系": the number counts participants.
        self._pair_ctx = re.compile(r"^[^.?!\n，。？！]{0,40}?(?:\b(?:between|conversation|dialog(?:ue)?|relationship|"
                                    r"interaction|meeting|debate|argument|compare|comparison|contrast)\b|之间|的(?:关系|区别|对话|比较|"
                                    r"异同|差异|不同|联系|交流|故事)|对话|对比|比较)", I)
        # sentences
        self._en_sent = [
            re.compile(rf"\b(?:in|with|using|within|into)\s+(?:(?P<op>no\s+more\s+than|not\s+more\s+than|at\s+most|up\s+to|"
                       rf"less\s+than|fewer\s+than|under|at\s+least|exactly|just|only|about)\s+)?(?:a\s+)?"
                       rf"(?P<num>{_NUM}|a|one)(?:\s*(?:-|–|to|or)\s*(?P<num2>{_NUM}))?\s+(?:[a-z]+\s+)?sentences?\b", I),
            re.compile(rf"\b(?P<num>{_NUM})(?:\s*(?:-|–|to)\s*(?P<num2>{_NUM}))?-sentences?\b", I),
            re.compile(rf"\b(?P<num>{_NUM})(?:\s*(?:-|–|to)\s*(?P<num2>{_NUM}))?\s+sentences?\s+(?:summary|description|story|"
                       rf"paragraph|explanation|answer|response|bio|review|definition)\b", I),
            re.compile(rf"\b(?P<num>{_NUM})[-\s]sentence\b(?!s)", I),
            re.compile(r"\b(?:write|generate|create|compose|construct|produce|come\s+up\s+with|make|form|give|provide)\s+"
                       r"(?:me\s+)?(?P<num>a|one)\s+(?:[a-z]+\s+){0,2}?sentence\b(?!s|\s+(?:for\s+each|per|from\s+each))", I),
        ]
        self._zh_sent = re.compile(
            rf"(?:(?P<pre>用|以)|(?P<op>不超过|最多|至少|不多于))?(?P<num>{_ZNUM})(?:[到至\-~～](?P<num2>{_ZNUM}))?句话?"
            rf"(?P<post>以内|之内|内|概括|总结|描述|介绍|解释|回答|说明|形容|表达|写)?")
        # lengths
        self._en_len = re.compile(
            rf"\b(?:(?P<op>under|less\s+than|fewer\s+than|no\s+more\s+than|not\s+more\s+than|not\s+exceeding|at\s+most|"
            rf"a\s+maximum\s+of|maximum\s+of|max(?:imum)?|up\s+to|within|below|no\s+longer\s+than|at\s+least|more\s+than|"
            rf"over|a\s+minimum\s+of|minimum\s+of|no\s+less\s+than|no\s+fewer\s+than|not\s+less\s+than|exactly|only)\s+"
            rf"|(?P<in>in)\s+(?:(?P<about>about|around|approximately|roughly)\s+)?|(?P<of>of)\s+(?:(?:about|around|approximately)\s+)?)"
            rf"(?P<num>\d[\d,]*|{_NUM})(?:\s*(?:-|–|to|and)\s*(?P<num2>\d[\d,]*))?\s+(?P<unit>words?|characters?|chars)\b"
            rf"(?:\s+or\s+(?P<orx>less|fewer|more))?", I)
        # "write a 300-word essay" (the answer's length), not "edit a 1000-word essay" (the topic).
        self._en_len_hyphen = re.compile(r"\b(?:write|generate|create|compose|produce|draft|give|provide|craft|prepare)\s+"
                                         r"(?:me\s+)?(?:a|an)\s+(?P<num>\d[\d,]*)[-\s]word\b(?!s)", I)
        self._en_between = re.compile(r"\bbetween\s+(?P<num>\d[\d,]*)\s+and\s+(?P<num2>\d[\d,]*)\s+(?P<unit>words|characters)\b", I)
        self._zh_len = re.compile(
            rf"(?P<pre>不超过|不多于|不得超过|不要超过|不能超过|少于|最多|至多|控制在|限制在|限定在|至少|不少于|不低于|多于|大约|约)?"
            rf"(?P<num>\d{{1,5}}|[{ZH_NUMERAL_CHARS}千]{{1,5}})(?P<ge>个)?(?:字|汉字|字符)(?!母|符串|典|经|形|体|节|幕)"
            rf"(?P<post>以内|之内|内|以下|左右|上下|以上)?(?P<de>的)?")

    def find(self, text: str, items_too: bool = True) -> list[dict]:
        """Requirements found in ``text``: at most one item_count, sentence_count and length_limit.

        Args:
            text: Prompt text.
            items_too: False for the input field, where "Five major cities: ..." is data.
        """
        out: list[dict] = []
        low = text.lower()
        sent = self._sentences(text) if ("sentence" in low or "句" in text) else None
        if sent:
            out.append(sent)
        items = self._items(text) if items_too and self._trig_num.search(low) else None
        if items and not (items.get("_sentence") and sent):
            if items.pop("_sentence", False):
                out.append({"kind": "sentence_count", **{k: v for k, v in items.items() if k not in ("kind", "_sentence")}})
            else:
                out.append(items)
        length = self._length(text) if self._trig_len.search(low) else None
        if length:
            out.append(length)
        return out

    def _count(self, num: str | None, op: str, span: str) -> dict | None:
        n = parse_number(num or "")
        if n is None or not self.min_n <= n <= self.max_n:
            return None
        return {"kind": "item_count", "n": n, "op": op, "span": span.strip()[:80]}

    def _items(self, text: str) -> dict | None:
        for rx in (self._en_verb, self._en_list_of, self._en_what, self._en_lead, self._en_in_points):
            for m in rx.finditer(text):
                noun = (m.groupdict().get("noun") or "").lower()
                if noun in self.non_items or noun.startswith("paragraph"):
                    continue
                if self._pair_ctx.search(text[m.end():]) or self._pair_ctx.search(text[m.start("num"):m.end()]) \
                        or self._compound.search(text[m.end("num"):]):
                    continue
                req = self._count(m.group("num"), _op(m.groupdict().get("op")), m.group(0))
                n2 = parse_number(m.groupdict().get("num2") or "")
                if req and n2 and n2 > req["n"]:
                    req.update(op="range", n_max=n2)
                if req:
                    if noun.startswith("sentence"):
                        req["_sentence"] = True
                    return req
        if self._zh_needs_cjk and text.isascii():
            return None  # the patterns below all need a Chinese list verb or classifier
        for m in self._zh_verb.finditer(text):
            tail = m.group("tail")
            if m.group("cls") == "句":
                req = self._count(m.group("num"), "eq", m.group(0))
                if req:
                    return {**req, "_sentence": True}
                continue
            if tail.startswith(self.zh_non_items) or (m.group("cls") == "点" and tail[:1] in ("钟", "半")):
                continue
            gap = m.group("gap")
            if "了" in gap or self._pair_ctx.search(text[m.start("tail"):]) or self._compound.search(text[m.end("cls"):]):
                continue  # "给了小红2个糖果" is a story, not a request
            op = "min" if "至少" in gap else "max" if ("最多" in gap or "不超过" in gap) else "eq"
            req = self._count(m.group("num"), op, m.group(0))
            if req:
                return req
        for rx in (self._zh_noun, self._zh_top):
            m = rx.search(text)
            if m and (rx is self._zh_noun or self._zh_has_verb.search(text)):
                req = self._count(m.group("num"), "eq", m.group(0))
                if req:
                    return req
        return None

    def _sentences(self, text: str) -> dict | None:
        # Every English pattern needs "sentence" (IGNORECASE: in the folded text), the Chinese one 句.
        for rx in self._en_sent if "sentence" in fold(text) else ():
            for m in rx.finditer(text):
                num = m.group("num").lower()
                plural = m.group(0).lower().rstrip().endswith("sentences")
                prev = text[max(0, m.start() - 30): m.start()].split()
                if (num in ("a", "one") and plural) or num.startswith("a couple") \
                        or re.match(r"\s*(?:\w+\s+)?(?:each|per)\b", text[m.end():]) \
                        or (prev and prev[-1].lower().rstrip("s") in _DATA_NOUNS):
                    continue  # "in a few sentences", "one sentence answer each", "the words in a sentence"
                return self._sent_req(m, _op(m.groupdict().get("op")))
        for m in self._zh_sent.finditer(text) if "句" in text else ():
            if not (m.group("pre") or m.group("op") or m.group("post")):
                continue
            before = text[max(0, m.start() - 2): m.start()]
            if any(d in before for d in ("这", "那", "此", "该", "每", "下面", "以下", "上面", "第")):
                continue
            op = "max" if m.group("post") in ("以内", "之内", "内") else _op(m.group("op"))
            return self._sent_req(m, op)
        return None

    @staticmethod
    def _sent_req(m: re.Match, op: str) -> dict | None:
        num = m.group("num").lower()
        n = 1 if num in ("a", "one", "single", "a single") else parse_number(num)
        if n is None or n <= 0 or n > 50:
            return None
        tail = re.match(r"\s*or\s+(less|fewer|more)\b", m.string[m.end():], I)
        if tail:  # "in 5 sentences or less"
            op = "min" if tail.group(1).lower() == "more" else "max"
        req = {"kind": "sentence_count", "n": n, "op": op, "span": m.group(0).strip()[:80]}
        n2 = parse_number(m.groupdict().get("num2") or "")
        if n2 and n2 > n:
            req.update(op="range", n=n, n_max=n2)
        return req

    def _length(self, text: str) -> dict | None:
        m = self._en_between.search(text)
        if m:
            lo, hi = parse_number(m.group("num").replace(",", "")), parse_number(m.group("num2").replace(",", ""))
            unit = "words" if m.group("unit").lower().startswith("word") else "chars"
            return {"kind": "length_limit", "op": "range", "min": lo, "max": hi, "unit": unit, "span": m.group(0)}
        m = self._en_len.search(text)
        if m:
            return self._en_len_req(m)
        m = self._en_len_hyphen.search(text)
        if m:
            n = parse_number(m.group("num").replace(",", ""))
            if n and n >= 10:
                return {"kind": "length_limit", "op": "target", "target": n, "unit": "words", "span": m.group(0)}
        for m in self._zh_len.finditer(text):
            req = self._zh_len_req(m)
            if req:
                return req
        return None

    @staticmethod
    def _en_len_req(m: re.Match) -> dict | None:
        n = parse_number(m.group("num").replace(",", ""))
        if not n:
            return None
        unit = "words" if m.group("unit").lower().startswith("word") else "chars"
        if m.group("num2"):
            hi = parse_number(m.group("num2").replace(",", ""))
            if hi and hi > n:
                return {"kind": "length_limit", "op": "range", "min": n, "max": hi, "unit": unit, "span": m.group(0)}
        if m.group("orx"):
            op = "max" if m.group("orx").lower() in ("less", "fewer") else "min"
        elif m.group("op"):
            op = _op(m.group("op"))
        elif m.group("in"):
            op = "target"  # "a story in 150 words" aims at a length; it is not a hard cap
        else:  # "of N words": "a word limit of 50 words" is a max, "a list of three words" is no length
            if n < 10:
                return None
            op = "max" if "limit" in m.string[max(0, m.start() - 14): m.start()] else "target"
        if unit == "chars" and (n < 20 or (op in ("target", "eq") and not m.group("op"))):
            return None  # "passwords up to 8 characters", "a string of 8 characters": content, not length
        req = {"kind": "length_limit", "op": op, "unit": unit, "span": m.group(0).strip()[:80]}
        req["target" if op in ("target", "eq") else op] = n
        return req

    def _zh_len_req(self, m: re.Match) -> dict | None:
        n = parse_number(m.group("num")) if "千" not in m.group("num") else None
        if n is None and "千" in m.group("num"):
            head = m.group("num").split("千")[0]
            n = (parse_number(head) or 1) * 1000 if head else 1000
        if not n:
            return None
        pre, post = m.group("pre"), m.group("post")
        if not pre and not post:
            # Bare "500字的作文" is a target; bare "三字经"/"3个字" are not lengths.
            if not m.group("de") or m.group("ge") or n < self.min_bare_zh:
                return None
            op = "target"
        else:
            op = _op(post) if post else _op(pre)
            if pre and _op(pre) in ("min", "max"):
                op = _op(pre)
        req = {"kind": "length_limit", "op": op, "unit": "zh_chars", "span": m.group(0)}
        req["target" if op == "target" else op] = n
        return req
