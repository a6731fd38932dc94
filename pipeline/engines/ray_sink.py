"""The ray engine's finalize: curated shards and rejects written on the cluster, through a Ray Data sink.

:func:`finalize_ray` has the contract of :func:`pipeline.finalize.finalize` and gives the
same files, byte for byte (names, rows per shard, parquet/JSONL bytes, rejects rolled
every ``REJECT_FILE_LINES`` lines, ingest rejects first) and the same manifest entries.
The driver never sees a row; it handles one small table per block and one per file:

1. ``annotate`` (``map_batches``, one block at a time): each row gets its category
   (train, validation or rejected, exactly as finalize assigns them), its rank in that
   category within the block (blocks sorted by ``_row``), and the block's first ``_row``.
2. per-block partial counts (rows per category, highest ``_row``, score names,
   injected rows) reach the driver, which checks the blocks hold disjoint ``_row``
   ranges (else sorts and starts over) and turns the counts into per-block offsets
   (a prefix sum in ``_row`` order).
3. ``assign`` (``map_batches``): global rank = block offset + rank in block, hence the
   output file: shard ``rank // shard_rows`` of its split, or rejects file
   ``(ingest rejects + rank) // REJECT_FILE_LINES``.
4. ``groupby(file).map_groups``: each file's rows, in ``_row`` order, are encoded in one
   task with the local writers' encoders (:mod:`pipeline.io.writers`); a rejects file
   that holds ingest rejects reads them from the work folder. Files without rows
   (an empty train split, rejects files of ingest rejects only, an empty rejects file)
   are encoded by tasks from a small job list.
5. :class:`OutputFilesDatasink` (``Dataset.write_datasink``) writes every encoded file
   under ``OUT/.staging`` (temporary name, then rename) and reports its sha256; the
   driver renames ``curated/`` and ``rejected/`` into place, as finalize does.

The work and output folders must be visible to every worker (as for the ingest parts).
"""
from __future__ import annotations

import hashlib
import io
import itertools
import shutil
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import ray
from ray.data import Datasink
from ray.data.block import BlockAccessor

from pipeline.engines.ray_data import ROW
from pipeline.finalize import SPLITS, conclude, publish
from pipeline.io import writers
from pipeline.io.atomic import commit, tmp_path
from pipeline.io.columns import WORK_SCHEMA, shard_row, shard_schema
from pipeline.io.writers import (
    ingest_reject_line,
    reject_name,
    row_reject_line,
    shard_count,
    shard_name,
    write_jsonl_shard,
    write_parquet_shard,
)

REJECTED = 2  # category of rejected rows; 0 and 1 are the SPLITS
BLK, CAT, LOCAL, OUT = "_blk", "_cat", "_local", "_out"
KIND = 1 << 40  # _out = category * KIND + file number within the category
FILE_SCHEMA = pa.schema([("name", pa.string()), ("data", pa.large_binary()), ("rows", pa.int64())])
STATS_SCHEMA = pa.schema([("blk", pa.int64()), ("cat", pa.int64()), ("n", pa.int64()), ("max_row", pa.int64()),
                          ("keys", pa.string()), ("injected", pa.int64())])


# --- 1. categories and ranks within a block --------------------------------------------------

def _annotate(table: pa.Table) -> pa.Table:
    """Sort one block by ``_row`` and add its first ``_row``, each row's category and rank in it."""
    table = table.sort_by(ROW)
    n = table.num_rows
    cats = np.empty(n, np.int8)
    local = np.empty(n, np.int64)
    seen = [0, 0, 0]
    for i, (st, meta) in enumerate(zip(table.column("_stage").to_pylist(), table.column("meta").to_pylist())):
        if st:
            c = REJECTED
        else:
            split = orjson.loads(meta).get("split", "train") if meta else "train"
            c = 1 if split == SPLITS[1] else 0  # finalize: any other split goes to train
        cats[i], local[i] = c, seen[c]
        seen[c] += 1
    first = table.column(ROW)[0].as_py() if n else 0
    return (table.append_column(BLK, pa.array(np.full(n, first, np.int64)))
            .append_column(CAT, pa.array(cats)).append_column(LOCAL, pa.array(local)))


# --- 2. per-block partial counts ---------------------------------------------------------------

