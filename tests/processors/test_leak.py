"""`leak`: every leak case fires (EN + ZH) and no legitimate-overlap task does."""
from __future__ import annotations

import pickle

import pytest

from pipeline.config import stage_rules
from pipeline.processors.leak import Leak
from pipeline.record import from_rows, new_record


@pytest.fixture(scope="module")
def stage() -> Leak:
    s = Leak(stage_rules("leak"), seed=0)
    s.setup()
    return s


def run(stage: Leak, **fields):
    rec = new_record(**fields)
    _, (v,) = stage.process(from_rows([rec]))
    return v


def codes(v) -> set[str]:
    return ({v.reason} if v.reason else set()) | set(v.flags)


POSITIVES = [
    # answer_in_prompt: parentheses, hint, "answer:", "答案：", "正确答案是", pre-filled Output:, after the question
    ("answer_in_prompt", dict(instruction="What is the capital of France? (Paris)", output="Paris")),
    ("answer_in_prompt", dict(instruction="法国的首都是哪里？（巴黎）", output="巴黎")),
    ("answer_in_prompt", dict(instruction="Tom has 3 apples and buys 15 more. How many does he have? Hint: it is 18.",
                              output="3 + 15 = 18. The answer is 18.")),
    ("answer_in_prompt", dict(instruction="小明有3个苹果，又买了15个，一共有几个？答案：18", output="3+15=18，所以一共有18个。")),
    ("answer_in_prompt", dict(instruction="Who wrote Hamlet?", input="Answer: William Shakespeare", output="William Shakespeare")),
    ("answer_in_prompt", dict(instruction="《红楼梦》的作者是谁？正确答案是曹雪芹", output="曹雪芹")),
    ("answer_in_prompt", dict(instruction="Classify the sentiment of the review.", input="Great phone!\nOutput: positive",
                              output="positive")),
    ("answer_in_prompt", dict(instruction="What is the largest ocean on Earth? Pacific Ocean", output="Pacific Ocean")),
    # marked_option
    ("marked_option", dict(instruction="Which planet is the largest?\nA. Mars\nB. Jupiter (correct)\nC. Venus\nD. Earth",
                           output="B. Jupiter")),
    ("marked_option", dict(instruction="下列哪个是最大的行星？A. 火星 B. 木星 √ C. 金星 D. 地球", output="B")),
    ("marked_option", dict(instruction="Pick the prime number.\nA) 4\nB) 6\nC) 7 ← answer\nD) 9", output="The prime number is 7.")),
    ("marked_option", dict(instruction="中国的首都是？\nA. 上海\nB. 北京\nC. 广州\nD. 深圳\n答案：B", output="答案是B，北京。")),
    # earlier_turn
    ("earlier_turn", dict(history=[{"instruction": "What is the boiling point of water at sea level?", "output": "100 °C"}],
                          instruction="What is the boiling point of water at sea level?", output="100 °C")),
    ("earlier_turn", dict(history=[{"instruction": "介绍一下长城。", "output": "长城是中国古代的军事防御工程，绵延万余里，是世界文化遗产。"}],
                          instruction="你能讲讲长城吗？", output="长城是中国古代的军事防御工程，绵延万余里，是世界文化遗产。")),
    # echo
    ("echo", dict(instruction="Write a paragraph about the sea.",
                  input="The sea is vast and blue, covering most of our planet and home to countless creatures.",
                  output="The sea is vast and blue, covering most of our planet and home to countless creatures.")),
    ("echo", dict(instruction="写一段关于春天的描写。", input="春天来了，万物复苏，花儿竞相开放，小鸟在枝头歌唱。",
                  output="春天来了，万物复苏，花儿竞相开放，小鸟在枝头歌唱。")),
    # skeleton
    ("skeleton", dict(instruction="Write a short story about a brave knight.",
                      input="Story outline: a brave knight named Tom rode into the dark forest, fought the dragon and won at dawn.",
                      output="A brave knight named Tom rode into the dark forest, fought the dragon and won at dawn.")),
    ("skeleton", dict(instruction="写一首关于秋天的诗。参考：秋风吹落叶，明月照归人，寒霜染红枫，雁阵向南飞。",
                      output="秋风吹落叶，明月照归人。\n寒霜染红枫，雁阵向南飞。")),
]


@pytest.mark.parametrize("check,fields", POSITIVES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(POSITIVES)])
def test_leak_cases_fire(stage, check, fields):
    v = run(stage, **fields)
    assert f"leak_{check}" in codes(v), v
    assert "leak_overlap" in v.scores


