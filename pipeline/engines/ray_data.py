"""Ray Data building blocks of the ray engine: load, map a stage group, feed fit(), count, hand over.

Rows carry one extra column, ``_row`` (int64): their position in the local engine's
order (ingest order, injected rows appended). Every step keeps Ray Data's
``preserve_order`` on, and the engine still sorts by ``_row`` before anything that
depends on order, so results never depend on scheduling.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray

from pipeline.engines.apply import apply_batch, funnel_steps
from pipeline.io.columns import WORK_SCHEMA, decode, work_table

ROW = "_row"
FIT = "_fit"  # pickled per-row fit_features of live rows (None for rejected rows)
RAY_SCHEMA = WORK_SCHEMA.append(pa.field(ROW, pa.int64()))
BATCH = 1000  # rows per map_batches call: the local engine's batch size
FIT_BATCH = 10_000  # rows per fit() batch: the local engine's live_batches size
PART_ROWS = 10_000  # rows per parquet part of the ingest checkpoint: one block each, the map parallelism


def ingest_to_parquet(arrow_files: list[str], folder: Path) -> list[str]:
    """Copy the ingest checkpoint (Arrow stream files) to numbered parquet parts with ``_row``.

    Ray Data has no reader for Arrow IPC streams; parquet parts give it a source it can
    split across the cluster. Returns the part paths in row order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    parts: list[str] = []
    start = 0
    buf: list[pa.RecordBatch] = []
    buffered = 0

    def flush() -> None:
        nonlocal start, buffered
        table = pa.Table.from_batches(buf, schema=WORK_SCHEMA) if buf else WORK_SCHEMA.empty_table()
        table = table.append_column(ROW, pa.array(range(start, start + table.num_rows), pa.int64()))
        path = folder / f"part-{len(parts):05d}.parquet"
        pq.write_table(table, path)
        parts.append(str(path))
        start += table.num_rows
        buf.clear()
        buffered = 0

    for f in arrow_files:
        with pa.memory_map(f) as source:
            for rb in pa.ipc.open_stream(source):
                buf.append(rb.cast(WORK_SCHEMA) if rb.schema != WORK_SCHEMA else rb)
                buffered += rb.num_rows
                if buffered >= PART_ROWS:
                    flush()
    if buffered or not parts:
        flush()
    return parts


def load(parts: list[str]) -> "ray.data.Dataset":
    """Read the parquet parts (Ray Data's parquet source) and pin the blocks in the object store."""
    return ray.data.read_parquet(parts, schema=RAY_SCHEMA).materialize()


class StageActor:
    """The callable class ``map_batches`` runs: one fused stage group, set up once per actor.

    Args:
        chain: ``[(stage name, processor)]``; fitted global processors arrive pickled
            through the actor's constructor arguments (Ray's object store).
    """

    def __init__(self, chain: list):
        for _, proc in chain:
            # apply_batch's own once-only guard, run eagerly: setup() happens at actor start.
            if not getattr(proc, "_setup_done", False):
                proc.setup()
                proc._setup_done = True
        self.chain = chain

    def __call__(self, table: pa.Table) -> pa.Table:
        batch = table.to_pydict()
        for stage, proc in self.chain:
            batch = apply_batch(batch, proc, stage)
        return pa.Table.from_pydict(batch, schema=RAY_SCHEMA)


def map_group(ds, chain: list, num_cpus: float, concurrency: int):
    """Run a fused stage group over every row through ``map_batches`` on a pool of actors.

    When a worker dies, Ray Data restarts its actor and retries the batches it had in
    flight: its actor pools default to ``max_restarts=-1`` and ``max_task_retries=-1``
    (passing them explicitly is deprecated since Ray 2.51). A batch's output is only
    kept from the attempt that finished, so nothing is lost or duplicated; the test
    suite kills an actor mid-run to prove it.
    """
    return ds.map_batches(
        StageActor, fn_constructor_args=(chain,), batch_size=BATCH, batch_format="pyarrow",
        zero_copy_batch=True, num_cpus=num_cpus, compute=ray.data.ActorPoolStrategy(size=concurrency),
    ).materialize()


class FeatureActor:
    """Computes a global stage's per-row ``fit_features`` for a block, on a worker.

    The per-row part of a ``fit`` (diversity's tagging, refusal's assessment, format's
    template scan) does not depend on other rows, so it runs here, set up once per
    actor; ``fit`` on the driver then reads ``batch["_fit"]`` instead of computing it
    (as with the local engine's ``--num-proc`` workers). Each live row gets its
    features pickled into the ``_fit`` column, so they follow the row whatever the
    batch boundaries on the driver.
    """

    def __init__(self, proc, columns: list[str] | None):
        if not getattr(proc, "_setup_done", False):
            proc.setup()
            proc._setup_done = True
        self.proc, self.columns = proc, columns

    def __call__(self, table: pa.Table) -> pa.Table:
        live = [i for i, s in enumerate(table.column("_stage").to_pylist()) if not s]
        out: list[bytes | None] = [None] * table.num_rows
        if live:
            batch = decode(table.drop_columns([ROW]).to_pydict(), live, self.columns)
            feats = self.proc.fit_features(batch)
            if len(feats) != len(live):
                raise RuntimeError(f"fit_features returned {len(feats)} values for {len(live)} rows")
            for i, f in zip(live, feats):
                out[i] = pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL)
        return table.append_column(FIT, pa.array(out, pa.binary()))


