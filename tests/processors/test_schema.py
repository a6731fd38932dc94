import pytest

from pipeline.processors.schema import Schema
from pipeline.record import from_rows, new_record


def _run(rec):
    s = Schema()
    s.setup()
    return s.process(from_rows([rec], keys=list(rec)))[1][0]


@pytest.mark.parametrize("field,value,reason,needle", [
    ("output", "", "schema_empty_field", "output"),
    ("output", " \n ", "schema_empty_field", "output"),
    ("instruction", "", "schema_empty_field", "instruction"),
    ("output", 42, "schema_wrong_type", "output"),
    ("origin", "scraped", "schema_invalid_value", "origin"),
    ("flags", ["Not A Code"], "schema_invalid_value", "flags"),
    ("response_type", "maybe", "schema_invalid_value", "response_type"),
])
def test_reason_codes_name_the_field(field, value, reason, needle):
    rec = new_record(instruction="Q?", output="A.")
    rec[field] = value
    v = _run(rec)
    assert not v.keep and v.reason == reason and needle in v.detail


def test_missing_and_unexpected_fields():
    rec = new_record(instruction="Q?", output="A.")
    del rec["output"]
    v = _run(rec)
    assert v.reason == "schema_missing_field" and "output" in v.detail
    rec = new_record(instruction="Q?", output="A.")
    rec["extra"] = 1
    assert _run(rec).reason == "schema_unexpected_field"


def test_history_turns_are_checked():
    rec = new_record(instruction="Q?", output="A.", history=[{"instruction": "", "output": "x"}])
    v = _run(rec)
    assert v.reason == "schema_empty_field" and "history.0.instruction" in v.detail


def test_valid_records_pass_and_shapes_are_cached():
    s = Schema()
    s.setup()
    recs = [new_record(instruction=f"Question {i}?" * (i % 50 + 1), output=f"Answer {i}.",
                       source={"file": "f", "index": i, "format": "alpaca"}) for i in range(500)]
    _, verdicts = s.process(from_rows(recs))
    assert all(v.keep for v in verdicts)
    assert len(s._cache) < 5  # same shape -> one validation
