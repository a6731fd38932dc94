"""Distributed dedup on the ray engine gives the local engine's verdicts, and its fit never
streams every row to the driver. (The end-to-end comparison of a whole run on this corpus,
shards and rejects byte for byte, is ``test_generated_records_match_local_over_many_blocks``
in test_ray.py.)

Marked ``ray`` (``make test-ray``); they start a local Ray cluster with 2 CPUs.
"""
from __future__ import annotations

import logging
import random

import pyarrow as pa
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from pipeline.config import stage_rules
from pipeline.engines import ray_data, ray_dedup
from pipeline.io.columns import work_table
from pipeline.neardup.detector import NearDupDetector
from pipeline.neardup.synth import make_corpus
from pipeline.processors.dedup import Dedup
from pipeline.record import new_record
from tests.engines.test_ray import cluster  # noqa: F401  (the shared session cluster)

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("cluster")]


@pytest.fixture(scope="module", autouse=True)
def quiet():
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(1, 3)))
            for _ in range(n)]


def _chain(rng: random.Random, links: int) -> list[dict]:
    """Answers where each one is a near-duplicate of the next but the ends are not (Jaccard < 0.7):
    only transitive linking puts them in one cluster."""
    prompt = " ".join(_words(rng, 12))
    words = _words(rng, 60)
    out = []
    for k in range(links):
        out.append({"instruction": prompt, "input": "", "output": " ".join(words) + "."})
        at = 8 + 12 * k
        words = words[:at] + _words(rng, 4) + words[at + 4:]
    return out


def dedup_rows(seed: int = 11) -> list[dict]:
    """Alpaca rows, unique ones and planted near-duplicate groups (clusters of 2-4), chains of 4-5, exact
    copies (same content, later positions), conflicting answers to one prompt, and rows whose
    key has no shingle (punctuation only: exact-text fallback) or is empty."""
    rng = random.Random(seed)
    corpus = make_corpus(900, seed=seed, dup_rate=0.45, max_variants=3).records
    corpus += make_corpus(900, seed=seed + 1, dup_rate=0.0, template_rate=0.0, shared_prompt_rate=0.0).records
    rows = [{k: r[k] for k in ("instruction", "input", "output")} for r in corpus]
    for _ in range(40):
        rows += _chain(rng, rng.randint(4, 5))
    for _ in range(25):  # one long prompt, answers that share only their start: merged, in conflict
        prompt, start = " ".join(_words(rng, 40)), _words(rng, 12)
        rows += [{"instruction": prompt, "input": "", "output": " ".join(start + _words(rng, 8)) + "."}
                 for _ in range(3)]
    for i in range(15):  # keys without a shingle; width and spacing differ (other ids), normalised alike
        mark, dots = "?!" * (i % 4 + 1), "..." * (i % 3 + 1) + "#" * i
        rows += [{"instruction": mark, "input": "", "output": dots},
                 {"instruction": mark.replace("?", "\uff1f"), "input": "", "output": dots.replace(".", "\uff0e")}]
    rows += [{"instruction": "", "input": "", "output": ""}, {"instruction": "  ", "input": "", "output": ""}]
    rng.shuffle(rows)
    rows += [rows[i] for i in range(0, len(rows), 23)]  # exact copies, later in the file
    rows += [rows[i] for i in range(5, len(rows), 301)]  # copies of copies
    return rows


def _records(rows: list[dict]) -> list[dict]:
    rng = random.Random(5)
    recs = []
    for i, r in enumerate(rows):
        scores = {"quality_score": round(rng.random(), 3)} if rng.random() < 0.5 else {}
        recs.append(new_record(**r, scores=scores, source={"file": "gen.jsonl", "index": i, "format": "alpaca"}))
    return recs


def _dataset(recs: list[dict], rejected_every: int, blocks: int):
    table = work_table(recs)
    stage = ["quality" if i % rejected_every == 3 else "" for i in range(len(recs))]
    table = table.set_column(table.schema.get_field_index("_stage"), "_stage", pa.array(stage, pa.string()))
    table = table.append_column(ray_data.ROW, pa.array(range(len(recs)), pa.int64()))
    return ray.data.from_arrow(table).repartition(blocks).materialize(), table


def _local_fit(recs: list[dict], live_table: pa.Table) -> Dedup:
    proc = Dedup(stage_rules("dedup"), 42)
    live = [r for r, s in zip(recs, live_table.column("_stage").to_pylist()) if not s]
    proc.fit(_batch(live[i:i + 1000]) for i in range(0, len(live), 1000))
    return proc


