"""The local engine: HF ``datasets`` (Arrow, memory-mapped) with batched ``map`` and ``num_proc``.

Every stage maps over the whole table; rows rejected earlier pass through untouched,
so each stage's output is a complete checkpoint (one Arrow file per worker) that
``--resume`` can reload.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import datasets
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.engines.apply import apply_batch
from pipeline.io.columns import WORK_SCHEMA, decode, work_table

BATCH = 1000
FEATURES = datasets.Features.from_arrow_schema(WORK_SCHEMA)
logging.getLogger("datasets").setLevel(logging.ERROR)


def load(files: list[str]) -> datasets.Dataset:
    """Reload a checkpoint from its Arrow files, in order."""
    parts = [datasets.Dataset.from_file(f) for f in files]
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def files_of(ds: datasets.Dataset) -> list[str]:
    return [c["filename"] for c in ds.cache_files]


def live_batches(ds: datasets.Dataset, batch_size: int = 10_000) -> Iterator[dict]:
    """Canonical batches (decoded scores/meta) of the rows that are still live, in order."""
    for batch in ds.iter(batch_size=batch_size):
        live = [i for i, s in enumerate(batch["_stage"]) if not s]
        if live:
            yield decode(batch, live)


def append(ds: datasets.Dataset, records: list[dict], path: Path) -> datasets.Dataset:
    """Append new canonical records (injections) as another Arrow file."""
    if not records:
        return ds
    table = work_table(records)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, WORK_SCHEMA) as w:
        w.write_table(table)
    return datasets.concatenate_datasets([ds, datasets.Dataset.from_file(str(path))])


def map_stage(ds: datasets.Dataset, proc, stage: str, out_file: Path, num_proc: int,
              fingerprint: str, progress: bool) -> datasets.Dataset:
    """Run one stage over every row; returns the new checkpointed dataset."""
    if not progress:
        datasets.disable_progress_bars()
    else:
        datasets.enable_progress_bars()
    return ds.map(
        apply_batch, batched=True, batch_size=BATCH, fn_kwargs={"proc": proc, "stage": stage},
        num_proc=num_proc if num_proc > 1 and len(ds) >= 2 * BATCH else None,
        cache_file_name=str(out_file), load_from_cache_file=False, new_fingerprint=fingerprint,
        features=FEATURES, desc=f"{stage:>10}",
    )


def fate_counts(ds: datasets.Dataset, stage: str) -> tuple[int, dict[str, int], dict[str, int]]:
    """(live rows, drops by reason at ``stage``, flags with the stage's prefix among live rows)."""
    table = ds.data.table.select(["_stage", "_reason", "flags"]) if hasattr(ds.data, "table") else None
    if table is None or ds._indices is not None:  # pragma: no cover - we never select/shuffle
        table = ds.select_columns(["_stage", "_reason", "flags"]).data.table
    st = table.column("_stage")
    live_mask = pc.equal(st, "")
    live = pc.sum(pc.cast(live_mask, pa.int64())).as_py() or 0
    dropped = {}
    mine = table.filter(pc.equal(st, stage))
    if mine.num_rows:
        for item in pc.value_counts(mine.column("_reason")).to_pylist():
            dropped[item["values"]] = item["counts"]
    flags = {}
    flat = pc.list_flatten(table.filter(live_mask).column("flags"))
    if len(flat):
        prefix = stage + "_"
        for item in pc.value_counts(flat).to_pylist():
            if item["values"].startswith(prefix):
                flags[item["values"]] = item["counts"]
    return live, dict(sorted(dropped.items())), dict(sorted(flags.items()))
