"""The ray engine's cluster-side writer (pipeline/engines/ray_sink.py) gives the local engine's files.

Shards and rejects are encoded in Ray tasks and written by a Ray Data Datasink; every
curated and rejected file must match a local run byte for byte, with the same manifest,
while the driver never iterates a row. Marked ``ray`` (``make test-ray``).
"""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from pipeline import finalize as finalize_mod
from pipeline.config import RunConfig
from pipeline.engines import ray_data, ray_sink
from pipeline.engines.ray import run as ray_run
from pipeline.io import writers
from pipeline.io.columns import work_table
from pipeline.record import new_record
from pipeline.runner import run as local_run
from tests.conftest import SAMPLE
from tests.engines.test_ray import FAST, _generated, cluster  # noqa: F401  (the shared session cluster)

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("cluster")]


def _files(out: Path) -> dict[str, bytes]:
    return {f"{sub}/{p.name}": p.read_bytes() for sub in ("curated", "rejected") for p in sorted((out / sub).iterdir())}


def _manifest(out: Path) -> dict:
    m = json.loads((out / "manifest.json").read_text())
    m.pop("timings")
    return m


def _assert_same(local_out: Path, ray_out: Path) -> dict:
    got, want = _files(ray_out), _files(local_out)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], f"{name} differs"
    m_local, m_ray = _manifest(local_out), _manifest(ray_out)
    for k in ("shards", "rejects", "counts"):
        assert m_ray[k] == m_local[k], k
    assert m_ray == m_local
    assert not (ray_out / ".staging").exists()
    return m_local


def _boom(*a, **k):
    raise AssertionError("the driver iterated rows")


def _ray_run_with_sink(monkeypatch, *args, **kwargs):
    """``ray.run`` with finalize_ray writing the outputs, and every driver-side row path forbidden."""
    calls, kept = [], []
    real = ray_sink.finalize_ray

    def recording(*a, **k):
        calls.append(a[1].out)
        return real(*a, **k)

    def adapter(ds, out, cfg, ing, funnel, summaries, versions, read, num_proc=1):
        # ray.py still hands RowsView(sorted dataset) to runner.write_outputs -> finalize.
        assert isinstance(ds, ray_data.RowsView)
        kept.append((ds.ds, cfg, ing, funnel, summaries, versions, read))
        return ray_sink.finalize_ray(ds.ds, SimpleNamespace(out=out, cfg=cfg), ing, funnel, summaries,
                                     versions, read)

    with monkeypatch.context() as m:
        m.setattr(ray_sink, "finalize_ray", recording)
        m.setattr(finalize_mod, "finalize", adapter)
        m.setattr(finalize_mod, "_scan", _boom)
        m.setattr(ray_data.RowsView, "iter", _boom)
        m.setattr(ray_data.RowsView, "__len__", _boom)
        m.setattr(writers.ShardWriter, "add", _boom)
        m.setattr(writers.RejectWriter, "write_row", _boom)
        summary = ray_run(*args, **kwargs)
    assert len(calls) == 1
    if kept:  # the same final dataset written by the driver (finalize over RowsView), for comparison
        ds, cfg, ing, funnel, summaries, versions, read = kept[0]
        out = Path(kwargs["out"]).with_name("driver")
        finalize_mod.finalize(ray_data.RowsView(ds), out, cfg, ing, funnel, summaries, versions, read)
        assert _files(Path(kwargs["out"])) == _files(out)
    return summary


