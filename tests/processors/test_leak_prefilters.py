"""The leak stage's prefilters never change a result: intent cue index, output-key markers, options.

Each shortcut is compared with the plain computation (every pattern searched) on
tricky English and Chinese inputs, and on the shared real data when it is present.
"""
from __future__ import annotations

import json

import pytest

from pipeline.config import stage_rules
from pipeline.decontam.text import units
from pipeline.leak import detect
from pipeline.leak.intent import IntentRecognizer
from pipeline.leak.keys import KeyFinder
from pipeline.processors.leak import Leak

RULES = stage_rules("leak")


def _plain_intent(rules):
    rec = IntentRecognizer(rules)
    rec.cues.candidates = lambda text: set(range(len(rec.order)))  # search every pattern
    return rec


def _plain_keys(rules):
    kf = KeyFinder(rules)
    kf._num_cues = kf._letter_cues = ("",)  # "" is in every text: always scan
    return kf


INSTRUCTIONS = [
    "Translate the following sentence into French.", "TRANSLATE this", "ＴＲＡＮＳＬＡＴＩＯＮ please",
    "Please re-write the paragraph.", "tl;dr of this article", "TL;DR", "Give the credit to the author.",
    "Summarize the text in the passage below.", "What is the main point?", "in english, please",
    "Order the following numbers: 3, 1, 2", "order these", "Based on the following text, who won?",
    "Make it more formal.", "make it", "Is this a cat?", "把下面的句子翻译成英文", "请总结这段话", "给我讲个笑话",
    "Classify the sentiment.", "Edit: none", "credited", "text in the passage", "sort-of interesting", "",
    "Which of the following is a fruit? A. apple B. car", "Convert 5 km to miles.", "from the text above, extract names",
]

OUTPUTS = [
    "B", "(C) Paris", "The answer is B.", "ANSWER: D", "ſo the anſwer is C", "Therefore, the result is 42.",
    "#### 18", "3 + 15 = 18. The answer is 18.", "答案是B", "所以一共有18个。", "Option E is right.", "choice (a)",
    "A dog barked at 7 am.", "Apples, bananas and cherries.", "The FİNAL ANSWER is 12", "Paris", "巴黎", "",
    "Here are 3 ideas: first, second, third.", "Hence the value: -1,200.5", "The choice is H", "answer = 7",
]


@pytest.mark.parametrize("text", INSTRUCTIONS)
def test_intent_cue_index_agrees_with_plain_search(text):
    assert IntentRecognizer(RULES)(text) == _plain_intent(RULES)(text)
    assert IntentRecognizer(RULES)("", text) == _plain_intent(RULES)("", text)


def test_intent_cue_index_with_odd_phrases():
    rules = {"intents": {"a": {"en": ["#tag", "x-y z", "Über mode"], "zh": ["改写"]},
                         "b": {"en": ["", "go"]}, "c": {"zh": ["翻译"]}}}
    for text in ["use #tag here", "x-y z", "x-y  z", "über mode", "UBER mode", "改写一下", "go", "gone", "翻译", "x"]:
        assert IntentRecognizer(rules)(text) == _plain_intent(rules)(text), text


def test_every_lexicon_phrase_is_found_in_context():
    rec, plain = IntentRecognizer(RULES), _plain_intent(RULES)
    for lex in RULES["intents"].values():
        for phrase in (lex.get("en") or []) + (lex.get("zh") or []):
            for text in (phrase, f"Please {phrase}.", f"{phrase.upper()}: x", f"x{phrase}x", f"({phrase})"):
                assert rec(text) == plain(text), text


@pytest.mark.parametrize("output", OUTPUTS)
def test_output_key_marker_prefilter(output):
    kf, plain = KeyFinder(RULES), _plain_keys(RULES)
    assert kf.keys(output) == plain.keys(output)
    assert kf.keys(output, units(output)) == kf.keys(output)


def test_no_output_markers_keeps_the_scans_on():
    rules = {**RULES, "output_answer_markers": []}
    kf = KeyFinder(rules)
    assert kf._num_cues == ("",)
    for output in ["It costs 12 dollars.", "option B", "B"]:
        assert kf.keys(output) == _plain_keys(rules).keys(output)


def _plain_options(text):
    starts = list(detect._OPTION.finditer(text))
    opts = [(m.group(1), text[m.end():starts[i + 1].start() if i + 1 < len(starts) else len(text)].split("\n", 1)[0])
            for i, m in enumerate(starts)]
    letters = [letter for letter, _ in opts]
    return opts if "A" in letters and "B" in letters else []


@pytest.mark.parametrize("text", INSTRUCTIONS + ["Pick one: A. red B. blue", "a. red b. blue", "(A) x (C) y", "A、是 B、否"])
def test_options_shortcut(text):
    assert detect._options(text) == _plain_options(text)


def _shared_records(shared_data, limit=2000):
    recs = []
    for name in ("belle/dev1K.json", "dolly/dolly_3k.json", "zh_supplementary/integer_add_sub.json",
                 "code_alpaca/code_alpaca_2k.json"):
        path = shared_data / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        try:
            items = json.loads(text)
        except json.JSONDecodeError:  # JSON Lines
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        recs += [{"system": "", "history": [], "instruction": d.get("instruction") or "", "input": d.get("input") or "",
                  "output": d.get("output") or ""} for d in items[:limit]]
    return recs


def test_real_records_check_the_same(shared_data):
    recs = _shared_records(shared_data)
    assert recs
    fast, plain = Leak(RULES, seed=0), Leak(RULES, seed=0)
    fast.setup()
    plain.setup()
    plain._intent, plain._keys = _plain_intent(RULES), _plain_keys(RULES)
    for rec in recs:
        assert fast.check_record(rec) == plain.check_record(rec), rec
        out = rec["output"]
        assert fast._keys.keys(out) == plain._keys.keys(out)
        for text in (rec["instruction"], rec["input"]):
            assert detect._options(text) == _plain_options(text)
