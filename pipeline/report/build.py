"""Collect the report's data from a finished run folder into one JSON-able dict.

``report.json`` is the single source of ``report.md`` and ``report.html``. Everything
here reads only the run folder (manifest, stage summaries, shards, rejects), so a
report can be rebuilt at any time with ``sftpipe report OUT``. Distributions are
computed column-wise with pyarrow and examples are the first few per reason, which
keeps report time small next to the run itself.
"""
from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.io.atomic import write_json, write_text

EXAMPLES_PER_REASON = 5
TEXT_CHARS = 300
LENGTH_BINS = [0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10**12]
TAGS = ("lang", "task", "domain", "complexity", "response_type", "origin")


def _example(rec: dict, detail: str, stage: str, source: dict) -> dict:
    return {
        "instruction": str(rec.get("instruction", ""))[:TEXT_CHARS],
        "output": str(rec.get("output", ""))[:TEXT_CHARS],
        "detail": str(detail)[:TEXT_CHARS], "stage": stage,
        "file": str((source or {}).get("file", "")), "index": (source or {}).get("index"),
    }


def _reject_examples(out: Path, manifest: dict) -> dict[str, list[dict]]:
    """The first few rejected records of every reason, in file order (deterministic)."""
    examples: dict[str, list[dict]] = {}
    for rel in manifest.get("rejects", []):
        path = out / rel
        if not path.exists():
            continue
        with open(path, "rb") as fh:
            for line in fh:
                r = orjson.loads(line)
                bucket = examples.setdefault(r["reason"], [])
                if len(bucket) < EXAMPLES_PER_REASON:
                    rec = r["record"] if isinstance(r["record"], dict) else {"instruction": json.dumps(
                        r["record"], ensure_ascii=False)}
                    bucket.append(_example(rec, r.get("detail", ""), r["stage"], r.get("source")))
    return examples


def _shards(out: Path, manifest: dict) -> list[Path]:
    return [out / s["path"] for s in manifest.get("shards", []) if s["path"].endswith(".parquet")
            and (out / s["path"]).exists()]


def _curated_table(out: Path, manifest: dict) -> pa.Table | None:
    cols = ["instruction", "output", "history", "flags", "meta", "source", *TAGS]
    tables = []
    for p in _shards(out, manifest):
        names = pq.read_schema(p).names
        tables.append(pq.read_table(p, columns=[c for c in cols if c in names]))
    return pa.concat_tables(tables, promote_options="default") if tables else None


def _flag_examples(table: pa.Table | None) -> dict[str, list[dict]]:
    """The first few curated records carrying each flag, with the flag's detail."""
    examples: dict[str, list[dict]] = {}
    if table is None or "flags" not in table.column_names:
        return examples
    flat = pc.list_flatten(table.column("flags"))
    if not len(flat):
        return examples
    parents = pc.list_parent_indices(table.column("flags")).to_numpy()
    codes = flat.to_pylist()
    for code, row in zip(codes, parents):
        bucket = examples.setdefault(code, [])
        if len(bucket) >= EXAMPLES_PER_REASON:
            continue
        rec = {c: table.column(c)[int(row)].as_py() for c in ("instruction", "output", "meta", "source")}
        meta = orjson.loads(rec["meta"]) if rec.get("meta") else {}
        details = meta.get("flag_details", {})
        stage = code.split("_")[0]
        bucket.append(_example(rec, details.get(stage, ""), stage, rec.get("source")))
    return examples


def _counts(col: pa.ChunkedArray) -> dict[str, int]:
    vc = pc.value_counts(pc.fill_null(col, "")).to_pylist()
    return dict(sorted(((v["values"] or "(none)"), v["counts"]) for v in vc))


def _histogram(values) -> dict[str, int]:
    import numpy as np

    arr = np.asarray(values, dtype=np.int64)
    hist, _ = np.histogram(arr, bins=LENGTH_BINS)
    labels = [f"{a}-{b - 1}" if b < 10**12 else f"{a}+" for a, b in zip(LENGTH_BINS, LENGTH_BINS[1:])]
    return dict(zip(labels, (int(h) for h in hist)))


def _distributions(table: pa.Table | None) -> dict:
    """Tag counts, length histograms (characters and words) and turns per record."""
    if table is None or table.num_rows == 0:
        return {}
    dist: dict = {"records": table.num_rows}
    for tag in TAGS:
        if tag in table.column_names:
            dist[tag] = _counts(table.column(tag))
    for field in ("instruction", "output"):
        col = table.column(field)
        chars = pc.utf8_length(col)
        words = pc.list_value_length(pc.utf8_split_whitespace(col))
        dist[f"{field}_chars"] = _histogram(chars.to_numpy(zero_copy_only=False))
        dist[f"{field}_words"] = _histogram(words.to_numpy(zero_copy_only=False))
        dist[f"{field}_chars_median"] = float(pc.approximate_median(chars).as_py() or 0)
    turns = pc.add(pc.list_value_length(table.column("history")), 1)
    dist["turns"] = {str(k): v for k, v in sorted(_counts(pc.cast(turns, pa.string())).items(),
                                                   key=lambda kv: int(kv[0]))}
    return dist


def _problems(manifest: dict, stages: dict) -> list[str]:
    """The three biggest problems found, in plain words."""
    read = max(1, manifest["counts"]["read"])
    items = []
    for step in manifest["funnel"]:
        for reason, n in step["dropped"].items():
            items.append((n, f"{n} records ({n / read:.1%}) were dropped as `{reason}` at the {step['stage']} stage."))
        for reason, n in step["flagged"].items():
            items.append((n * 0.5, f"{n} records ({n / read:.1%}) were flagged `{reason}` and kept for review."))
    for e in manifest.get("errors", [])[:1]:
        items.append((read, f"Some input could not be read: {e['file']} ({e['message']})."))
    items.sort(key=lambda x: -x[0])
    return [text for _, text in items[:3]]


def build_report(out: Path | str, manifest: dict | None = None) -> dict:
    """The report data for the run in ``out`` (reads manifest.json when not given)."""
    out = Path(out)
    if manifest is None:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    stages_path = out / "report" / "stages.json"
    stages = json.loads(stages_path.read_text(encoding="utf-8")) if stages_path.exists() else {}
    table = _curated_table(out, manifest)
    examples = _reject_examples(out, manifest)
    for code, ex in _flag_examples(table).items():
        examples.setdefault(code, ex)
    ran = [s["stage"] for s in manifest["funnel"]]
    return {
        "counts": manifest["counts"],
        "funnel": manifest["funnel"],
        "ran": ran,
        "problems": _problems(manifest, stages),
        "stages": stages,
        "examples": dict(sorted(examples.items())),
        "distributions": _distributions(table),
        "run": {k: manifest.get(k) for k in ("inputs", "config_hash", "seed", "versions", "shards", "errors",
                                             "timings")},
    }


def write_report(out: Path | str, manifest: dict | None = None) -> dict:
    """Write report.json, report.md and report.html."""
    from pipeline.report.html import render_html
    from pipeline.report.markdown import render_markdown

    out = Path(out)
    report = build_report(out, manifest)
    write_json(out / "report" / "report.json", report)
    write_text(out / "report" / "report.md", render_markdown(report))
    write_text(out / "report" / "report.html", render_html(report))
    return report
