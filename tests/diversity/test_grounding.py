"""Grounded-answer cues (how the output uses the input) and output-form cues, EN and ZH."""
import copy

import pytest

from pipeline.config import RULES_DIR, read_yaml
from pipeline.diversity.grounding import measure, tokens
from pipeline.diversity.task import TaskClassifier, taxonomy_problems
from pipeline.diversity.text import comma_items, lowercase_safe

TAX = read_yaml(RULES_DIR / "taxonomy.yaml")

CHORO_EN = ("Choro is a popular music style from Rio de Janeiro. It is usually played by a small group with a "
            "guitar, a flute and a cavaquinho, and sometimes a pandeiro keeps the rhythm.")
CHORO_ZH = "肖罗是起源于里约热内卢的一种流行音乐。它通常由一个小乐队演奏，乐器包括吉他、长笛和卡瓦奇尼奥琴，有时还用铃鼓打节奏。"
COUNCIL_EN = ("The city council met on Monday evening to discuss next year's budget. After four hours of heated "
              "debate, members voted seven to two to raise the property tax by two percent. The extra revenue will "
              "pay for road repairs and longer library opening hours. Several residents spoke against the increase, "
              "saying that rents would rise.")
COUNCIL_ZH = ("市议会周一晚上召开会议讨论明年的预算。经过四个小时的激烈辩论，议员们以七票对两票通过了将房产税提高百分之二的决定。"
              "新增的收入将用于修路和延长图书馆的开放时间。几位居民发言反对，认为房租会因此上涨。")


@pytest.fixture(scope="module")
def clf():
    return TaskClassifier(TAX)


def tag(clf, instruction, input_="", output=""):
    return clf.classify(instruction, input_, output)


def test_tokens_are_words_in_english_and_characters_in_chinese():
    assert tokens("The Tax rose 2%") == ["the", "tax", "rose", "2"]
    assert tokens("房产税ok") == ["房", "产", "税", "ok"]


def test_measure_copy_cover_and_list_items_en_and_zh():
    g = measure(CHORO_EN, "guitar, flute, cavaquinho")
    assert (g.list_items, g.items_in_input) == (3, 1.0)
    g = measure(CHORO_ZH, "吉他、长笛、卡瓦奇尼奥琴")
    assert (g.list_items, g.items_in_input) == (3, 1.0)
    lifted = "After four hours of heated debate, members voted seven to two to raise the property tax by two percent."
    g = measure(COUNCIL_EN, lifted)
    assert g.copy == 1.0 and 0 < g.cover < 0.6 and g.ratio < 0.5
    g = measure(COUNCIL_ZH, "议会批准小幅上调房产税。")
    assert g.copy < 0.5 and g.ratio < 0.3
    empty = measure("", "anything")
    assert (empty.copy, empty.cover, empty.list_items) == (0.0, 0.0, 0)


def test_prose_with_commas_is_not_a_list():
    assert comma_items("red, green, blue") == 3
    assert comma_items("吉他、长笛、卡瓦奇尼奥琴") == 3
    assert comma_items("Despite the objections of many residents, the council approved the increase, which "
                       "will pay for road repairs") == 0


@pytest.mark.parametrize("instruction,input_,output", [
    ("Give me the instruments used in Choro music.", CHORO_EN, "guitar, flute, cavaquinho"),
    ("给出肖罗音乐使用的乐器", CHORO_ZH, "吉他、长笛、卡瓦奇尼奥琴"),
])
def test_list_of_items_from_the_input_is_extraction(clf, instruction, input_, output):
    t = tag(clf, instruction, input_, output)
    assert (t.task, t.rule) == ("extraction", "grounded:list_from_input")
    # The same list NOT found in the input is no grounded extraction.
    t = tag(clf, instruction, input_, "drums, piano, violin" if output.isascii() else "鼓、钢琴、小提琴")
    assert t.rule != "grounded:list_from_input"


@pytest.mark.parametrize("instruction,input_,output", [
    ("Tell me what the council decided.", COUNCIL_EN,
     ("Despite objections from residents worried about their rents, councillors approved a small property tax "
     "rise by a large majority, which funds road work and extended library hours in the coming year.")),
    ("说说议会做了什么决定。", COUNCIL_ZH,
     "议会以多数票批准小幅上调房产税，虽有居民担心租金上涨而反对，这笔钱将花在道路维修和图书馆延时开放上。"),
])
def test_condensed_paraphrase_is_summarization(clf, instruction, input_, output):
    t = tag(clf, instruction, input_, output)
    assert (t.task, t.rule) == ("summarization", "grounded:condensed")


