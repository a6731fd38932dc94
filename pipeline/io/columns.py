"""The Arrow shape of records inside the engine and in the curated shards.

Inside the engine ``scores`` and ``meta`` travel as JSON strings (their keys vary by
record and stage) and four engine columns carry each row's fate. Shards get ``scores``
as a struct over the union of score names, ``meta`` as a JSON string, plus ``messages``.
"""
from __future__ import annotations

from typing import Iterable

import orjson
import pyarrow as pa

from pipeline.record import FIELDS, to_messages

HISTORY = pa.list_(pa.struct([("instruction", pa.string()), ("output", pa.string())]))
SOURCE = pa.struct([("file", pa.string()), ("index", pa.int64()), ("format", pa.string())])
MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
ENGINE_COLS = ("_stage", "_reason", "_detail", "_dup")
SPLITS = ("train", "validation")  # the curated splits; rows name theirs in meta["split"]
_SPLIT_SET = frozenset(SPLITS)

_TYPES = {"history": HISTORY, "source": SOURCE, "flags": pa.list_(pa.string())}
WORK_SCHEMA = pa.schema(
    [(f, _TYPES.get(f, pa.string())) for f in FIELDS] + [(c, pa.string()) for c in ENGINE_COLS]
)


def dumps(obj) -> str:
    """Compact deterministic JSON (sorted keys) as str."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def to_work_row(rec: dict) -> dict:
    """Canonical record -> engine row (JSON-encoded scores/meta, empty fate)."""
    row = {f: rec[f] for f in FIELDS}
    row["scores"] = dumps(rec.get("scores") or {})
    row["meta"] = dumps(rec.get("meta") or {})
    for c in ENGINE_COLS:
        row[c] = ""
    return row


def work_table(records: Iterable[dict]) -> pa.Table:
    return pa.Table.from_pylist([to_work_row(r) for r in records], schema=WORK_SCHEMA)


def decode(batch: dict, idx: list[int], fields: Iterable[str] | None = None) -> dict:
    """Select rows ``idx`` of an engine batch as a canonical batch with dict scores/meta."""
    out = {f: [batch[f][i] for i in idx] for f in (FIELDS if fields is None else fields)}
    for f in ("scores", "meta"):
        if f in out:
            out[f] = [orjson.loads(s) if s else {} for s in out[f]]
    return out


def canonical(row: dict) -> dict:
    """Engine row -> canonical record dict (scores/meta decoded)."""
    rec = {f: row[f] for f in FIELDS}
    rec["scores"] = orjson.loads(row["scores"]) if row["scores"] else {}
    rec["meta"] = orjson.loads(row["meta"]) if row["meta"] else {}
    return rec


def split_of(meta: str | None) -> str:
    """The split of a live engine row: ``meta["split"]`` when it is one of :data:`SPLITS`, else train."""
    split = orjson.loads(meta).get("split", "train") if meta else "train"
    return split if split in _SPLIT_SET else "train"


def shard_schema(score_keys: Iterable[str]) -> pa.Schema:
    """Curated shard schema: canonical fields, scores as a struct, meta as JSON, messages."""
    keys = sorted(set(score_keys))
    scores = pa.struct([(k, pa.float64()) for k in keys]) if keys else pa.struct([("_none", pa.float64())])
    fields = []
    for f in FIELDS:
        if f == "scores":
            fields.append((f, scores))
        else:
            fields.append((f, _TYPES.get(f, pa.string())))
    return pa.schema(fields + [("messages", MESSAGES)])


def shard_row(row: dict, score_keys: list[str]) -> dict:
    """Engine row -> curated shard row (``meta`` stays the JSON string)."""
    out = {f: row[f] for f in FIELDS}
    if score_keys:
        scores = orjson.loads(row["scores"]) if row["scores"] else {}
        out["scores"] = {k: (float(scores[k]) if scores.get(k) is not None else None) for k in score_keys}
    else:
        out["scores"] = {"_none": None}
    out["meta"] = row["meta"] or "{}"
    out["messages"] = to_messages(row)
    return out
