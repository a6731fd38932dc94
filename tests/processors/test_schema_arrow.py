"""schema's Arrow path: it vouches only for valid rows, and equals the jsonschema path on any table."""
from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.engines.apply import apply_chain
from pipeline.io.columns import WORK_SCHEMA, work_table
from pipeline.processors.schema import ARROW_CHECKED_SCHEMA, Schema, load_schema, schema_digest, surely_valid
from pipeline.record import new_record


def test_arrow_checks_match_the_schema_file():
    # If this fails, schemas/record.schema.json changed: review surely_valid() against it,
    # then update ARROW_CHECKED_SCHEMA. Until then the Arrow path is off (correct, slower).
    assert schema_digest(load_schema()) == ARROW_CHECKED_SCHEMA


def _stage() -> Schema:
    s = Schema()
    s.setup()
    return s


def _python(table: pa.Table) -> pa.Table:
    return pa.Table.from_pydict(apply_chain(table.to_pydict(), [("schema", _stage())]), schema=WORK_SCHEMA)


VARIANTS = {
    "ok": {},
    "empty_instruction": {"instruction": ""},
    "blank_instruction": {"instruction": "  \n "},
    "ideographic_blank_output": {"output": "\u3000\u3000"},
    "accented_only": {"output": "é"},
    "empty_output": {"output": ""},
    "bad_turn": {"history": [{"instruction": "", "output": "x"}]},
    "good_turn": {"history": [{"instruction": "q", "output": "a"}]},
    "bad_flag": {"flags": ["Bad-Flag"]},
    "flag_newline": {"flags": ["ok_flag\n"]},
    "good_flags": {"flags": ["quality_short", "x1"]},
    "bad_origin": {"origin": "weird"},
    "injected": {"origin": "injected", "response_type": "refusal"},
    "bad_response_type": {"response_type": "maybe"},
    "index_too_small": {"source": {"file": "f", "index": -2, "format": "alpaca"}},
    "scores": {"scores": {"a": 0.5}},
    "meta": {"meta": {"k": [1, 2]}},
}


def _row(kind: str, i: int) -> dict:
    rec = new_record(instruction="Say hi", output="Hi!", source={"file": "f", "index": i, "format": "alpaca"})
    rec.update(VARIANTS[kind])
    return rec


@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_variant_agrees_with_jsonschema(kind):
    table = work_table([_row("ok", 0), _row(kind, 1)])
    got = _stage().process_arrow(table)
    assert got.equals(_python(table))
    reasons = got.column("_reason").to_pylist()
    assert reasons[0] == ""
    if kind in ("empty_instruction", "blank_instruction", "ideographic_blank_output", "empty_output", "bad_turn"):
        assert reasons[1] == "schema_empty_field"
    elif kind in ("bad_flag", "bad_origin", "bad_response_type", "index_too_small"):
        assert reasons[1] == "schema_invalid_value"
    else:
        assert reasons[1] == "", kind


def test_only_valid_rows_are_vouched_for():
    table = work_table([_row(k, i) for i, k in enumerate(sorted(VARIANTS))])
    vouched = surely_valid(table).to_pylist()
    verdicts = _python(table).column("_stage").to_pylist()
    for kind, ok, fate in zip(sorted(VARIANTS), vouched, verdicts):
        if ok:
            assert fate == "", kind
    assert any(vouched)


@pytest.mark.parametrize("column", ["id", "system", "lang", "origin", "source", "flags", "history", "meta"])
def test_nulls_go_to_jsonschema(column):
    table = work_table([_row("ok", 0), _row("ok", 1)])
    i = table.schema.get_field_index(column)
    values = table.column(column).to_pylist()
    values[1] = None
    table = table.set_column(i, column, pa.array(values, table.schema.field(column).type))
    assert not surely_valid(table).to_pylist()[1]
    assert _stage().process_arrow(table).equals(_python(table))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(sorted(VARIANTS)), min_size=1, max_size=25))
def test_mixed_tables_agree(kinds):
    table = work_table([_row(k, i) for i, k in enumerate(kinds)])
    assert _stage().process_arrow(table).equals(_python(table))


def test_a_changed_schema_turns_the_arrow_path_off(monkeypatch):
    import pipeline.processors.schema as mod

    monkeypatch.setattr(mod, "ARROW_CHECKED_SCHEMA", "0" * 64)
    assert _stage().process_arrow(work_table([_row("ok", 0)])) is None
