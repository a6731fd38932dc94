"""Tests for the language stage: tags, scores and each reason code, EN and ZH."""
from __future__ import annotations

import pickle

import pytest

from pipeline.config import stage_rules
from pipeline.processors.language import Language
from pipeline.record import from_rows, new_record
from pipeline.text.langid import LangId, normalise_code


@pytest.fixture(scope="module")
def stage() -> Language:
    s = Language(stage_rules("language"), seed=0)
    s.setup()
    return s


def run(stage, **fields):
    batch = from_rows([new_record(**fields)])
    batch, verdicts = stage.process(batch)
    return batch, verdicts[0]


def codes(v) -> set[str]:
    return set(v.flags) | ({v.reason} if v.reason else set())


def test_tags_english_and_chinese(stage):
    b, v = run(stage, instruction="Explain why the sky is blue to a child.",
               output="Sunlight is made of many colours, and the blue part gets scattered the most by the air.")
    assert b["lang"][0] == "en" and v.keep and not v.flags
    assert v.scores["lang_score"] >= 0.8
    b, v = run(stage, instruction="请解释为什么天空是蓝色的。", output="因为阳光中的蓝光被大气散射得最多。")
    assert b["lang"][0] == "zh" and v.keep and not v.flags
    assert b["meta"][0]["lang"] == {"instruction": "zh", "output": "zh"}


def test_short_answer_is_not_judged(stage):
    # "Paris." is no evidence of French; the record keeps the instruction's language.
    b, v = run(stage, instruction="What is the capital of France?", output="Paris.")
    assert b["lang"][0] == "en" and v.keep and not v.flags
    b, v = run(stage, instruction="Hi", output="Hello!")
    assert b["lang"][0] == "und" and v.keep and not v.flags


def test_mismatch_en_instruction_zh_answer(stage):
    _, v = run(stage, instruction="Describe the weather today in London in three sentences.",
               output="今天伦敦的天气多云，气温大约十五度。下午可能会有小雨。晚上风比较大。")
    assert "language_mismatch" in codes(v)


def test_mismatch_zh_instruction_en_answer(stage):
    _, v = run(stage, instruction="请简单介绍一下长城的历史。",
               output="The Great Wall was built over many centuries by several dynasties to protect the northern borders of the empire.")
    assert "language_mismatch" in codes(v)


@pytest.mark.parametrize("ins,out", [
    ("Translate into Chinese: I love reading books on rainy days.", "我喜欢在下雨天看书。"),
    ("把这句话翻译成英文：我喜欢在下雨天看书。", "I like reading books on rainy days."),
    ("用英文回答：长城有多长？", "The Great Wall is more than twenty thousand kilometres long in total."),
])
def test_translation_tasks_are_exempt(stage, ins, out):
    _, v = run(stage, instruction=ins, output=out)
    assert "language_mismatch" not in codes(v) and "language_mixed" not in codes(v) and v.keep


def test_code_blocks_are_ignored(stage):
    out = "可以这样写：\n```python\ndef add(a, b):\n    return a + b\n```\n这个函数返回两个数的和。"
    _, v = run(stage, instruction="用Python写一个加法函数", output=out)
    assert v.keep and not v.flags


def test_chinese_question_quoting_english_is_not_mismatch(stage):
    _, v = run(stage, instruction='请解释这句英文的意思："Where there is a will, there is a way."',
               output="这句话的意思是：只要有决心，就一定能找到办法，也就是有志者事竟成。")
    assert not codes(v)


def test_mixed_chinese_answer_with_long_english_span(stage):
    out = ("关于这个问题，我的看法如下。The main reason is that the economy grew much faster than expected "
           "during the last decade and wages did not follow. 因此需要调整政策。")
    _, v = run(stage, instruction="为什么近年来房价上涨这么快？", output=out)
    assert "language_mixed" in codes(v)


def test_mixed_ignores_quoted_names(stage):
    out = "可以使用“When Green Flag Clicked and Then Repeat Forever Until The Stop Sign Is Pressed Again”这个积木。"
    _, v = run(stage, instruction="如何让程序一直运行？", output=out)
    assert "language_mixed" not in codes(v)


def test_not_allowed_drops_confident_other_language(stage):
    _, v = run(stage, instruction="Qual é a capital do Brasil? Responda com detalhes, por favor, e explique a história.",
               output="A capital do Brasil é Brasília, uma cidade planejada e inaugurada em 1960 no Planalto Central.")
    assert not v.keep and v.reason == "language_not_allowed"


def test_not_allowed_respects_config(stage):
    rules = stage_rules("language")
    rules["allowed"] = ["en", "zh", "pt"]
    s = Language(rules, 0)
    _, v = run(s, instruction="Qual é a capital do Brasil? Responda com detalhes, por favor, e explique a história.",
               output="A capital do Brasil é Brasília, uma cidade planejada e inaugurada em 1960 no Planalto Central.")
    assert v.keep


def test_script_fast_paths_skip_langdetect(monkeypatch):
    import pipeline.text.langid as langid

    def boom(_):
        raise AssertionError("langdetect must not run for script-decided or English-lexicon text")

    monkeypatch.setattr(langid, "run_langdetect", boom)
    det = LangId(stage_rules("language")["detect"])
    assert det.detect("这是一个中文句子，用来测试。").lang == "zh"
    assert det.detect("Это предложение написано по-русски.").lang == "ru"
    assert det.detect("これは日本語の文です。").lang == "ja"
    assert det.detect("This is a sentence that is written in English.").lang == "en"


def test_long_texts_are_sampled(monkeypatch):
    import pipeline.text.langid as langid

    seen = []
    monkeypatch.setattr(langid, "run_langdetect", lambda t: (seen.append(len(t)), ("fr", 0.99))[1])
    det = LangId(stage_rules("language")["detect"])
    g = det.detect("Le chat mange du poisson frais près de la fenêtre ouverte. " * 50000)
    assert g.lang == "fr" and seen and max(seen) <= 1000


def test_codes_normalised():
    assert normalise_code("zh-cn") == "zh" and normalise_code("zh-tw") == "zh" and normalise_code("EN") == "en"


def test_deterministic_and_picklable(stage):
    recs = [new_record(instruction="Name three fruits", output="Apple, banana, cherry"),
            new_record(instruction="列出三种水果", output="苹果、香蕉、樱桃"), new_record()]
    a = stage.process(from_rows(recs))[1]
    clone = pickle.loads(pickle.dumps(stage))
    b = clone.process(from_rows(recs))[1]
    assert a == b and len(a) == 3


def test_validate_rules():
    rules = stage_rules("language")
    assert Language.validate_rules(rules) == []
    rules["allowed"] = "en"
    assert Language.validate_rules(rules)
