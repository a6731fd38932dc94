"""The ray engine gives the local engine's outputs, survives a dying actor, and checks its settings.

These start a local Ray cluster (``ray.init(num_cpus=2)``) and are marked ``ray``:
``make test`` skips them, ``make test-ray`` runs them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pyarrow as pa
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from pipeline import registry
from pipeline.config import stage_rules
from pipeline.engines import ray_data, ray_dedup
from pipeline.engines.ray import config_problems, group_resources
from pipeline.engines.ray import run as ray_run
from pipeline.io.columns import work_table
from pipeline.record import Verdict, new_record
from pipeline.runner import run as local_run
from tests.conftest import SAMPLE

pytestmark = pytest.mark.ray
FAST = ["normalize", "schema", "dedup", "language", "quality", "split"]


@pytest.fixture(scope="session")
def cluster():
    """One local cluster for every ray test module (test_ray_dedup.py imports this fixture)."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                 configure_logging=True)
    yield
    if started:
        ray.shutdown()


def _files(out: Path) -> dict[str, str]:
    """sha256 of every curated and rejected file, by relative path."""
    got = {}
    for sub in ("curated", "rejected"):
        for p in sorted((out / sub).iterdir()):
            got[f"{sub}/{p.name}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return got


def _manifest(out: Path) -> dict:
    m = json.loads((out / "manifest.json").read_text())
    assert set(m["timings"]) >= {"total", "write"}
    m.pop("timings")
    return m


def _assert_same(local_out: Path, ray_out: Path) -> dict:
    assert _files(ray_out) == _files(local_out)
    m_local, m_ray = _manifest(local_out), _manifest(ray_out)
    assert m_ray == m_local
    return m_local


def _reasons(out: Path) -> dict[str, str]:
    """Rejected record id -> reason (the ids and reasons the issue asks to match)."""
    got = {}
    for p in sorted((out / "rejected").glob("*.jsonl")):
        for line in p.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            rec = r["record"] if isinstance(r["record"], dict) else {}
            got[f"{r['source']['file']}#{r['source']['index']}:{rec.get('id', '')}"] = r["reason"]
    return got


def test_default_recipe_on_sample_data_matches_local(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(SAMPLE.parent)  # sample_data/ relative: the same source paths for both runs
    local = local_run(None, out=tmp_path / "local", progress=False)
    ray_s = ray_run(None, out=tmp_path / "ray", progress=False)
    m = _assert_same(tmp_path / "local", tmp_path / "ray")
    assert ray_s.counts == local.counts and ray_s.funnel == local.funnel
    # Every stage of the default recipe ran, and the run rejected for several reasons.
    assert [s["stage"] for s in m["funnel"]][1:] == m["config"]["stages"]
    assert len(_reasons(tmp_path / "ray")) == m["counts"]["rejected"] > 0
    assert {"dedup_exact", "ingest_tool_turn"} <= set(_reasons(tmp_path / "ray").values())
    timings = json.loads((tmp_path / "ray" / "manifest.json").read_text())["timings"]
    assert {"ingest", "normalize+schema", "dedup+language", "split", "sort", "write"} <= set(timings)


def _generated(path: Path) -> Path:
    """About 3,000 bilingual alpaca rows: unique ones, planted near-duplicate clusters (2-5 members),
    chains only transitive linking joins, conflicting answers, keys without shingles, exact
    copies (see tests/engines/test_ray_dedup.py), and bad answers for the quality stage."""
    from tests.engines.test_ray_dedup import dedup_rows

    rows = dedup_rows()
    rows += [{"instruction": f"Describe item #{i} of the list.", "input": "",
              "output": f"Item {i} is \ufffd\ufffd broken text from a bad decode."} for i in range(20)]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def test_generated_records_match_local_over_many_blocks(cluster, tmp_path, monkeypatch):
    import yaml

    # Small parquet parts: many blocks, so ordering across blocks is really exercised.
    monkeypatch.setattr(ray_data, "PART_ROWS", 700)
    data = _generated(tmp_path / "gen.jsonl")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"stages": FAST, "shard_rows": 1000,
                                      "engine": {"ray": {"concurrency": 2, "stages": {"quality": {"num_cpus": 1}}}}}))
    fits = []  # what the distributed dedup fit let through to the driver
    monkeypatch.setattr(ray_dedup, "fit", lambda *a, _f=ray_dedup.fit, **k: fits.append(_f(*a, **k)) or fits[-1])
    local_run([str(data)], config=recipe, out=tmp_path / "local", progress=False, num_proc=1)
    ray_s = ray_run([str(data)], config=recipe, out=tmp_path / "ray", progress=False)
    _assert_same(tmp_path / "local", tmp_path / "ray")  # every shard and reject file, byte for byte
    assert ray_s.counts["read"] > 3000 and len(ray_s.shards) > 1
    reasons = _reasons(tmp_path / "ray")
    assert reasons == _reasons(tmp_path / "local")
    assert {"dedup_exact", "dedup_near"} <= set(reasons.values())
    assert "quality_replacement_char" in set(reasons.values())
    # Dedup ran distributed, and its rejects (id, reason, duplicate_of, detail), the curated ids
    # and the report's dedup section and clusters are the local ones.
    assert len(fits) == 1 and fits[0]["candidates"] < fits[0]["records"]
    dedup = _dedup_rejects(tmp_path / "ray")
    assert dedup == _dedup_rejects(tmp_path / "local")
    assert {r[2] for r in dedup} == {"dedup_exact", "dedup_near"} and all(r[3] for r in dedup)
    assert _curated_ids(tmp_path / "ray") == _curated_ids(tmp_path / "local")
    rep_local, rep_ray = (json.loads((tmp_path / side / "report" / "report.json").read_text())
                          for side in ("local", "ray"))
    assert rep_ray["stages"]["dedup"] == rep_local["stages"]["dedup"] and rep_ray["clusters"] == rep_local["clusters"]
    near = rep_ray["stages"]["dedup"]["near"]
    assert near["clusters"] > 300 and near["conflicting_clusters"] > 10 and "5" in near["size_distribution"]


