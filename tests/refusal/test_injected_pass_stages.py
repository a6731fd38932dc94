"""Injected records pass the schema and quality stages, and our own detector agrees with their kind."""
from __future__ import annotations

import pytest

from pipeline import registry
from pipeline.config import stage_rules
from pipeline.record import from_rows, new_record


def _sample() -> list[dict]:
    rules = stage_rules("refusal")
    rules["ratio"] = {**rules["ratio"], "target": 0.15, "safety_contrast": 0.05}
    proc = registry.create("refusal", rules, 3)
    recs = []
    for i in range(2400):
        zh = i % 2 == 1
        if i % 5 == 0:
            instr = f"把下面的句子翻译成英文（第{i}句）。" if zh else f"Translate the following sentence into French (item {i})."
            recs.append(new_record(instruction=instr, input="示例句子。" if zh else "An example.", output="x"))
        else:
            recs.append(new_record(instruction=f"问题{i}" if zh else f"Question {i}", output="答案" if zh else "Answer"))
    proc.fit(iter([from_rows(recs)]))
    new = proc.inject()
    assert len(new) >= 500
    return new


SAMPLE = _sample()


def test_schema_stage_keeps_every_injection():
    schema = registry.create("schema", stage_rules("schema"), 0)
    schema.setup()
    _, verdicts = schema.process(from_rows(SAMPLE))
    assert all(v.keep for v in verdicts), [v for v in verdicts if not v.keep][:3]


def test_quality_stage_keeps_every_injection():
    if "quality" not in registry.names():
        pytest.skip("quality stage not registered yet")
    quality = registry.create("quality", stage_rules("quality"), 0)
    if getattr(quality, "is_global", False):
        quality.fit(iter([from_rows(SAMPLE)]))
    quality.setup()
    _, verdicts = quality.process(from_rows(SAMPLE))
    drops = [(r["response_type"], r["instruction"], v.reason) for r, v in zip(SAMPLE, verdicts) if not v.keep]
    assert not drops, drops[:5]


def test_refusal_stage_keeps_and_agrees_with_its_injections():
    proc = registry.create("refusal", stage_rules("refusal"), 3)
    proc.setup()
    batch, verdicts = proc.process(from_rows(SAMPLE))
    assert all(v.keep and not v.flags for v in verdicts)
    # The detector, run as if the rows were raw, finds the kind the generator intended.
    raw = [dict(r, origin="raw", response_type="") for r in SAMPLE]
    batch, verdicts = proc.process(from_rows(raw))
    wrong = [(r["instruction"], r["output"], got) for r, got in zip(SAMPLE, batch["response_type"])
             if got != r["response_type"]]
    assert not wrong, wrong[:5]
    assert not [v for v in verdicts if v.flags]
