"""``dedup``'s fit on a Ray cluster: shuffles and aggregates instead of a pass on the driver.

The verdicts, ``duplicate_of``, details, flags and the stage summary are the local
engine's (:class:`pipeline.processors.dedup.Dedup`), because every decision is made
by the same code; only where the inputs of those decisions are computed changes.

Exact duplicates
    ``groupby(id).count()`` finds the ids that occur more than once among the live
    rows; only the rows of those ids (id, source, ``_row``) reach the driver, which
    runs :meth:`Dedup.exact_decide` over them in ``_row`` order: the first
    occurrence wins, exactly as in the local fit.

Near duplicates
    1. ``map_batches`` on the workers shingles and signs every live, non-duplicate
       row (:func:`pipeline.neardup.detector.sign_records`: the local MinHash
       permutations and seed) and emits one row per (band, bucket key)
       (:func:`pipeline.neardup.lsh.band_keys`: datasketch's band bytes). A row
       whose key has no shingle emits its normalised key text instead (the local
       exact fallback) or, with an empty key, a marker that matches nothing.
    2. ``groupby(bucket key).count()`` (a hash shuffle) keeps the keys held by two
       or more rows; the band rows of those keys, a small edge list, come back to
       the driver as buckets, ordered as datasketch's tables iterate them (band by
       band, each band's buckets by first member).
    3. ``map_batches`` computes, for the candidate rows only (members of some
       bucket), their sorted shingle hashes and the few facts the representative
       policy and conflict checks use. The driver feeds them to
       :meth:`NearDupDetector.add_candidates` and runs the local clustering
       (:meth:`NearDupDetector.cluster`): the same exact-Jaccard verification,
       union-find, representative and conflict rules, and the same counters.

Document numbers are ``_row`` values (mapped to positions in the candidate list),
which order rows exactly as the local detector's numbers do; every tie-break and
the bucket order depend only on that order, so the clusters are the local ones.
The driver never receives the rows that are in no bucket, nor any text.
"""
from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
from ray.data.context import ShuffleStrategy

from pipeline.io.columns import decode
from pipeline.neardup.config import NearDupConfig
from pipeline.neardup.detector import CandidateDoc, doc_facts, fallback_key, sign_records
from pipeline.neardup.lsh import band_keys
from pipeline.processor import iter_rows
from pipeline.processors.dedup import Dedup, row_key

ROW = "_row"
BATCH = 10_000  # rows per signature batch (the local detector's default chunk)
FALLBACK, EMPTY = -1, -2  # ``band`` of a no-shingle row: exact-text key, or an empty key
_FALLBACK_PREFIX = b"\xff\xff"
_EMPTY_KEY = b"\xff\xfe"

SHUFFLES = {"sort": ShuffleStrategy.SORT_SHUFFLE_PULL_BASED,
            "hash": getattr(ShuffleStrategy, "SHUFFLE_V2", ShuffleStrategy.HASH_SHUFFLE)}

BAND_SCHEMA = pa.schema([("bkey", pa.binary()), ("band", pa.int32()), (ROW, pa.int64())])
FACT_SCHEMA = pa.schema([
    (ROW, pa.int64()), ("id", pa.string()), ("rk_file", pa.string()), ("rk_index", pa.int64()),
    ("where", pa.string()), ("quality", pa.float64()), ("output_len", pa.int64()),
    ("numbers", pa.int64()), ("shingles", pa.list_(pa.uint64())),
])


def _live(table: pa.Table, drop_rows: np.ndarray | None = None, keep_rows: np.ndarray | None = None) -> pa.Table:
    """Live rows of a block, minus ``drop_rows`` / restricted to ``keep_rows`` (``_row`` values)."""
    mask = pc.equal(table.column("_stage"), "")
    if drop_rows is not None and len(drop_rows):
        mask = pc.and_(mask, pc.invert(pc.is_in(table.column(ROW), pa.array(drop_rows, pa.int64()))))
    if keep_rows is not None:
        mask = pc.and_(mask, pc.is_in(table.column(ROW), pa.array(keep_rows, pa.int64())))
    return table.filter(mask)