NEGATIVES = [
    # rewriting / paraphrase / grammar
    dict(instruction="Rewrite the sentence in passive voice.", input="The cat chased the mouse across the kitchen floor.",
         output="The mouse was chased by the cat across the kitchen floor."),
    dict(instruction="Correct the grammar.", input="She go to school every day with her brother and sister.",
         output="She goes to school every day with her brother and sister."),
    dict(instruction="Paraphrase this sentence.", input="The meeting has been postponed until next week.",
         output="The meeting has been postponed until next week."),
    dict(instruction="请把下面的句子改写得更正式。", input="我们明天一起去吃饭吧，好不好呀", output="我们明天一起去吃饭吧，好吗？"),
    dict(instruction="修改下面句子中的语法错误。", input="我昨天去了学校和上课了很多节课。", output="我昨天去了学校，上了很多节课。"),
    # extract a span
    dict(instruction="Extract the name of the city from the sentence.", input="I moved to Paris last year.", output="Paris"),
    dict(instruction="从下面的句子中提取人名。", input="昨天李明和王芳一起去了北京。", output="李明、王芳"),
    # format conversion
    dict(instruction="Convert the following to JSON.", input="name: Tom, age: 5, city: London, country: England",
         output='{"name": "Tom", "age": 5, "city": "London", "country": "England"}'),
    dict(instruction="把下面的内容转换成表格。", input="姓名：张三，年龄：20，城市：上海，职业：教师",
         output="| 姓名 | 年龄 | 城市 | 职业 |\n| 张三 | 20 | 上海 | 教师 |"),
    # translation
    dict(instruction="Translate into French.", input="Good morning, how are you today?", output="Bonjour, comment allez-vous aujourd'hui ?"),
    dict(instruction="把这句话翻译成英文。", input="今天天气很好。", output="The weather is nice today."),
    # summarisation
    dict(instruction="Summarize the text.", input="The meeting was held on Monday. Everyone agreed to postpone the launch to next quarter.",
         output="The meeting agreed to postpone the launch to next quarter."),
    dict(instruction="总结下面这段话。", input="会议于周一召开。大家一致同意把产品发布推迟到下个季度，以便完善功能。",
         output="大家一致同意把产品发布推迟到下个季度。"),
    # classify / sort without the label in the prompt
    dict(instruction="Classify the sentiment as positive or negative.", input="I love this movie so much!", output="Positive"),
    dict(instruction="Sort these numbers in ascending order.", input="5, 3, 9, 1", output="1, 3, 5, 9"),
    dict(instruction="判断下面这句话的情感是正面还是负面。", input="这部电影太好看了！", output="正面"),
    dict(instruction="把下列词语按拼音排序：香蕉、苹果、橘子", output="橘子、苹果、香蕉"),
    # repeat after me
    dict(instruction="Repeat after me: the quick brown fox jumps over the lazy dog", output="the quick brown fox jumps over the lazy dog"),
    dict(instruction="跟我说：今天是个好日子，我们一起去公园散步吧", output="今天是个好日子，我们一起去公园散步吧"),
    # ordinary QA / generation with no leak
    dict(instruction="What is the capital of France?", output="Paris"),
    dict(instruction="What is the name of the tallest mountain in the world?",
         output="The name of the tallest mountain in the world is Mount Everest."),
    dict(instruction="中国的首都是哪里？", output="中国的首都是北京。"),
    dict(instruction="Answer the question with yes or no. Is the sky blue?", output="Yes"),
    # a user asking to check their own choice is not a marked answer when the output disagrees
    dict(instruction="I think the answer is B. Which is largest?\nA. Mars\nB. Venus\nC. Jupiter", output="C. Jupiter is the largest."),
    # enumeration labels in parentheses are not answers
    dict(instruction="Select the sentence index with the most words.", input="(1) I ran. (2) We walked to the old park together. (3) Hi.",
         output="2"),
]


@pytest.mark.parametrize("fields", NEGATIVES, ids=[f["instruction"][:30] for f in NEGATIVES])
def test_legitimate_overlap_does_not_fire(stage, fields):
    v = run(stage, **fields)
    assert v.keep and not v.flags, (v.reason, v.flags, v.detail)


def test_detail_names_the_matched_span_and_score(stage):
    v = run(stage, instruction="Write a short story about a brave knight.",
            input="Story outline: a brave knight named Tom rode into the dark forest, fought the dragon and won at dawn.",
            output="A brave knight named Tom rode into the dark forest, fought the dragon and won at dawn.")
    assert "leak_skeleton" in v.flags
    assert "input holds" in v.detail and "brave knight named tom" in v.detail
    assert v.scores["leak_overlap"] == pytest.approx(1.0)


def test_actions_follow_rules():
    rules = stage_rules("leak")
    rules["checks"]["answer_in_prompt"] = {"action": "flag"}
    s = Leak(rules, 0)
    _, (v,) = s.process(from_rows([new_record(instruction="Capital of France? (Paris)", output="Paris")]))
    assert v.keep and v.flags == ("leak_answer_in_prompt",)
    rules["checks"]["answer_in_prompt"] = {"action": "off"}
    _, (v,) = Leak(rules, 0).process(from_rows([new_record(instruction="Capital of France? (Paris)", output="Paris")]))
    assert v.keep and not v.flags


def test_defaults_drop_answer_in_prompt(stage):
    v = run(stage, instruction="Capital of France? (Paris)", output="Paris")
    assert not v.keep and v.reason == "leak_answer_in_prompt" and "parentheses" in v.detail


def test_picklable_without_setup_state_and_empty_batch():
    s = Leak(stage_rules("leak"), 0)
    s.setup()
    s2 = pickle.loads(pickle.dumps(s))
    _, v = s2.process(from_rows([new_record(instruction="", output="")]))
    assert v[0].keep
    _, v = s2.process(from_rows([]))
    assert v == []


def test_validate_rules_reports_problems():
    rules = stage_rules("leak")
    assert Leak.validate_rules(rules) == []
    bad = dict(rules, skeleton_min_containment=1.5, legit_overlap=["nonsense"])
    probs = Leak.validate_rules(bad)
    assert any("skeleton_min_containment" in p for p in probs) and any("nonsense" in p for p in probs)
