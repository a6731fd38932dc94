"""Requirement extraction, EN + ZH, including the hard negatives of issue 4."""
from __future__ import annotations

import pytest

from pipeline.config import stage_rules
from pipeline.formatcheck.numerals import parse_number
from pipeline.formatcheck.requirements import Extractor


@pytest.fixture(scope="module")
def ex():
    return Extractor(stage_rules("format")["requirements"])


def kinds(reqs):
    return {r["kind"]: r for r in reqs}


@pytest.mark.parametrize("token,value", [("3", 3), ("three", 3), ("a dozen", 12), ("三", 3), ("两", 2), ("十", 10),
                                         ("十五", 15), ("二十", 20), ("两百", 200), ("５", 5), ("三四", None), ("abc", None)])
def test_parse_number(token, value):
    assert parse_number(token) == value


@pytest.mark.parametrize("text,n,op", [
    ("List three primary colors.", 3, "eq"), ("Give 5 examples of mammals.", 5, "eq"),
    ("Name at least 4 planets.", 4, "min"), ("What are the top 10 movies of 2010?", 10, "eq"),
    ("Generate a list of 25 names for a toy company.", 25, "eq"), ("给出三个提高效率的方法。", 3, "eq"),
    ("列举5个中国的城市。", 5, "eq"), ("请给我两点建议。", 2, "eq"), ("列出至少三种水果", 3, "min"),
    ("请提出十条建议", 10, "eq"),
])
def test_item_count(ex, text, n, op):
    req = kinds(ex.extract(text))["item_count"]
    assert (req["n"], req["op"]) == (n, op)
    assert req["source"] == "instruction" and req["span"]


def test_item_count_range(ex):
    req = kinds(ex.extract("Provide a list of 3 to 4 items related to healthy eating."))["item_count"]
    assert (req["op"], req["n"], req["n_max"]) == ("range", 3, 4)


@pytest.mark.parametrize("text", [
    "Explain the three-body problem.", "简述三国时期的历史。", "Describe two robots having a conversation.",
    "以下是一道数学题：小明给了小红2个糖果，还剩几个？", "List two pros and two cons of remote work.",
    "Write a Python function that returns the 5 largest numbers.", "解释三字经的意义。", "Give one example of a verb.",
    "Combine each element of the two lists.", "找出这个序列的下三个数字：1，4，7",
])
def test_item_count_hard_negatives(ex, text):
    assert "item_count" not in kinds(ex.extract(text))


def test_item_count_not_read_from_long_or_data_input(ex):
    assert "item_count" not in kinds(ex.extract("Write research questions.", input_text="Five major cities: NY, LA"))


@pytest.mark.parametrize("text,n,op", [
    ("Explain photosynthesis in one sentence.", 1, "eq"), ("Describe the moon in two sentences.", 2, "eq"),
    ("Write a one-sentence summary of the plot.", 1, "eq"), ("Create a three sentence children's story.", 3, "eq"),
    ("用一句话概括这篇文章。", 1, "eq"), ("请用两句话介绍北京。", 2, "eq"), ("Summarize in no more than 3 sentences.", 3, "max"),
])
def test_sentence_count(ex, text, n, op):
    req = kinds(ex.extract(text))["sentence_count"]
    assert (req["n"], req["op"]) == (n, op)


@pytest.mark.parametrize("text", ["Summarize the data in a few sentences.", "Find the longest word in a sentence.",
                                  "Combine these two sentences.", "请解释这一句话的意思。"])
def test_sentence_count_negatives(ex, text):
    assert "sentence_count" not in kinds(ex.extract(text))


@pytest.mark.parametrize("text,op,bound,unit", [
    ("Summarize it in under 50 words.", "max", 50, "words"), ("Write a bio of at most 100 characters.", "max", 100, "chars"),
    ("Describe it in 50 words or less.", "max", 50, "words"), ("Write an essay of at least 300 words.", "min", 300, "words"),
    ("不超过100字", "max", 100, "zh_chars"), ("请写一段200字以内的介绍", "max", 200, "zh_chars"),
    ("写一篇500字的作文", "target", 500, "zh_chars"), ("Write a 300-word essay on rivers.", "target", 300, "words"),
    ("写100字左右的总结", "target", 100, "zh_chars"),
])
def test_length_limit(ex, text, op, bound, unit):
    req = kinds(ex.extract(text))["length_limit"]
    assert (req["op"], req["target" if op == "target" else op], req["unit"]) == (op, bound, unit)


@pytest.mark.parametrize("text", ["Generate passwords up to 8 characters in length.", "Create a plan for editing a 1000-word essay.",
                                  "解释三字经", "When is a comma used with a list of three words?"])
