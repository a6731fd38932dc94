"""``pipeline.run``: inputs + recipe -> curated shards, rejects, manifest and report.

This is the library call behind ``sftpipe run``. It owns the run folder layout,
checkpoints for ``--resume``, and the final atomic hand-over of outputs.
"""
from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from pipeline import config as config_mod
from pipeline import registry
from pipeline.config import RunConfig
from pipeline.errors import ConfigError, NoInputError
from pipeline.io.atomic import write_json
from pipeline.io.readers import expand_inputs
from pipeline.io.writers import RejectWriter
from pipeline.progress import bar as progress_bar
from pipeline.progress import with_progress

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
STATE_VERSION = 1


@dataclass
class RunSummary:
    """What a run produced; ``exit_code`` is 0 (clean) or 2 (some input unreadable)."""

    out: Path
    counts: dict
    errors: list[dict]
    funnel: list[dict]
    shards: list[dict]
    timings: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 2 if self.errors else 0


def _versions() -> dict:
    import datasets
    import pyarrow

    from pipeline import __version__

    return {"sftpipe": __version__, "python": platform.python_version(), "datasets": datasets.__version__,
            "pyarrow": pyarrow.__version__}


def _stages(cfg: RunConfig, only: Sequence[str] | None) -> list[str]:
    if not only:
        return list(cfg.stages)
    known = registry.names()
    bad = [s for s in only if s not in known]
    if bad:
        raise ConfigError([f"--only: unknown stage {s!r}; registered stages: {', '.join(known)}" for s in bad])
    return [s for s in cfg.stages if s in only] + [s for s in only if s not in cfg.stages]


def _rules_for(cfg: RunConfig, stage: str, eval_sets: list[str], num_proc: int = 1) -> dict:
    """A stage's resolved rules plus what the run adds (val ratio, eval sets, worker count)."""
    rules = dict(cfg.rules.get(stage) or config_mod.stage_rules(stage))
    if stage == "dedup" and num_proc > 1:
        # Signature computation inside dedup's fit uses the same worker count; results are identical.
        rules["near"] = {**(rules.get("near") or {}), "num_proc": num_proc}
    if stage == "split":
        rules["val_ratio"] = cfg.val_ratio
    if stage == "decontam":
        rules["eval_sets"] = list(rules.get("eval_sets") or []) + eval_sets
    return rules


def run(inputs: Sequence[str] | None = None, *, config: str | Path | RunConfig | None = None,
        out: str | Path = "out", num_proc: int = 1, seed: int | None = None, resume: bool = False,
        only: Sequence[str] | None = None, eval_sets: Sequence[str] | None = None,
        input_format: str | None = None, field_map: dict | None = None, val_ratio: float | None = None,
        output_format: Sequence[str] | None = None, progress: bool = True,
        log: Callable[[dict], None] | None = None) -> RunSummary:
    """Curate ``inputs`` with a recipe and write the output layout under ``out``.

    Args:
        inputs: Files, directories or globs; ``None``/empty runs on ``sample_data/``.
        config: A recipe file (merged over ``rules/default.yaml``) or a resolved RunConfig.
        out: Output folder (curated/, rejected/, report/, manifest.json).
        num_proc: Worker processes per stage; outputs are identical for any value.
        seed: Overrides the recipe seed.
        resume: Continue after the stages a previous run with the same inputs and config finished.
        only: Run ingest plus just these stages.
        eval_sets: Evaluation sets for decontamination (added to the recipe's).
        input_format: Force one input format instead of auto-detection.
        field_map: Canonical field -> source column name overrides.
        val_ratio: Overrides the validation share.
        output_format: "parquet" and/or "jsonl".
        progress: Show per-stage progress bars.
        log: Called with one dict per event (for ``--log-json``).

    Returns:
        The RunSummary. Raises ConfigError / NoInputError (nothing written) for fatal problems.
    """
    from pipeline.gctuning import relaxed_gc

    with relaxed_gc():
        return _run(inputs, config=config, out=out, num_proc=num_proc, seed=seed, resume=resume, only=only,
                    eval_sets=eval_sets, input_format=input_format, field_map=field_map, val_ratio=val_ratio,
                    output_format=output_format, progress=progress, log=log)


