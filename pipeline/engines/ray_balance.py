"""``diversity``'s fit on a Ray cluster: tags on the workers, the mix and the plan from aggregates.

The summary (before/after profiles, the balance report), the rows dropped as
``diversity_over_quota`` (with their cell and quota), the upsampled copies and every
row's tags are the local engine's, because each decision is made by the same code
(:mod:`pipeline.diversity.balance`, :mod:`pipeline.diversity.measure`); only where the
inputs of those decisions are computed changes. ``Diversity.fit`` is never called.

1. ``map_batches`` on a pool of actors tags every live row (``Diversity.fit_features``,
   the local tagger) and adds the tags, the row's balancing cell, origin and quality
   as columns (:data:`TAG_COLUMNS`). The tagged dataset is kept for ``process``.
2. Aggregates, in one ``groupby(key)``: each block counts its live rows by (task, lang,
   domain, bucket, injected) with their first ``_row``, by verb–object pair and by
   near-duplicate cluster (Arrow ``group_by``, so only distinct keys are shuffled); the
   groupby sums them. They give the before-profile and every cell's supply.
3. The driver computes the quotas (:func:`balance.quotas`) from the supply alone: how
   many rows each cell drops, keeps and copies, and the whole balance report.
4. Only the cells that drop rows (or get copies) are selected:
   ``groupby(cell).map_groups`` puts each one on a worker, which runs
   :func:`balance.select` (quality first, then the seeded hash; injected rows stay) over
   the cell's rows in ``_row`` order; only the dropped rows (and the copies' sources)
   come back, with the few tags the after-profile subtracts (or adds).
5. Upsampling fetches the copies' source records by ``_row``, and nothing else.

``process`` runs on actors over the tagged dataset (:class:`TaggedStageActor`): each
batch's tags go into the stage's tag cache, so the rows are not tagged twice, and
rows without tags (appended copies) are tagged there, as locally.
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import ray

from pipeline.diversity.balance import Row, Supply, _name, copy_plan, quotas, select
from pipeline.diversity.cache import TagCache, digest
from pipeline.diversity.tagger import Tags
from pipeline.engines.ray_data import RAY_SCHEMA, ROW, StageActor, append_table
from pipeline.engines.ray_dedup import SHUFFLES, _collect
from pipeline.io.columns import decode, work_table
from pipeline.processor import iter_rows
from pipeline.processors.diversity import Diversity, _copy, balance_row

T = "_tag_"  # prefix of the tag columns
NUMERIC = {"complexity", "task_confidence"}
TAG_FIELDS = [f.name for f in dataclasses.fields(Tags)]
CELL, QUALITY, INJECTED = "_cell", "_quality", "_injected"
TAG_COLUMNS = pa.schema([(T + f, pa.float64() if f in NUMERIC else pa.string()) for f in TAG_FIELDS]
                        + [(CELL, pa.string()), (QUALITY, pa.float64()), (INJECTED, pa.bool_())])
TAGGED_SCHEMA = pa.schema(list(RAY_SCHEMA) + list(TAG_COLUMNS))
PROFILE = ("task", "lang", "domain", "bucket")  # the tags a profile's distributions count
DIM_INDEX = {"task": 0, "lang": 1, "domain": 2, "complexity": 3}  # a balance dimension's tag in PROFILE
OUT_SCHEMA = pa.schema([("kind", pa.string()), ("pos", pa.int64()), (CELL, pa.string()), ("id", pa.string()),
                        (ROW, pa.int64())] + [(T + f, pa.string()) for f in (*PROFILE, "verb", "obj")])


def cell_key(cell: tuple) -> str:
    """A cell as one string column value (JSON: any tag value round-trips)."""
    return json.dumps(list(cell), ensure_ascii=False)


def _live_mask(table: pa.Table):
    return pc.equal(table.column("_stage"), "")


class TagActor:
    """Tags a block's live rows and adds :data:`TAG_COLUMNS` (nulls for rejected rows)."""

    def __init__(self, proc: Diversity, dims: list[str], keys: list[str]):
        if not getattr(proc, "_setup_done", False):
            proc.setup()
            proc._setup_done = True
        self.proc, self.dims, self.keys = proc, dims, keys

    def __call__(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        live = [i for i, s in enumerate(table.column("_stage").to_pylist()) if not s]
        cols: dict[str, list] = {name: [None] * n for name in TAG_COLUMNS.names}
        if live:
            batch = decode(table.drop_columns([ROW]).to_pydict(), live)
            tags = self.proc.fit_features(batch)
            if len(tags) != len(live):
                raise RuntimeError(f"fit_features returned {len(tags)} values for {len(live)} rows")
            for i, rec, t in zip(live, iter_rows(batch), tags):
                for f in TAG_FIELDS:
                    cols[T + f][i] = getattr(t, f)
                row = balance_row(rec, t, self.dims, self.keys)
                cols[CELL][i] = cell_key(row.cell)
                cols[QUALITY][i] = row.quality
                cols[INJECTED][i] = row.injected
        for field in TAG_COLUMNS:
            table = table.append_column(field, pa.array(cols[field.name], field.type))
        return table


def _partials(table: pa.Table) -> pa.Table:
    """Per block, every count the profile and the supply need, as (key, rows, first ``_row``).

    Keys are JSON lists: ``["t", task, lang, domain, bucket, injected]``, ``["p", verb,
    object]`` (rows with a verb) and ``["c", cluster]`` (rows in one). Counted per block
    with Arrow first, so only distinct keys enter the shuffle.
    """
    live = table.filter(_live_mask(table))
    out: dict[str, list] = {"k": [], "n": [], "first": []}

    def add(kind: str, sub: pa.Table, keys: list[str]) -> None:
        if not sub.num_rows:
            return
        g = sub.group_by(keys).aggregate([(ROW, "count"), (ROW, "min")])
        cols = [g.column(k).to_pylist() for k in keys]
        out["k"] += [json.dumps([kind, *vals], ensure_ascii=False) for vals in zip(*cols)]
        out["n"] += g.column(f"{ROW}_count").to_pylist()
        out["first"] += g.column(f"{ROW}_min").to_pylist()

    add("t", live, [T + f for f in PROFILE] + [INJECTED])
    add("p", live.filter(pc.not_equal(live.column(T + "verb"), "")), [T + "verb", T + "obj"])
    add("c", live.filter(pc.not_equal(live.column("cluster"), "")), ["cluster"])
    return pa.table({"k": pa.array(out["k"], pa.string()), "n": pa.array(out["n"], pa.int64()),
                     "first": pa.array(out["first"], pa.int64())})


def _aggregate(tagged, group: tuple) -> pa.Table:
    """:func:`_partials` of every block, summed per key by one ``groupby(key)``."""
    from ray.data.aggregate import Min, Sum

    strategy, partitions = group
    partial = tagged.map_batches(_partials, batch_format="pyarrow", batch_size=None)
    ctx = partial.context
    saved = ctx.shuffle_strategy
    ctx.shuffle_strategy = strategy
    try:
        return _collect(partial.groupby("k", num_partitions=partitions).aggregate(
            Sum("n", alias_name="n"), Min("first", alias_name="first")))
    finally:
        ctx.shuffle_strategy = saved


def _selected_rows(table: pa.Table, keys: pa.Array) -> pa.Table:
    live = table.filter(pc.and_(_live_mask(table), pc.is_in(table.column(CELL), keys)))
    return live.select([CELL, "id", ROW, INJECTED, QUALITY] + [T + f for f in (*PROFILE, "verb", "obj")])


def _select_cell(table: pa.Table, plan: dict, seed: int) -> pa.Table:
    """One cell's rows -> its dropped rows (best first) and the sources of its copies."""
    if not table.num_rows:
        return OUT_SCHEMA.empty_table()
    table = table.sort_by(ROW)
    key = table.column(CELL)[0].as_py()
    quota, need = plan[key]
    ids = table.column("id").to_pylist()
    rows = [Row(rid, (), inj, q) for rid, inj, q in zip(ids, table.column(INJECTED).to_pylist(),
                                                        table.column(QUALITY).to_pylist())]
    sel = select(rows, quota, seed)
    picks = [("drop", p, j) for p, j in enumerate(sel.drop)]
    picks += [("copy", p, j) for p, j in enumerate(sel.ranked[:min(need, len(sel.ranked))])]
    idx = pa.array([j for _, _, j in picks], pa.int64())
    out = {"kind": pa.array([k for k, _, _ in picks], pa.string()),
           "pos": pa.array([p for _, p, _ in picks], pa.int64())}
    for name in OUT_SCHEMA.names[2:]:
        out[name] = table.column(name).take(idx)
    return pa.table(out, schema=OUT_SCHEMA)


def _rows_of(table: pa.Table, rows: pa.Array) -> pa.Table:
    return table.filter(pc.is_in(table.column(ROW), rows)).select(RAY_SCHEMA.names)


def fit(proc: Diversity, ds, cluster_cpus: float, num_cpus: float = 1.0, concurrency: int = 1,
        shuffle: str = "sort") -> tuple:
    """Fit ``proc`` from the cluster (see the module docstring); ``proc.fit`` is never called.

    Args:
        proc: The diversity stage; gets its decisions through :meth:`Diversity.install`.
        ds: The Ray dataset (every row, with ``_stage`` and ``_row``).
        cluster_cpus: CPUs of the cluster; sets the shuffle partition count.
        num_cpus, concurrency: CPUs per tagging actor, and actors.
        shuffle: Ray Data's shuffle for the groupbys (``sort`` or ``hash``).

    Returns:
        (the tagged dataset, to run ``process`` on with :func:`map_group`; counters of
        what reached the driver, for tests and logs)
    """
    bal = proc.rules.get("balance") or {}
    dims = list(bal.get("dimensions") or ["task"])
    keys = list(bal.get("quality_keys") or [])
    group = (SHUFFLES[shuffle], max(2, min(200, int(2 * cluster_cpus))))
    tagged = ds.map_batches(TagActor, fn_constructor_args=(proc, dims, keys), batch_size=1000,
                            batch_format="pyarrow", zero_copy_batch=True, num_cpus=num_cpus,
                            compute=ray.data.ActorPoolStrategy(size=concurrency)).materialize()

    # Aggregates: the before-profile and every cell's supply.
    combos: Counter = Counter()
    first: dict[tuple, int] = {}
    pairs: Counter = Counter()
    clusters: Counter = Counter()
    agg = _aggregate(tagged, group)
    if agg.num_rows:
        for k, n, lo in zip(agg.column("k").to_pylist(), agg.column("n").to_pylist(),
                            agg.column("first").to_pylist()):
            kind, *vals = json.loads(k)
            if kind == "t":
                combos[tuple(vals)] += n
                first[tuple(vals)] = lo
            elif kind == "p":
                pairs[tuple(vals)] += n
            else:
                clusters[vals[0]] += n
    live = sum(combos.values())
    tags4 = Counter()
    for (task, lang, domain, bucket, _), n in combos.items():
        tags4[(task, lang, domain, bucket)] += n
    before = _profile(proc, tags4, pairs, clusters)
    top = proc.top()
    summary = {"enabled": bool(bal.get("enabled")), "before": before.summary(*top)}
    seen = {"live": live, "combos": len(combos), "pairs": len(pairs), "clusters": len(clusters),
            "selected_cells": 0, "selected_rows": 0, "copy_sources": 0}
    if not bal.get("enabled"):
        proc.install(summary)
        return tagged, seen

    # Quotas from the supply, on the driver.
    supply: dict[tuple, Supply] = {}
    for (task, lang, domain, bucket, inj), n in combos.items():
        c = tuple((task, lang, domain, bucket)[DIM_INDEX[d]] for d in dims)
        s = supply.get(c) or Supply(0, 0, first[(task, lang, domain, bucket, inj)])
        lo = min(s.first, first[(task, lang, domain, bucket, inj)])
        supply[c] = Supply(s.injected + (n if inj else 0), s.raw + (0 if inj else n), lo)
    q = quotas(supply, dims, bal)
    cells = q.cells()
    todo = {cell_key(c): (q.quota.get(c, 0), q.copies(c)) for c in cells if q.dropping(c) or q.copies(c)}
    seen["selected_cells"] = len(todo)

    # Selection in the cells that drop rows or get copies, on the workers.
    picked: dict[str, list] = {}
    if todo:
        src = tagged.map_batches(_selected_rows, fn_args=(pa.array(sorted(todo), pa.string()),),
                                 batch_format="pyarrow", batch_size=None)
        strategy, partitions = group
        ctx = src.context
        saved = ctx.shuffle_strategy
        ctx.shuffle_strategy = strategy
        try:
            out = _collect(src.groupby(CELL, num_partitions=partitions).map_groups(
                _select_cell, fn_args=(todo, proc.seed), batch_format="pyarrow"))
        finally:
            ctx.shuffle_strategy = saved
        seen["selected_rows"] = out.num_rows
        if out.num_rows:
            for r in out.to_pylist():
                picked.setdefault(r[CELL], []).append(r)

    drops: dict[bytes, int] = {}
    removed: Counter = Counter()
    removed_pairs: Counter = Counter()
    copy_rows: list[tuple[dict, int]] = []
    for cell_no, c in enumerate(cells):
        got = picked.get(cell_key(c), [])
        for r in sorted((r for r in got if r["kind"] == "drop"), key=lambda r: r["pos"]):
            drops[digest(r["id"])] = cell_no
            removed[tuple(r[T + f] for f in PROFILE)] += 1
            removed_pairs[(r[T + "verb"], r[T + "obj"])] += 1
        ranked = sorted((r for r in got if r["kind"] == "copy"), key=lambda r: r["pos"])
        if len(got) - len(ranked) != q.dropping(c) or len(ranked) != min(q.copies(c), q.supply[c].rows if
                                                                         c in q.supply else 0):
            raise RuntimeError(f"ray engine: diversity selection of cell {_name(c)} came back incomplete")
        copy_rows += copy_plan(ranked, q.copies(c))
    added: Counter = Counter()
    added_pairs: Counter = Counter()
    for r, _ in copy_rows:
        added[tuple(r[T + f] for f in PROFILE)] += 1
        added_pairs[(r[T + "verb"], r[T + "obj"])] += 1
    # Kept rows and copies: the before counts minus the dropped rows plus the copies (no clusters).
    after = _profile(proc, _apply(tags4, removed, added), _apply(pairs, removed_pairs, added_pairs), Counter())
    copies: list[dict] = []
    if copy_rows:
        rows = sorted({r[ROW] for r, _ in copy_rows})
        seen["copy_sources"] = len(rows)
        recs = _collect(tagged.map_batches(_rows_of, fn_args=(pa.array(rows, pa.int64()),),
                                           batch_format="pyarrow", batch_size=None)).sort_by(ROW)
        by_row = dict(zip(recs.column(ROW).to_pylist(),
                          iter_rows(decode(recs.drop_columns([ROW]).to_pydict(), list(range(recs.num_rows))))))
        copies = [_copy(by_row[r[ROW]], k) for r, k in copy_rows]
    proc.install(summary, [(_name(c), q.quota.get(c, 0)) for c in cells], drops, copies,
                 after.summary(*top), q.report())
    return tagged, seen


def _apply(counts: Counter, minus: Counter, plus: Counter) -> Counter:
    out = Counter(counts)
    out.subtract(minus)
    out.update(plus)
    return Counter({k: n for k, n in out.items() if n > 0})


def _profile(proc: Diversity, tags: Counter, pairs: Counter, clusters: Counter):
    """A profile from counts: (task, lang, domain, bucket), (verb, obj) and cluster -> rows."""
    prof = proc._profile()
    for (task, lang, domain, bucket), n in tags.items():
        prof.count_tags(task, lang, domain, bucket, n)
    for (verb, obj), n in pairs.items():
        prof.count_verb(verb, obj, n)
    for cluster, n in clusters.items():
        prof.count_cluster(cluster, n)
    return prof


def append(ds, records: list[dict], next_row: int):
    """Append injected records (the copies) to the tagged dataset, without tags (``_row`` continues)."""
    if not records:
        return ds
    table = work_table(records)
    table = table.append_column(ROW, pa.array(range(next_row, next_row + table.num_rows), pa.int64()))
    for field in TAG_COLUMNS:
        table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return append_table(ds, table)


class TaggedStageActor(StageActor):
    """:class:`StageActor` over the tagged dataset: the batch's tags become the stage's tag cache.

    ``Diversity.process`` then reads the tags ``fit`` computed instead of tagging again;
    rows without tags (appended copies, or an id whose rows disagree) are tagged there.
    The tag columns are dropped from the output.
    """

    def __call__(self, table: pa.Table) -> pa.Table:
        head = self.chain[0][1]
        have = table.filter(pc.is_valid(table.column(T + "task")))
        cache = TagCache()
        if have.num_rows:
            cols = [have.column(T + f).to_pylist() for f in TAG_FIELDS]
            for rid, *vals in zip(have.column("id").to_pylist(), *cols):
                cache.add(rid, Tags(*vals))
        cache.freeze()
        head.cache = cache
        return super().__call__(table.select(RAY_SCHEMA.names))


def map_group(ds, chain: list, num_cpus: float, concurrency: int):
    """The group headed by diversity, over the tagged dataset (see :class:`TaggedStageActor`)."""
    return ds.map_batches(
        TaggedStageActor, fn_constructor_args=(chain,), batch_size=1000, batch_format="pyarrow",
        zero_copy_batch=True, num_cpus=num_cpus, compute=ray.data.ActorPoolStrategy(size=concurrency),
    ).materialize()
