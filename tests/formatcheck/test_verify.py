"""Output verification against single requirements, EN + ZH, with the issue's hard negatives."""
from __future__ import annotations

import pytest

from pipeline.config import stage_rules
from pipeline.formatcheck import textstats as ts
from pipeline.formatcheck.checker import RecordChecker


@pytest.fixture(scope="module")
def chk():
    return RecordChecker(stage_rules("format"))


def check(chk, req, output):
    hit = chk.verifier.check(req, output)
    return hit[0] if hit else None


ITEMS3 = {"kind": "item_count", "n": 3, "op": "eq"}


@pytest.mark.parametrize("output,n", [
    ("1. Red\n2. Blue\n3. Yellow", 3), ("1) a\n2) b", 2), ("- a\n- b\n- c\n- d", 4), ("* a\n* b", 2), ("• a\n• b\n• c", 3),
    ("① 苹果\n② 香蕉\n③ 橙子", 3), ("一、苹果\n二、香蕉", 2), ("（一）甲\n（二）乙\n（三）丙", 3), ("苹果、香蕉、橙子", 3),
    ("多喝水；多运动；早睡觉", 3), ("Red, blue, and yellow.", 3), ("1. Red 2. Blue 3. Yellow", 3),
    # items spanning several lines, nested sub-items and an intro line still count as the top level
    ("Here are three:\n1. Exercise\n   daily, for 30 minutes.\n2. Sleep\n   - eight hours\n   - no screens\n3. Eat well", 3),
])
def test_count_items(output, n):
    assert ts.count_items(output).n == n


@pytest.mark.parametrize("output", ["The three primary colors are red, yellow and blue.",
                                    "Pros:\n1. cheap\n2. fast\nCons:\n1. noisy\n2. big",
                                    "Photosynthesis turns light into sugar. Plants need it to grow."])
def test_count_items_unclear_is_none(output):
    assert ts.count_items(output) is None


def test_item_count_verdicts(chk):
    assert check(chk, ITEMS3, "1. Red\n2. Blue\n3. Yellow") is None
    assert check(chk, ITEMS3, "1. Red\n2. Blue") == "item_count"
    assert chk.verifier.check(ITEMS3, "- Red\n- Blue")[1] == "asked for 3 items, found 2 (markers)"
    assert check(chk, {"kind": "item_count", "n": 3, "op": "min"}, "1. a\n2. b\n3. c\n4. d") is None
    assert check(chk, {"kind": "item_count", "n": 3, "op": "eq"}, "给你几点：\n1. 早睡\n2. 早起") == "item_count"
    # prose answers are not judged
    assert check(chk, ITEMS3, "Red is warm, blue is calm and yellow is bright, as painters know.") is None


def test_numbered_steps_inside_code_are_not_items(chk):
    out = "Use this:\n```python\n# 1. load\n# 2. parse\n# 3. save\n# 4. exit\nprint(1)\n```\n1. Install\n2. Run\n3. Check"
    assert ts.count_items(out).n == 3
    assert check(chk, ITEMS3, out) is None


@pytest.mark.parametrize("output,n", [
    ("Paris is the capital of France; it lies on the Seine; it has many museums.", 1),
    ("巴黎是法国的首都。它位于塞纳河畔！你去过吗？", 3), ("Dr. Smith lives in the U.S. now. He is fine.", 2),
    ("It costs 3.5 dollars, e.g. in Paris. Really!", 2), ("First sentence.Second one here.", 2),
])
def test_count_sentences(output, n):
    assert ts.count_sentences(output, frozenset(stage_rules("format")["requirements"]["abbreviations"])) == n


def test_sentence_count_verdicts(chk):
    one = {"kind": "sentence_count", "n": 1, "op": "eq"}
    long_one = ("Photosynthesis is the process by which plants, algae and some bacteria capture light; they turn "
                "water and carbon dioxide into sugar; and they release oxygen as a by-product.")
    assert check(chk, one, long_one) is None
    assert check(chk, one, "Plants make sugar. They release oxygen.") == "sentence_count"
    assert check(chk, one, "植物利用光能制造养分。") is None
    assert check(chk, one, "植物利用光能制造养分。同时释放氧气。") == "sentence_count"


