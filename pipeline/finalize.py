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
from pipeline.io import checkpoint_outputs
from pipeline.io.columns import SPLITS, split_of
from pipeline.io.writers import RejectWriter, ShardWriter, ingest_reject_line


def finalize(ds, out: Path, cfg: RunConfig, ing: dict, funnel: list[dict], summaries: dict,
             versions: dict, read: int, num_proc: int = 1):
    """Write shards and rejects, and return ``(RunSummary, manifest dict without timings)``.

    A checkpoint given as Arrow stream files (``ds.files``, as the local engine's
    ``ArrowFiles``) is written column-wise by ``num_proc`` processes
    (:mod:`pipeline.io.checkpoint_outputs`); any other ``ds`` (or files of another
    schema) row by row, with the same bytes.
    """
    staging = out / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    # A folder without manifest.json is an unfinished run; drop the old one first.
    (out / "manifest.json").unlink(missing_ok=True)
    files = getattr(ds, "files", None)
    if isinstance(files, list) and getattr(ds, "columns", None) is None and checkpoint_outputs.readable(files):
        w = checkpoint_outputs.write_outputs(files, staging, cfg.shard_rows, cfg.output_format,
                                             ing["reject_files"], num_proc)
    else:
        w = _write_rows(ds, staging, cfg, ing)
    publish(staging, out)
    return conclude(out, cfg, ing, funnel, summaries, versions, read, rejected=w["rejected"],
                    injected=w["injected"], splits=w["totals"], shards=w["shards"],
                    rejects=[os.path.join(p.parent.name, p.name) for p in w["rejects"]])


def _scan(ds) -> tuple[dict[str, int], list[str]]:
    """Rows per split among live rows, and the union of score names."""
    totals = {s: 0 for s in SPLITS}
    keys: set[str] = set()
    for b in ds.select_columns(["_stage", "meta", "scores"]).iter(batch_size=10_000):
        for st, meta, scores in zip(b["_stage"], b["meta"], b["scores"]):
            if st:
                continue
            totals[split_of(meta)] += 1
            if scores and scores != "{}":
                keys.update(orjson.loads(scores))
    return totals, sorted(keys)


def _write_rows(ds, staging: Path, cfg: RunConfig, ing: dict) -> dict:
    """Write ``staging/curated`` and ``staging/rejected`` row by row from ``ds.iter`` batches.

    Returns what :func:`pipeline.io.checkpoint_outputs.write_outputs` returns.
    """
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
                writers[split_of(row["meta"])].add(row)
    shards = []
    for s in SPLITS:
        if s in writers:
            shards += writers[s].close()
    return {"totals": totals, "shards": shards, "rejects": rejects.close(), "rejected": rejects.count,
            "injected": injected}


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
