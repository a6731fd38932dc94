"""dedup's Arrow paths: fit_arrow decides like fit, and process_arrow equals the Python path."""
from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import deep_merge, stage_rules
from pipeline.engines.apply import apply_chain
from pipeline.io.columns import WORK_SCHEMA, work_table
from pipeline.neardup.synth import make_corpus
from pipeline.processors.dedup import Dedup
from pipeline.record import from_rows, new_record

TEXTS = [("What is 2+2?", "4"), ("请介绍长城。", "长城是古代的防御工程。"), ("Name a color.", "Red."), ("Hi", "Hello")]


def stage(near: str = "off", exact: str = "drop") -> Dedup:
    rules = deep_merge(stage_rules("dedup"), {"checks": {"near": {"action": near}, "exact": {"action": exact}}})
    return Dedup(rules, seed=1)


def records(picks: list[int], files: list[str]) -> list[dict]:
    return [new_record(instruction=TEXTS[p][0], output=TEXTS[p][1],
                       source={"file": files[i % len(files)], "index": i // len(files), "format": "alpaca"})
            for i, p in enumerate(picks)]


def tables(recs: list[dict], pieces: int) -> list[pa.Table]:
    step = max(1, -(-len(recs) // pieces))
    return [work_table(recs[i:i + step]).select(["id", "source"]) for i in range(0, len(recs), step)]


def python_path(proc: Dedup, table: pa.Table) -> pa.Table:
    return pa.Table.from_pydict(apply_chain(table.to_pydict(), [("dedup", proc)]), schema=WORK_SCHEMA)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, len(TEXTS) - 1), min_size=1, max_size=40), st.integers(1, 4),
       st.sampled_from([["a.jsonl"], ["a.jsonl", "b.jsonl"], ["same.jsonl", "same.jsonl"]]),
       st.sampled_from(["drop", "flag", "off"]))
def test_fit_arrow_decides_like_fit(picks, pieces, files, exact):
    recs = records(picks, files)
    slow, fast = stage(exact=exact), stage(exact=exact)
    slow.fit(iter([from_rows(recs)]))
    assert fast.arrow_fit
    fast.fit_arrow(lambda: iter(tables(recs, pieces)))
    assert (fast.first, fast.dupes, fast.summary()) == (slow.first, slow.dupes, slow.summary())
    table = work_table(recs)
    got = fast.process_arrow(table)
    assert got.equals(python_path(slow, table))
    dropped = [r for r in got.column("_reason").to_pylist() if r]
    keys = [(r["source"]["file"], r["source"]["index"], r["id"]) for r in recs]
    expected = sum(k in fast.dupes for k in keys) if exact == "drop" else 0
    assert dropped == ["dedup_exact"] * expected


def test_duplicates_are_rejected_naming_the_first():
    recs = records([0, 1, 0, 0], ["a.jsonl"])
    proc = stage()
    proc.fit_arrow(lambda: iter(tables(recs, 2)))
    got = proc.process_arrow(work_table(recs)).to_pylist()
    assert [r["_reason"] for r in got] == ["", "", "dedup_exact", "dedup_exact"]
    assert [r["_dup"] for r in got] == ["", "", recs[0]["id"], recs[0]["id"]]
    assert "a.jsonl#0" in got[2]["_detail"]


def test_near_duplicates_keep_the_python_fit_and_agree_in_process():
    recs = make_corpus(60, seed=3).records
    proc = stage(near="drop")
    assert not proc.arrow_fit
    proc.fit(iter([from_rows(recs)]))
    assert proc.members, "the synthetic corpus must contain near-duplicate clusters"
    table = work_table(recs)
    got = proc.process_arrow(table)
    assert got.equals(python_path(proc, table))
    assert "dedup_near" in got.column("_reason").to_pylist()


@pytest.mark.parametrize("recs", [[], records([0], ["a.jsonl"])])
def test_nothing_repeated(recs):
    proc = stage()
    proc.fit_arrow(lambda: iter(tables(recs, 1)))
    assert proc.first == {} and proc.dupes == {}


def test_id_keys_read_the_hex_prefix_and_fall_back_for_other_ids():
    from pipeline.processors.dedup import id_keys

    recs = records([0, 1, 2, 0], ["a.jsonl"])
    ids = [r["id"] for r in recs]
    sliced = pa.chunked_array([pa.array(["x" * 24] + ids[:2]).slice(1), pa.array(ids[2:])])
    keys = id_keys(sliced)
    assert keys.tolist() == [int(i[:16], 16) for i in ids]
    assert keys[0] == keys[3] and len(set(keys.tolist())) == 3
    odd = id_keys(pa.array(["custom-1", "custom-2", "custom-1", "ABCDEF0123456789ABCDEF01"]))
    assert odd[0] == odd[2] and odd[0] != odd[1] and len(odd) == 4


def test_fit_arrow_with_ids_that_are_not_record_ids():
    recs = records([0, 1, 0, 2, 1], ["a.jsonl"])
    for i, r in enumerate(recs):
        r["id"] = ["same", "other", "same", "third", "other"][i]
    slow, fast = stage(), stage()
    slow.fit(iter([from_rows(recs)]))
    fast.fit_arrow(lambda: iter(tables(recs, 2)))
    assert (fast.first, fast.dupes) == (slow.first, slow.dupes) and len(fast.dupes) == 2


def test_rows_without_a_position_take_the_python_decision():
    from pipeline.processors.dedup import exact_duplicates

    recs = records([0, 0, 1, 1], ["a.jsonl"])
    table = work_table(recs).select(["id", "source"])
    src = table.column("source").to_pylist()
    src[1] = None  # a row without a source position
    table = table.set_column(1, "source", pa.array(src, table.schema.field("source").type))
    calls = []

    def fallback(rows):
        calls.append(1)
        return stage().exact_decide(rows)

    first, dupes = exact_duplicates(table, True, fallback)
    assert calls and (first, dupes) == stage().exact_decide(zip(table.column("id").to_pylist(), src))[1:]
    assert exact_duplicates(work_table(recs).select(["id", "source"]), True, fallback)[1] and len(calls) == 1
