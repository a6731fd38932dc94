"""Conservation: every raw record gets exactly one Ingested, whatever the mess."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_helpers import read_all

GOOD = {"instruction": "q", "output": "a"}
LINES = st.sampled_from(
    [
        json.dumps(GOOD),
        json.dumps({"instruction": "q", "output": 1}),
        '{"instruction": "q", "output": "a"',
        '"just a string"',
        "[1, 2]",
        '{"chosen": "a", "rejected": "b"}',
        '{"instruction": "q"}',
        '{"instruction": "q\\u0000", "output": "a"}',
        '{"instruction": "\u6625", "output": "\u5929"}',
    ]
)


def _write_lines(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, min_size=1, max_size=30))
def test_jsonl_every_line_accounted_for(tmp_path, lines):
    lines = [json.dumps(GOOD)] * len(lines) + lines  # keep the file recognisable as Alpaca
    _report, items = read_all(_write_lines(tmp_path, "h.jsonl", lines))
    assert len(items) == len(lines)
    assert sum(g.record is not None for g in items) + sum(g.reason is not None for g in items) == len(lines)
    invalid = [
        i
        for i, line in enumerate(lines)
        if line.startswith('{"instruction": "q", "output": "a"') and not line.endswith("}")
    ]
    assert [i for i, g in enumerate(items) if g.reason == "ingest_invalid_json"] == invalid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    elements=st.lists(
        st.sampled_from(
            [GOOD, {"instruction": 1, "output": "a"}, "s", [GOOD], None, {"output": '}, {"x": 1}, {'}]
        ),
        min_size=0,
        max_size=30,
    ),
    indent=st.sampled_from([None, 1, 4]),
)
def test_json_array_every_element_accounted_for(tmp_path, elements, indent):
    elements = [GOOD] * len(elements) + elements
    path = tmp_path / "h.json"
    path.write_text(json.dumps(elements, indent=indent), encoding="utf-8")
    report, items = read_all(path)
    assert len(items) == len(elements) and report.errors == []
    assert [g.record is not None for g in items] == [e == GOOD for e in elements]
