"""The processor contract, checked over every registered processor with its default rules."""
from __future__ import annotations

import pickle

import pytest

from pipeline import registry
from pipeline.config import stage_rules
from pipeline.record import FIELDS, Verdict, from_rows, new_record

ROWS = [
    new_record(instruction="List three primary colors.", output="1. Red\n2. Blue\n3. Yellow",
               source={"file": "a.json", "index": 0, "format": "alpaca"}),
    new_record(instruction="把下面的句子翻译成英文。", input="今天天气很好。", output="The weather is nice today.",
               source={"file": "a.json", "index": 1, "format": "alpaca"}),
    new_record(instruction="", output="", source={"file": "a.json", "index": 2, "format": "alpaca"}),
    new_record(instruction="And the capital of France?", output="Paris.",
               history=[{"instruction": "Capital of Germany?", "output": "Berlin."}],
               source={"file": "b.jsonl", "index": 0, "format": "sharegpt"}),
    new_record(instruction="写一首关于春天的诗。", output="春风又绿江南岸，明月何时照我还。",
               source={"file": "b.jsonl", "index": 1, "format": "sharegpt"}),
    new_record(instruction="Give the answer in JSON.", output='{"a": 1}',
               source={"file": "b.jsonl", "index": 1, "format": "sharegpt"}, lang="en"),
]


def _fresh(name: str):
    proc = registry.create(name, stage_rules(name), seed=7)
    if getattr(proc, "is_global", False):
        proc.fit(iter([from_rows([dict(r) for r in ROWS])]))
    proc.setup()
    return proc


def _copy_rows():
    import copy

    return from_rows(copy.deepcopy(ROWS))


@pytest.mark.parametrize("name", registry.names())
def test_one_verdict_per_row_and_ids_preserved(name):
    proc = _fresh(name)
    batch = _copy_rows()
    before_ids = list(batch["id"]) if name != "normalize" else None
    out, verdicts = proc.process(batch)
    assert len(verdicts) == len(ROWS)
    assert all(isinstance(v, Verdict) for v in verdicts)
    assert set(FIELDS) <= set(out)
    assert all(len(out[f]) == len(ROWS) for f in FIELDS)
    for v in verdicts:
        if not v.keep:
            assert v.reason.startswith(name + "_"), v.reason
    if before_ids is not None:
        assert out["id"] == before_ids


@pytest.mark.parametrize("name", registry.names())
def test_deterministic(name):
    a = _fresh(name).process(_copy_rows())
    b = _fresh(name).process(_copy_rows())
    assert a[1] == b[1]
    assert a[0] == b[0]


@pytest.mark.parametrize("name", registry.names())
def test_picklable(name):
    proc = _fresh(name)
    clone = pickle.loads(pickle.dumps(proc))
    clone.setup()
    assert clone.process(_copy_rows())[1] == proc.process(_copy_rows())[1]


@pytest.mark.parametrize("name", registry.names())
def test_empty_batch(name):
    proc = _fresh(name)
    empty = {f: [] for f in FIELDS}
    out, verdicts = proc.process(empty)
    assert verdicts == []
    assert all(out[f] == [] for f in FIELDS)


def test_unknown_stage_lists_registered():
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        registry.get("nope")
    assert "normalize" in str(e.value)


@pytest.mark.parametrize("name", registry.names())
def test_default_rules_pass_the_stage_checks(name):
    # The recipe loader runs a stage's deeper rule checks only when the recipe uses the stage.
    check = getattr(registry.get(name), "validate_rules", None)
    assert check is None or check(stage_rules(name)) == []


@pytest.mark.parametrize("name", [n for n in registry.names() if hasattr(registry.get(n), "process_arrow")])
def test_arrow_path_equals_python_path(name):
    import pyarrow as pa

    from pipeline.engines.apply import apply_chain
    from pipeline.io.columns import WORK_SCHEMA, work_table

    table = work_table([dict(r) for r in ROWS])
    proc = _fresh(name)
    if getattr(proc, "arrow_fit", False):
        arrow = registry.create(name, stage_rules(name), seed=7)
        arrow.fit_arrow(lambda: iter([table.select(list(arrow.fit_columns))]))
        arrow.setup()
    else:
        arrow = _fresh(name)
    want = pa.Table.from_pydict(apply_chain(table.to_pydict(), [(name, proc)]), schema=WORK_SCHEMA)
    got = arrow.process_arrow(table)
    assert got is None or got.equals(want)
