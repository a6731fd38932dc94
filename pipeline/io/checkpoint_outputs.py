"""Curated shards and rejects written straight from a checkpoint's Arrow files, in parallel.

This is how :func:`pipeline.finalize.finalize` writes a local checkpoint; the files are
the ones its row-by-row path writes, byte for byte (that path is the reference).

1. Index (one job per checkpoint file): the byte offset and rows of every record batch,
   each row's category (train, validation or rejected, as finalize assigns them), the
   injected rows, and the score names of live rows.
2. Plan: shard ``i`` of a split holds that split's rows ``[i * shard_rows, (i + 1) * shard_rows)``
   in checkpoint order; rejects file ``k`` holds lines ``[k * L, (k + 1) * L)`` of the
   ingest rejects followed by the rejected rows (``L`` = ``REJECT_FILE_LINES``). From the
   per-batch counts each output file gets the batches, and the rows in them, it needs.
3. Write (one job per output file): read those batches back by offset, build the shard
   table (:func:`pipeline.io.shard_table.shard_table`) or the rejects lines, encode, hash,
   write under a temporary name and rename.

Jobs run in ``num_proc`` fork()ed workers (in this process when ``num_proc`` is 1, or
without fork(), e.g. on Windows); each holds one output file's rows at a time. Results come back in job
order, so nothing depends on ``num_proc``.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.io import writers
from pipeline.io.atomic import commit, sha256_file, tmp_path
from pipeline.io.columns import ENGINE_COLS, SPLITS, WORK_SCHEMA, split_of
from pipeline.io.shard_table import blank_json, shard_table
from pipeline.io.stream_index import BatchReader, scan, schema_of
from pipeline.record import FIELDS

REJECTED = len(SPLITS)  # category of rejected rows; the splits are 0 and 1
_REJECT_COLS = list(FIELDS) + list(ENGINE_COLS)


@dataclass
class _Batch:
    """One record batch of the checkpoint: where it is, its rows, and each row's category."""

    path: str
    offset: int
    rows: int
    cats: np.ndarray | None  # int8 per row; None when every row is train
    counts: tuple[int, int, int]  # rows per category


def readable(files: list[str]) -> bool:
    """Whether every file is an Arrow stream with the work schema's columns and types (extra
    columns are fine) and nothing dictionary-encoded: what this module reads."""
    for f in files:
        schema = schema_of(f)
        for field in WORK_SCHEMA:
            i = schema.get_field_index(field.name)
            if i < 0 or not schema.field(i).type.equals(field.type, check_metadata=True):
                return False
        if any(_has_dictionary(t.type) for t in schema):
            return False
    return True


def _has_dictionary(t: pa.DataType) -> bool:
    return pa.types.is_dictionary(t) or any(_has_dictionary(t.field(i).type) for i in range(t.num_fields))


