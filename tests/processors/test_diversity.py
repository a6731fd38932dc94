"""The `diversity` stage: tagging fields, measure-only default, balancing drops, upsampled copies."""
import copy
import json
import pickle

import pytest

from pipeline.config import RULES_DIR, deep_merge, read_yaml, stage_rules
from pipeline.record import FIELDS, from_rows, new_record
from pipeline.registry import get

Diversity = get("diversity")
DEFAULTS = stage_rules("diversity")


def recs():
    return [
        new_record(instruction="Translate the following sentence into French.", input="I love cats.",
                   output="J'aime les chats.", lang="en"),
        new_record(instruction="用Python写一个函数计算斐波那契数列", lang="zh",
                   output="```python\ndef fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\n```"),
        new_record(instruction="请总结下面这段文字的主要内容", input="今天天气很好，我们去公园散步，看到了很多花。",
                   output="作者去公园散步赏花。", lang="zh"),
        new_record(instruction="", output=""),
        new_record(instruction="还有呢？", output="好的", history=[{"instruction": "你好", "output": "你好！"}]),
        new_record(instruction="What is the capital of Japan?", output="Tokyo.", lang="en",
                   meta={"category": "closed_qa"}),
        new_record(instruction="List three fruits as a JSON array.", output='["apple", "pear", "fig"]',
                   meta={"format": {"requirements": ["json", "count=3"]}}),
    ]


def run(proc, records):
    proc.fit([from_rows(copy.deepcopy(records))])
    return proc.process(from_rows(copy.deepcopy(records)))


def test_default_rules_are_valid_and_measure_only():
    assert Diversity.validate_rules(DEFAULTS) == []
    assert DEFAULTS["balance"]["enabled"] is False
    proc = Diversity(DEFAULTS, 42)
    batch, verdicts = run(proc, recs())
    assert all(v.keep for v in verdicts)
    assert batch["task"][:3] == ["translation", "code", "summarization"]
    assert batch["task"][4] == "chat"
    assert batch["complexity"][0] in ("easy", "medium", "hard")
    assert batch["meta"][0]["task_rule"] == "translate_verb"
    assert batch["meta"][0]["verb_object"] == ["translate", "sentence"]
    assert batch["meta"][1]["task_subtype"] == "write"
    assert batch["meta"][1]["verb_object"] == ["写", "函数"]
    assert batch["domain"][1] == "technology"
    for v in verdicts:
        assert 0 <= v.scores["complexity"] <= 1 and 0 <= v.scores["task_confidence"] <= 1
    s = proc.summary()
    assert s["enabled"] is False and "after" not in s
    assert s["before"]["rows"] == 7
    assert s["before"]["task"]["counts"]["translation"] == 1
    assert "refusal_safety" in s["before"]["task"]["empty"]
    json.dumps(s)  # goes to report.json


def test_source_label_replaces_the_classifier_and_can_be_turned_off():
    proc = Diversity(DEFAULTS, 0)
    batch, _ = run(proc, recs())
    assert batch["task"][5] == "closed_qa"
    assert batch["meta"][5]["task_rule"] == "source_label:category=closed_qa"
    off = Diversity(deep_merge(DEFAULTS, {"source_labels": {"enabled": False}}), 0)
    batch, _ = run(off, recs())
    assert batch["task"][5] == "open_qa"
    assert not batch["meta"][5]["task_rule"].startswith("source_label")


def test_firefly_kind_maps_onto_the_taxonomy():
    r = new_record(instruction="将下面的句子翻译成文言文", input="我很高兴", output="吾甚喜", meta={"kind": "ClassicalChinese"})
    batch, _ = run(Diversity(DEFAULTS, 0), [r])
    assert batch["task"][0] == "translation"
    assert batch["meta"][0]["task_rule"] == "source_label:kind=ClassicalChinese"


def test_format_requirements_count_as_constraints():
    base = new_record(instruction="List three fruits as a JSON array.", output='["apple", "pear", "fig"]')
    with_reqs = dict(base, meta={"format": {"requirements": ["json", "count=3", "lang=en"]}})
    _, v1 = run(Diversity(DEFAULTS, 0), [base])
    _, v2 = run(Diversity(DEFAULTS, 0), [with_reqs])
    assert v2[0].scores["complexity"] > v1[0].scores["complexity"]


def balanced_rules(**extra):
    bal = {"enabled": True, "dimensions": ["task"], "targets": {"task": {"math": 0.5, "translation": 0.5}},
           "budget": 8}
    bal.update(extra)
    return deep_merge(DEFAULTS, {"balance": bal, "source_labels": {"enabled": False}})


def corpus():
    math = [new_record(instruction=f"Calculate {i} + {i + 7}.", output=str(2 * i + 7), lang="en",
                       scores={"quality": float(i)}) for i in range(10)]
    tr = [new_record(instruction=f"Translate 'number {i}' into French.", output=f"numéro {i}", lang="en")
          for i in range(3)]
    inj = [new_record(instruction="Calculate 100 + 1.", output="101", origin="injected", lang="en")]
    return math + tr + inj


