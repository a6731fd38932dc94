"""Domain, complexity and verb–object taggers, EN and ZH."""
import pytest

from pipeline.config import RULES_DIR, read_yaml, stage_rules
from pipeline.diversity.complexity import ComplexityScorer, complexity_problems
from pipeline.diversity.domain import DomainTagger
from pipeline.diversity.verbobj import VerbObject

RULES = stage_rules("diversity")


@pytest.fixture(scope="module")
def dom():
    return DomainTagger(read_yaml(RULES_DIR / "taxonomy.yaml")["domains"], min_hits=1)


@pytest.mark.parametrize("text,expected", [
    ("What are the symptoms of diabetes and how is it treated by a doctor?", "medicine"),
    ("糖尿病有哪些症状？医生通常怎么治疗？", "medicine"),
    ("Can my landlord break the lease contract without going to court?", "law"),
    ("房东可以不经过法院单方面解除合同吗？", "law"),
    ("Should I invest in stocks or bonds given current interest rate trends?", "finance"),
    ("现在应该投资股票还是债券？", "finance"),
    ("Explain photosynthesis and the role of chlorophyll in plant cells.", "science"),
    ("解释光合作用以及细胞中的叶绿体。", "science"),
    ("How do I connect to a SQL database from Python?", "technology"),
    ("如何用Python连接数据库？", "technology"),
    ("How can teachers help students prepare for the exam?", "education"),
    ("老师如何帮助学生准备高考？", "education"),
    ("Suggest a recipe for a quick family dinner.", "daily_life"),
    ("推荐一个适合全家人的晚餐菜谱。", "daily_life"),
    ("Why did the Roman empire fall in the fifth century?", "culture_history"),
    ("唐朝为什么会衰落？请结合历史分析。", "culture_history"),
    ("Blorp the zindle quickly.", "other"),
])
def test_domains(dom, text, expected):
    assert dom.tag(text)[0] == expected


def test_two_word_phrase_counts_once(dom):
    assert dom.hits("machine learning")["technology"] == 1
    assert "education" not in dom.hits("machine learning")


def test_complexity_orders_easy_medium_hard():
    sc = ComplexityScorer(RULES["complexity"])
    easy = sc.score("What is 2+2?", "", "4", 0)
    medium = sc.score("Explain why the sky is blue, in about 3 sentences.", "",
                      "Sunlight scatters off air molecules. " * 6, 0)
    hard = sc.score("Compare the pros and cons of microservices versus monoliths. Explain your reasoning step "
                    "by step, use at most 300 words, and format the answer as a table with exactly 4 rows.", "",
                    "| aspect | micro | mono |\n" + "- point about scaling and deployment trade-offs\n" * 12
                    + "word " * 250, 2)
    assert easy.bucket == "easy" and hard.bucket == "hard"
    assert easy.score < medium.score < hard.score
    assert hard.features["constraints"] >= 3 and hard.features["reasoning_cues"] >= 1


def test_complexity_counts_chinese_and_format_requirements():
    sc = ComplexityScorer(RULES["complexity"])
    zh = sc.score("请用JSON格式列出三种水果，不超过20个字。", "", '["苹果","香蕉","梨"]', 0)
    assert zh.features["constraints"] >= 2
    plain = sc.score("列出三种水果。", "", "苹果、香蕉、梨", 0)
    with_reqs = sc.score("列出三种水果。", "", "苹果、香蕉、梨", 0, requirements=3)
    assert with_reqs.features["constraints"] == plain.features["constraints"] + 3
    assert with_reqs.score > plain.score
    deeper = sc.score("列出三种水果。", "", "苹果、香蕉、梨", 3)
    assert deeper.score > plain.score


def test_complexity_rules_validation():
    assert complexity_problems(RULES["complexity"]) == []
    bad = dict(RULES["complexity"], buckets={"medium": 0.7, "hard": 0.2}, weights={"vibes": 1})
    probs = complexity_problems(bad)
    assert any("buckets" in p for p in probs) and any("vibes" in p for p in probs)


@pytest.mark.parametrize("instruction,pair", [
    ("Write a short poem about the sea.", ("write", "poem")),
    ("Please summarize the following article in 3 sentences.", ("summarize", "article")),
    ("Can you give me three tips for staying healthy?", ("give", "tip")),
    ("Generate a list of creative names for a bakery.", ("generate", "name")),
    ("What is the capital of France?", ("", "")),
    ("", ("", "")),
    ("请总结下面这段文字的主要内容", ("总结", "文字")),
    ("给我写一首关于春天的诗", ("写", "诗")),
    ("把这句话翻译成英文", ("翻译", "话")),
    ("解释一下这段代码的作用", ("解释", "代码")),
    ("中国的首都是哪里？", ("", "")),
])
def test_verb_object(instruction, pair):
    assert VerbObject(RULES["verb_object"])(instruction) == pair