def test_length_verdicts(chk):
    words = {"kind": "length_limit", "op": "max", "max": 10, "unit": "words"}
    assert check(chk, words, "one two three four five six seven eight nine ten") is None
    assert check(chk, words, " ".join(["w"] * 12)) == "length_limit"
    zh = {"kind": "length_limit", "op": "max", "max": 10, "unit": "zh_chars"}
    assert check(chk, zh, "春天来了，花开了。") is None
    assert check(chk, zh, "春天来了，花都开了，小鸟在枝头欢快地歌唱。") == "length_limit"
    target = {"kind": "length_limit", "op": "target", "target": 10, "unit": "words"}
    assert check(chk, target, " ".join(["w"] * 30)) == "length_target"
    assert chk.verifier.check(words, " ".join(["w"] * 12))[1] == "asked for at most 10 words, found 12"


def test_json_verdicts(chk):
    req = {"kind": "json"}
    assert check(chk, req, '{"a": 1}') is None
    assert check(chk, req, 'Here it is:\n```json\n{"a": 1}\n```') is None  # JSON inside a fenced block
    assert check(chk, req, "{'a': 1}") == "json_invalid"
    assert check(chk, req, "The answer is a = 1") == "json_invalid"
    keyed = {"kind": "json", "keys": ["name", "age"]}
    assert check(chk, keyed, '{"name": "Li", "age": 3}') is None
    hit = chk.verifier.check(keyed, '{"name": "Li"}')
    assert hit == ("json_schema", "asked for keys ['name', 'age'], missing ['age']")


def test_bound_schemas(chk):
    assert check(chk, {"kind": "schema", "name": "json_extraction", "instance": "json"}, '{"person": "Ada"}') is None
    assert check(chk, {"kind": "schema", "name": "json_extraction", "instance": "json"}, "{}") == "json_schema"
    label = {"kind": "schema", "name": "classification_label", "instance": "label"}
    assert check(chk, label, "Positive.") is None
    assert check(chk, label, "积极") is None
    assert check(chk, label, "The sentiment is positive.") == "label_set"


def test_closed_answer_verdicts(chk):
    yn = {"kind": "yes_no", "strict": False}
    assert check(chk, yn, "Yes, because water is wet.") is None
    assert check(chk, yn, "是的，水是湿的。") is None
    assert check(chk, yn, "Nothing is certain.") == "yes_no"
    assert check(chk, {"kind": "yes_no", "strict": True}, "No.") is None
    assert check(chk, {"kind": "yes_no", "strict": True}, "No, it is not.") == "yes_no"
    opt = {"kind": "option_letter", "schema": "multiple_choice"}
    for good in ("B", "(B)", "B.", "b"):
        assert check(chk, opt, good) is None, good
    assert check(chk, opt, "B. Paris") == "option_letter"
    word = {"kind": "single_word"}
    assert check(chk, word, "Joyful.") is None
    assert check(chk, word, "快乐") is None
    assert check(chk, word, "Very joyful indeed") == "single_word"


def test_language_register_structure(chk):
    assert check(chk, {"kind": "answer_language", "lang": "en"}, "The weather is nice today.") is None
    assert check(chk, {"kind": "answer_language", "lang": "en"}, "今天天气很好。") == "answer_language"
    assert check(chk, {"kind": "answer_language", "lang": "zh"}, "人工智能是 AI 的中文说法。") is None
    assert check(chk, {"kind": "answer_language", "lang": "zh"}, "AI means artificial intelligence.") == "answer_language"
    formal = {"kind": "register", "style": "formal"}
    assert check(chk, formal, "We hereby inform you that the meeting is postponed.") is None
    assert check(chk, formal, "Hey guys, it's gonna be postponed lol") == "register"
    table = {"kind": "structure", "form": "table"}
    assert check(chk, table, "| a | b |\n|---|---|\n| 1 | 2 |") is None
    assert check(chk, table, "A is 1 and B is 2.") == "structure"
    numbered = {"kind": "structure", "form": "numbered"}
    assert check(chk, numbered, "- a\n- b") == "structure"
    code = {"kind": "structure", "form": "code", "language": "python"}
    assert check(chk, code, "```python\ndef f():\n    return 1\n```") is None
    assert check(chk, code, "```java\nclass A {}\n```") == "structure"
    assert check(chk, code, "```python\ndef f(:\n```") == "structure"
    assert check(chk, {"kind": "structure", "form": "code_fence"}, "print(1)") == "structure"
    assert chk.verifier.generic("```python\nprint(1)\n") == [("structure", "unclosed code fence (odd number of ``` markers)")]
