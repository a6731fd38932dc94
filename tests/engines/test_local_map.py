"""The local engine's parallel map: balanced contiguous shards, fork-inherited processors."""
from __future__ import annotations

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline.engines import local
from pipeline.io.columns import WORK_SCHEMA, work_table
from pipeline.processor import Stage
from pipeline.record import Verdict, new_record


def _dataset(tmp_path, n: int, rejected_below: int = 0, long_from: int | None = None) -> datasets.Dataset:
    """``n`` rows; rows ``< rejected_below`` already rejected; rows ``>= long_from`` have long outputs."""
    recs = []
    for i in range(n):
        out = ("word " * 400) if long_from is not None and i >= long_from else f"answer {i}"
        recs.append(new_record(instruction=f"question {i}", output=out, source={"file": "f", "index": i, "format": "x"}))
    table = work_table(recs)
    fate = pa.array(["dedup" if i < rejected_below else "" for i in range(n)])
    table = table.set_column(table.schema.get_field_index("_stage"), "_stage", fate)
    path = tmp_path / f"in-{n}-{rejected_below}-{long_from}.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, WORK_SCHEMA) as w:
        w.write_table(table)
    return datasets.Dataset.from_file(str(path))


def _work(ds: datasets.Dataset, bounds) -> list[float]:
    live = [not s for s in ds["_stage"]]
    size = [len(a) + len(b) + len(c) for a, b, c in zip(ds["instruction"], ds["input"], ds["output"])]
    return [sum(size[i] + 400 if live[i] else 4 for i in range(a, b)) for a, b in bounds]


@pytest.mark.parametrize("rejected_below,long_from", [(0, None), (3000, None), (0, 3000)])
def test_shard_bounds_are_contiguous_and_balance_live_work(tmp_path, rejected_below, long_from):
    ds = _dataset(tmp_path, 4000, rejected_below, long_from)
    bounds = local.shard_bounds(ds, 4)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(ds)
    assert all(a < b for a, b in bounds)
    assert all(b == a2 for (_, b), (a2, _) in zip(bounds, bounds[1:]))
    work = _work(ds, bounds)
    assert max(work) <= 1.05 * sum(work) / len(bounds)
    if rejected_below:  # the rejected head is cheap: one shard holds most of it
        assert bounds[0][1] > rejected_below
    if long_from is not None:  # long rows are dear: the tail gets the short shards
        assert bounds[-1][1] - bounds[-1][0] < 1000


def test_shard_bounds_never_empty_with_more_pieces_than_rows(tmp_path):
    ds = _dataset(tmp_path, 3)
    bounds = local.shard_bounds(ds, 8)
    assert bounds == sorted(bounds) and all(a < b for a, b in bounds)
    assert sum(b - a for a, b in bounds) == 3


class _Probe(Stage):
    """Drops every 7th live row; needs a transient value only the parent process set."""

    name = "probe"

    def setup(self) -> None:
        raise AssertionError("setup() must not run again in a worker: the parent already did it")

    def process(self, batch):
        assert self._from_parent == "fitted"
        verdicts = [Verdict() if int(i.split()[1]) % 7 else Verdict(keep=False, reason="probe_seventh")
                    for i in batch["instruction"]]
        return batch, verdicts


def _probe() -> _Probe:
    p = _Probe()
    p._from_parent = "fitted"  # "_" attributes are dropped when pickled; fork()ed workers inherit them
    p._setup_done = True
    return p


def test_parallel_map_equals_serial_and_workers_inherit_the_fitted_processor(tmp_path):
    ds = _dataset(tmp_path, 5000, rejected_below=1500)
    one = local.map_stages(ds, [("probe", _probe())], tmp_path / "one.arrow", 1, "fp-one", False)
    two = local.map_stages(ds, [("probe", _probe())], tmp_path / "two.arrow", 2, "fp-two", False)
    assert len(local.files_of(one)) == 1 and len(local.files_of(two)) > 2
    a, b = one.data.table, two.data.table
    assert a.equals(b)
    reasons = pc.value_counts(a.column("_reason")).to_pylist()
    counts = {r["values"]: r["counts"] for r in reasons}
    # Rows 0..1499 keep their earlier rejection; of 1500..4999 every 7th is dropped by the probe.
    assert counts["probe_seventh"] == sum(1 for i in range(1500, 5000) if i % 7 == 0)
    assert a.column("_stage").to_pylist()[:1500] == ["dedup"] * 1500
    assert not local._CHAINS and not local._SOURCES  # nothing left behind for later maps


@pytest.mark.parametrize("num_proc", [1, 2])
def test_small_read_windows_over_several_files_give_the_same_rows(tmp_path, monkeypatch, num_proc):
    parts = [_dataset(tmp_path / str(i), 1300 + i, rejected_below=100 * i) for i in range(3)
             if (tmp_path / str(i)).mkdir() is None]
    ds = datasets.concatenate_datasets(parts)
    want = local.map_stages(ds, [("probe", _probe())], tmp_path / "want.arrow", 1, "fp-want", False).data.table
    monkeypatch.setattr(local, "WINDOW_ROWS", 777)  # windows straddle file and batch boundaries
    got = local.map_stages(ds, [("probe", _probe())], tmp_path / "got.arrow", num_proc, "fp-got", False)
    assert got.data.table.equals(want)
    assert len(want) == sum(len(p) for p in parts)
    if num_proc > 1:
        assert len(local.files_of(got)) >= len(ds) // 777


def test_fit_features_without_fork_pass_batches_through(monkeypatch):
    """Where fork() is unavailable the batches come back untouched and fit computes features itself."""
    monkeypatch.setattr(local.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    batches = [{"id": ["a", "b"]}, {"id": ["c"]}]
    out = list(local.with_fit_features(iter(batches), _probe(), 2))
    assert out == batches and all("_fit" not in b for b in out)