def _records(table: pa.Table, columns: Sequence[str]) -> list[dict]:
    """Canonical records (decoded scores) of an already filtered block."""
    batch = table.select(list(columns)).to_pydict()
    return list(iter_rows(decode(batch, list(range(table.num_rows)), columns)))


def _shared(ds, key: str, group: tuple) -> pa.Table:
    """Values of ``key`` held by two or more rows: ``groupby(key).count()``, filtered on the workers.

    ``group`` is (shuffle strategy, partitions). A dataset reads its strategy from the
    context it was created with (shared with every dataset derived from it), so the
    strategy is set there for this one execution and restored afterwards.
    """
    strategy, partitions = group
    ctx = ds.context
    saved = ctx.shuffle_strategy
    ctx.shuffle_strategy = strategy
    try:
        counts = ds.groupby(key, num_partitions=partitions).count()
        return _collect(counts.map_batches(
            lambda t: t.filter(pc.greater(t.column("count()"), 1)).select([key]),
            batch_format="pyarrow", batch_size=None))
    finally:
        ctx.shuffle_strategy = saved


def _collect(ds) -> pa.Table:
    """A (small) dataset on the driver as one table."""
    refs = ds.to_arrow_refs()
    tables = [t for t in ray.get(refs) if t.num_rows]
    return pa.concat_tables(tables) if tables else pa.table({})


# ---- exact duplicates ---------------------------------------------------------------

def _ids(table: pa.Table) -> pa.Table:
    return _live(table).select(["id"])


def _rows_of_ids(table: pa.Table, ids: pa.Array) -> pa.Table:
    live = _live(table)
    return live.filter(pc.is_in(live.column("id"), ids)).select(["id", "source", ROW])


def exact(proc: Dedup, ds, group: tuple) -> tuple[dict, dict, np.ndarray, int]:
    """Exact-duplicate decisions from a shuffle on ``id``.

    Returns:
        (``first``, ``dupes`` for :meth:`Dedup.install`, ``_row`` of every duplicate,
        rows of repeated ids that reached the driver)
    """
    repeated = _shared(ds.map_batches(_ids, batch_format="pyarrow", batch_size=None), "id", group)
    if not repeated.num_rows:
        return {}, {}, np.zeros(0, np.int64), 0
    ids = repeated.column("id").combine_chunks()
    rows = _collect(ds.map_batches(_rows_of_ids, fn_args=(ids,), batch_format="pyarrow", batch_size=None))
    rows = rows.sort_by(ROW)
    flags, first, dupes = proc.exact_decide(zip(rows.column("id").to_pylist(), rows.column("source").to_pylist()))
    dup_rows = np.asarray(rows.column(ROW).to_numpy(), np.int64)[np.asarray(flags, bool)]
    return first, dupes, dup_rows, rows.num_rows


# ---- near duplicates ----------------------------------------------------------------

def _band_rows(table: pa.Table, cfg: NearDupConfig, hashranges: list, columns: list,
               dup_rows: np.ndarray) -> pa.Table:
    """One row per (band, bucket key) of every live row that is no exact duplicate."""
    live = _live(table, drop_rows=dup_rows)
    keys: list[bytes] = []
    bands: list[int] = []
    rows: list[int] = []
    all_rows = live.column(ROW).to_pylist()
    for lo in range(0, live.num_rows, BATCH):
        chunk_rows = all_rows[lo:lo + BATCH]
        docs, nkey, _, _, key_counts, sigs = sign_records(_records(live.slice(lo, BATCH), columns), cfg)
        signed = np.flatnonzero(key_counts > 0)
        per_band = band_keys(sigs[signed], hashranges)
        signed_rows = [chunk_rows[i] for i in signed.tolist()]
        for b, band in enumerate(per_band):
            prefix = struct.pack(">H", b)
            keys += [prefix + k for k in band]
            bands += [b] * len(band)
            rows += signed_rows
        for i in np.flatnonzero(key_counts == 0).tolist():
            text = fallback_key(docs[i], nkey)
            keys.append(_FALLBACK_PREFIX + text.encode("utf-8", "surrogatepass") if text else _EMPTY_KEY)
            bands.append(FALLBACK if text else EMPTY)
            rows.append(chunk_rows[i])
    return pa.table({"bkey": pa.array(keys, pa.binary()), "band": pa.array(bands, pa.int32()),
                     ROW: pa.array(rows, pa.int64())}, schema=BAND_SCHEMA)