def write_outputs(files: list[str], staging: Path, shard_rows: int, formats: list[str],
                  ingest_rejects: list[str], num_proc: int = 1) -> dict:
    """Write ``staging/curated`` and ``staging/rejected`` from the checkpoint ``files``.

    Returns ``{"totals", "shards", "rejects", "rejected", "injected"}``: rows per split,
    the manifest's shard entries, the rejects files, rejects lines and injected rows.
    """
    (staging / "curated").mkdir(parents=True, exist_ok=True)
    (staging / "rejected").mkdir(parents=True, exist_ok=True)
    lines_per_file = writers.REJECT_FILE_LINES
    n_ing = sum(_count_lines(f) for f in ingest_rejects)
    with _Workers(num_proc) as workers:
        batches, injected, keys = [], 0, set()
        for b, inj, k in workers.map(_index_file, files):
            batches += b
            injected += inj
            keys |= k
        score_keys = sorted(keys)
        counts = np.array([b.counts for b in batches], np.int64).reshape(-1, 3)
        before = np.cumsum(counts, axis=0) - counts  # rows of each category ahead of each batch
        totals = [int(t) for t in counts.sum(axis=0)]

        def pieces(cat: int, lo: int, hi: int) -> list[tuple]:
            return _pieces(batches, counts[:, cat], before[:, cat], cat, lo, hi)

        rejects_jobs = []
        for k in range(max(1, -(-(n_ing + totals[REJECTED]) // lines_per_file))):
            lo, hi = k * lines_per_file, (k + 1) * lines_per_file
            path = staging / "rejected" / writers.reject_name(k)
            rows = pieces(REJECTED, max(0, lo - n_ing), max(0, hi - n_ing))
            rejects_jobs.append((_write_rejects, (path, ingest_rejects, min(lo, n_ing), min(hi, n_ing), rows)))
        shard_jobs = []
        for c, split in enumerate(SPLITS):
            if not totals[c] and split != "train":
                continue
            n_shards = writers.shard_count(totals[c], shard_rows)
            for i in range(n_shards):
                rows = pieces(c, i * shard_rows, (i + 1) * shard_rows)
                shard_jobs.append((_write_shard, (staging / "curated", split, i, n_shards, rows, score_keys, formats)))
        # Rejects first: their lines are encoded in Python, the longest jobs when there are many.
        done = workers.map(_call, rejects_jobs + shard_jobs)
    return {"totals": dict(zip(SPLITS, totals)), "shards": [e for entries in done[len(rejects_jobs):] for e in entries],
            "rejects": [job[1][0] for job in rejects_jobs], "rejected": n_ing + totals[REJECTED],
            "injected": injected}


def _count_lines(path: str) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def _index_file(path: str) -> tuple[list[_Batch], int, set[str]]:
    """Batches of one checkpoint file with their rows' categories; injected rows; score names of live rows."""
    batches, injected, keys = [], 0, set()
    for offset, rb in scan(path):
        rejected = pc.fill_null(pc.not_equal(rb.column("_stage"), ""), False).to_numpy(zero_copy_only=False)
        cats = np.where(rejected, REJECTED, 0).astype(np.int8)
        meta = rb.column("meta")
        todo = np.flatnonzero(~rejected & ~blank_json(meta))
        for i, m in zip(todo.tolist(), meta.take(pa.array(todo)).to_pylist()):
            cats[i] = SPLITS.index(split_of(m))
        scores = pc.unique(rb.column("scores").filter(pa.array(~rejected)))
        for s in scores.filter(pa.array(~blank_json(scores))).to_pylist():
            keys.update(orjson.loads(s))
        injected += pc.sum(pc.equal(rb.column("origin"), "injected")).as_py() or 0
        counts = np.bincount(cats, minlength=3)
        batches.append(_Batch(path, offset, rb.num_rows, cats if counts[0] < rb.num_rows else None,
                              tuple(int(x) for x in counts)))
    return batches, injected, keys


def _pieces(batches: list[_Batch], counts: np.ndarray, before: np.ndarray, cat: int, lo: int,
            hi: int) -> list[tuple]:
    """``(path, offset, rows or None for all)`` of the batches holding ranks ``[lo, hi)`` of category
    ``cat``; ``counts`` and ``before`` are each batch's rows of ``cat`` and those ahead of it."""
    out = []
    for j in np.flatnonzero((counts > 0) & (before < hi) & (before + counts > lo)):
        b, first = batches[j], int(before[j])
        rows = np.arange(b.rows) if b.cats is None else np.flatnonzero(b.cats == cat)
        rows = rows[max(0, lo - first):hi - first]
        out.append((b.path, b.offset, None if len(rows) == b.rows else rows.astype(np.int32)))
    return out


def _rows(pieces: list[tuple], columns: list[str]) -> pa.RecordBatch:
    """The rows ``pieces`` name, as one contiguous batch (one chunk per column, one copy of the text)."""
    if not pieces:
        return pa.RecordBatch.from_pylist([], schema=WORK_SCHEMA).select(columns)
    with BatchReader() as reader:
        batches = [reader.read(path, offset).select(columns) for path, offset, _ in pieces]
    table = pa.Table.from_batches(batches)
    if any(rows is not None for _, _, rows in pieces):
        starts = np.cumsum([0] + [b.num_rows for b in batches[:-1]])
        take = np.concatenate([first + (np.arange(b.num_rows) if rows is None else rows)
                               for first, b, (_, _, rows) in zip(starts, batches, pieces)])
        table = table.take(pa.array(take))
    del batches
    return table.combine_chunks().to_batches()[0]


def _write_shard(folder: Path, split: str, index: int, n_shards: int, pieces: list[tuple],
                 score_keys: list[str], formats: list[str]) -> list[dict]:
    """Write one curated shard in each format; its manifest entries ``{path, rows, sha256}``."""
    table = shard_table(_rows(pieces, list(FIELDS)), score_keys)
    entries = []
    for fmt in ("parquet", "jsonl"):
        if fmt not in formats:
            continue
        path = folder / writers.shard_name(split, index, n_shards, fmt)
        if fmt == "parquet":
            writers.write_parquet_table(table, tmp_path(path))
        else:
            with open(tmp_path(path), "wb") as fh:
                writers.write_jsonl_shard(table.to_pydict(), fh)
        commit(path)
        entries.append({"path": os.path.join(folder.name, path.name), "rows": table.num_rows,
                        "sha256": sha256_file(path)})
    return entries


def _write_rejects(path: Path, ingest_rejects: list[str], lo: int, hi: int, pieces: list[tuple]) -> None:
    """Write one rejects file: ingest rejects lines ``[lo, hi)``, then the rejected rows in ``pieces``."""
    with open(tmp_path(path), "wb") as fh:
        ingest = itertools.chain.from_iterable(_lines(f) for f in ingest_rejects)
        fh.writelines(writers.ingest_reject_line(line) for line in itertools.islice(ingest, lo, hi))
        with BatchReader() as reader:
            for file, offset, rows in pieces:
                rb = reader.read(file, offset).select(_REJECT_COLS)
                rb = rb if rows is None else rb.take(pa.array(rows))
                fh.writelines(writers.row_reject_line(row) for row in rb.to_pylist())
    commit(path)


def _lines(path: str):
    with open(path, "rb") as fh:
        yield from fh


def _call(job: tuple):
    fn, args = job
    return fn(*args)


class _Workers:
    """``map(fn, jobs)`` in up to ``num_proc`` fork()ed processes, started at the first map with
    more than one job (in this process for one job, ``num_proc`` 1, or where fork() is missing);
    results in job order."""

    def __init__(self, num_proc: int):
        self.num_proc = num_proc if "fork" in multiprocessing.get_all_start_methods() else 1
        self.pool = None

    def map(self, fn, jobs: list) -> list:
        if self.num_proc <= 1 or len(jobs) <= 1:
            return [fn(j) for j in jobs]
        if self.pool is None:
            self.pool = multiprocessing.get_context("fork").Pool(min(self.num_proc, len(jobs)))
        return self.pool.map(fn, jobs, chunksize=1)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self.pool is not None:
            if exc_type is None:
                self.pool.close()
            else:
                self.pool.terminate()
            self.pool.join()