def test_sample_data_default_recipe_small_shards_both_formats(tmp_path, monkeypatch):
    import yaml

    monkeypatch.chdir(SAMPLE.parent)
    # Rejects roll every 5 lines: ingest rejects fill whole files and share one with stage rejects.
    monkeypatch.setattr(writers, "REJECT_FILE_LINES", 5)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"shard_rows": 7, "output_format": ["parquet", "jsonl"],
                                      "engine": {"ray": {"write_min_rows": 0}}}))
    local = local_run(None, config=recipe, out=tmp_path / "local", progress=False)
    ray_s = _ray_run_with_sink(monkeypatch, None, config=recipe, out=tmp_path / "ray", progress=False)
    m = _assert_same(tmp_path / "local", tmp_path / "ray")
    assert ray_s.counts == local.counts and ray_s.shards == local.shards
    splits = m["counts"]["splits"]
    assert splits["validation"] > 7 and splits["train"] > 7  # several shards in each split
    names = [s["path"] for s in m["shards"]]
    assert sum(n.startswith("curated/validation-") and n.endswith(".jsonl") for n in names) == -(-splits["validation"] // 7)
    assert sum(n.startswith("curated/train-") and n.endswith(".parquet") for n in names) == -(-splits["train"] // 7)
    ingest_rejects = sum(m["counts"]["by_stage"]["ingest"].values())
    assert ingest_rejects % 5 and m["counts"]["rejected"] > ingest_rejects  # a file mixes both kinds
    assert len(m["rejects"]) == -(-m["counts"]["rejected"] // 5) > 2


def test_generated_records_many_blocks_and_shards(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setattr(ray_data, "PART_ROWS", 700)
    data = _generated(tmp_path / "gen.jsonl")
    with open(data, "a", encoding="utf-8") as fh:  # some ingest rejects
        fh.writelines("\n" + json.dumps({"instruction": i, "output": ["not", "text"]}) for i in range(12))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"stages": FAST, "shard_rows": 250, "val_ratio": 0.2,
                                      "output_format": ["jsonl", "parquet"],
                                      "engine": {"ray": {"concurrency": 2, "write_min_rows": 0}}}))
    local_run([str(data)], config=recipe, out=tmp_path / "local", progress=False)
    _ray_run_with_sink(monkeypatch, [str(data)], config=recipe, out=tmp_path / "ray", progress=False)
    m = _assert_same(tmp_path / "local", tmp_path / "ray")
    assert m["counts"]["splits"]["validation"] > 250 and m["counts"]["splits"]["train"] > 1000
    assert m["counts"]["by_stage"]["ingest"] and m["counts"]["rejected"] > 100
    assert len(m["rejects"]) == 1


def _rows(n: int, seed: int) -> list[dict]:
    """Work rows of every kind: train, validation, unknown split, rejected, injected, score keys varying."""
    rng = random.Random(seed)
    recs = []
    for i in range(n):
        r = new_record(instruction=f"Question number {i}?", output=f"Answer {i}.",
                       source={"file": "gen.jsonl", "index": i, "format": "alpaca"})
        r["meta"] = {"split": rng.choice(["train", "validation", "test"])} if i % 5 else {}
        r["scores"] = {f"s{i % 3}": i / 7} if i % 4 else {}
        r["origin"] = "injected" if i % 11 == 0 else "raw"
        recs.append(r)
    table = work_table(recs)
    fate = [("quality", "quality_x", f"detail {i}") if i % 6 == 1 else ("", "", "") for i in range(n)]
    for j, col in enumerate(("_stage", "_reason", "_detail")):
        table = table.set_column(table.schema.get_field_index(col), col, pa.array([f[j] for f in fate], pa.string()))
    return table.append_column(ray_data.ROW, pa.array(range(n), pa.int64()))


class _View:
    """finalize's two dataset calls over an Arrow table (rows in order)."""

    def __init__(self, table, columns=None):
        self.table, self.columns = table, columns

    def select_columns(self, columns):
        return _View(self.table, columns)

    def iter(self, batch_size):
        t = self.table.select(self.columns) if self.columns else self.table.drop_columns([ray_data.ROW])
        for b in t.to_batches(batch_size):
            yield b.to_pydict()


@pytest.mark.parametrize("n,shuffle", [(0, "rows"), (1, "rows"), (403, "blocks"), (403, "rows")])
def test_unsorted_blocks_and_edge_sizes_match_finalize(tmp_path, monkeypatch, n, shuffle):
    monkeypatch.setattr(writers, "REJECT_FILE_LINES", 9)
    table = _rows(n, seed=n)
    # Ingest rejects: 13 lines over two files (9 + 4), ahead of the rows' rejects.
    ing_dir = tmp_path / "ingest-rejects"
    rej = writers.RejectWriter(ing_dir)
    for i in range(13):
        rej.write(f"bad line {i}", "ingest", "ingest_wrong_type", f"line {i}", {"file": "x", "index": i})
    files = [str(p) for p in rej.close()]
    ing = {"reject_files": files, "inputs": [], "errors": []}
    funnel = [{"stage": "ingest", "in": n, "out": n, "dropped": {}, "flagged": {}, "injected": 0}]
    cfg = RunConfig(stages=[], rules={}, shard_rows=17, output_format=["parquet", "jsonl"])
    _, local_m = finalize_mod.finalize(_View(table), tmp_path / "local", cfg, ing, funnel, {}, {}, n)
    if shuffle == "rows":  # blocks' _row ranges overlap: the sink must notice and sort
        order = list(range(n))
        random.Random(3).shuffle(order)
        src = table.take(pa.array(order, pa.int64()))
    else:  # blocks in shuffled order, each a _row range (rows reversed inside): no global sort needed
        src = table.take(pa.array([j for i in range(0, n, 50) for j in reversed(range(i, min(n, i + 50)))],
                                  pa.int64()))
    blocks = [src.slice(i, 50) for i in range(0, n, 50)]
    if shuffle == "blocks":
        random.Random(3).shuffle(blocks)
    ds = ray.data.from_arrow(blocks) if blocks else ray.data.from_arrow(table)
    seen = []  # whether each pass found the blocks in _row order
    with monkeypatch.context() as m:
        m.setattr(writers.ShardWriter, "add", _boom)
        m.setattr(writers.RejectWriter, "write_row", _boom)
        m.setattr(ray_sink, "_collect", lambda a, _f=ray_sink._collect: seen.append(_f(a)) or seen[-1])
        _, manifest = ray_sink.finalize_ray(ds, SimpleNamespace(out=tmp_path / "ray", cfg=cfg), ing, funnel,
                                            {}, {}, n)
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    for k in ("shards", "rejects", "counts"):
        assert manifest[k] == local_m[k], k
    assert manifest["counts"]["rejected"] == 13 + sum(1 for i in range(n) if i % 6 == 1)
    assert [c["sorted"] for c in seen] == ([False, True] if shuffle == "rows" and n > 50 else [True])
    if n > 100:
        assert manifest["counts"]["splits"]["validation"] > 17 and len(manifest["rejects"]) > 3


def test_sha256_in_manifest_is_the_files(tmp_path, monkeypatch):
    table = _rows(120, seed=5)
    cfg = RunConfig(stages=[], rules={}, shard_rows=40, output_format=["parquet"])
    ing = {"reject_files": [], "inputs": [], "errors": []}
    funnel = [{"stage": "ingest", "in": 120, "out": 120, "dropped": {}, "flagged": {}, "injected": 0}]
    _, manifest = ray_sink.finalize_ray(ray.data.from_arrow(table), SimpleNamespace(out=tmp_path, cfg=cfg), ing,
                                        funnel, {}, {}, 120)
    for s in manifest["shards"] + [{"path": p} for p in manifest["rejects"]]:
        assert (tmp_path / s["path"]).is_file()
        if "sha256" in s:
            assert s["sha256"] == hashlib.sha256((tmp_path / s["path"]).read_bytes()).hexdigest()
    assert manifest["rejects"] == ["rejected/rejected-00000.jsonl"]
    assert not list(tmp_path.glob("**/.*.tmp"))
