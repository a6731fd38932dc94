"""The local engine: HF ``datasets`` Arrow storage (memory-mapped checkpoints), batched map, ``num_proc``.

Every stage maps over the whole table; rows rejected earlier pass through untouched,
so each stage's output is a complete checkpoint (one Arrow file per shard) that
``--resume`` can reload with ``datasets.Dataset.from_file``.
"""
from __future__ import annotations

import collections
import itertools
import logging
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.engines import arrow_apply
from pipeline.engines.apply import funnel_steps
from pipeline.io.columns import WORK_SCHEMA, decode, work_table
from pipeline.progress import bar as progress_bar

BATCH = 1000
ARROW_BATCH = 20_000  # rows per map batch when every stage of the pass has an Arrow path
FIT_BATCH = 5_000  # rows per batch handed to a global stage's fit() (small: feature workers start sooner)
PARALLEL_FIT_MIN_ROWS = 10_000  # fewer live rows: fit_features runs in the main process
FIT_PIECE = 2_500  # rows per fit_features task
logging.getLogger("datasets").setLevel(logging.ERROR)


def load(files: list[str]) -> datasets.Dataset:
    """Reload a checkpoint from its Arrow files, in order."""
    parts = [datasets.Dataset.from_file(f) for f in files]
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def files_of(ds: datasets.Dataset) -> list[str]:
    return [c["filename"] for c in ds.cache_files]


class ArrowFiles:
    """Rows of a checkpoint streamed from its Arrow files, batch by batch.

    Sequential passes over whole rows (a global ``fit``, writing outputs) read the files
    with plain buffered reads: no memory map whose touched pages count as resident
    memory, and no concatenated in-memory copy, so memory stays flat as corpora grow.
    It offers the two ``datasets`` calls the writers use: ``select_columns`` and ``iter``.
    """

    def __init__(self, files: list[str], columns: list[str] | None = None):
        self.files, self.columns = list(files), columns

    def select_columns(self, columns: list[str]) -> ArrowFiles:
        return ArrowFiles(self.files, list(columns))

    def batches(self) -> Iterator[pa.RecordBatch]:
        for f in self.files:
            with pa.OSFile(f) as src:
                for rb in pa.ipc.open_stream(src):
                    yield rb.select(self.columns) if self.columns else rb

    def iter(self, batch_size: int = 10_000) -> Iterator[dict]:
        """Python batches of roughly ``batch_size`` rows, in order."""
        pending: list[pa.RecordBatch] = []
        rows = 0
        for rb in self.batches():
            pending.append(rb)
            rows += rb.num_rows
            if rows >= batch_size:
                yield pa.Table.from_batches(pending).to_pydict()
                pending, rows = [], 0
        if rows:
            yield pa.Table.from_batches(pending).to_pydict()


def live_batches(ds: datasets.Dataset, batch_size: int = FIT_BATCH,
                 columns: list[str] | None = None) -> Iterator[dict]:
    """Canonical batches (decoded scores/meta) of the rows that are still live, in order.

    ``columns`` limits the fields read (a global stage's ``fit_columns``), which saves
    converting every text column to Python when a stage only needs ids.
    """
    cols = None if columns is None else list(dict.fromkeys(["_stage", *columns]))
    for batch in ArrowFiles(files_of(ds), cols).iter(batch_size):
        live = [i for i, s in enumerate(batch["_stage"]) if not s]
        if live:
            yield decode(batch, live, columns)