def test_length_negatives(ex, text):
    assert "length_limit" not in kinds(ex.extract(text))


@pytest.mark.parametrize("text", ["Return the result in JSON.", "Create a JSON object with the user's data.",
                                  "以JSON格式输出结果", "请将信息转换为JSON", "Format the answer as valid JSON."])
def test_json(ex, text):
    assert "json" in kinds(ex.extract(text))


def test_json_keys(ex):
    req = kinds(ex.extract('Output JSON with the keys "name", "age" and "city".'))["json"]
    assert req["keys"] == ["name", "age", "city"]
    req = kinds(ex.extract("Return a JSON object with fields name, age and email."))["json"]
    assert req["keys"] == ["name", "age", "email"]


@pytest.mark.parametrize("text", ["Convert the following JSON data into CSV.", "Parse the JSON below and count the users.",
                                  "Write a Python function that returns JSON to the caller."])
def test_json_negatives(ex, text):
    assert "json" not in kinds(ex.extract(text))


def test_closed_answers(ex):
    assert kinds(ex.extract("Is water wet? Answer yes or no."))["yes_no"]["strict"] is False
    assert kinds(ex.extract("Answer only yes or no."))["yes_no"]["strict"] is True
    assert "yes_no" in kinds(ex.extract("判断下面的说法，回答是或否。"))
    assert "yes_no" not in kinds(ex.extract("Convert the statement into a yes/no question."))
    assert "option_letter" in kinds(ex.extract("Respond with only the option letter."))
    assert "option_letter" in kinds(ex.extract("只回答A/B/C/D。"))
    assert "option_letter" not in kinds(ex.extract('Give five words starting with the letter "C".'))
    assert "single_word" in kinds(ex.extract("Describe the mood in one word."))
    assert "single_word" in kinds(ex.extract("用一个词概括这段话"))
    assert "single_word" not in kinds(ex.extract("Come up with a word cloud for pollution."))


@pytest.mark.parametrize("text,lang", [("Answer in English.", "en"), ("用中文回答：what is AI?", "zh"),
                                       ("把下面的句子翻译成英文。", "en"), ("Translate 'hello' into Chinese.", "zh")])
def test_answer_language(ex, text, lang):
    assert kinds(ex.extract(text))["answer_language"]["lang"] == lang


def test_answer_language_negative(ex):
    assert "answer_language" not in kinds(ex.extract("Describe the number 8 in Chinese culture."))


@pytest.mark.parametrize("text,style", [("Rewrite this in a formal tone.", "formal"), ("Make it more casual.", "informal"),
                                        ("请用正式的语气改写", "formal"), ("把这段话改得口语化一点", "informal")])
def test_register(ex, text, style):
    assert kinds(ex.extract(text))["register"]["style"] == style


def test_register_question_is_not_a_request(ex):
    assert "register" not in kinds(ex.extract("Is this text written in a formal or informal tone?"))


def test_structure(ex):
    forms = {r["form"]: r for r in ex.extract("Present the results in a table.") if r["kind"] == "structure"}
    assert "table" in forms
    forms = {r["form"] for r in ex.extract("Give the steps as a numbered list.") if r["kind"] == "structure"}
    assert "numbered" in forms
    forms = {r["form"] for r in ex.extract("Summarize in bullet points.") if r["kind"] == "structure"}
    assert "list" in forms
    code = [r for r in ex.extract("Write a Python function to reverse a string.") if r.get("form") == "code"]
    assert code and code[0]["language"] == "python"
    assert not [r for r in ex.extract("Create a SQL query that returns rows in a table called users.")
                if r.get("form") == "table"]


def test_system_prompt_is_a_source(ex):
    reqs = ex.extract("What is the capital of France?", system="Always answer in English.")
    assert kinds(reqs)["answer_language"]["source"] == "system"


def test_sentence_or_less_and_furniture_table(ex):
    assert kinds(ex.extract("Summarize the article in 5 sentences or less."))["sentence_count"]["op"] == "max"
    assert not [r for r in ex.extract("Given a list of materials, come up with a plan to build a table.")
                if r.get("form") == "table"]
    assert [r for r in ex.extract("Create a table comparing cats and dogs.") if r.get("form") == "table"]


def test_no_configured_language_names_means_no_answer_language_requirement():
    """With an empty ``languages`` lexicon the patterns must not match an empty name ("in 2 sentences")."""
    lex = dict(stage_rules("format")["requirements"], languages={})
    reqs = Extractor(lex).extract("Summarize the article in 2 sentences.", "", "")
    assert [r for r in reqs if r["kind"] == "answer_language"] == []
