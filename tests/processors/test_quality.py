"""Tests for the quality stage: each check fires on EN and ZH cases and spares hard negatives."""
from __future__ import annotations

import pickle

import pytest

from pipeline.config import stage_rules
from pipeline.processors.quality import CHECKS, Quality
from pipeline.record import from_rows, new_record


def make(**overrides) -> Quality:
    rules = stage_rules("quality")
    for check, action in overrides.items():
        rules["checks"][check]["action"] = action
    q = Quality(rules, seed=0)
    q.setup()
    return q


@pytest.fixture(scope="module")
def q() -> Quality:
    return make()


def judge_one(stage, **fields):
    batch = from_rows([new_record(**fields)])
    stage.fit([batch])
    batch, verdicts = stage.process(batch)
    return batch, verdicts[0]


def codes(v) -> set[str]:
    return set(v.flags) | ({v.reason} if v.reason else set())


# --- hard negatives: none of these may be dropped or flagged -----------------------------

HARD_NEGATIVES = [
    dict(instruction="What is the capital of France?", output="Paris."),
    dict(instruction="In one word, what colour is the sky on a clear day?", output="Blue"),
    dict(instruction="法国的首都是哪里？", output="巴黎。"),
    dict(instruction="Write a Python function that returns the bitwise xor of two numbers.",
         output="```python\ndef xor(a: int, b: int) -> int:\n    return a ^ b  # e.g. 0b1010 ^ 0b0110 == 0b1100\n```"),
    dict(instruction="Write a regular expression that matches an email address.",
         output="^[\\w.+-]+@[\\w-]+\\.[\\w.-]+$"),
    dict(instruction="请默写《诗经·蒹葭》的前两章。",
         output="蒹葭苍苍，白露为霜。所谓伊人，在水一方。\n溯洄从之，道阻且长。溯游从之，宛在水中央。\n"
                "蒹葭萋萋，白露未晞。所谓伊人，在水之湄。\n溯洄从之，道阻且跻。溯游从之，宛在水中坻。"),
    dict(instruction="Write a short song with a chorus about summer.",
         output="Verse 1:\nThe sun is high above the bay\nWe dance until the end of day\n"
                "Chorus:\nOh summer, summer, stay with me\nOh summer, summer, set me free\n"
                "Verse 2:\nThe nights are warm, the stars are bright\nWe sing together through the night\n"
                "Chorus:\nOh summer, summer, stay with me\nOh summer, summer, set me free"),
    dict(instruction="Translate into Chinese: Knowledge is power.", output="知识就是力量。"),
    dict(instruction="把下面的句子翻译成英文。", input="知识就是力量。", output="Knowledge is power."),
    dict(instruction="计算37+48等于多少？", output="37+48=85"),
    dict(instruction="What is 7/2?", output="7/2 = 3.5"),
    dict(instruction="Correct the grammar of the sentence.", input="She is happy today.", output="She is happy today."),
    dict(instruction="Convert the input into Morse code.", input="SOS", output="··· --- ···"),
    dict(instruction="Rewrite this sentence in passive voice: The dog chased the cat.", output="The cat was chased by the dog."),
    dict(instruction="The following week we plan to go hiking. Suggest three things to pack.",
         output="Water, a map and a rain jacket."),
    dict(instruction="How do I draw a square with Python turtle?",
         output="```python\nimport turtle\nt = turtle.Turtle()\nfor _ in range(4):\n    t.forward(100)\n    t.left(90)\n```"),
    dict(instruction="Who developed GPT-3?", output="GPT-3 was developed by OpenAI and released in 2020."),
    dict(instruction="截至2021年，中国的人口大约是多少？", output="截至2021年底，中国大陆总人口约为14.13亿人。"),
    dict(instruction="Return the data as a JSON object with keys name and age.", output='{"name": "Ann", "age": 31}'),
    dict(instruction="Insert a period at the end of the sentence.", input="I like running", output="I like running."),
    dict(instruction="Split the string into words.", input="Iamadoglover", output="I am a dog lover"),
    dict(instruction="Is the sentence using a subordinating or coordinating conjunction?",
         input="She ate her dinner and went to bed.", output="The sentence is using a coordinating conjunction."),
    dict(instruction="R中的注释符号是什么？", output="R中的注释符号是#。"),
    dict(instruction="Scratch字体在哪里可以下载？", output="Scratch字体可以在官方网站的资源页面下载。"),
    dict(instruction="Explain what a version string like 1.2.3.4 means.", output="It lists major, minor, patch and build numbers: 1.2.3.4."),
]