def test_lifted_sentences_are_extraction_and_a_short_fact_is_closed_qa(clf):
    lifted = ("After four hours of heated debate, members voted seven to two to raise the property tax by two "
              "percent. The extra revenue will pay for road repairs and longer library opening hours.")
    t = tag(clf, "Quote what the council decided.", COUNCIL_EN, lifted)
    assert (t.task, t.rule) == ("extraction", "grounded:lifted")
    t = tag(clf, "Quote what the council decided.", COUNCIL_EN, "A two percent property tax rise.")
    assert t.task == "closed_qa"
    t = tag(clf, "议会决定了什么", COUNCIL_ZH, "将房产税提高百分之二。")
    assert t.task == "closed_qa"


def test_answer_quoting_the_whole_input_and_more_is_extraction(clf):
    head = COUNCIL_EN[:160]
    out = (COUNCIL_EN + " The vote followed months of public hearings, in which business owners and tenants argued "
           "about how the city should fund its services and who should carry the cost.")
    t = tag(clf, "Tell me more.", head, out)
    assert (t.task, t.rule) == ("extraction", "grounded:reproduced")


def test_generic_what_is_question_about_a_passage_is_summarization(clf):
    passage = ("Augusta Ada King, Countess of Lovelace, was an English mathematician and writer, chiefly known for "
               "her work on Charles Babbage's proposed mechanical general-purpose computer, the Analytical Engine. "
               "She was the first to recognise that the machine had applications beyond pure calculation.")
    out = ("Ada Lovelace was a nineteenth-century English mathematician. Working with Babbage on his planned "
           "Analytical Engine, she saw that such a machine could do far more than arithmetic.")
    assert tag(clf, "Who is Ada Lovelace?", passage, out).task == "summarization"
    # Without a passage it stays an open question.
    assert tag(clf, "Who is Ada Lovelace?", "", out).task == "open_qa"


@pytest.mark.parametrize("instruction,output", [
    ("Reply to my landlord about the leaking tap.",
     "Dear Mr. Smith,\n\nThe kitchen tap has been leaking since Monday. Could you send a plumber?\n\nBest, Anna"),
    ("给房东回复一下厨房漏水的事", "亲爱的王先生：\n厨房的水龙头从周一开始漏水，麻烦您这周安排师傅来修一下。\n谢谢！"),
    ("Something about the sea, please.",
     ("The sea rolls in at break of day\nit carries all my fears away\nthe gulls are crying overhead\n"
     "the tide comes in where I once fled")),
    ("讲个小动物的故事", "从前，森林里住着一只小兔子，它每天都去河边喝水。"),
])
def test_creative_output_form_is_generation(clf, instruction, output):
    t = tag(clf, instruction, "", output)
    assert (t.task, t.rule) == ("generation", "creative_output_form")


def test_code_lines_are_not_verse(clf):
    code = "def area(r):\n    return 3.14 * r * r\n\nprint(area(2))\nprint(area(3))"
    assert tag(clf, "Something about circles, please.", "", code).rule != "creative_output_form"


def test_explicit_write_request_beats_generic_suggestion_cue(clf):
    t = tag(clf, "Write a letter to the airline suggesting ideas to improve their refund process.", "",
            "To whom it may concern, I would like to suggest ...")
    assert t.task == "generation"


def test_lowercase_safe_patterns():
    assert lowercase_safe(r"\bselect\b.+\bfrom\b")
    assert lowercase_safe(r"^\W*\S+\N{EM DASH}")
    assert not lowercase_safe(r"\bSELECT\b")
    assert not lowercase_safe(r"[A-Za-z]+")


def test_uppercase_pattern_still_matches_any_case():
    tax = copy.deepcopy(TAX)
    tax["rules"].append({"id": "shout", "task": "classification", "weight": 9.0, "en": [r"\bSHOUT\b"]})
    c = TaskClassifier(tax)
    assert c.classify("please shout this").task == "classification"
    assert c.classify("Please SHOUT this").task == "classification"


def test_grounded_cue_config_problems():
    tax = copy.deepcopy(TAX)
    tax["grounded"]["cues"].append({"id": "bad", "task": "nope", "min": {"lenght": 3}, "max": {"ratio": "big"}})
    probs = taxonomy_problems(tax)
    assert any("bad: unknown task 'nope'" in p for p in probs)
    assert any("min.lenght is not one of" in p for p in probs)
    assert any("max.ratio must be a number" in p for p in probs)