def _small_columns(files: list[str], columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Record batches of a few small columns: the files are memory-mapped, so only those
    columns' pages are read (a buffered stream read would go through every text column)."""
    for f in files:
        with pa.memory_map(f) as src:
            for rb in pa.ipc.open_stream(src):
                yield rb.select(columns)


def live_tables(ds: datasets.Dataset, columns: list[str]) -> Iterator[pa.Table]:
    """Arrow tables of a few small ``columns`` for the rows still live, in order (for ``fit_arrow``)."""
    for rb in _small_columns(files_of(ds), list(dict.fromkeys(["_stage", *columns]))):
        t = pa.Table.from_batches([rb])
        live = pc.equal(t.column("_stage"), "")
        yield (t if pc.all(live).as_py() else t.filter(live)).select(list(columns))


_FEATURE_PROC = None  # the processor fork()ed feature workers compute with


def _features(batch: dict) -> list:
    proc = _FEATURE_PROC
    if not getattr(proc, "_setup_done", False):
        proc.setup()
        proc._setup_done = True
    return proc.fit_features(batch)


def with_fit_features(batches: Iterator[dict], proc, num_proc: int, window: int = 2) -> Iterator[dict]:
    """Add ``batch["_fit"]``, the stage's per-row ``fit_features``, computed in ``num_proc`` processes.

    A global stage's ``fit`` runs in the main process; the per-row part of it (tagging,
    classification) is what costs, and it does not depend on other rows. Stages that
    split it out as ``fit_features(batch) -> list`` get it computed in parallel here,
    in pieces of ``FIT_PIECE`` rows, and batches come out in input order.
    The work overlaps: pieces of a batch go to the workers as soon as it is read, and
    ``fit`` consumes a batch as soon as its features are back, while the workers go on
    with the next ones; at most ``window`` batches per worker are in flight, so memory
    stays bounded.
    ``fit`` uses ``batch["_fit"]`` when present and computes the features itself otherwise.
    """
    global _FEATURE_PROC

    if "fork" not in multiprocessing.get_all_start_methods():  # e.g. Windows: fit computes them itself
        yield from batches
        return
    _FEATURE_PROC = proc
    piece = FIT_PIECE
    inflight: collections.deque = collections.deque()

    def done() -> dict:
        batch, results = inflight.popleft()
        batch["_fit"] = [f for r in results for f in r.get()]
        return batch

    try:
        with multiprocessing.get_context("fork").Pool(num_proc) as pool:
            for batch in batches:
                inflight.append((batch, [pool.apply_async(_features, ({k: v[a:a + piece] for k, v in batch.items()},))
                                         for a in range(0, len(batch["id"]), piece)]))
                while len(inflight) > num_proc * window or (inflight and all(r.ready() for r in inflight[0][1])):
                    yield done()
            while inflight:
                yield done()
    finally:  # also when fit() stops reading early
        _FEATURE_PROC = None


def append(ds: datasets.Dataset, records: list[dict], path: Path) -> datasets.Dataset:
    """Append new canonical records (injections) as another Arrow file."""
    if not records:
        return ds
    table = work_table(records)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, WORK_SCHEMA) as w:
        w.write_table(table)
    return datasets.concatenate_datasets([ds, datasets.Dataset.from_file(str(path))])


_CHAINS: dict[str, list] = {}  # map chains by fingerprint, inherited by fork()ed map workers


def apply_table(table: pa.Table, chain: list | None = None, key: str = "") -> pa.Table:
    """Fused stages over an Arrow batch (see :mod:`pipeline.engines.arrow_apply`).

    ``chain`` is ``None`` in fork()ed workers, which find it under ``key`` in ``_CHAINS``.
    """
    return arrow_apply.run(table, _CHAINS[key] if chain is None else chain)


def batch_rows(chain: list) -> int:
    """Rows per map batch: large when every stage works on Arrow (per-batch overhead dominates)."""
    return ARROW_BATCH if all(hasattr(p, "process_arrow") for _, p in chain) else BATCH