def _dedup_rejects(out: Path) -> list[tuple]:
    got = []
    for p in sorted((out / "rejected").glob("*.jsonl")):
        for line in p.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["stage"] == "dedup":
                got.append((r["source"]["index"], r["record"]["id"], r["reason"], r.get("duplicate_of"), r["detail"]))
    return got


def _curated_ids(out: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [i for p in sorted((out / "curated").glob("*.parquet")) for i in pq.read_table(p).column("id").to_pylist()]


def test_killed_actor_is_retried_without_loss_or_duplicates(cluster, tmp_path):
    marker = tmp_path / "crashed"

    class CrashOnce:
        """Kills its worker process the first time it sees row 1500 (defined here: pickled by value)."""

        name = "crash_once"

        def __init__(self, marker: str):
            self.marker = marker

        def setup(self) -> None:
            pass

        def process(self, batch):
            if not os.path.exists(self.marker) and any(s["index"] == 1500 for s in batch["source"]):
                Path(self.marker).write_text("crashed")
                os._exit(1)
            return batch, [Verdict() for _ in batch["id"]]

    records = [new_record(instruction=f"Question {i}?", output=f"Answer number {i}.",
                          source={"file": "gen", "index": i, "format": "alpaca"}) for i in range(3000)]
    table = work_table(records)
    table = table.append_column(ray_data.ROW, pa.array(range(len(records)), pa.int64()))
    ds = ray.data.from_arrow(table).repartition(6).materialize()
    norm = registry.create("normalize", stage_rules("normalize"), 42)
    chain = [("crash_once", CrashOnce(str(marker))), ("normalize", norm)]

    out = ray_data.map_group(ds, chain, num_cpus=1, concurrency=2).to_arrow_refs()
    got = pa.concat_tables(ray.get(out))
    assert marker.exists(), "the actor never crashed: the test proved nothing"
    rows = sorted(got.column(ray_data.ROW).to_pylist())
    assert rows == list(range(3000))  # complete, and no batch written twice
    expected = ray_data.map_group(ds, [("normalize", norm)], num_cpus=1, concurrency=2).to_arrow_refs()
    want = pa.concat_tables(ray.get(expected)).sort_by(ray_data.ROW)
    assert got.sort_by(ray_data.ROW).equals(want)


def test_global_fit_features_on_workers_match_local(cluster):
    from pipeline.neardup.synth import make_corpus

    recs = make_corpus(300, seed=3, dup_rate=0.0).records
    table = work_table(recs).append_column(ray_data.ROW, pa.array(range(len(recs)), pa.int64()))
    ds = ray.data.from_arrow(table).repartition(3).materialize()
    rules = {**stage_rules("diversity"),
             "balance": {"enabled": True, "dimensions": ["lang"], "targets": {"lang": {"en": 0.8}}}}
    local = registry.create("diversity", rules, 42)
    local.fit(ray_data.live_batches(ds))  # tags computed inside fit, on the driver
    dist = registry.create("diversity", rules, 42)
    batches = list(ray_data.live_batches(ray_data.with_fit_features(ds, dist, None, 1, 2), features=True))
    assert [len(b["_fit"]) for b in batches] == [len(b["id"]) for b in batches]

    def no_tagging(rec):
        raise AssertionError("fit tagged a row on the driver")

    dist._tags = no_tagging  # after the actors got their copy: the driver's fit must use _fit
    dist.fit(iter(batches))
    assert dist.summary() == local.summary() and dist.drops == local.drops and len(dist.drops) > 20
    del dist._tags
    batch = {k: [r[k] for r in recs] for k in recs[0]}
    got, want = dist.process(dict(batch))[1], local.process(dict(batch))[1]
    assert [(v.keep, v.reason, v.detail) for v in got] == [(v.keep, v.reason, v.detail) for v in want]


def test_engine_settings_per_stage_and_problems():
    cfg = {"ray": {"num_cpus": 1, "stages": {"language": {"num_cpus": 2}, "quality": {"concurrency": 3}}}}
    assert group_resources(cfg, ["dedup", "language"], 8) == (2.0, 4)
    assert group_resources(cfg, ["quality"], 8) == (1.0, 3)
    assert group_resources({}, ["schema"], 2) == (1.0, 2)
    probs = config_problems({"ray": {"num_cpus": "two", "shuffle": "push", "stages": {"quality": {"concurrency": 0}}}})
    assert probs == ["engine.ray.shuffle: expected one of sort, hash, got 'push'",
                     "engine.ray.num_cpus: expected a positive number, got 'two'",
                     "engine.ray.stages.quality.concurrency: expected a positive number, got 0"]


def test_cli_engine_ray_matches_local(cluster, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pipeline.cli import main

    monkeypatch.chdir(SAMPLE.parent)
    runner = CliRunner()
    for engine in ("local", "ray"):
        res = runner.invoke(main, ["run", "--engine", engine, "--only", "normalize,schema", "--quiet",
                                   "--out", str(tmp_path / engine)])
        assert res.exit_code == 0, res.output
    m = _assert_same(tmp_path / "local", tmp_path / "ray")
    assert [s["stage"] for s in m["funnel"]] == ["ingest", "normalize", "schema"]
