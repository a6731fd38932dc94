"""Read a finished run folder: curated shards (as one Arrow table) and sampled examples.

Examples are *sampled*, not exhaustive: the first few records of each reason in file
order (deterministic, and reading stops once nothing more can change). Rejects are
streamed line by line; the curated shards are read column-wise (per shard, what the
report needs of them: :mod:`pipeline.report.shards`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CURATED_COLUMNS = ("id", "instruction", "output", "history", "flags", "meta", "source", "lang", "task",
                   "domain", "complexity", "response_type", "origin")


def example(rec: dict, detail: str, stage: str, source: dict | None, chars: int) -> dict:
    """One example as shown in the report: texts cut to ``chars`` characters.

    Ingest rejects keep the raw input row (it never became a record); it is shown as
    compact JSON in place of the instruction, so the curator sees what was read.
    """
    source = source or {}
    if "instruction" not in rec and "output" not in rec:
        instruction, output = orjson.dumps(rec, default=str).decode("utf-8"), ""
    else:
        instruction, output = rec.get("instruction", ""), rec.get("output", "")
    return {
        "instruction": _text(instruction)[:chars], "output": _text(output)[:chars],
        "detail": str(detail or "")[:chars], "stage": stage,
        "file": str(source.get("file", "")), "index": source.get("index"),
    }


def _text(value) -> str:
    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode("utf-8")


def shard_paths(out: Path, manifest: dict) -> list[Path]:
    """The run's parquet shards that exist on disk."""
    return [out / s["path"] for s in manifest.get("shards", [])
            if s["path"].endswith(".parquet") and (out / s["path"]).exists()]


def curated_table(out: Path, manifest: dict, columns=CURATED_COLUMNS) -> pa.Table | None:
    """All curated shards as one table of ``columns`` (those present), or None without shards."""
    tables = []
    for p in shard_paths(out, manifest):
        names = pq.read_schema(p).names
        tables.append(pq.read_table(p, columns=[c for c in columns if c in names]))
    return pa.concat_tables(tables, promote_options="default") if tables else None


def reject_lines(out: Path, manifest: dict):
    """Yield every rejects line (parsed) of the run, in file order."""
    for rel in manifest.get("rejects", []):
        path = out / rel
        if not path.exists():
            continue
        with open(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    yield orjson.loads(line)


def reject_examples(out: Path, manifest: dict, per_reason: int, chars: int,
                    wanted_ids: set[str] = frozenset()) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """The first ``per_reason`` rejects of every reason, plus the rejects whose id is in ``wanted_ids``.

    Reading stops once nothing more can change: every reason of the manifest's funnel
    has its examples (or all its records, when it has fewer) and every wanted id was
    found. The funnel counts every line the run wrote, so this is only trusted when its
    drops add up to ``counts.rejected``; otherwise every line is read.

    Returns:
        ``(examples by reason, {record id: example with its reason})``.
    """
    examples: dict[str, list[dict]] = {}
    found: dict[str, dict] = {}
    expected = _expected_reasons(manifest)
    seen = dict.fromkeys(expected or (), 0)
    open_reasons = set(seen) if expected is not None else None
    pending = set(wanted_ids)
    for r in reject_lines(out, manifest):
        rec = r["record"] if isinstance(r["record"], dict) else {"raw": r["record"]}
        reason = r["reason"]
        bucket = examples.setdefault(reason, [])
        if len(bucket) < per_reason:
            bucket.append(example(rec, r.get("detail", ""), r["stage"], r.get("source"), chars))
        rid = rec.get("id")
        if pending and rid in pending:
            ex = example(rec, r.get("detail", ""), r["stage"], r.get("source"), chars)
            found[rid] = {**ex, "fate": reason}
            pending.discard(rid)
        if open_reasons is None:
            continue
        if reason in open_reasons:
            seen[reason] += 1
            if len(bucket) >= per_reason or seen[reason] >= expected[reason]:
                open_reasons.discard(reason)
        if not open_reasons and not pending:
            break
    return examples, found


def _expected_reasons(manifest: dict) -> dict[str, int] | None:
    """Rejects per reason by the funnel, or None when the funnel does not add up to the rejects."""
    expected: dict[str, int] = {}
    for s in manifest.get("funnel") or []:
        for code, n in (s.get("dropped") or {}).items():
            expected[code] = expected.get(code, 0) + int(n)
    if sum(expected.values()) != (manifest.get("counts") or {}).get("rejected"):
        return None
    return {code: n for code, n in expected.items() if n > 0}


def flag_rows(flags: pa.ChunkedArray | pa.Array, per_reason: int) -> dict[str, list[int]]:
    """Every flag code of ``flags`` -> the rows of its first ``per_reason`` occurrences.

    Occurrences are counted in row order, then in the order of the row's flags (a row
    carrying a code twice counts twice), as the report's flag examples are picked.
    """
    flat = pc.list_flatten(flags)
    if not len(flat):
        return {}
    parents = pc.list_parent_indices(flags).to_numpy()
    if flat.null_count:
        rows: dict[str, list[int]] = {}
        for code, row in zip(flat.to_pylist(), parents):
            bucket = rows.setdefault(code, [])
            if len(bucket) < per_reason:
                bucket.append(int(row))
        return rows
    enc = pc.dictionary_encode(flat.combine_chunks() if isinstance(flat, pa.ChunkedArray) else flat)
    codes = enc.indices.to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(enc.dictionary) + 1))
    return {code: [int(r) for r in parents[order[a:min(b, a + per_reason)]]]
            for code, a, b in zip(enc.dictionary.to_pylist(), bounds[:-1], bounds[1:])}


def flag_example(rec: dict, code: str, chars: int) -> dict:
    """The example of a curated record carrying flag ``code`` (detail from its meta's flag_details)."""
    meta = orjson.loads(rec["meta"]) if rec.get("meta") else {}
    stage = code.split("_")[0]
    detail = (meta.get("flag_details") or {}).get(stage, "")
    return example(rec, detail, stage, rec.get("source"), chars)