def _stats(table: pa.Table) -> pa.Table:
    """Rows and highest ``_row`` per (block, category); plus one row with score names and injected rows."""
    out = {f: [] for f in STATS_SCHEMA.names}
    if table.num_rows:
        grouped = table.group_by([BLK, CAT]).aggregate([(ROW, "count"), (ROW, "max")])
        for r in grouped.to_pylist():
            for f, v in (("blk", r[BLK]), ("cat", r[CAT]), ("n", r[f"{ROW}_count"]),
                         ("max_row", r[f"{ROW}_max"]), ("keys", ""), ("injected", 0)):
                out[f].append(v)
    keys: set[str] = set()
    live = table.filter(pc.not_equal(table.column(CAT), REJECTED))
    for scores in pc.unique(live.column("scores")).to_pylist() if live.num_rows else []:
        if scores and scores != "{}":
            keys.update(orjson.loads(scores))
    injected = pc.sum(pc.equal(table.column("origin"), "injected")).as_py() or 0
    for f, v in (("blk", -1), ("cat", -1), ("n", 0), ("max_row", -1),
                 ("keys", orjson.dumps(sorted(keys)).decode()), ("injected", injected)):
        out[f].append(v)
    return pa.table(out, schema=STATS_SCHEMA)


def _collect(annotated) -> dict:
    """Driver side: reduce the partials; ``sorted`` says the blocks hold disjoint ``_row`` ranges."""
    parts = annotated.select_columns([BLK, CAT, ROW, "scores", "origin"]).map_batches(
        _stats, batch_format="pyarrow", batch_size=None).take_all()
    counts: dict[int, list[int]] = {}
    last: dict[int, int] = {}
    keys: set[str] = set()
    injected = 0
    for r in parts:
        if r["cat"] < 0:
            keys.update(orjson.loads(r["keys"]))
            injected += r["injected"]
            continue
        counts.setdefault(r["blk"], [0, 0, 0])[r["cat"]] += r["n"]
        last[r["blk"]] = max(last.get(r["blk"], -1), r["max_row"])
    blks = sorted(counts)
    ok = all(last[a] < b for a, b in itertools.pairwise(blks))
    offsets = np.zeros((len(blks), 3), np.int64)
    total = np.zeros(3, np.int64)
    for i, b in enumerate(blks):
        offsets[i] = total
        total += counts[b]
    return {"sorted": ok, "blks": np.array(blks, np.int64), "offsets": offsets,
            "totals": [int(t) for t in total], "score_keys": sorted(keys), "injected": injected}


# --- 3. output file of every row -------------------------------------------------------------

