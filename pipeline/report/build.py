"""Collect the report's data from a finished run folder into one JSON-able dict."""
from __future__ import annotations

import json
from pathlib import Path

import orjson

from pipeline.io.atomic import write_json, write_text

EXAMPLES_PER_REASON = 5
OUTPUT_CHARS = 300


def _examples(out: Path, manifest: dict) -> dict[str, list[dict]]:
    """The first few rejected records of every reason (input order, so deterministic)."""
    examples: dict[str, list[dict]] = {}
    for rel in manifest.get("rejects", []):
        path = out / rel
        if not path.exists():
            continue
        with open(path, "rb") as fh:
            for line in fh:
                r = orjson.loads(line)
                bucket = examples.setdefault(r["reason"], [])
                if len(bucket) >= EXAMPLES_PER_REASON:
                    continue
                rec = r["record"] if isinstance(r["record"], dict) else {"raw": r["record"]}
                bucket.append({
                    "instruction": str(rec.get("instruction", rec.get("raw", "")))[:OUTPUT_CHARS],
                    "output": str(rec.get("output", ""))[:OUTPUT_CHARS],
                    "detail": r.get("detail", ""), "file": r["source"].get("file"),
                    "index": r["source"].get("index"), "stage": r["stage"],
                })
    return dict(sorted(examples.items()))


def build_report(out: Path | str, manifest: dict | None = None) -> dict:
    """The report data for the run in ``out`` (reads manifest.json when not given)."""
    out = Path(out)
    if manifest is None:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    stages_path = out / "report" / "stages.json"
    stages = json.loads(stages_path.read_text(encoding="utf-8")) if stages_path.exists() else {}
    return {
        "counts": manifest["counts"],
        "funnel": manifest["funnel"],
        "stages": stages,
        "examples": _examples(out, manifest),
        "run": {k: manifest.get(k) for k in ("inputs", "config_hash", "seed", "versions", "shards", "errors")},
    }


def render_markdown(report: dict) -> str:
    """The report as Markdown tables."""
    c = report["counts"]
    lines = ["# sftpipe quality report", "",
             f"**read** {c['read']} · **curated** {c['curated']} · **rejected** {c['rejected']} · "
             f"**injected** {c['injected']}", "", "## Funnel", "",
             "| stage | in | out | dropped | flagged | injected |", "|---|---:|---:|---:|---:|---:|"]
    for s in report["funnel"]:
        lines.append(f"| {s['stage']} | {s['in']} | {s['out']} | {sum(s['dropped'].values())} | "
                     f"{sum(s['flagged'].values())} | {s.get('injected', 0)} |")
    lines += ["", "## Reasons", "", "| stage | reason | records |", "|---|---|---:|"]
    for s in report["funnel"]:
        for r, n in s["dropped"].items():
            lines.append(f"| {s['stage']} | `{r}` (drop) | {n} |")
        for r, n in s["flagged"].items():
            lines.append(f"| {s['stage']} | `{r}` (flag) | {n} |")
    return "\n".join(lines) + "\n"


def write_report(out: Path | str, manifest: dict | None = None) -> dict:
    """Write report.json and report.md (and report.html when the renderer is available)."""
    out = Path(out)
    report = build_report(out, manifest)
    write_json(out / "report" / "report.json", report)
    write_text(out / "report" / "report.md", render_markdown(report))
    return report
