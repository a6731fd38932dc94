"""Turn the last checkpoint into the output layout: curated shards, rejects, manifest.

Outputs are first written under ``OUT/.staging`` and then renamed into place, so a
crash never leaves a mixture of old and new shards.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson

from pipeline.config import RunConfig
from pipeline.io.writers import RejectWriter, ShardWriter, ingest_reject_line

SPLITS = ("train", "validation")


def _scan(ds) -> tuple[dict[str, int], list[str]]:
    """Rows per split among live rows, and the union of score names."""
    totals = {s: 0 for s in SPLITS}
    keys: set[str] = set()
    for b in ds.select_columns(["_stage", "meta", "scores"]).iter(batch_size=10_000):
        for st, meta, scores in zip(b["_stage"], b["meta"], b["scores"]):
            if st:
                continue
            split = orjson.loads(meta).get("split", "train") if meta else "train"
            totals[split if split in totals else "train"] += 1
            if scores and scores != "{}":
                keys.update(orjson.loads(scores))
    return totals, sorted(keys)


def finalize(ds, out: Path, cfg: RunConfig, ing: dict, funnel: list[dict], summaries: dict,
             versions: dict, read: int):
    """Write shards and rejects, and return ``(RunSummary, manifest dict without timings)``."""
    staging = out / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    # A folder without manifest.json is an unfinished run; drop the old one first.
    (out / "manifest.json").unlink(missing_ok=True)
    totals, score_keys = _scan(ds)
    writers = {s: ShardWriter(staging / "curated", s, totals[s], cfg.shard_rows, score_keys, cfg.output_format)
               for s in SPLITS if totals[s] or s == "train"}
    rejects = RejectWriter(staging / "rejected")
    for f in ing["reject_files"]:
        with open(f, "rb") as fh:
            for line in fh:
                rejects.write_line(ingest_reject_line(line))
    injected = 0
    for b in ds.iter(batch_size=5_000):
        keys = list(b)
        for i in range(len(b["id"])):
            row = {k: b[k][i] for k in keys}
            if row["origin"] == "injected":
                injected += 1
            if row["_stage"]:
                rejects.write_row(row)
            else:
                split = orjson.loads(row["meta"]).get("split", "train") if row["meta"] else "train"
                writers[split if split in writers else "train"].add(row)
    shards = []
    for s in SPLITS:
        if s in writers:
            shards += writers[s].close()
    reject_files = rejects.close()
    publish(staging, out)
    return conclude(out, cfg, ing, funnel, summaries, versions, read, rejected=rejects.count, injected=injected,
                    splits={s: totals[s] for s in SPLITS}, shards=shards,
                    rejects=[os.path.join(p.parent.name, p.name) for p in reject_files])


def publish(staging: Path, out: Path) -> None:
    """Rename the staged ``curated/`` and ``rejected/`` folders into place."""
    for name in ("curated", "rejected"):
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging / name, target)
    shutil.rmtree(staging, ignore_errors=True)


def conclude(out: Path, cfg: RunConfig, ing: dict, funnel: list[dict], summaries: dict, versions: dict,
             read: int, *, rejected: int, injected: int, splits: dict[str, int], shards: list[dict],
             rejects: list[str]):
    """Counts, the manifest (without timings) and ``report/stages.json``; returns ``(RunSummary, manifest)``."""
    from pipeline.io.atomic import write_json
    from pipeline.runner import RunSummary

    by_stage: dict[str, dict[str, int]] = {}
    flags: dict[str, dict[str, int]] = {}
    for step in funnel:
        if step["dropped"]:
            by_stage[step["stage"]] = dict(step["dropped"])
        if step["flagged"]:
            flags[step["stage"]] = dict(step["flagged"])
    counts = {"read": read, "curated": funnel[-1]["out"], "rejected": rejected, "injected": injected,
              "by_stage": by_stage, "flagged": flags, "splits": splits}
    manifest = {
        "inputs": ing["inputs"], "config": cfg.resolved(), "config_hash": cfg.hash(), "seed": cfg.seed,
        "versions": versions, "counts": counts, "funnel": funnel, "shards": shards,
        "rejects": rejects, "errors": ing["errors"], "stages": list(summaries),
    }
    write_json(out / "report" / "stages.json", summaries)
    summary = RunSummary(out=out, counts=counts, errors=ing["errors"], funnel=funnel, shards=shards)
    return summary, manifest
