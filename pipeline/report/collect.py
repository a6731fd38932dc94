"""Read a finished run folder: curated shards (as one Arrow table) and sampled examples.

Examples are *sampled*, not exhaustive: the first few records of each reason in file
order (deterministic, and reading stops needing memory once every bucket is full).
Rejects are streamed line by line; the curated shards are read column-wise.
"""
from __future__ import annotations

from pathlib import Path

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


def curated_parts(out: Path, manifest: dict, columns=CURATED_COLUMNS):
    """The curated shards one table at a time (memory bounded by one shard, not the corpus)."""
    for p in shard_paths(out, manifest):
        names = pq.read_schema(p).names
        yield pq.read_table(p, columns=[c for c in columns if c in names])


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

    Returns:
        ``(examples by reason, {record id: example with its reason})``.
    """
    examples: dict[str, list[dict]] = {}
    found: dict[str, dict] = {}
    for r in reject_lines(out, manifest):
        rec = r["record"] if isinstance(r["record"], dict) else {"raw": r["record"]}
        bucket = examples.setdefault(r["reason"], [])
        if len(bucket) < per_reason:
            bucket.append(example(rec, r.get("detail", ""), r["stage"], r.get("source"), chars))
        rid = rec.get("id")
        if wanted_ids and rid in wanted_ids and rid not in found:
            ex = example(rec, r.get("detail", ""), r["stage"], r.get("source"), chars)
            found[rid] = {**ex, "fate": r["reason"]}
    return examples, found


def flag_examples(table: pa.Table | None, per_reason: int, chars: int,
                  examples: dict[str, list[dict]] | None = None) -> dict[str, list[dict]]:
    """The first ``per_reason`` curated records carrying each flag, with the flag's detail.

    Pass the ``examples`` of earlier shards to keep filling them in shard order.
    """
    examples = {} if examples is None else examples
    if table is None or "flags" not in table.column_names or table.num_rows == 0:
        return examples
    flags = table.column("flags")
    flat = pc.list_flatten(flags)
    if not len(flat):
        return examples
    parents = pc.list_parent_indices(flags).to_numpy()
    for code, row in zip(flat.to_pylist(), parents):
        bucket = examples.setdefault(code, [])
        if len(bucket) >= per_reason:
            continue
        rec = {c: table.column(c)[int(row)].as_py() for c in ("instruction", "output", "meta", "source")
               if c in table.column_names}
        meta = orjson.loads(rec["meta"]) if rec.get("meta") else {}
        stage = code.split("_")[0]
        detail = (meta.get("flag_details") or {}).get(stage, "")
        bucket.append(example(rec, detail, stage, rec.get("source"), chars))
    return examples


def curated_by_id(table: pa.Table | None, ids: set[str], chars: int) -> dict[str, dict]:
    """Examples of the curated records whose id is in ``ids`` (fate ``kept``)."""
    if table is None or not ids or "id" not in table.column_names:
        return {}
    mask = pc.is_in(table.column("id"), value_set=pa.array(sorted(ids), pa.string()))
    sub = table.filter(mask).select([c for c in ("id", "instruction", "output", "source")
                                     if c in table.column_names])
    return {r["id"]: {**example(r, "", "", r.get("source"), chars), "fate": "kept"} for r in sub.to_pylist()}