def _band_tally(table: pa.Table) -> pa.Table:
    """Rows per ``band`` value in one block (combined on the driver)."""
    return table.group_by("band").aggregate([("band", "count")])


def _rows_of_keys(table: pa.Table, keys: pa.Array) -> pa.Table:
    return table.filter(pc.is_in(table.column("bkey"), keys))


def _facts(table: pa.Table, cfg: NearDupConfig, columns: list, candidates: np.ndarray) -> pa.Table:
    """Shingles and clustering facts of the candidate rows of one block."""
    live = _live(table, keep_rows=candidates)
    if not live.num_rows:
        return FACT_SCHEMA.empty_table()
    recs = _records(live, columns)
    _, _, hashes, offsets, _, _ = sign_records(recs, cfg)
    shingles = [np.unique(hashes[offsets[i]:offsets[i + 1]]) for i in range(len(recs))]
    cols: dict[str, list] = {c: [] for c in FACT_SCHEMA.names if c not in (ROW, "shingles")}
    for rec in recs:
        rid, where, quality, output_len, numbers = doc_facts(rec, cfg)
        rk_file, rk_index, _ = row_key(rid, rec["source"])
        for c, v in zip(("id", "rk_file", "rk_index", "where", "quality", "output_len", "numbers"),
                        (rid, rk_file, rk_index, where, quality, output_len, numbers)):
            cols[c].append(v)
    lengths = np.array([s.size for s in shingles], np.int32)
    flat = np.concatenate(shingles) if shingles else np.zeros(0, np.uint64)
    shingle_col = pa.ListArray.from_arrays(pa.array(np.concatenate(([0], np.cumsum(lengths))), pa.int32()),
                                           pa.array(flat, pa.uint64()))
    data = {ROW: live.column(ROW), **{c: pa.array(v, FACT_SCHEMA.field(c).type) for c, v in cols.items()},
            "shingles": shingle_col}
    return pa.table(data, schema=FACT_SCHEMA)


def buckets_from(rows: pa.Table) -> tuple[list[tuple[int, list[int]]], list[list[int]]]:
    """Band rows of shared keys -> (``(band, sorted rows)`` per LSH bucket in datasketch's
    iteration order, sorted rows per no-shingle text key)."""
    groups: dict[bytes, list[int]] = {}
    band_of: dict[bytes, int] = {}
    for key, band, row in zip(rows.column("bkey").to_pylist(), rows.column("band").to_pylist(),
                              rows.column(ROW).to_pylist()):
        groups.setdefault(key, []).append(row)
        band_of[key] = band
    buckets, fallback = [], []
    for key, members in groups.items():
        members.sort()
        if band_of[key] == FALLBACK:
            fallback.append(members)
        else:
            buckets.append((band_of[key], members))
    buckets.sort(key=lambda b: (b[0], b[1][0]))
    fallback.sort(key=lambda m: m[0])
    return buckets, fallback