def map_stages(ds: datasets.Dataset, chain: list, out_file: Path, num_proc: int,
               fingerprint: str, progress: bool) -> datasets.Dataset:
    """Run fused stages over every row in one pass; returns the new checkpointed dataset.

    With ``num_proc > 1`` the rows are cut into contiguous shards of about equal work
    (live rows weighted by text length: rows an earlier stage rejected cost nothing, and
    they cluster, e.g. the near-duplicate tail of a corpus), and ``num_proc`` fork()ed
    workers each map one shard at a time, window by window (:func:`_window`), into its own
    Arrow file. The workers inherit ``chain`` as it is in this process (fitted state,
    set-up lexicons and caches) instead of receiving a pickled copy, which would drop
    every "_" attribute (see ``Stage.__getstate__``) and redo ``setup()`` per worker.
    Row order, and so every output, is the same for any ``num_proc``.
    """
    datasets.disable_progress_bars()
    desc = "+".join(s for s, _ in chain)
    _CHAINS[fingerprint] = chain
    _SOURCES[fingerprint] = source = (files_of(ds), _file_rows(files_of(ds)))
    try:
        bar = progress_bar(progress, desc, len(ds))
        if num_proc <= 1 or len(ds) < 2 * BATCH or "fork" not in multiprocessing.get_all_start_methods():
            _map_range(source, fingerprint, str(out_file), 0, len(ds), bar)
            files = [str(out_file)]
        else:
            bounds = shard_bounds(ds, max(num_proc * SHARDS_PER_PROC, -(-len(ds) // WINDOW_ROWS)))
            stem = out_file.with_suffix("")
            jobs = [(fingerprint, a, b, f"{stem}_{i:05d}_of_{len(bounds):05d}.arrow")
                    for i, (a, b) in enumerate(bounds)]
            files = []
            with multiprocessing.get_context("fork").Pool(min(num_proc, len(jobs))) as pool:
                for path, rows in pool.imap(_map_job, jobs):
                    files.append(path)
                    if bar is not None:
                        bar.update(rows)
        if bar is not None:
            bar.close()
        return load(files)
    finally:
        _CHAINS.pop(fingerprint, None)
        _SOURCES.pop(fingerprint, None)


SHARDS_PER_PROC = 3  # contiguous shards per worker: the pool hands them out as workers free up
WINDOW_ROWS = 100_000  # rows a map worker reads at a time; a parallel pass has at least rows / WINDOW_ROWS shards
_SOURCES: dict[str, tuple[list[str], list[int]]] = {}  # checkpoint files and their row counts, for map workers


def shard_bounds(ds: datasets.Dataset, pieces: int) -> list[tuple[int, int]]:
    """Contiguous ``[a, b)`` row ranges of about equal work, in order, none empty.

    A live row weighs its instruction + input + output length plus a constant for the
    per-row overhead; a rejected row weighs a little (it is only carried through).
    """
    n = len(ds)
    t = ds.data.table
    live = pc.equal(t.column("_stage"), "").to_numpy(zero_copy_only=False)
    size = sum(pc.binary_length(t.column(c)).to_numpy(zero_copy_only=False).astype(np.int64)
               for c in ("instruction", "input", "output"))
    cum = np.cumsum(np.where(live, size + 400, 4), dtype=np.float64)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, pieces) / pieces, side="right")
    edges = sorted({0, n, *(int(c) for c in cuts)})
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def _file_rows(files: list[str]) -> list[int]:
    """Rows per checkpoint file (only the batch headers are read)."""
    counts = []
    for f in files:
        with pa.memory_map(f) as src:
            counts.append(sum(rb.num_rows for rb in pa.ipc.open_stream(src)))
    return counts


def _window(source: tuple[list[str], list[int]], a: int, b: int) -> pa.Table:
    """Rows ``[a, b)`` of the checkpoint, zero-copy from memory maps opened for this window alone.

    The maps close when the window's table is freed, so pages a worker has read stop
    counting as its resident memory: a worker holds one window, not the corpus.
    """
    parts, pos = [], 0
    for f, n in zip(*source):
        lo, hi = max(a, pos), min(b, pos + n)
        if lo < hi:
            with pa.memory_map(f) as src:
                parts.append(pa.ipc.open_stream(src).read_all().slice(lo - pos, hi - lo))
        pos += n
    return pa.concat_tables(parts) if parts else WORK_SCHEMA.empty_table()


def _map_range(source: tuple[list[str], list[int]], key: str, path: str, a: int, b: int, bar=None) -> None:
    """Rows ``[a, b)`` of the checkpoint through the chain under ``key``, written to ``path`` as an Arrow stream.

    Rows are read window by window (:func:`_window`) and written with pyarrow's IPC writer,
    the format ``datasets.Dataset.from_file`` loads; the file appears complete or not at all.
    """
    rows = batch_rows(_CHAINS[key])
    tmp = f"{path}.tmp"
    with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_stream(sink, WORK_SCHEMA) as writer:
        for w in range(a, b, WINDOW_ROWS):
            table = _window(source, w, min(b, w + WINDOW_ROWS))
            for start in range(0, table.num_rows, rows):
                n = min(rows, table.num_rows - start)
                writer.write_table(apply_table(table.slice(start, n), key=key))
                if bar is not None:
                    bar.update(n)
            del table
    os.replace(tmp, path)


def _map_job(job: tuple) -> tuple[str, int]:
    """In a fork()ed worker: map rows ``[a, b)`` of the inherited source into ``path``."""
    key, a, b, path = job
    _map_range(_SOURCES[key], key, path, a, b)
    return path, b - a


def stage_steps(ds: datasets.Dataset, group: list[str], live_in: int, injected: dict[str, int]) -> list[dict]:
    """Funnel steps of a fused group: in/out per stage, drops by reason, flags raised."""
    flag_counts: dict[str, int] = {}
    dropped_all: dict[tuple[str, str], int] = {}
    for rb in _small_columns(files_of(ds), ["_stage", "_reason", "flags"]):
        flat = pc.list_flatten(rb.column("flags"))
        if len(flat):
            for item in pc.value_counts(flat).to_pylist():
                flag_counts[item["values"]] = flag_counts.get(item["values"], 0) + item["counts"]
        table = pa.Table.from_batches([rb])
        rejected = table.filter(pc.not_equal(table.column("_stage"), ""))
        if rejected.num_rows:
            grouped = rejected.group_by(["_stage", "_reason"]).aggregate([("_reason", "count")])
            for st, reason, n in zip(*(grouped.column(c).to_pylist() for c in ("_stage", "_reason", "_reason_count"))):
                dropped_all[(st, reason)] = dropped_all.get((st, reason), 0) + n
    return funnel_steps(group, live_in, injected, dropped_all, flag_counts)