@pytest.mark.parametrize("rec", HARD_NEGATIVES, ids=[r["instruction"][:30] for r in HARD_NEGATIVES])
def test_hard_negatives_pass(q, rec):
    _, v = judge_one(q, **rec)
    assert v.keep and not v.flags, (v.reason, v.flags, v.detail)


# --- each check, EN and ZH ------------------------------------------------------------------

POSITIVES = [
    ("empty_output", dict(instruction="Name a colour.", output="   \n")),
    ("empty_output", dict(instruction="说出一种颜色。", output="")),
    ("non_answer", dict(instruction="Summarise the text.", input="Cats sleep a lot.", output="N/A")),
    ("non_answer", dict(instruction="这句话是什么意思？", input="画蛇添足", output="不知道")),
    ("non_answer", dict(instruction="Write a poem.", output="<noinput>")),
    ("echo", dict(instruction="Summarize the paragraph in one sentence.",
                  input="The city council voted to expand the bike lane network next year.",
                  output="The city council voted to expand the bike lane network next year.")),
    ("echo", dict(instruction="请总结下面这段话。", input="市议会投票决定明年扩建自行车道网络。", output="市议会投票决定明年扩建自行车道网络。")),
    ("restates_question", dict(instruction="What are the main causes of climate change?",
                               output="The main causes of climate change are")),
    ("restates_question", dict(instruction="气候变化的主要原因有哪些方面？", output="气候变化的主要原因方面有哪些")),
    ("mojibake", dict(instruction="Describe the café.", output="The cafÃ© is cosy and the coffee is great.")),
    ("mojibake", dict(instruction="介绍一下这家店。", output="锟斤拷锟斤拷这家店很好。")),
    # UTF-8 Chinese read as GBK.
    ("mojibake", dict(instruction="你好", output="数据清洗很重要。".encode("utf-8").decode("gbk", errors="ignore"))),
    ("replacement_char", dict(instruction="Say hi.", output="Hi \ufffd there")),
    ("escapes", dict(instruction="List two fruits.", output="Apple\\nBanana &amp; cherry")),
    ("symbol_ratio", dict(instruction="Describe your day.", output="@@@ ### $$$ ~~~ ^^^ ||| @@@ ### $$$ ~~~ day was ok")),
    ("repetition", dict(instruction="Describe the product.",
                        output="\n".join(["This product is great and you will love it."] * 3 + ["Buy it now from our store today."] * 3))),
    ("looping", dict(instruction="Tell me about dogs.",
                     output="Dogs are loyal animals. Dogs are loyal animals. Dogs are loyal animals. Dogs are loyal animals.")),
    ("looping", dict(instruction="介绍一下熊猫。", output="熊猫是中国的国宝动物。熊猫是中国的国宝动物。熊猫是中国的国宝动物。")),
    ("truncated", dict(instruction="Explain photosynthesis.",
                       output="Photosynthesis is the process by which plants convert light energy into chemical energy and")),
    ("truncated", dict(instruction="Give a code example.", output="Here it is:\n```python\ndef f(x):\n    return x")),
    ("truncated", dict(instruction="列出三个步骤。", output="1. 准备材料\n2. 开始制作\n3.")),
    ("too_short", dict(instruction="Write an essay about the importance of sleep.", output="Sleep matters.")),
    ("too_short", dict(instruction="写一篇关于友谊的作文。", output="友谊很重要。")),
    ("missing_input", dict(instruction="Summarize the following article.", output="The article is about the economy.")),
    ("missing_input", dict(instruction="请总结以下文章的主要内容。", output="这篇文章讲的是经济。")),
    ("missing_input", dict(instruction="给定的句子中有几个名词？", output="三个。")),
    ("impossible_task", dict(instruction="Draw a picture of a cat.", output="Here is a cute cat sitting on a mat.")),
    ("impossible_task", dict(instruction="Summarize this article.", input="https://news.example.org/2023/article-123",
                             output="The article argues that cities should invest more in public transport.")),
    ("impossible_task", dict(instruction="画一幅山水画。", output="这是一幅美丽的山水画，有山有水。")),
    ("boilerplate", dict(instruction="Do you like music?", output="As an AI language model, I do not have preferences. Music is enjoyed by many people.")),
    ("boilerplate", dict(instruction="你喜欢音乐吗？", output="作为一个AI语言模型，我没有个人喜好。音乐受到很多人的喜爱。")),
    ("identity_leak", dict(instruction="Who are you?", output="I am ChatGPT, a large language model trained by OpenAI.")),
    ("identity_leak", dict(instruction="你是谁？", output="我是ChatGPT，一个由OpenAI开发的语言模型。")),
    ("identity_leak", dict(instruction="What year is it?", output="As of my last update in 2021, I cannot know the current date.")),
    ("toxic", dict(instruction="Reply to the comment.", output="Shut up, you stupid asshole.")),
    ("toxic", dict(instruction="回复这条评论。", output="你这个傻逼，闭嘴吧。")),
    ("pii", dict(instruction="Write a contact line.", output="Mail me at zhang.wei@gmail.com or call 13812345678.")),
    ("pii", dict(instruction="Card?", output="My card is 4111 1111 1111 1111.")),
    ("pii", dict(instruction="身份证号是多少？", output="他的身份证号是11010519491231002X。")),
    ("pii", dict(instruction="Server?", output="Connect to 203.0.113.45 over SSH.")),
    ("code_syntax", dict(instruction="Write a function that adds two numbers.",
                         output="```python\ndef add(a, b)\n    return a + b\n```")),
    ("code_syntax", dict(instruction="用Python写一个函数，返回列表的最大值。",
                         output="def biggest(xs):\nreturn max(xs)")),
    ("json_syntax", dict(instruction="Return the result in JSON format.", output="{'name': 'Ann', 'age': 31}")),
    ("json_syntax", dict(instruction="以JSON格式输出。", output="```json\n{\"名字\": \"小明\", \"年龄\": 12,}\n```")),
    ("arithmetic", dict(instruction="What is 37 + 48?", output="37 + 48 = 84.")),
    ("arithmetic", dict(instruction="12乘以7等于多少？", output="12乘以7等于86。")),
    ("arithmetic", dict(instruction="91-33=", output="91-33=57")),
]


