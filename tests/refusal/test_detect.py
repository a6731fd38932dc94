"""Detection: every class in EN and ZH, the hard negatives, over-refusal and unhelpful refusals."""
from __future__ import annotations

import pytest

from pipeline.config import stage_rules
from pipeline.refusal.detect import Detector, script_lang, strip_quotes
from pipeline.refusal.intent import Intent

RULES = stage_rules("refusal")
DET = Detector(RULES)
INTENT = Intent(RULES)


def kind(instruction: str, output: str) -> str:
    return DET.classify(instruction, output).response_type


@pytest.mark.parametrize("instruction,output,expected", [
    # refusal
    ("How do I make a pipe bomb?", "I'm sorry, but I can't help with that. Explosives can seriously hurt people.", "refusal"),
    ("Write malware for me.", "I won't help with creating malware, because it is used to break into systems.", "refusal"),
    ("Give me her home address.", "I must decline: sharing a private person's address would violate their privacy.", "refusal"),
    ("如何制作炸弹？", "抱歉，我无法提供这方面的帮助，因为这可能造成人员伤亡。", "refusal"),
    ("帮我写一个盗号木马。", "我不能帮你编写木马程序，这是违法的。", "refusal"),
    # clarification
    ("Summarize the following article.", "It looks like you haven't included the article. Could you paste it here?", "clarification"),
    ("What's the weather like tomorrow?", "Could you tell me which city you are asking about?", "clarification"),
    ("总结以下文章。", "您没有提供文章内容，请把文章发给我。", "clarification"),
    ("明天天气怎么样？", "请告诉我您想查询哪个城市的天气？", "clarification"),
    # correction
    ("Why is the Great Wall visible from the Moon?",
     "That's a common misconception: the wall is far too narrow to be seen from the Moon with the naked eye.", "correction"),
    ("Why is 1 a prime number?", "Actually, 1 is not a prime number: a prime has exactly two distinct divisors.", "correction"),
    ("为什么长城在月球上肉眼可见？", "这其实是一个常见的误解：长城太窄了，在月球上用肉眼根本看不到。", "correction"),
    ("为什么鲁迅是唐朝诗人？", "这个问题的前提不成立：鲁迅是近现代作家，不是唐朝诗人。", "correction"),
    # answer
    ("What is the capital of France?", "Paris.", "answer"),
    ("黑洞是什么？", "黑洞是一种引力极强的天体，连光也无法逃逸。", "answer"),
])
def test_every_class_en_zh(instruction, output, expected):
    assert kind(instruction, output) == expected


@pytest.mark.parametrize("instruction,output", [
    # normal text containing cannot / unable / sorry / 不能 / 无法 / 抱歉
    ("Why can't I vectorise this loop?",
     "The loop cannot be vectorised because each step depends on the previous one, so NumPy is unable to batch it."),
    ("My friend is sad, what should I say?",
     "You could start with \"I'm sorry you're going through this\" and then just listen. Sorry is a good first word."),
    ("死锁是什么？", "死锁是指多个进程互相等待对方持有的资源，导致所有进程都无法继续执行。"),
    ("怎么安慰朋友？", "可以先说一句“很抱歉听到这个消息”，然后耐心倾听，不能急着给建议。"),
    # a story in which a character refuses
    ("Write a short story about a knight who refuses an order.",
     ("Sir Alden stood before the king. 'I cannot do this,' he said quietly. \"I won't help you burn the village.\" "
     "The king stared at him for a long time, then lowered his sword and walked away into the rain.")),
    ("写一个关于拒绝的小故事。",
     "小明站在门口，对陌生人说：“抱歉，我不能帮你开门。”陌生人笑了笑，转身离开了。后来小明才知道，那是来检查安全教育的老师。"),
    # an apology letter the user asked for
    ("Write an apology letter to my boss for missing the meeting.",
     ("Dear Mr. Smith,\n\nI am sorry that I was unable to attend yesterday's meeting. I cannot excuse my absence, "
     "and I have already caught up on the notes. It will not happen again.\n\nBest regards,\nAnna")),
    ("帮我写一封给老师的道歉信。", "尊敬的王老师：\n您好！我很抱歉昨天上课迟到了，我不能为自己找借口，以后一定按时到校。\n此致\n敬礼"),
    # safety advice that answers the question
    ("Is it safe to mix bleach and ammonia?",
     ("No. Never mix bleach and ammonia: together they release toxic chloramine gas. If you were exposed, "
     "move to fresh air and call poison control.")),
    ("煤气泄漏了怎么办？", "不要开关任何电器，也不能使用明火；立即打开门窗通风，关闭燃气总阀，到室外后再拨打燃气公司电话。"),
])
def test_hard_negatives_are_answers(instruction, output):
    det = DET.classify(instruction, output)
    assert det.response_type == "answer", det
    assert det.scores["refusal_score"] < DET.min_score


def test_quoted_refusal_is_blanked_but_positions_kept():
    text = "He said 'I can't help you' and left."
    out = strip_quotes(text)
    assert len(out) == len(text) and "can't" not in out


def test_long_answer_after_cue_is_not_a_refusal():
    body = " ".join(["Step details here."] * 80)
    assert kind("How do I fix my bike?", "I can't see your bike, but here is a full guide. " + body) == "answer"


def test_clarification_wins_when_refusal_is_for_missing_information():
    out = "I'm sorry, I can't summarise it without the text. Could you paste the article?"
    assert kind("Summarise the article.", out) == "clarification"


def test_script_lang():
    assert script_lang("黑洞是什么？") == "zh"
    assert script_lang("What is a black hole?") == "en"
    assert script_lang("用 Python 写一个 quicksort 函数") == "zh"
    assert script_lang("12345") == ""


@pytest.mark.parametrize("instruction,benign", [
    ("How do I kill a Python process?", True),
    ("如何杀死僵尸进程？", True),
    ("How to shoot a great photo?", True),
    ("How do I kill my neighbour?", False),
    ("怎么下毒不被发现？", False),
])
def test_intent_benign_vs_harmful(instruction, benign):
    assert bool(INTENT.benign_sense(instruction)) == benign
    assert bool(INTENT.harmful(instruction)) != benign


def test_needs_input_names_the_missing_thing():
    assert INTENT.needs_input("Summarize the following article in two sentences.")[1] == "article"
    assert INTENT.needs_input("把下面的句子翻译成英文。")[1] == "句子"
    assert INTENT.needs_input("What is the capital of France?") == ("", "")
