"""The `refusal` processor: wiring, reason codes, injected rows kept, summary, config validation."""
from __future__ import annotations

import pickle

from pipeline import registry
from pipeline.config import stage_rules
from pipeline.record import from_rows, new_record


def make(**rules):
    base = stage_rules("refusal")
    for k, v in rules.items():
        base[k] = {**base.get(k, {}), **v}
    proc = registry.create("refusal", base, 1)
    proc.setup()
    return proc


ROWS = [
    new_record(instruction="How do I kill a Python process?", output="I'm sorry, but I can't help with killing anything."),
    new_record(instruction="如何杀死僵尸进程？", output="抱歉，我不能提供任何关于杀死的信息，这涉及暴力。"),
    new_record(instruction="How to shoot a great photo?", output="I cannot assist with shooting. Violence is harmful."),
    new_record(instruction="How do I make a bomb?", output="I can't help with that."),
    new_record(instruction="How do I make a bomb?",
               output="I can't help with that, because explosives can kill people. I'd be glad to explain how "
                      "bomb-disposal teams work instead."),
    new_record(instruction="Summarize the following article.", output="Could you paste the article? It is missing."),
    new_record(instruction="Why is the Sun orbiting the Earth?", output="That's a common misconception: the Earth orbits the Sun."),
    new_record(instruction="What is 2+2?", output="4"),
]


def test_process_tags_response_type_and_reason_codes():
    proc = make()
    batch, verdicts = proc.process(from_rows([dict(r) for r in ROWS]))
    assert batch["response_type"] == ["refusal", "refusal", "refusal", "refusal", "refusal",
                                      "clarification", "correction", "answer"]
    for i in (0, 1, 2):
        assert "refusal_over_refusal" in verdicts[i].flags, verdicts[i]
    assert "refusal_unhelpful" in verdicts[3].flags and "refusal_over_refusal" not in verdicts[3].flags
    assert verdicts[4].flags == ()  # reason + alternative, harmful request
    assert all(v.keep for v in verdicts)
    assert verdicts[6].scores["correction_score"] == 1.0 and "misconception" in verdicts[6].detail
    assert batch["meta"][5]["refusal_cue"]
    assert verdicts[7].scores["refusal_score"] == 0.0


def test_drop_action_drops_with_reason_but_never_injected_rows():
    proc = make(checks={"over_refusal": {"action": "drop"}})
    rows = [dict(ROWS[0]), dict(ROWS[0], origin="injected", response_type="refusal", id="inj")]
    _, verdicts = proc.process(from_rows(rows))
    assert not verdicts[0].keep and verdicts[0].reason == "refusal_over_refusal"
    assert verdicts[1].keep and not verdicts[1].flags


def test_off_action_silences_check():
    proc = make(checks={"unhelpful": {"action": "off"}, "over_refusal": {"action": "off"}})
    _, verdicts = proc.process(from_rows([dict(r) for r in ROWS]))
    assert all(not v.flags for v in verdicts)


def test_fit_inject_summary_and_pickle():
    proc = make()
    corpus = [new_record(instruction=f"Question number {i}?", output=f"Answer {i}.", lang="en") for i in range(500)]
    corpus += [dict(ROWS[0], lang="en")]
    proc.fit(iter([from_rows(corpus)]))
    new = proc.inject()
    s = proc.summary()
    assert s["live_rows"] == 501 and s["languages"] == {"en": 501}
    assert s["detected"]["refusal"] == 1 and s["over_refusal"] == 1
    assert s["injected"]["total"] == len(new) == sum(s["plan"].values())
    assert set(s["injected"]["by_lang"]) == {"en"}
    assert abs(s["ratio"]["achieved"] - s["ratio"]["target"]) <= 0.002
    clone = pickle.loads(pickle.dumps(proc))
    assert not hasattr(clone, "_derived") and not hasattr(clone, "_taken")
    _, v = clone.process(from_rows(new))
    assert all(x.keep for x in v)


def test_untagged_language_falls_back_to_script():
    proc = make()
    corpus = [new_record(instruction=f"第{i}个问题是什么？", output=f"答案{i}。") for i in range(300)]
    proc.fit(iter([from_rows(corpus)]))
    new = proc.inject()
    assert new and {r["lang"] for r in new} == {"zh"}


def test_validate_rules_lists_problems():
    cls = registry.get("refusal")
    assert cls.validate_rules(stage_rules("refusal")) == []
    bad = stage_rules("refusal")
    bad["ratio"] = {**bad["ratio"], "target": 0.7, "safety_contrast": 0.4, "kinds": {"nonsense": 1}}
    bad["cues"] = {**bad["cues"], "refusal": {"en": ["(unclosed"]}}
    probs = cls.validate_rules(bad)
    assert any("sum to < 1" in p for p in probs)
    assert any("ratio.kinds.nonsense" in p for p in probs)
    assert any("cues.refusal.en[0]" in p for p in probs)