def _assign(table: pa.Table, blks: np.ndarray, offsets: np.ndarray, shard_rows: int, n_ing: int,
            lines: int) -> pa.Table:
    blk = table.column(BLK).to_numpy()
    cat = table.column(CAT).to_numpy().astype(np.int64)
    rank = offsets[np.searchsorted(blks, blk), cat] + table.column(LOCAL).to_numpy()
    part = np.where(cat < REJECTED, rank // shard_rows, (n_ing + rank) // lines)
    return table.drop_columns([BLK, CAT, LOCAL]).append_column(OUT, pa.array(cat * KIND + part))


# --- 4. encoding one output file -------------------------------------------------------------

def _ingest_lines(spec: dict, start: int, stop: int) -> list[bytes]:
    """Ingest rejects ``start..stop-1`` (global line numbers), re-encoded as finalize does."""
    out: list[bytes] = []
    for path, first, n in spec["ingest"]:
        lo, hi = max(start, first), min(stop, first + n)
        if lo >= hi:
            continue
        with open(path, "rb") as fh:
            raw = fh.read().split(b"\n")
        out += [ingest_reject_line(line) for line in raw[lo - first:hi - first]]
    return out


def _encode(key: int, table: pa.Table | None, spec: dict) -> pa.Table:
    """The encoded file(s) of output key ``key`` from its rows (any order; None: no rows)."""
    cat, part = divmod(key, KIND)
    rows: dict[str, list] = {f: [] for f in WORK_SCHEMA.names}
    if table is not None and table.num_rows:
        rows = table.sort_by(ROW).select(WORK_SCHEMA.names).to_pydict()
    n = len(rows["id"])
    names = list(rows)
    out = {f: [] for f in FILE_SCHEMA.names}
    if cat == REJECTED:
        lines, n_ing, n_rej = spec["lines"], spec["n_ing"], spec["rejected_rows"]
        lo, hi = part * lines, (part + 1) * lines
        want = max(0, min(hi, n_ing + n_rej) - max(lo, n_ing))
        if n != want:
            raise RuntimeError(f"ray sink: rejects file {part} got {n} rows, expected {want}")
        body = _ingest_lines(spec, lo, min(hi, n_ing))
        body += [row_reject_line({k: rows[k][i] for k in names}) for i in range(n)]
        out["name"].append(f"rejected/{reject_name(part)}")
        out["data"].append(b"".join(body))
        out["rows"].append(len(body))
        return pa.table(out, schema=FILE_SCHEMA)
    split, shard_rows = SPLITS[cat], spec["shard_rows"]
    want = max(0, min(shard_rows, spec["totals"][cat] - part * shard_rows))
    if n != want:
        raise RuntimeError(f"ray sink: {split} shard {part} got {n} rows, expected {want}")
    schema = shard_schema(spec["score_keys"])
    cols: dict[str, list] = {f: [] for f in schema.names}
    for i in range(n):
        r = shard_row({k: rows[k][i] for k in names}, spec["score_keys"])
        for f, col in cols.items():
            col.append(r[f])
    n_shards = shard_count(spec["totals"][cat], shard_rows)
    if "parquet" in spec["formats"]:
        buf = pa.BufferOutputStream()
        write_parquet_shard(cols, schema, buf)
        out["name"].append(f"curated/{shard_name(split, part, n_shards, 'parquet')}")
        out["data"].append(buf.getvalue().to_pybytes())
        out["rows"].append(n)
    if "jsonl" in spec["formats"]:
        fh = io.BytesIO()
        write_jsonl_shard(cols, fh)
        out["name"].append(f"curated/{shard_name(split, part, n_shards, 'jsonl')}")
        out["data"].append(fh.getvalue())
        out["rows"].append(n)
    return pa.table(out, schema=FILE_SCHEMA)


def _encode_group(table: pa.Table, spec: dict) -> pa.Table:
    return _encode(table.column(OUT)[0].as_py(), table, spec)


def _encode_jobs(table: pa.Table, spec: dict) -> pa.Table:
    return pa.concat_tables([_encode(k, None, spec) for k in table.column(OUT).to_pylist()]
                            or [FILE_SCHEMA.empty_table()])


# --- 5. the sink -----------------------------------------------------------------------------

class OutputFilesDatasink(Datasink):
    """Writes ``{name, data, rows}`` rows as files ``folder/name`` (temporary name, then rename).

    Each write task returns ``{name, rows, sha256}`` per file; after the write,
    :attr:`written` holds them all (``on_write_complete`` runs on the driver).
    """

    def __init__(self, folder: Path):
        self.folder = str(folder)
        self.written: list[dict] | None = None

    def write(self, blocks, ctx) -> list[dict]:
        done = []
        for block in blocks:
            t = BlockAccessor.for_block(block).to_arrow()
            for i in range(t.num_rows):
                name, rows = t.column("name")[i].as_py(), t.column("rows")[i].as_py()
                data = t.column("data")[i].as_py()
                path = Path(self.folder) / name
                with open(tmp_path(path), "wb") as fh:
                    fh.write(data)
                commit(path)
                done.append({"name": name, "rows": rows, "sha256": hashlib.sha256(data).hexdigest()})
        return done

    def on_write_complete(self, write_result) -> None:
        self.written = [r for ret in write_result.write_returns for r in (ret or [])]


def _ingest_spans(files: list[str]) -> list[tuple[str, int, int]]:
    """``(path, first global line, lines)`` of each ingest rejects file, counted by Ray tasks."""
    count = ray.remote(lambda p: Path(p).read_bytes().count(b"\n"))
    ns = ray.get([count.remote(f) for f in files])
    spans, first = [], 0
    for f, n in zip(files, ns):
        spans.append((str(f), first, n))
        first += n
    return spans


def finalize_ray(ds, plan, ing: dict, funnel: list[dict], summaries: dict, versions: dict, read: int):
    """Write shards and rejects on the cluster; return ``(RunSummary, manifest dict without timings)``.

    Args:
        ds: The last Ray dataset, with the ``_row`` column, ideally sorted by it (as the
            engine does before writing); otherwise it is sorted here.
        plan: The run's :class:`pipeline.runner.Plan` (``out`` and ``cfg`` are used).
        ing, funnel, summaries, versions, read: As for :func:`pipeline.finalize.finalize`.
    """
    out, cfg = Path(plan.out), plan.cfg
    staging = out / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    (out / "manifest.json").unlink(missing_ok=True)
    for sub in ("curated", "rejected"):
        (staging / sub).mkdir(parents=True, exist_ok=True)
    lines = writers.REJECT_FILE_LINES

    for attempt in range(2):
        annotated = ds.map_batches(_annotate, batch_format="pyarrow", batch_size=None).materialize()
        info = _collect(annotated)
        if info["sorted"]:
            break
        if attempt:
            raise RuntimeError("ray sink: blocks overlap in _row order after sorting")
        ds = ds.sort(ROW).materialize()
    totals = info["totals"]
    spans = _ingest_spans(ing["reject_files"])
    n_ing = sum(n for _, _, n in spans)
    n_rej = totals[REJECTED]
    spec = {"shard_rows": cfg.shard_rows, "lines": lines, "score_keys": info["score_keys"],
            "formats": list(cfg.output_format), "totals": totals, "n_ing": n_ing, "rejected_rows": n_rej,
            "ingest": spans}

    # Every output file, and those that get rows from the dataset.
    splits = [c for c, s in enumerate(SPLITS) if totals[c] or s == "train"]
    expected = [c * KIND + i for c in splits for i in range(shard_count(totals[c], cfg.shard_rows))]
    n_files = max(1, -(-(n_ing + n_rej) // lines))
    expected += [REJECTED * KIND + f for f in range(n_files)]
    with_rows = {c * KIND + i for c in splits for i in range(-(-totals[c] // cfg.shard_rows))}
    if n_rej:
        with_rows |= {REJECTED * KIND + f for f in range(n_ing // lines, (n_ing + n_rej - 1) // lines + 1)}
    jobs = [k for k in expected if k not in with_rows]

    files = None
    if sum(totals):
        files = annotated.map_batches(
            _assign, fn_kwargs={"blks": info["blks"], "offsets": info["offsets"], "shard_rows": cfg.shard_rows,
                                "n_ing": n_ing, "lines": lines},
            batch_format="pyarrow", zero_copy_batch=True,
        ).groupby(OUT).map_groups(_encode_group, fn_kwargs={"spec": spec}, batch_format="pyarrow")
    if jobs:
        extra = ray.data.from_items([{OUT: k} for k in jobs]).map_batches(
            _encode_jobs, fn_kwargs={"spec": spec}, batch_format="pyarrow", batch_size=1)
        files = extra if files is None else files.union(extra)
    sink = OutputFilesDatasink(staging)
    files.write_datasink(sink)

    by_name = {}
    for r in sink.written or []:
        if r["name"] in by_name:
            raise RuntimeError(f"ray sink: {r['name']} written twice")
        by_name[r["name"]] = r
    shards, reject_names = [], []
    for k in expected:
        cat, part = divmod(k, KIND)
        if cat == REJECTED:
            reject_names.append(f"rejected/{reject_name(part)}")
            continue
        n_shards = shard_count(totals[cat], cfg.shard_rows)
        for ext in ("parquet", "jsonl"):
            if ext in cfg.output_format:
                name = f"curated/{shard_name(SPLITS[cat], part, n_shards, ext)}"
                shards.append({"path": name, "rows": by_name[name]["rows"], "sha256": by_name[name]["sha256"]})
    missing = [m for m in reject_names + [s["path"] for s in shards] if m not in by_name]
    if missing or len(by_name) != len(shards) + len(reject_names):
        raise RuntimeError(f"ray sink: files missing or unexpected: {missing or sorted(by_name)}")

    publish(staging, out)
    return conclude(out, cfg, ing, funnel, summaries, versions, read, rejected=n_ing + n_rej,
                    injected=info["injected"], splits={s: totals[c] for c, s in enumerate(SPLITS)},
                    shards=shards, rejects=reject_names)