def _run(inputs, *, config, out, num_proc, seed, resume, only, eval_sets, input_format, field_map, val_ratio,
         output_format, progress, log) -> RunSummary:
    t_start = time.perf_counter()
    plan = prepare(inputs, config=config, out=out, num_proc=num_proc, seed=seed, resume=resume, only=only,
                   eval_sets=eval_sets, input_format=input_format, field_map=field_map, val_ratio=val_ratio,
                   output_format=output_format, log=log)
    cfg, procs, state, emit, work = plan.cfg, plan.procs, plan.state, plan.emit, plan.work
    from pipeline.engines import local

    timings: dict[str, float] = {}
    ing = ingest_step(plan, progress, timings)
    ds = local.load(ing["files"])
    funnel = [ingest_funnel(ing, len(ds))]
    summaries: dict[str, dict] = {}
    resumed = True
    for gi, group in enumerate(_groups(plan.stages, procs), 1):
        name = "+".join(group)
        prev = state["done"][gi] if gi < len(state["done"]) else None
        if resumed and prev and prev["stages"] == group and all(Path(f).exists() for f in prev["files"]):
            ds = local.load(prev["files"])
            funnel += prev["funnel"]
            summaries.update(prev["summary"])
            for s in group:
                emit({"event": "stage_resumed", "stage": s})
            continue
        resumed = False
        state["done"] = state["done"][:gi]
        t0 = time.perf_counter()
        injected = {s: 0 for s in group}
        head = procs[group[0]]
        if getattr(head, "is_global", False):
            if getattr(head, "arrow_fit", False):
                head.fit_arrow(lambda: local.live_tables(ds, list(head.fit_columns)))
            else:
                batches = local.live_batches(ds, columns=getattr(head, "fit_columns", None))
                if plan.num_proc > 1 and hasattr(head, "fit_features") and funnel[-1]["out"] >= local.PARALLEL_FIT_MIN_ROWS:
                    batches = local.with_fit_features(batches, head, plan.num_proc)
                head.fit(with_progress(batches, progress, f"fit {group[0]}", funnel[-1]["out"]))
            if hasattr(head, "inject"):
                new = head.inject() or []
                injected[group[0]] = len(new)
                ds = local.append(ds, new, work / f"{gi:02d}-{group[0]}-injected.arrow")
        chain = [(s, procs[s]) for s in group]
        ds = local.map_stages(ds, chain, work / f"{gi:02d}-{name}.arrow", plan.num_proc,
                              f"{cfg.hash()}-{gi}-{name}", progress)
        steps = local.stage_steps(ds, group, funnel[-1]["out"], injected)
        funnel += steps
        group_summary = stage_summaries(procs, group)
        summaries.update(group_summary)
        timings[name] = time.perf_counter() - t0
        state["done"].append({"stages": group, "files": local.files_of(ds), "funnel": steps,
                              "summary": group_summary})
        write_json(plan.state_path, state)
        group_done(emit, steps, group, timings[name])
    return write_outputs(plan, local.ArrowFiles(local.files_of(ds)), ing, funnel, summaries, timings, t_start)


@dataclass
class Plan:
    """Everything a run decided before touching data; shared by the local and ray engines."""

    cfg: RunConfig
    stages: list[str]
    procs: dict
    paths: list[str]
    path_errors: list
    out: Path
    work: Path
    state: dict
    state_path: Path
    emit: Callable[[dict], None]
    num_proc: int = 1


def prepare(inputs: Sequence[str] | None, *, config=None, out: str | Path = "out", num_proc: int = 1,
            seed: int | None = None, resume: bool = False, only: Sequence[str] | None = None,
            eval_sets: Sequence[str] | None = None, input_format: str | None = None,
            field_map: dict | None = None, val_ratio: float | None = None,
            output_format: Sequence[str] | None = None, log: Callable[[dict], None] | None = None) -> Plan:
    """Load and validate the recipe, build every processor, expand inputs, open the work folder.

    Raises ConfigError / NoInputError before anything is written.
    """
    emit = log or (lambda event: None)
    if isinstance(config, RunConfig):
        cfg = config
    else:
        cfg = config_mod.load(config, seed=seed, val_ratio=val_ratio, input_format=input_format,
                              field_map=field_map, output_format=list(output_format) if output_format else None)
    stages = _stages(cfg, only)
    evals = list(cfg.eval_sets) + list(eval_sets or [])
    procs = {}
    for s in stages:  # build every processor up front: config errors surface before any work
        procs[s] = registry.create(s, _rules_for(cfg, s, evals, num_proc), cfg.seed)
    paths, path_errors = expand_inputs([str(p) for p in (inputs or [_default_input()])])
    if not paths:
        msgs = "; ".join(f"{e.file}: {e.message}" for e in path_errors) or "no input files"
        raise NoInputError(f"no readable input: {msgs}")

    out = Path(out)
    work = out / ".work"
    key = json.dumps({"config": cfg.hash(), "stages": stages, "inputs": paths, "evals": evals,
                      "v": STATE_VERSION}, sort_keys=True)
    state_path = work / "state.json"
    state = json.loads(state_path.read_text()) if resume and state_path.exists() else None
    if state is not None and state.get("key") != key:
        emit({"event": "resume_ignored", "why": "inputs or config changed"})
        state = None
    if state is None:
        shutil.rmtree(work, ignore_errors=True)
        state = {"key": key, "done": []}
    work.mkdir(parents=True, exist_ok=True)
    return Plan(cfg, stages, procs, paths, path_errors, out, work, state, state_path, emit, num_proc)


