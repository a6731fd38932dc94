"""Diversity on the ray engine is fitted from aggregates and gives the local engine's results.

``Diversity.fit`` is patched to fail on the ray run: the profiles, quotas, drops and copies
must come from :mod:`pipeline.engines.ray_balance`. Marked ``ray`` (``make test-ray``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from pipeline.engines import ray_balance, ray_data
from pipeline.engines.ray import run as ray_run
from pipeline.processors.diversity import Diversity
from pipeline.runner import run as local_run
from tests.engines.test_ray import _assert_same, _curated_ids, _generated, cluster  # noqa: F401

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("cluster")]

STAGES = ["normalize", "schema", "dedup", "quality", "refusal", "diversity", "split"]


def _rejects(out: Path, stage: str) -> list[tuple]:
    got = []
    for p in sorted((out / "rejected").glob("*.jsonl")):
        for line in p.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["stage"] == stage:
                got.append((r["source"]["index"], r["record"]["id"], r["reason"], r["detail"]))
    return got


def test_balanced_recipe_fitted_from_aggregates_matches_local(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setattr(ray_data, "PART_ROWS", 700)  # several blocks, so cells span blocks
    data = _generated(tmp_path / "gen.jsonl")
    balance = {
        "enabled": True, "dimensions": ["lang", "task", "complexity"],
        "targets": {"lang": {"en": 0.7, "zh": 0.3}, "task": {"open_qa": 0.2, "generation": 0.2},
                    "complexity": {"easy": 0.3, "medium": 0.4, "hard": 0.3}},
        "caps": {"max_cell_share": 0.12},
        # Rows in near-duplicate clusters have a score, the others none: both rank branches.
        "quality_keys": ["near_dup_jaccard"],
        "upsample": {"enabled": True, "max_copies": 2},
    }
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"stages": STAGES, "shard_rows": 1000,
                                      "rules": {"diversity": {"balance": balance}},
                                      "engine": {"ray": {"concurrency": 2}}}))
    local = local_run([str(data)], config=recipe, out=tmp_path / "local", progress=False, num_proc=1)

    def no_fit(self, batches):
        raise AssertionError("Diversity.fit ran on the ray engine")

    monkeypatch.setattr(Diversity, "fit", no_fit)
    fits = []
    monkeypatch.setattr(ray_balance, "fit", lambda *a, _f=ray_balance.fit, **k: fits.append(_f(*a, **k)) or fits[-1])
    got = ray_run([str(data)], config=recipe, out=tmp_path / "ray", progress=False)

    _assert_same(tmp_path / "local", tmp_path / "ray")  # shards and rejects byte for byte, manifest
    assert got.counts == local.counts and got.funnel == local.funnel
    assert _curated_ids(tmp_path / "ray") == _curated_ids(tmp_path / "local")
    rejects = _rejects(tmp_path / "ray", "diversity")
    assert rejects == _rejects(tmp_path / "local", "diversity")
    assert len(rejects) > 100 and {r[2] for r in rejects} == {"diversity_over_quota"}
    assert all(re.fullmatch(r"cell \S+/\S+/\S+ over its quota of \d+", r[3]) for r in rejects)
    stages = [json.loads((tmp_path / side / "report" / "stages.json").read_text()) for side in ("local", "ray")]
    assert stages[1] == stages[0]

    # The run exercised what the plan can do: injected rows (refusal) in balanced cells,
    # cells over quota and short cells filled with copies.
    div = stages[0]["diversity"]
    step = {s["stage"]: s for s in local.funnel}
    assert step["refusal"]["injected"] > 20 and step["diversity"]["injected"] == div["balance"]["upsampled_copies"] > 0
    assert div["balance"]["dropped"] == len(rejects) and div["after"]["rows"] < div["before"]["rows"]
    # Only the aggregates and the selected cells' picks reached the driver.
    (_, seen), = fits
    assert seen["live"] == div["before"]["rows"] and seen["combos"] < seen["live"] / 10
    assert seen["selected_rows"] == len(rejects) + seen["copy_sources"] and seen["copy_sources"] > 0


def test_fit_without_balancing_gives_the_local_summary_and_process_reads_carried_tags():
    import pyarrow as pa

    from pipeline import registry
    from pipeline.config import stage_rules
    from pipeline.io.columns import work_table
    from pipeline.neardup.synth import make_corpus

    recs = make_corpus(400, seed=5, dup_rate=0.3).records
    for i, r in enumerate(recs):
        r["cluster"] = f"c{i % 37}" if i % 3 == 0 else ""
    table = work_table(recs).append_column(ray_data.ROW, pa.array(range(len(recs)), pa.int64()))
    ds = ray.data.from_arrow(table).repartition(4).materialize()
    rules = stage_rules("diversity")
    local = registry.create("diversity", rules, 42)
    local.fit(ray_data.live_batches(ds))
    dist = registry.create("diversity", rules, 42)
    tagged, seen = ray_balance.fit(dist, ds, 2, 1, 2)
    assert dist.summary() == local.summary() and "after" not in dist.summary()
    assert seen["clusters"] == 37 and seen["selected_cells"] == 0 and seen["live"] == len(recs)

    # process over the tagged rows (tags from the columns) = local process (tags from fit's cache)
    got = pa.concat_tables(ray.get(ray_balance.map_group(tagged, [("diversity", dist)], 1, 2).to_arrow_refs()))
    want = pa.concat_tables(ray.get(ray_data.map_group(ds, [("diversity", local)], 1, 2).to_arrow_refs()))
    assert got.sort_by(ray_data.ROW).equals(want.sort_by(ray_data.ROW))

    # ... and it does not tag those rows again.
    actor = ray_balance.TaggedStageActor([("diversity", dist)])

    def no_tagging(rec):
        raise AssertionError("process tagged a row that carried its tags")

    dist._tags = no_tagging
    block = pa.concat_tables(ray.get(tagged.to_arrow_refs()))
    assert actor(block).sort_by(ray_data.ROW).equals(want.sort_by(ray_data.ROW))