def with_fit_features(ds, proc, columns: list[str] | None, num_cpus: float, concurrency: int):
    """``ds`` (narrowed to what ``fit`` reads) plus the ``_fit`` column, computed by a pool of actors.

    Not materialized: the driver's ``fit`` consumes batches while the actors compute.
    """
    if columns is not None:
        ds = ds.select_columns(list(dict.fromkeys(["_stage", *columns, ROW])))
    return ds.map_batches(
        FeatureActor, fn_constructor_args=(proc, columns), batch_size=BATCH, batch_format="pyarrow",
        zero_copy_batch=True, num_cpus=num_cpus, compute=ray.data.ActorPoolStrategy(size=concurrency))


def live_batches(ds, columns: list[str] | None = None, features: bool = False) -> Iterator[dict]:
    """Canonical batches of the live rows, in ``_row`` order, for a global stage's ``fit``.

    Same batch boundaries as the local engine (every 10,000 rows, then live rows only).
    With ``features`` (``ds`` from :func:`with_fit_features`), batches carry the live
    rows' features as ``batch["_fit"]``.

    Raises:
        RuntimeError: when blocks arrive out of order (a global fit must see input order).
    """
    fit = features
    cols = None if columns is None else list(dict.fromkeys(["_stage", *columns, ROW, *([FIT] if fit else [])]))
    src = ds if cols is None else ds.select_columns(cols)
    last = -1
    for table in src.iter_batches(batch_size=FIT_BATCH, batch_format="pyarrow"):
        rows = table.column(ROW)
        if len(rows):
            if rows[0].as_py() <= last or not _increasing(rows):
                raise RuntimeError("ray engine: rows reached fit() out of order")
            last = rows[-1].as_py()
        batch = table.drop_columns([ROW]).to_pydict()
        live = [i for i, s in enumerate(batch["_stage"]) if not s]
        if live:
            out = decode(batch, live, columns)
            if fit:
                out["_fit"] = [pickle.loads(batch[FIT][i]) for i in live]
            yield out


def _increasing(col: pa.ChunkedArray) -> bool:
    if len(col) < 2:
        return True
    arr = col.combine_chunks()
    return pc.all(pc.greater(arr.slice(1), arr.slice(0, len(arr) - 1))).as_py()


def append(ds, records: list[dict], next_row: int):
    """Append injected canonical records after every existing row (``_row`` continues)."""
    if not records:
        return ds
    table = work_table(records)
    table = table.append_column(ROW, pa.array(range(next_row, next_row + table.num_rows), pa.int64()))
    return append_table(ds, table)


def append_table(ds, table: pa.Table):
    """``ds`` (materialized) followed by ``table``, in that order.

    Built from the block references in order: ``Dataset.union`` (Ray 2.60, with
    ``preserve_order``) was seen to put the new block between the old ones when ``ds``
    had more than one block, and a global ``fit`` must see rows in ``_row`` order.
    """
    return ray.data.from_arrow_refs(list(ds.to_arrow_refs()) + [ray.put(table)]).materialize()


def _fate_counts(table: pa.Table) -> pa.Table:
    """Per-block counts: rejects by (stage, reason) and flags raised (kind, key, reason, n)."""
    kinds, keys, reasons, ns = [], [], [], []
    st = table.column("_stage")
    rejected = table.filter(pc.not_equal(st, ""))
    if rejected.num_rows:
        grouped = rejected.group_by(["_stage", "_reason"]).aggregate([("_stage", "count")])
        for row in grouped.to_pylist():
            kinds.append("drop")
            keys.append(row["_stage"])
            reasons.append(row["_reason"])
            ns.append(row["_stage_count"])
    flat = pc.list_flatten(table.column("flags"))
    if len(flat):
        for item in pc.value_counts(flat).to_pylist():
            kinds.append("flag")
            keys.append(item["values"])
            reasons.append("")
            ns.append(item["counts"])
    return pa.table({"kind": pa.array(kinds, pa.string()), "key": pa.array(keys, pa.string()),
                     "reason": pa.array(reasons, pa.string()), "n": pa.array(ns, pa.int64())})


def fate_counts(ds) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """Rejects by (stage, reason) and flag counts over the whole dataset.

    Each block is counted where it lives; only the small count tables reach the driver.
    """
    counts = ds.select_columns(["_stage", "_reason", "flags"]).map_batches(
        _fate_counts, batch_format="pyarrow", batch_size=None)
    dropped: dict[tuple[str, str], int] = {}
    flags: dict[str, int] = {}
    for row in counts.iter_rows():
        if row["kind"] == "drop":
            k = (row["key"], row["reason"])
            dropped[k] = dropped.get(k, 0) + row["n"]
        else:
            flags[row["key"]] = flags.get(row["key"], 0) + row["n"]
    return dropped, flags


def stage_steps(ds, group: list[str], live_in: int, injected: dict[str, int]) -> list[dict]:
    """Funnel steps of a group, computed exactly as the local engine does."""
    dropped_all, flag_counts = fate_counts(ds)
    return funnel_steps(group, live_in, injected, dropped_all, flag_counts)


class RowsView:
    """What :func:`pipeline.finalize.finalize` needs from a dataset, over a sorted Ray dataset.

    Batches stream from the cluster to the driver, which writes shards and rejects with
    the local engine's writers, so the files are byte-identical to a local run. Used for
    runs below ``engine.ray.write_min_rows`` rows; larger ones write on the cluster.
    """

    def __init__(self, ds, columns: list[str] | None = None):
        self.ds, self.columns = ds, columns

    def select_columns(self, columns: list[str]) -> "RowsView":
        return RowsView(self.ds, list(columns))

    def iter(self, batch_size: int) -> Iterator[dict]:
        src = self.ds.select_columns(self.columns) if self.columns else self.ds.drop_columns([ROW])
        for table in src.iter_batches(batch_size=batch_size, batch_format="pyarrow"):
            yield table.to_pydict()

    def __len__(self) -> int:
        return self.ds.count()
