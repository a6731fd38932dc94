"""The `format` processor: verdicts and reasons, meta requirements, family consistency, summary."""
from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.config import deep_merge, stage_rules
from pipeline.record import from_rows, new_record, rows

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def make(overrides=None, fit_rows=None):
    proc = registry.create("format", deep_merge(stage_rules("format"), overrides or {}), seed=1)
    if fit_rows is not None:
        proc.fit(iter([from_rows(copy.deepcopy(fit_rows))]))
    proc.setup()
    return proc


def run(proc, recs):
    batch, verdicts = proc.process(from_rows(copy.deepcopy(recs)))
    return rows(batch), verdicts


CASES = [  # (instruction, output, expected reason or None)
    ("List three primary colors.", "1. Red\n2. Blue\n3. Yellow", None),
    ("List three primary colors.", "1. Red\n2. Blue", "format_item_count"),
    ("给出三个学习方法。", "1. 多读\n2. 多写", "format_item_count"),
    ("Explain the three-body problem.", "It is a problem in physics about three bodies.", None),
    ("简述三国的历史。", "1. 魏\n2. 蜀\n3. 吴\n4. 晋", None),
    ("Explain gravity in one sentence.", "Gravity pulls masses together; it keeps planets in orbit; it shapes galaxies.", None),
    ("Explain gravity in one sentence.", "Gravity pulls masses. It keeps planets in orbit.", "format_sentence_count"),
    ("用一句话解释重力。", "重力使物体相互吸引。它让行星绕太阳运行。", "format_sentence_count"),
    ("Summarize in under 10 words.", "This summary has far more than ten words in it, clearly too many.", "format_length_limit"),
    ("用不超过10个字概括。", "春天来了，花都开了，小鸟在枝头欢快地歌唱。", "format_length_limit"),
    ("Return the person as JSON.", "```json\n{\"name\": \"Ada\"}\n```", None),
    ("Return the person as JSON.", "{name: Ada}", "format_json_invalid"),
    ('Output JSON with the keys "name" and "age".', '{"name": "Ada"}', "format_json_schema"),
    ("Is the sky blue? Answer yes or no.", "Maybe, it depends.", "format_yes_no"),
    ("Answer with only the option letter.", "B. Paris", "format_option_letter"),
    ("Describe the mood in one word.", "Very calm and quiet", "format_single_word"),
    ("把下面的句子翻译成英文。", "今天天气很好。", "format_answer_language"),
    ("Answer in Chinese: what is AI?", "AI is artificial intelligence.", "format_answer_language"),
]


@pytest.mark.parametrize("instruction,output,reason", CASES)
def test_reasons(instruction, output, reason):
    recs = [new_record(instruction=instruction, output=output)]
    out, (v,) = run(make(), recs)
    if reason is None:
        assert v.keep and not v.flags, v
    else:
        assert not v.keep and v.reason == reason, v
        assert v.detail
    assert isinstance(out[0]["meta"]["format"]["requirements"], list)


def test_detail_says_required_and_found():
    _, (v,) = run(make(), [new_record(instruction="List three fruits.", output="- apple")])
    assert v.reason == "format_item_count" and v.detail == "asked for 3 items, found 1 (markers)"


def test_requirements_on_meta_are_json():
    rec = new_record(instruction="Give 5 examples in JSON, in under 100 words.", output='["a","b","c","d","e"]',
                     meta={"keep": 1})
    out, _ = run(make(), [rec])
    meta = out[0]["meta"]
    assert meta["keep"] == 1
    kinds = {r["kind"] for r in meta["format"]["requirements"]}
    assert {"item_count", "json", "length_limit"} <= kinds
    json.dumps(meta)


def test_soft_checks_flag_and_actions_configurable():
    rec = new_record(instruction="Rewrite this in a formal tone.", output="Hey guys, it's gonna be late lol")
    _, (v,) = run(make(), [rec])
    assert v.keep and v.flags == ("format_register",)
    _, (v,) = run(make({"checks": {"register": {"action": "drop"}}}), [rec])
    assert not v.keep and v.reason == "format_register"
    rec = new_record(instruction="List three colors.", output="1. red\n2. blue")
    _, (v,) = run(make({"checks": {"item_count": {"action": "off"}}}), [rec])
    assert v.keep and not v.flags


def test_refusals_and_empty_outputs_are_not_judged():
    recs = [new_record(instruction="List three colors.", output="I'm sorry, I cannot help with that."),
            new_record(instruction="List three colors.", output=""),
            new_record(instruction="列举三种颜色。", output="1. 红", response_type="refusal")]
    _, vs = run(make(), recs)
    assert all(v.keep and not v.flags for v in vs)


