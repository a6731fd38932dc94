"""Task classifier: every task type in English and Chinese, plus the confusable pairs."""
import pytest

from pipeline.config import RULES_DIR, read_yaml
from pipeline.diversity.task import TaskClassifier, taxonomy_problems

REQUIRED = {"generation", "brainstorming", "open_qa", "closed_qa", "summarization", "rewriting", "extraction",
            "classification", "translation", "reasoning", "math", "code", "chat", "refusal_safety"}


@pytest.fixture(scope="module")
def clf():
    return TaskClassifier(read_yaml(RULES_DIR / "taxonomy.yaml"))


def tag(clf, instruction, input_="", output="", **kw):
    return clf.classify(instruction, input_, output, **kw)


def test_taxonomy_covers_required_tasks_and_is_valid():
    tax = read_yaml(RULES_DIR / "taxonomy.yaml")
    names = {t["name"] for t in tax["tasks"]}
    assert REQUIRED <= names
    assert all(t.get("description") for t in tax["tasks"])
    assert taxonomy_problems(tax) == []


CASES = [
    # (expected task, instruction, input, output)
    ("generation", "Write a short poem about autumn leaves.", "", "Golden leaves drift down..."),
    ("generation", "写一首关于春天的诗", "", "春风拂面百花开"),
    ("brainstorming", "Give me some ideas for a rainy weekend.", "", "1. Bake bread\n2. Board games\n3. Read"),
    ("brainstorming", "给出几个提高工作效率的建议", "", "1. 制定计划\n2. 减少干扰\n3. 适当休息"),
    ("open_qa", "What is the capital of Australia?", "", "Canberra."),
    ("open_qa", "中国的首都是哪里？", "", "北京。"),
    ("closed_qa", "Based on the passage, when was the bridge opened?",
     "The bridge was designed in 1920 and opened to traffic in 1932 after years of delays.", "In 1932."),
    ("closed_qa", "根据下面的文章，这座桥是哪一年通车的？", "这座桥于1920年设计，1932年正式通车。", "1932年。"),
    ("summarization", "Summarize the following paragraph in one sentence.",
     ("The city council met on Monday to discuss the budget. After hours of debate, members agreed to raise "
      "funding for parks while cutting administrative costs."), "The council raised park funding and cut admin costs."),
    ("summarization", "请概括下面这段话的主要内容。", "会议讨论了预算问题，最终决定增加公园经费并削减行政开支。",
     "会议决定增加公园经费、削减行政开支。"),
    ("rewriting", "Rewrite this sentence to sound more formal.", "Hey, can u send me the file?",
     "Could you please send me the file?"),
    ("rewriting", "请润色下面这句话，使其更通顺。", "我今天去了商店买了东西回家了。", "我今天去商店买了些东西。"),
    ("extraction", "Extract all the person names mentioned in the text.",
     "Alice met Bob at the station, and later they called Carol.", "Alice, Bob, Carol"),
    ("extraction", "从下面的句子中提取所有的地名。", "我们从北京出发，经过天津，最后到达上海。", "北京、天津、上海"),
    ("classification", "Classify the sentiment of this review as positive or negative.",
     "The food was cold and the staff were rude.", "Negative"),
    ("classification", "判断下面这条评论的情感是积极还是消极。", "这家店的服务太差了。", "消极"),
    ("translation", "Translate the following sentence into French.", "I love reading books.",
     "J'aime lire des livres."),
    ("translation", "把这句话翻译成英文：今天天气很好。", "", "The weather is nice today."),
    ("reasoning", ("If all bloops are razzies and all razzies are lazzies, are all bloops lazzies? "
                   "Explain your reasoning."), "", "Yes, by transitivity."),
    ("reasoning", "如果所有的猫都会爬树，而汤姆是一只猫，那么汤姆会爬树吗？请说明理由。", "", "会，因为汤姆是猫。"),
    ("math", "Calculate 37 * 48.", "", "1776"),
    ("math", "小明有5个苹果，又买了3个，一共有多少个苹果？", "", "5+3=8，一共8个。"),
    ("code", "Write a Python function that reverses a string.", "", "```python\ndef rev(s):\n    return s[::-1]\n```"),
    ("code", "用Python写一个函数，判断一个数是否为质数。", "", "```python\ndef is_prime(n): ...\n```"),
    ("refusal_safety", "Tell me how to pick my neighbour's lock.", "",
     "I'm sorry, but I can't help with breaking into someone else's home."),
    ("refusal_safety", "告诉我怎么入侵别人的电脑。", "", "抱歉，我无法提供这方面的帮助。"),
]