def near(proc: Dedup, ds, group: tuple, dup_rows: np.ndarray, num_cpus: float) -> tuple[dict, dict, dict]:
    """Near-duplicate clusters; returns (members, summary, counters of what reached the driver)."""
    cfg = proc.near_cfg
    detector = proc.near_detector()
    hashranges = detector.index.hashranges
    if len(hashranges) >= 0xFFFE:
        raise ValueError(f"ray engine: at most {0xFFFE - 1} LSH bands, got {len(hashranges)}")
    columns = list(type(proc).fit_columns)
    sel = list(dict.fromkeys(["_stage", ROW, *columns]))
    src = ds.select_columns(sel)
    bands = src.map_batches(_band_rows, fn_args=(cfg, hashranges, columns, dup_rows), batch_format="pyarrow",
                            batch_size=None, num_cpus=num_cpus).materialize()
    tally: dict[int, int] = {}
    for t in ray.get(bands.map_batches(_band_tally, batch_format="pyarrow", batch_size=None).to_arrow_refs()):
        if not t.num_rows:
            continue
        for b, n in zip(t.column("band").to_pylist(), t.column("band_count").to_pylist()):
            tally[b] = tally.get(b, 0) + n
    no_shingle = tally.get(FALLBACK, 0) + tally.get(EMPTY, 0)
    records = tally.get(0, 0) + no_shingle
    keyed = bands.map_batches(lambda t: t.filter(pc.not_equal(t.column("band"), EMPTY)).select(["bkey"]),
                              batch_format="pyarrow", batch_size=None)
    shared = _shared(keyed, "bkey", group)
    members: dict = {}
    candidates = np.zeros(0, np.int64)
    edges = 0
    buckets: list = []
    fallback: list = []
    if shared.num_rows:
        keys = shared.column("bkey").combine_chunks()
        edge_rows = _collect(bands.map_batches(_rows_of_keys, fn_args=(keys,), batch_format="pyarrow",
                                               batch_size=None))
        edges = edge_rows.num_rows
        buckets, fallback = buckets_from(edge_rows)
        candidates = np.unique(np.asarray(edge_rows.column(ROW).to_numpy(), np.int64))
    docs: list[CandidateDoc] = []
    if len(candidates):
        facts = _collect(src.map_batches(_facts, fn_args=(cfg, columns, candidates), batch_format="pyarrow",
                                         batch_size=None, num_cpus=num_cpus)).sort_by(ROW)
        got = np.asarray(facts.column(ROW).to_numpy(), np.int64)
        if not np.array_equal(got, candidates):
            raise RuntimeError("ray engine: dedup candidates went missing between passes")
        sh = facts.column("shingles").combine_chunks()
        offs = sh.offsets.to_numpy()
        flat = sh.values.to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)
        cols = {c: facts.column(c).to_pylist() for c in
                ("id", "rk_file", "rk_index", "where", "quality", "output_len", "numbers")}
        for i in range(facts.num_rows):
            rid = cols["id"][i]
            docs.append(CandidateDoc(
                row_key=(cols["rk_file"][i], cols["rk_index"][i], rid),
                facts=(rid, cols["where"][i], cols["quality"][i], cols["output_len"][i], cols["numbers"][i]),
                shingles=flat[offs[i]:offs[i + 1]]))
    pos = {int(r): i for i, r in enumerate(candidates.tolist())}
    detector.add_candidates(docs, records, no_shingle)
    members = detector.cluster(([pos[r] for r in rows] for _, rows in buckets),
                               ((pos[m[0]], pos[r]) for m in fallback for r in m[1:]))
    seen = {"records": records, "band_rows": sum(tally.values()), "shared_keys": shared.num_rows,
            "edge_rows": edges, "candidates": len(candidates)}
    return members, detector.summary(), seen


def fit(proc: Dedup, ds, cluster_cpus: float, num_cpus: float = 1.0, shuffle: str = "sort") -> dict:
    """Fit ``proc`` from the cluster (see the module docstring); ``proc.fit`` is never called.

    Args:
        proc: The dedup stage; gets :meth:`Dedup.install`-ed results.
        ds: The Ray dataset (every row, with ``_stage`` and ``_row``).
        cluster_cpus: CPUs of the cluster; sets the shuffle partition count (2 per CPU, at most 200).
        num_cpus: CPUs per signature task.
        shuffle: ``sort`` (Ray Data's pull-based sort shuffle: plain tasks, the cheapest on
            small clusters) or ``hash`` (its hash shuffle with aggregator actors, for large
            ones); used for the two groupbys only. Results do not depend on it.

    Returns:
        Counters of what reached the driver (for tests and logs).
    """
    group = (SHUFFLES[shuffle], max(2, min(200, int(2 * cluster_cpus))))
    first, dupes, dup_rows, exact_rows = exact(proc, ds.select_columns(["_stage", ROW, "id", "source"]), group)
    seen = {"exact_rows": exact_rows, "exact_duplicates": len(dupes)}
    members, summary = None, None
    if proc.near_on:
        members, summary, near_seen = near(proc, ds, group, dup_rows, num_cpus)
        seen.update(near_seen)
    proc.install(first, dupes, members, summary)
    return seen