def ingest_step(plan: Plan, progress: bool, timings: dict) -> dict:
    """Read every input into the ingest checkpoint (or reuse a finished one); returns its state entry."""
    state = plan.state
    if state["done"] and all(Path(f).exists() for f in state["done"][0]["files"]):
        ing = state["done"][0]
    else:
        from pipeline.engines.ingest import ingest

        t0 = time.perf_counter()
        rej = RejectWriter(plan.work / "ingest-rejects")
        work_file = plan.work / "00-ingest.arrow"
        bar = progress_bar(progress, "    ingest")
        inputs_info, errors, reasons = ingest(plan.paths, work_file, rej, plan.cfg.input_format,
                                              plan.cfg.field_map, bar, num_proc=plan.num_proc)
        if bar is not None:
            bar.close()
        rej.close()
        for e in plan.path_errors:
            errors.insert(0, e.as_dict())
        if errors and not any(i["records"] for i in inputs_info):
            # Nothing could be read at all: a fatal error, and nothing is left behind.
            _discard(plan)
            raise NoInputError("no readable input:\n" + "\n".join(
                f"  {e['file']}{':' + str(e['line']) if e.get('line') else ''}: {e['message']}" for e in errors[:20]))
        ing = {"stages": ["ingest"], "files": [str(work_file)], "inputs": inputs_info, "errors": errors,
               "reasons": reasons, "reject_files": [str(p) for p in rej.files]}
        state["done"] = [ing]
        timings["ingest"] = time.perf_counter() - t0
        write_json(plan.state_path, state)
    for e in ing["errors"]:
        plan.emit({"event": "input_error", **e})
    return ing


def _discard(plan: Plan) -> None:
    """Remove the work folder, and the output folder when this run created it empty."""
    shutil.rmtree(plan.work, ignore_errors=True)
    out = plan.work.parent
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()


def ingest_funnel(ing: dict, live: int) -> dict:
    """The funnel's first step: records read vs. records that became engine rows."""
    read = sum(i["records"] for i in ing["inputs"])
    return {"stage": "ingest", "in": read, "out": live, "dropped": dict(sorted(ing["reasons"].items())),
            "flagged": {}, "injected": 0}


def stage_summaries(procs: dict, group: list[str]) -> dict:
    return {s: (procs[s].summary() if hasattr(procs[s], "summary") else {}) for s in group}


def group_done(emit: Callable[[dict], None], steps: list[dict], group: list[str], seconds: float) -> None:
    for st in steps:
        emit({"event": "stage_done", "stage": st["stage"], "in": st["in"], "out": st["out"]})
    emit({"event": "group_done", "stages": group, "seconds": round(seconds, 3)})


def write_outputs(plan: Plan, ds, ing: dict, funnel: list[dict], summaries: dict, timings: dict,
                  t_start: float, versions: dict | None = None, finalizer=None) -> RunSummary:
    """Finalize shards/rejects from the last dataset, then the report and the manifest (with timings).

    ``ds`` is anything with the two HF ``datasets`` calls finalize uses
    (``select_columns(cols).iter(batch_size)`` and ``iter(batch_size)``), rows in output order.
    ``finalizer(ds, plan, ing, funnel, summaries, versions, read)`` replaces that driver-side
    writer (the ray engine writes on the cluster); it returns ``(RunSummary, manifest)`` too.
    """
    read = sum(i["records"] for i in ing["inputs"])
    t0 = time.perf_counter()
    if finalizer is None:
        from pipeline.finalize import finalize

        summary, manifest = finalize(ds, plan.out, plan.cfg, ing, funnel, summaries, versions or _versions(), read,
                                     num_proc=plan.num_proc)
    else:
        summary, manifest = finalizer(ds, plan, ing, funnel, summaries, versions or _versions(), read)
    timings["write"] = time.perf_counter() - t0
    from pipeline.report import write_report

    timings["total"] = time.perf_counter() - t_start
    manifest["timings"] = {k: round(v, 3) for k, v in timings.items()}
    t0 = time.perf_counter()
    write_report(plan.out, manifest, num_proc=plan.num_proc)
    timings["report"] = time.perf_counter() - t0
    manifest["timings"]["report"] = round(timings["report"], 3)
    write_json(plan.out / "manifest.json", manifest)
    summary.timings = timings
    plan.emit({"event": "run_done", **summary.counts})
    return summary


def _default_input() -> str:
    """sample_data/, relative to the working directory when it is below it (stable source paths)."""
    try:
        return str(SAMPLE_DIR.relative_to(Path.cwd()))
    except ValueError:
        return str(SAMPLE_DIR)


def _groups(stages: list[str], procs: dict) -> list[list[str]]:
    """Fuse stages into map passes: a global stage starts a new pass (its fit must see the
    output of everything before it); per-record stages join the current pass."""
    groups: list[list[str]] = []
    for s in stages:
        if not groups or getattr(procs[s], "is_global", False):
            groups.append([s])
        else:
            groups[-1].append(s)
    return groups