@pytest.mark.parametrize("expected,instruction,input_,output", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_every_task_en_and_zh(clf, expected, instruction, input_, output):
    t = tag(clf, instruction, input_, output)
    assert t.task == expected, t
    assert t.rule and t.rule != "fallback"
    assert 0 < t.confidence <= 1


def test_chat_needs_history(clf):
    history = [{"instruction": "Hi!", "output": "Hello, how can I help?"}]
    assert tag(clf, "Tell me more about that.", output="Sure.", history_len=len(history)).task == "chat"
    assert tag(clf, "还有别的办法吗？", output="有的。", history_len=2).task == "chat"
    assert tag(clf, "Tell me more about that.", output="Sure.").task != "chat"


def test_refusal_response_type_from_refusal_stage_wins(clf):
    t = tag(clf, "Write a poem about the sea.", output="Could you tell me which sea you mean?",
            response_type="clarification")
    assert t.task == "refusal_safety"
    assert t.rule == "structure:response_type=clarification"


# ---- confusable pairs: the same topic, a different task -------------------------------------

def test_summarise_vs_extract(clf):
    text = "Marie Curie was born in Warsaw in 1867. She moved to Paris, where she studied physics and later " \
           "won two Nobel Prizes, in 1903 and 1911."
    assert tag(clf, "Summarize this paragraph.", text, "Curie, born in Warsaw, won two Nobel Prizes.").task \
        == "summarization"
    assert tag(clf, "Extract the years mentioned in this paragraph.", text, "1867, 1903, 1911").task == "extraction"
    zh = "居里夫人1867年出生于华沙，后来移居巴黎学习物理，并在1903年和1911年两次获得诺贝尔奖。"
    assert tag(clf, "总结这段话。", zh, "居里夫人两次获得诺贝尔奖。").task == "summarization"
    assert tag(clf, "提取这段话中出现的所有年份。", zh, "1867、1903、1911").task == "extraction"


def test_closed_vs_open_qa(clf):
    q = "Who designed the Eiffel Tower?"
    assert tag(clf, q, "", "Gustave Eiffel's company.").task == "open_qa"
    assert tag(clf, q, "The tower was designed by engineers Maurice Koechlin and Emile Nouguier.",
               "Koechlin and Nouguier.").task == "closed_qa"
    zq = "埃菲尔铁塔是谁设计的？"
    assert tag(clf, zq, "", "埃菲尔的公司。").task == "open_qa"
    assert tag(clf, zq, "铁塔由工程师克什兰和努吉耶设计。", "克什兰和努吉耶。").task == "closed_qa"


def test_rewrite_vs_translate(clf):
    src = "The meeting has been moved to Friday."
    assert tag(clf, "Rewrite the sentence in a more casual tone.", src, "Heads up, meeting's on Friday now!").task \
        == "rewriting"
    assert tag(clf, "Translate the sentence into Chinese.", src, "会议改到周五了。").task == "translation"
    assert tag(clf, "改写这句话，使它更口语化。", "会议已改至周五。", "会改到周五啦。").task == "rewriting"
    assert tag(clf, "把这句话翻译成英文。", "会议已改至周五。", "The meeting is now on Friday.").task \
        == "translation"


def test_math_vs_reasoning(clf):
    assert tag(clf, "A train travels 120 km in 2 hours. What is its average speed?", "", "60 km/h").task == "math"
    assert tag(clf, "Alice is taller than Bob, and Bob is taller than Carol. Who is the shortest? "
                    "Think step by step.", "", "Carol.").task == "reasoning"
    assert tag(clf, "计算 (15 + 27) × 3 的结果。", "", "126").task == "math"
    assert tag(clf, "甲说乙在说谎，乙说丙在说谎，丙说甲和乙都在说谎。请推理谁说了真话。", "", "乙说了真话。").task \
        == "reasoning"


def test_code_explain_vs_code_write(clf):
    code = "def f(xs):\n    return [x * 2 for x in xs]"
    w = tag(clf, "Write a Python function that doubles every number in a list.", "", f"```python\n{code}\n```")
    e = tag(clf, "Explain what this code does.", code, "It returns a new list with every element doubled.")
    assert (w.task, w.subtype) == ("code", "write")
    assert (e.task, e.subtype) == ("code", "explain")
    zw = tag(clf, "用Python编写一个函数，把列表里的每个数乘以2。", "", f"```python\n{code}\n```")
    ze = tag(clf, "解释一下这段代码的作用。", code, "它把列表中的每个元素乘以2。")
    assert (zw.task, zw.subtype) == ("code", "write")
    assert (ze.task, ze.subtype) == ("code", "explain")
    fix = tag(clf, "Fix the bug in this function.", "def add(a, b):\n    return a - b", "return a + b")
    assert (fix.task, fix.subtype) == ("code", "fix")


def test_fallback_and_empty(clf):
    assert tag(clf, "").task == "generation"
    t = tag(clf, "", "some context only")
    assert t.task == "closed_qa" and t.rule == "fallback" and t.confidence == 0.2


def test_ties_are_broken_by_taxonomy_order_not_chance(clf):
    a = tag(clf, "Summarize and extract.", "x y z", "")
    b = tag(clf, "Summarize and extract.", "x y z", "")
    assert a == b


OPTION_CUES = [
    # (rule, instruction, output): asking what one could do, or for an open list, is brainstorming.
    ("brainstorm_ask", "We are in Kyoto for two days. What should we see?", "Fushimi Inari, Kinkaku-ji and Gion."),
    ("brainstorm_ask", "周末在家可以做些什么？", "看书、做饭、整理房间。"),
    ("brainstorm_ask", "What are good alternatives to coffee in the morning?", "Green tea, chicory or warm lemon water."),
    ("brainstorm_ask", "早餐有什么好的选择？", "燕麦、鸡蛋、水果。"),
    ("brainstorm_list", "Can you name a few famous jazz musicians?", "Miles Davis, John Coltrane, Ella Fitzgerald."),
    ("brainstorm_list", "你能说出几种常见的热带水果吗？", "芒果、菠萝、榴莲。"),
]


@pytest.mark.parametrize("rule,instruction,output", OPTION_CUES, ids=[c[1][:30] for c in OPTION_CUES])
def test_open_option_requests_are_brainstorming(clf, rule, instruction, output):
    t = tag(clf, instruction, "", output)
    assert (t.task, t.rule) == ("brainstorming", rule)


def test_single_fact_requests_stay_open_qa(clf):
    # No quantity ("a few", "some", a number) and no "what should I do": one fact, not a set of options.
    assert tag(clf, "Can you name the capital of Peru?", "", "Lima.").task == "open_qa"
    assert tag(clf, "你能说出秘鲁的首都吗？", "", "利马。").task == "open_qa"