@pytest.mark.parametrize("check,rec", POSITIVES, ids=[f"{c}-{r['instruction'][:12]}" for c, r in POSITIVES])
def test_check_fires(check, rec):
    # Every check set to "flag" so the test sees each code, not only the first drop.
    stage = make(**{c: "flag" for c in CHECKS})
    _, v = judge_one(stage, **rec)
    assert f"quality_{check}" in codes(v), (v.flags, v.detail)


def test_default_actions_drop_certain_and_flag_uncertain(q):
    _, v = judge_one(q, instruction="Name a colour.", output="")
    assert not v.keep and v.reason == "quality_empty_output"
    _, v = judge_one(q, instruction="What is 37 + 48?", output="37 + 48 = 84.")
    assert not v.keep and v.reason == "quality_arithmetic" and "85" in v.detail
    _, v = judge_one(q, instruction="Explain photosynthesis.",
                     output="Photosynthesis is the process by which plants convert light energy into chemical energy and")
    assert v.keep and "quality_truncated" in v.flags


def test_every_check_has_a_score(q):
    _, v = judge_one(q, instruction="Say something.", output="Something nice about the weather today.")
    for name in ("length", "dup_line_frac", "ngram_rep", "loop_repeats", "symbol_ratio", "mojibake", "replacement_chars",
                 "escapes", "non_answer", "echo", "restate_sim", "truncated", "missing_input", "impossible_task",
                 "boilerplate", "identity_leak", "toxic", "pii", "code_syntax", "json_syntax", "arithmetic",
                 "conflicting_answers"):
        assert name in v.scores, name


def test_pii_redact_rewrites_all_fields(q):
    batch = from_rows([new_record(instruction="Email zhang.wei@gmail.com about it", output="Call 13812345678 please.",
                                  history=[{"instruction": "my ip is 203.0.113.45", "output": "ok"}])])
    batch, [v] = q.process(batch)
    assert v.keep and "quality_pii" in v.flags
    assert batch["instruction"][0] == "Email [EMAIL] about it"
    assert batch["output"][0] == "Call [PHONE] please."
    assert batch["history"][0][0]["instruction"] == "my ip is [IP]"