def test_balancing_drops_over_quota_with_reason_and_detail():
    records = corpus()
    proc = Diversity(balanced_rules(), 5)
    assert Diversity.validate_rules(proc.rules) == []
    batch, verdicts = run(proc, records)
    dropped = [(r, v) for r, v in zip(records, verdicts) if not v.keep]
    # math quota 4: the injected row is kept and counts first, then the 3 best raw rows (quality 9, 8, 7).
    assert len(dropped) == 7
    assert all(v.reason == "diversity_over_quota" for _, v in dropped)
    assert all(v.detail == "cell math over its quota of 4" for _, v in dropped)
    kept_math = sorted(r["scores"].get("quality", -1) for r, v in zip(records, verdicts)
                       if v.keep and batch["task"][records.index(r)] == "math")
    assert kept_math == [-1, 7.0, 8.0, 9.0]
    assert verdicts[-1].keep  # injected
    s = proc.summary()
    assert s["balance"]["shortfalls"] == ["need 1 more translation"]
    assert s["before"]["task"]["counts"]["math"] == 11 and s["after"]["task"]["counts"]["math"] == 4
    assert s["after"]["task"]["entropy"] > s["before"]["task"]["entropy"]


def test_plan_survives_pickling_to_workers_and_is_deterministic():
    records = corpus()
    proc = Diversity(balanced_rules(), 5)
    proc.fit([from_rows(copy.deepcopy(records))])
    worker = pickle.loads(pickle.dumps(proc))
    b1, v1 = worker.process(from_rows(copy.deepcopy(records)))
    b2, v2 = proc.process(from_rows(copy.deepcopy(records)))
    assert v1 == v2 and b1 == b2
    other = Diversity(balanced_rules(), 5)
    other.fit([from_rows(copy.deepcopy(records[:7])), from_rows(copy.deepcopy(records[7:]))])
    assert other.process(from_rows(copy.deepcopy(records)))[1] == v1


def test_upsampled_copies_are_marked_injected_records():
    records = corpus()
    proc = Diversity(balanced_rules(upsample={"enabled": True, "max_copies": 1}), 5)
    proc.fit([from_rows(copy.deepcopy(records))])
    copies = proc.inject()
    assert len(copies) == 1  # translation is 1 short; one copy of one of its 3 rows
    c = copies[0]
    assert set(c) == set(FIELDS)
    assert c["origin"] == "injected" and c["meta"]["generator"] == "diversity_upsample"
    assert c["meta"]["copy"] == 1 and c["meta"]["upsampled_from"] in {r["id"] for r in records}
    assert c["id"] not in {r["id"] for r in records}
    assert proc.summary()["balance"]["shortfalls"] == []
    _, verdicts = proc.process(from_rows([c]))
    assert verdicts[0].keep


def test_empty_batch_and_arbitrary_records():
    proc = Diversity(DEFAULTS, 0)
    proc.fit([])
    empty = {k: [] for k in FIELDS}
    batch, verdicts = proc.process(empty)
    assert verdicts == [] and batch == empty
    weird = [new_record(instruction="\u200b", output="。。。"), new_record(instruction="🙂" * 50, input="x" * 5000)]
    _, verdicts = run(Diversity(DEFAULTS, 0), weird)
    assert len(verdicts) == 2 and all(v.keep for v in verdicts)


def test_rules_validation_reports_problems():
    bad = deep_merge(DEFAULTS, {"balance": {"targets": {"task": {"poetry": 0.5}}, "dimensions": ["task"]},
                                "source_labels": {"map": {"foo": "nonsense"}}})
    probs = "\n".join(Diversity.validate_rules(bad))
    assert "poetry" in probs and "source_labels.map.foo" in probs
    missing = dict(DEFAULTS, taxonomy_file="does-not-exist.yaml")
    assert any("not found" in p for p in Diversity.validate_rules(missing))


def test_balanced_recipe_is_valid():
    recipe = read_yaml(RULES_DIR / "recipes" / "balanced.yaml")
    rules = deep_merge(DEFAULTS, recipe["rules"]["diversity"])
    assert rules["balance"]["enabled"] is True and rules["balance"]["targets"]
    assert Diversity.validate_rules(rules) == []
    assert "diversity" in recipe["stages"]


@pytest.mark.parametrize("origin", ["raw", "mixed"])
def test_non_injected_origins_can_be_dropped(origin):
    records = [new_record(instruction=f"Calculate {i} * 3.", output=str(3 * i), origin=origin) for i in range(4)]
    rules = deep_merge(DEFAULTS, {"balance": {"enabled": True, "dimensions": ["task"], "budget": 2}})
    _, verdicts = run(Diversity(rules, 0), records)
    assert sum(not v.keep for v in verdicts) == 2