def _batch(recs: list[dict]) -> dict:
    return {k: [r[k] for r in recs] for k in recs[0]}


def _verdicts(proc: Dedup, recs: list[dict]) -> list[tuple]:
    batch, verdicts = proc.process(_batch(recs))
    return [(v.keep, v.reason, v.duplicate_of, v.detail, v.flags, v.scores, c)
            for v, c in zip(verdicts, batch["cluster"])]


def test_distributed_fit_equals_local_fit_without_streaming_rows(monkeypatch):
    recs = _records(dedup_rows())
    ds, table = _dataset(recs, rejected_every=41, blocks=7)
    inputs = []  # what each fit hands to the clustering, by row key
    real_cluster = NearDupDetector.cluster

    def spy(self, buckets, fallback_pairs):
        buckets, fallback_pairs = [list(b) for b in buckets], list(fallback_pairs)
        inputs.append(([[self.row_keys[d] for d in b] for b in buckets],
                       sorted((self.row_keys[a], self.row_keys[b]) for a, b in fallback_pairs)))
        return real_cluster(self, buckets, fallback_pairs)

    monkeypatch.setattr(NearDupDetector, "cluster", spy)
    local = _local_fit(recs, table)

    def no_driver_fit(self, batches):
        raise AssertionError("the ray path must not call Dedup.fit")

    monkeypatch.setattr(Dedup, "fit", no_driver_fit)
    dist = Dedup(stage_rules("dedup"), 42)
    seen = ray_dedup.fit(dist, ds, cluster_cpus=2)

    # The corpus really has what the test is about.
    near = local.near_summary
    assert len(local.dupes) >= 100 and near["clusters"] >= 400 and near["conflicting_clusters"] >= 20
    assert max(int(k) for k in near["size_distribution"]) >= 5 and near["no_shingle_records"] >= 25
    chains = [m for m in local.members.values() if not m.is_representative and m.jaccard < near["index"]["threshold"]]
    assert chains, "no member joined its cluster transitively only"

    # The same candidate buckets, in datasketch's order (band by band, by first member), and
    # the same no-shingle pairs; then identical fitted state, summary (counters included), verdicts.
    assert len(inputs) == 2 and inputs[1] == inputs[0] and len(inputs[0][0]) > 1000 and inputs[0][1]
    assert dist.dupes == local.dupes and dist.first == local.first
    assert dist.members == local.members
    assert dist.summary() == local.summary()
    assert _verdicts(dist, recs) == _verdicts(local, recs)
    reasons = {v[1] for v in _verdicts(dist, recs)}
    assert {"dedup_exact", "dedup_near"} <= reasons

    # The driver saw only rows of repeated ids and bucket members, never every row.
    live = sum(1 for s in table.column("_stage").to_pylist() if not s)
    assert seen["records"] == near["records"] == live - len(local.dupes)
    assert seen["exact_rows"] < live / 4 and seen["candidates"] < live * 0.6
    assert seen["candidates"] >= near["records_in_clusters"]


@pytest.mark.parametrize("checks,near", [
    ({"exact": {"action": "drop"}, "near": {"action": "off"}}, {}),
    # Order-sensitive settings: one bucket head (pairs checked depend on the bucket order),
    # input-order representative, prompt-only key with the input folded in.
    ({"exact": {"action": "flag"}, "near": {"action": "drop"}, "conflict": {"action": "drop"}},
     {"key": "prompt", "separate_input": False, "representative": ["first"], "max_bucket_heads": 1}),
], ids=["exact-only", "prompt-key-one-head"])
def test_other_settings_match_local(checks, near):
    recs = _records(dedup_rows(seed=3))
    ds, table = _dataset(recs, rejected_every=1000, blocks=3)
    base = stage_rules("dedup")
    rules = {**base, "checks": checks, "near": {**base["near"], **near}}
    local = Dedup(rules, 1)
    live = [r for r, s in zip(recs, table.column("_stage").to_pylist()) if not s]
    local.fit([_batch(live)])
    dist = Dedup(rules, 1)
    seen = ray_dedup.fit(dist, ds, cluster_cpus=2)
    assert dist.dupes == local.dupes and dist.first == local.first and dist.members == local.members
    assert dist.summary() == local.summary()
    assert _verdicts(dist, recs) == _verdicts(local, recs)
    if checks["near"]["action"] == "off":
        assert "candidates" not in seen and "near" not in dist.summary() and dist.dupes
    else:
        got = _verdicts(dist, recs)
        assert any("dedup_exact" in v[4] for v in got) and {"dedup_near", "dedup_conflict"} <= {v[1] for v in got}