def test_pii_invalid_numbers_are_not_pii(q):
    # Luhn-failing card, checksum-failing ID, private IP, documentation domain, 555 number.
    out = "Card 4111 1111 1111 1112, id 110105194912310021, host 192.168.1.10, mail a@example.com, tel 555-555-1234."
    _, v = judge_one(q, instruction="Check these.", output=out)
    assert "quality_pii" not in codes(v)


def test_pii_flag_and_drop_actions():
    rec = dict(instruction="Contact?", output="Write to zhang.wei@gmail.com.")
    b, v = judge_one(make(pii="flag"), **rec)
    assert v.keep and "quality_pii" in v.flags and "zhang.wei@gmail.com" in b["output"][0]
    _, v = judge_one(make(pii="drop"), **rec)
    assert not v.keep and v.reason == "quality_pii"


def test_boilerplate_strip_flag_drop():
    rec = dict(instruction="Do you like music?", output="As an AI language model, I do not have preferences. However, music is loved by many.")
    b, v = judge_one(make(), **rec)
    assert v.keep and "quality_boilerplate" in v.flags and b["output"][0] == "Music is loved by many."
    b, v = judge_one(make(boilerplate="flag"), **rec)
    assert b["output"][0].startswith("As an AI") and "quality_boilerplate" in v.flags
    _, v = judge_one(make(boilerplate="drop"), **rec)
    assert v.reason == "quality_boilerplate"
    _, v = judge_one(make(), instruction="Hi", output="As an AI language model, I cannot answer.")
    assert not v.keep and v.reason == "quality_empty_output"


def test_conflicting_answers_global():
    recs = [new_record(instruction="What is 2 + 2?", output="4"),
            new_record(instruction="what is 2+2 ?", output="5"),
            new_record(instruction="Name a prime.", output="7"),
            new_record(instruction="Name a prime.", output="7.")]
    stage = make(arithmetic="off")
    batch = from_rows(recs)
    stage.fit([batch])
    clone = pickle.loads(pickle.dumps(stage))  # process runs on a pickled copy in workers
    batch, vs = clone.process(batch)
    assert [("quality_conflicting_answers" in v.flags) for v in vs] == [True, True, False, False]
    assert batch["meta"][0]["conflict_cluster"] == batch["meta"][1]["conflict_cluster"]
    assert stage.summary()["conflicting_answers"] == {"clusters": 1, "members": 2}
    keep_first = make(arithmetic="off", conflicting_answers="keep_first")
    keep_first.fit([from_rows(recs)])
    _, vs = keep_first.process(from_rows(recs))
    assert vs[0].keep and not vs[1].keep and vs[1].reason == "quality_conflicting_answers"


def test_conflicting_answers_long_paraphrase_vs_different():
    base = "Regular exercise improves heart health, strengthens muscles and bones, and helps control body weight over time."
    recs = [new_record(instruction="Why exercise?", output=base),
            new_record(instruction="Why exercise?", output=base + " It also helps."),
            new_record(instruction="Why sleep?", output=base),
            new_record(instruction="Why sleep?", output="Sleep lets the brain consolidate memories, and a lack of it harms mood, focus and the immune system.")]
    stage = make()
    batch = from_rows(recs)
    stage.fit([batch])
    _, vs = stage.process(batch)
    assert [("quality_conflicting_answers" in v.flags) for v in vs] == [False, False, True, True]


def test_works_without_language_stage_and_on_odd_records(q):
    recs = [new_record(), new_record(instruction="你好", output="你好！有什么可以帮你？", lang=""),
            new_record(instruction="hi", output="x" * 200000),
            new_record(instruction="go on", output="and then?", history=[{"instruction": "tell a story", "output": "Once..."}])]
    batch, vs = q.process(from_rows(recs))
    assert len(vs) == 4 and [r for r in batch["id"]] == [r["id"] for r in recs]


def test_validate_rules_rejects_misplaced_actions():
    rules = stage_rules("quality")
    assert Quality.validate_rules(rules) == []
    rules["checks"]["toxic"]["action"] = "redact"
    rules["checks"]["nonsense"] = {"action": "flag"}
    probs = Quality.validate_rules(rules)
    assert any("toxic" in p for p in probs) and any("nonsense" in p for p in probs)


# --- calibration (pipeline.calibrate) ---------------------------------------------------------