def _family(outputs):
    return [new_record(instruction=f'Classify the sentiment of "{i}".', output=o) for i, o in enumerate(outputs)]


def test_inconsistent_style_flags_minority():
    recs = _family(["Positive."] * 8 + ["Negative"])
    proc = make(fit_rows=recs)
    _, vs = run(proc, recs)
    assert [v.flags for v in vs[:8]] == [()] * 8
    assert vs[8].flags == ("format_inconsistent_style",) and "trailing_period" in vs[8].detail
    summ = proc.summary()
    assert summ["consistency"]["minority_records"] == {"trailing_period": 1}
    json.dumps(summ)


def test_answer_prefix_and_list_marker_normalisation():
    recs = _family(["Answer: Positive"] * 6 + ["Negative"]) + \
        [new_record(instruction=f"Give steps for task {i}.", output="1. a\n2. b") for i in range(6)] + \
        [new_record(instruction="Give steps for task 99.", output="- a\n- b")]
    proc = make({"consistency": {"normalize": True}}, fit_rows=recs)
    out, vs = run(proc, recs)
    assert out[6]["output"] == "Answer: Negative" and not vs[6].flags
    assert out[6]["meta"]["format"]["normalized"] == ["answer_prefix: bare -> prefixed"]
    assert out[13]["output"] == "1. a\n2. b"
    assert out[0]["output"] == "Answer: Positive"


def test_json_key_sets_and_register_minorities_flag_only():
    recs = [new_record(instruction=f"Extract the entity from sentence {i}.", output='{"name": "x", "type": "y"}')
            for i in range(6)] + [new_record(instruction="Extract the entity from sentence 9.", output='{"entity": "x"}')]
    proc = make({"consistency": {"normalize": True}}, fit_rows=recs)
    out, vs = run(proc, recs)
    assert vs[6].flags == ("format_inconsistent_style",) and "json_keys" in vs[6].detail
    assert out[6]["output"] == '{"entity": "x"}'


def test_unfitted_and_pickled_instances_agree():
    recs = _family(["Positive."] * 8 + ["Negative"])
    proc = make(fit_rows=recs)
    clone = pickle.loads(pickle.dumps(proc))
    assert run(clone, recs)[1] == run(proc, recs)[1]
    assert all(not v.flags for v in run(make(), recs)[1])  # no fit: no family statistics


def test_summary_counts_requirements_and_violations():
    recs = [new_record(instruction="List three colors.", output="1. red\n2. blue"),
            new_record(instruction="Reply in JSON.", output='{"ok": true}')]
    summ = make({"summary": {"count_violations": True}}, fit_rows=recs).summary()
    assert summ["requirements"] == {"item_count": 1, "json": 1}
    assert summ["violations"] == {"item_count": 1}


def test_validate_rules_reports_unknown_schema_and_bad_regex():
    cls = registry.get("format")
    assert cls.validate_rules(stage_rules("format")) == []
    bad = deep_merge(stage_rules("format"), {"schemas": {"bindings": [
        {"schema": "nope", "task": ["x"]}, {"schema": "multiple_choice"}]}})
    probs = cls.validate_rules(bad)
    assert any("unknown schema 'nope'" in p for p in probs)
    assert any("needs task, source_file, instruction_regex or requirement" in p for p in probs)


def test_schema_binding_by_task_and_source_file():
    rules = {"schemas": {"bindings": [{"schema": "classification_label", "task": ["sentiment"]},
                                      {"schema": "json_extraction", "source_file": ["*/extract_*.jsonl"]}]}}
    recs = [new_record(instruction="How does this review feel?", output="It feels good.", task="sentiment"),
            new_record(instruction="Pull out the fields.", output="{}",
                       source={"file": "data/extract_1.jsonl", "index": 0, "format": "alpaca"})]
    _, vs = run(make(rules), recs)
    assert vs[0].flags == ("format_label_set",)
    assert not vs[1].keep and vs[1].reason == "format_json_schema"


def test_real_data_smoke():
    path = DATA / "llama_factory" / "alpaca_zh_demo.json"
    if not path.exists():
        pytest.skip("shared data not present")
    data = json.loads(path.read_text(encoding="utf-8"))[:300]
    recs = [new_record(instruction=r["instruction"], input=r.get("input", ""), output=r["output"]) for r in data]
    proc = make(fit_rows=recs)
    out, vs = run(proc, recs)
    assert len(vs) == len(recs)
    assert sum(1 for r in out if r["meta"]["format"]["requirements"]) > 10
    for v in vs:
        assert v.keep or v.reason.startswith("format_")
