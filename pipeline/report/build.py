"""Collect the report's data from a finished run folder into one JSON-able dict.

``report.json`` is the single source of ``report.md`` and ``report.html``; its schema is
``schemas/report.schema.json``. Everything here reads only the run folder (manifest,
stage summaries, shards, rejects), so a report can be rebuilt at any time with
``sftpipe report OUT``. Distributions are computed column-wise with pyarrow and the
examples are sampled (the first few per reason), which keeps report time small next
to the run itself.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.io.atomic import write_json, write_text
from pipeline.report import collect, shards
from pipeline.report.dist import Distributions
from pipeline.report.problems import problems
from pipeline.report.settings import describe, settings

REPORT_VERSION = 1


def reason_rows(funnel: list[dict], read: int) -> list[dict]:
    """One row per (stage, reason): action, records, share of the input, and what it means."""
    rows = []
    for s in funnel:
        for action, key in (("drop", "dropped"), ("flag", "flagged")):
            for code, n in sorted(s[key].items(), key=lambda kv: (-kv[1], kv[0])):
                rows.append({"stage": s["stage"], "reason": code, "action": action, "records": n,
                             "share": round(n / max(1, read), 6), "description": describe(code)})
    return rows


def _clusters(stages: dict, found: dict[str, dict], limit: int) -> list[dict]:
    """The largest near-duplicate clusters with an example per member (kept or dropped)."""
    near = (stages.get("dedup") or {}).get("near") or {}
    out = []
    for c in (near.get("largest") or [])[:limit]:
        members = [{"id": m, **found.get(m, {"fate": "unknown"})} for m in (c.get("members") or [])[:limit]]
        out.append({"cluster": str(c.get("cluster", "")), "size": int(c.get("size", len(members))),
                    "members": members})
    return out


def _cluster_ids(stages: dict, limit: int) -> set[str]:
    near = (stages.get("dedup") or {}).get("near") or {}
    return {m for c in (near.get("largest") or [])[:limit] for m in (c.get("members") or [])[:limit]}


def build_report(out: Path | str, manifest: dict | None = None, num_proc: int = 1) -> dict:
    """The report data for the run in ``out`` (reads manifest.json when not given).

    ``num_proc`` fork()ed workers read the curated shards (one process with a tokenizer
    configured, or without fork()); the report is the same for any ``num_proc``.
    """
    out = Path(out)
    cfg = settings()
    if manifest is None:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    stages_path = out / "report" / "stages.json"
    stages = json.loads(stages_path.read_text(encoding="utf-8")) if stages_path.exists() else {}
    per, chars, limit = int(cfg["examples_per_reason"]), int(cfg["text_chars"]), int(cfg["largest_clusters"])
    wanted = _cluster_ids(stages, limit)
    # One pass over the curated shards, one shard in memory at a time (per process).
    dist = Distributions(cfg.get("tokenizer"), manifest["counts"].get("curated", 0))
    found: dict[str, dict] = {}
    flag_ex: dict[str, list[dict]] = {}
    wants = shards.Wants(per, chars, frozenset(wanted))
    for part in shards.parts(collect.shard_paths(out, manifest), wants, num_proc, keep_table=bool(dist.tokenizer)):
        dist.merge(part["dist"])
        if "table" in part:
            dist.add_tokens(part["table"])
        # Curated first, earlier shards first: exact duplicates share their id with the kept
        # copy, and the kept one is the cluster member the dedup stage meant.
        for rid, ex in part["found"].items():
            found.setdefault(rid, ex)
        for code, exs in part["flags"].items():
            bucket = flag_ex.setdefault(code, [])
            bucket.extend(exs[:per - len(bucket)])
    examples, dropped = collect.reject_examples(out, manifest, per, chars, wanted - set(found))
    found.update(dropped)
    for code, ex in flag_ex.items():
        examples.setdefault(code, ex)
    read = manifest["counts"]["read"]
    return {
        "version": REPORT_VERSION,
        "counts": manifest["counts"],
        "funnel": manifest["funnel"],
        "ran": [s["stage"] for s in manifest["funnel"]],
        "problems": problems(manifest, stages),
        "reasons": reason_rows(manifest["funnel"], read),
        "stages": stages,
        "examples": dict(sorted(examples.items())),
        "clusters": _clusters(stages, found, limit),
        "distributions": dist.result(),
        "run": {k: manifest.get(k) for k in ("inputs", "config_hash", "seed", "versions", "shards", "errors",
                                             "timings")},
    }


def write_report(out: Path | str, manifest: dict | None = None, num_proc: int = 1) -> dict:
    """Write report.json, report.md and report.html under ``out/report`` and return the data.

    ``num_proc``: worker processes reading the curated shards (see :func:`build_report`).
    """
    from pipeline.report.html import render_html
    from pipeline.report.markdown import render_markdown

    out = Path(out)
    report = build_report(out, manifest, num_proc)
    write_json(out / "report" / "report.json", report)
    write_text(out / "report" / "report.md", render_markdown(report))
    write_text(out / "report" / "report.html", render_html(report))
    return report