def _calib_records(n: int = 60) -> list[dict]:
    recs = []
    for i in range(n):
        recs.append(new_record(instruction=f"Describe item number {i} in a few words.",
                               output=" ".join(["word"] * (5 + i)) + "."))
        recs.append(new_record(instruction=f"请描述第{i}件物品。", output="好" * (10 + 2 * i) + "。"))
    return recs


def test_calibrate_percentiles_and_suggestions(tmp_path):
    import yaml

    from pipeline.calibrate import calibrate, overrides, write_overrides
    from pipeline.config import deep_merge

    res = calibrate(_calib_records(), quantile=0.9, min_count=50)
    assert set(res["languages"]) == {"en", "zh"} and res["records"] == 120
    en_len = res["languages"]["en"]["signals"]["length"]
    assert en_len["p1"] < en_len["p50"] < en_len["p99"]
    # English outputs are 5..64 words (+ none), Chinese 10..128 characters: the 0.9
    # quantile differs per language.
    sug = res["suggested"]["too_long"]["max_tokens"]
    assert 55 <= sug["en"] <= 64 and 110 <= sug["zh"] <= 128
    path = write_overrides(res, tmp_path / "calibrated.yaml")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert doc == overrides(res)
    merged = deep_merge(stage_rules("quality"), doc["rules"]["quality"])
    assert merged["checks"]["too_long"]["max_tokens"]["zh"] == sug["zh"]
    assert merged["checks"]["too_long"]["max_tokens"]["default"] == 3000


def test_calibrate_skips_small_languages_and_bad_quantile():
    from pipeline.calibrate import calibrate

    res = calibrate(_calib_records(10), quantile=0.99, min_count=50)
    assert res["suggested"] == {} and res["languages"]["en"]["count"] == 10
    with pytest.raises(ValueError):
        calibrate([], quantile=1.5)


def test_calibrate_cli(tmp_path):
    import json

    from click.testing import CliRunner

    pytest.importorskip("pipeline.io.readers")
    from pipeline.calibrate import calibrate_cmd

    data = tmp_path / "data.json"
    data.write_text(json.dumps([{"instruction": r["instruction"], "input": "", "output": r["output"]}
                                for r in _calib_records()], ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "over.yaml"
    res = CliRunner().invoke(calibrate_cmd, [str(data), "--quantile", "0.95", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "[zh]" in res.output and "suggested too_long.max_tokens" in res.output and out.exists()
    bad = CliRunner().invoke(calibrate_cmd, [str(data), "--quantile", "2"])
    assert bad.exit_code != 0 and "quantile" in bad.output


def test_punctuation_only_prompts_are_not_one_conflict_cluster():
    from pipeline.config import stage_rules
    from pipeline.processors.quality import Quality
    from pipeline.record import from_rows, new_record

    recs = [new_record(instruction=q, output=a) for q, a in
            [("？？？", "您想问什么呢？"), ("!!!", "Wow, you sound excited!"), ("😀😀", "Glad you are happy!")]]
    q = Quality(stage_rules("quality"), 0)
    q.fit([from_rows(recs)])
    q.setup()
    _, verdicts = q.process(from_rows(recs))
    assert not any("quality_conflicting_answers" in v.flags or v.reason == "quality_conflicting_answers"
                   for v in verdicts)


def test_degenerate_single_token_repetition_is_flagged_in_any_script():
    from pipeline.config import stage_rules
    from pipeline.processors.quality import Quality
    from pipeline.record import from_rows, new_record

    recs = [new_record(instruction="Say something.", output="P" * 20_000),
            new_record(instruction="说点什么。", output="好" * 3_000),
            new_record(instruction="Describe a forest walk.", output=(
                "We walked under tall pines while the light moved between the branches. Moss covered the "
                "old stones, a woodpecker knocked somewhere above us, and the path bent towards a stream "
                "that was louder than we expected. By noon we had reached the clearing where the map said "
                "an old mill once stood; only the foundations and a rusted wheel axle were left.") * 1)]
    q = Quality(stage_rules("quality"), 0)
    q.fit([from_rows(recs)])
    q.setup()
    _, verdicts = q.process(from_rows(recs))
    assert "quality_repetition" in verdicts[0].flags and "quality_repetition" in verdicts[1].flags
    assert "quality_repetition" not in verdicts[2].flags
    assert verdicts[0].scores["zlib_ratio"] < 0.01
