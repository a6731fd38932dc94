"""The ray engine: the same recipe on a Ray cluster through Ray Data, with the local engine's results.

``sftpipe run --engine ray [--ray-address auto|HOST:PORT]``. Config loading, ingest,
the funnel, finalize and the report are the local engine's own functions
(:mod:`pipeline.runner`); what runs on the cluster is:

- the ingest checkpoint, read with Ray Data's parquet source;
- every fused group of per-record stages, through ``map_batches`` on a pool of
  callable-class actors (``setup()`` once per actor, fitted processors shipped in the
  constructor arguments), CPUs and pool size set per stage under ``engine.ray``;
- funnel counts, aggregated per block;
- a distributed sort on the original row number before the outputs are written;
- writing (from ``engine.ray.write_min_rows`` rows, default 100,000): every curated shard
  and rejects file is encoded by a cluster task and written through a Ray Data sink
  (:mod:`pipeline.engines.ray_sink`), byte-identical to the local engine's files; smaller
  runs are written by the driver (:class:`ray_data.RowsView`), where the sink's fixed
  cost would dominate.

Global stages:

- ``dedup`` is fitted on the cluster (:mod:`pipeline.engines.ray_dedup`): exact duplicates
  from ``groupby(id).count()``; MinHash signatures and LSH band keys computed in
  ``map_batches`` on the workers, candidate buckets from ``groupby(band key).count()``,
  and only the candidate rows' shingle hashes reach the driver, which verifies pairs,
  builds the union-find clusters and picks representatives with the local code.
  ``Dedup.fit`` is never called; verdicts and summary are the local ones.
- ``diversity`` is fitted from aggregates (:mod:`pipeline.engines.ray_balance`): actors tag
  every live row; the before-profile and each balancing cell's supply are counts
  (per-block partials, ``groupby().count()``); the driver computes the quotas, and only
  the cells over their quota are selected on the cluster (``groupby(cell).map_groups``),
  so only the ids to drop come back. ``Diversity.fit`` is never called; ``process`` reads
  the tags carried in the rows instead of tagging again.
- other stages with ``fit_features`` (quality, refusal, format) get that per-row work done
  by an actor pool (:func:`ray_data.with_fit_features`) when at least
  ``FIT_FEATURES_MIN_ROWS`` rows are live; ``fit`` itself runs on the driver over the
  live rows streamed in input order, with the features attached.
- the others (decontam, split, ...) call ``fit()`` on the driver over the live rows
  (only their ``fit_columns``) streamed in input order, exactly as locally.

The fitted instance is then broadcast to the actors (constructor arguments: Ray's
object store), which is how decontam's eval index reaches every worker.

Recipe settings (all optional)::

    engine:
      ray:
        num_cpus: 1          # CPUs per actor
        concurrency: 4       # actors per stage group (default: cluster CPUs // num_cpus)
        shuffle: sort        # dedup's groupbys: sort (tasks only) or hash (aggregator actors)
        write_min_rows: 100000  # from this many rows, shards and rejects are written by cluster
                                # tasks through a Ray Data sink (pipeline/engines/ray_sink.py)
        stages:              # per-stage overrides; a fused group takes the largest values
          language: {num_cpus: 2}

``--resume`` reuses a finished ingest; the stage groups run again.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from pipeline.errors import ConfigError, MissingExtraError
from pipeline.runner import (
    RunSummary,
    _groups,
    group_done,
    ingest_funnel,
    ingest_step,
    prepare,
    stage_summaries,
    with_progress,
    write_outputs,
)

KEYS = ("num_cpus", "concurrency")
#: Below this many rows the driver writes the outputs: the cluster writer's fixed cost
#: (two passes, a shuffle, a sink) is seconds, the driver writes such sizes faster.
WRITE_MIN_ROWS = 100_000
SHUFFLES = ("sort", "hash")
# Fewer live rows: a global stage computes its fit_features on the driver (an actor pool
# costs seconds to start); the results are the same either way.
FIT_FEATURES_MIN_ROWS = 10_000


def _import_ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingExtraError("ray[data]", "ray") from None
    return ray


def group_resources(engine_cfg: dict, group: list[str], cluster_cpus: float) -> tuple[float, int]:
    """CPUs per actor and actors for one fused group, from ``engine.ray`` (largest stage value wins)."""
    ray_cfg = dict(engine_cfg.get("ray") or {})
    per_stage = ray_cfg.get("stages") or {}
    num_cpus = float(ray_cfg.get("num_cpus", 1))
    concurrency = ray_cfg.get("concurrency")
    for s in group:
        over = per_stage.get(s) or {}
        if "num_cpus" in over:
            num_cpus = max(num_cpus, float(over["num_cpus"]))
        if "concurrency" in over:
            concurrency = max(int(concurrency or 0), int(over["concurrency"]))
    if concurrency is None:
        concurrency = max(1, int(cluster_cpus // max(num_cpus, 1e-9)))
    return num_cpus, int(concurrency)


def config_problems(engine_cfg: dict) -> list[str]:
    """Type problems in ``engine.ray`` (reported before any work, like every config error)."""
    ray_cfg = engine_cfg.get("ray") or {}
    if not isinstance(ray_cfg, dict):
        return [f"engine.ray: expected a mapping, got {type(ray_cfg).__name__}"]
    probs = []
    wmr = ray_cfg.get("write_min_rows")
    if wmr is not None and (isinstance(wmr, bool) or not isinstance(wmr, int) or wmr < 0):
        probs.append(f"engine.ray.write_min_rows: expected a non-negative integer, got {wmr!r}")
    if ray_cfg.get("shuffle") is not None and ray_cfg.get("shuffle") not in SHUFFLES:
        probs.append(f"engine.ray.shuffle: expected one of {', '.join(SHUFFLES)}, got {ray_cfg.get('shuffle')!r}")
    blocks = [("engine.ray", ray_cfg)] + [(f"engine.ray.stages.{s}", v)
                                          for s, v in (ray_cfg.get("stages") or {}).items()]
    for where, block in blocks:
        if not isinstance(block, dict):
            probs.append(f"{where}: expected a mapping")
            continue
        for k in KEYS:
            v = block.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
                probs.append(f"{where}.{k}: expected a positive number, got {v!r}")
    return probs


def _connect(ray, address: str | None, quiet: bool) -> bool:
    """Join ``address`` (or start a local cluster); True when this call started Ray."""
    if ray.is_initialized():
        return False
    ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=not quiet, configure_logging=True)
    return True


def run(inputs: Sequence[str] | None = None, *, ray_address: str | None = None, progress: bool = True,
        **kwargs) -> RunSummary:
    """Like :func:`pipeline.runner.run` (same arguments and outputs), on a Ray cluster.

    Args:
        inputs: Files, directories or globs; ``None``/empty runs on ``sample_data/``.
        ray_address: ``auto``, ``HOST:PORT`` or ``ray://...``; None joins the Ray instance
            already started in this process, or starts a local one.
        progress: Show Ray Data's per-operator progress bars.
        **kwargs: Every other keyword of :func:`pipeline.runner.run` (``num_proc`` is ignored:
            parallelism comes from the cluster and ``engine.ray``).

    Returns:
        The RunSummary; manifest timings include each stage group, ingest and write.
    """
    t_start = time.perf_counter()
    ray = _import_ray()
    plan = prepare(inputs, **kwargs)
    problems = config_problems(plan.cfg.engine)
    if problems:
        raise ConfigError(problems)
    from pipeline.engines import ray_balance, ray_data, ray_dedup
    from pipeline.processors.dedup import Dedup
    from pipeline.processors.diversity import Diversity

    started = _connect(ray, ray_address, quiet=not progress)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = progress
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = progress
    if not progress:  # --quiet / --log-json: no per-dataset INFO lines either
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        timings: dict[str, float] = {}
        ing = ingest_step(plan, progress, timings)
        t0 = time.perf_counter()
        parts = ray_data.ingest_to_parquet(ing["files"], plan.work / "ray-ingest")
        ds = ray_data.load(parts)
        n_rows = ds.count()
        timings["ray_load"] = time.perf_counter() - t0
        funnel = [ingest_funnel(ing, n_rows)]
        summaries: dict[str, dict] = {}
        plan.state["done"] = plan.state["done"][:1]  # stage checkpoints live in the object store only
        cpus = float(ray.cluster_resources().get("CPU", 1))
        for group in _groups(plan.stages, plan.procs):
            name = "+".join(group)
            t0 = time.perf_counter()
            injected = {s: 0 for s in group}
            head = plan.procs[group[0]]
            num_cpus, concurrency = group_resources(plan.cfg.engine, group, cpus)
            shuffle = (plan.cfg.engine.get("ray") or {}).get("shuffle") or "sort"
            mapper = ray_data.map_group
            if isinstance(head, Diversity):
                ds, _ = ray_balance.fit(head, ds, cpus, num_cpus, concurrency, shuffle)
                new = head.inject() or []
                injected[group[0]] = len(new)
                ds = ray_balance.append(ds, new, n_rows)
                n_rows += len(new)
                mapper = ray_balance.map_group
            elif isinstance(head, Dedup):
                ray_dedup.fit(head, ds, cpus, group_resources(plan.cfg.engine, [group[0]], cpus)[0], shuffle)
            elif getattr(head, "is_global", False):
                cols = getattr(head, "fit_columns", None)
                feats = hasattr(head, "fit_features") and funnel[-1]["out"] >= FIT_FEATURES_MIN_ROWS
                src = ray_data.with_fit_features(ds, head, cols, num_cpus, concurrency) if feats else ds
                head.fit(with_progress(ray_data.live_batches(src, columns=cols, features=feats),
                                       progress, f"fit {group[0]}", funnel[-1]["out"]))
                if hasattr(head, "inject"):
                    new = head.inject() or []
                    injected[group[0]] = len(new)
                    ds = ray_data.append(ds, new, n_rows)
                    n_rows += len(new)
            ds = mapper(ds, [(s, plan.procs[s]) for s in group], num_cpus, concurrency)
            steps = ray_data.stage_steps(ds, group, funnel[-1]["out"], injected)
            funnel += steps
            summaries.update(stage_summaries(plan.procs, group))
            timings[name] = time.perf_counter() - t0
            group_done(plan.emit, steps, group, timings[name])
        t0 = time.perf_counter()
        ds = ds.sort(ray_data.ROW).materialize()
        timings["sort"] = time.perf_counter() - t0
        ray_cfg = plan.cfg.engine.get("ray") or {}
        if n_rows >= int(ray_cfg.get("write_min_rows", WRITE_MIN_ROWS)):
            # Shards and rejects are written by cluster tasks through a Ray Data sink.
            from pipeline.engines import ray_sink

            return write_outputs(plan, ds, ing, funnel, summaries, timings, t_start,
                                 finalizer=ray_sink.finalize_ray)
        return write_outputs(plan, ray_data.RowsView(ds), ing, funnel, summaries, timings, t_start)
    finally:
        if started:
            ray.shutdown()
