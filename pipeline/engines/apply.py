"""Apply processors to one engine batch: the code every engine shares.

An engine batch holds ``scores`` and ``meta`` as JSON strings. A fused chain of
stages decodes them once, runs every stage on the rows still live, and encodes them
once at the end. Rows already rejected by an earlier stage pass through untouched.
For live rows the processor's returned fields are written back, its verdict scores
and flags merged, and a dropping verdict sets the row's fate columns.
"""
from __future__ import annotations

import orjson

from pipeline.io.columns import dumps
from pipeline.record import FIELDS

_PLAIN = tuple(f for f in FIELDS if f not in ("scores", "meta", "flags"))


def apply_chain(batch, chain: list) -> dict:
    """Run ``[(stage, processor), ...]`` in order over an engine batch; returns a plain dict batch."""
    work = {k: list(batch[k]) for k in batch.keys()}
    work["scores"] = [orjson.loads(s) if s else {} for s in work["scores"]]
    work["meta"] = [orjson.loads(s) if s else {} for s in work["meta"]]
    work["flags"] = [f or [] for f in work["flags"]]
    for stage, proc in chain:
        _apply(work, proc, stage)
    work["scores"] = [dumps(s) for s in work["scores"]]
    work["meta"] = [dumps(m) for m in work["meta"]]
    return work


def apply_batch(batch, proc, stage: str) -> dict:
    """Run one processor over an engine batch (a chain of one)."""
    return apply_chain(batch, [(stage, proc)])


def _apply(work: dict, proc, stage: str) -> None:
    """One stage over the live rows of a decoded batch, in place."""
    if not getattr(proc, "_setup_done", False):
        proc.setup()
        proc._setup_done = True
    fate = work["_stage"]
    live = [i for i, s in enumerate(fate) if not s]
    if not live:
        return
    whole = len(live) == len(fate)
    if whole:
        sub = {f: list(work[f]) for f in FIELDS}
    else:
        sub = {f: [work[f][i] for i in live] for f in FIELDS}
    sub, verdicts = proc.process(sub)
    if len(verdicts) != len(live):
        raise RuntimeError(f"stage {stage!r} returned {len(verdicts)} verdicts for {len(live)} rows")
    for f in _PLAIN + ("scores", "meta", "flags"):
        new = sub[f]
        if whole:
            work[f] = list(new)
        else:
            col = work[f]
            for j, i in enumerate(live):
                col[i] = new[j]
    scores, meta, flags = work["scores"], work["meta"], work["flags"]
    for j, v in enumerate(verdicts):
        if v.keep and not v.flags and not v.scores:
            continue
        i = live[j]
        if v.scores:
            scores[i] = {**scores[i], **{k: (None if x is None else float(x)) for k, x in v.scores.items()}}
        if v.flags:
            have = list(flags[i] or [])
            have += [fl for fl in v.flags if fl not in have]
            flags[i] = have
            if v.detail and v.keep:
                m = meta[i]
                meta[i] = {**m, "flag_details": {**m.get("flag_details", {}), stage: v.detail}}
        if not v.keep:
            fate[i] = stage
            work["_reason"][i] = v.reason
            work["_detail"][i] = v.detail or ""
            work["_dup"][i] = v.duplicate_of or ""


def funnel_steps(group: list[str], live_in: int, injected: dict[str, int],
                 dropped_all: dict[tuple[str, str], int], flag_counts: dict[str, int]) -> list[dict]:
    """Funnel steps of a fused stage group from its drop counts by (stage, reason) and flag counts.

    Flags count every row a stage flagged, whatever its later fate, so the numbers do
    not depend on how stages were fused or which engine ran them.
    """
    steps = []
    for stage in group:
        dropped = {r: n for (s, r), n in dropped_all.items() if s == stage}
        out = live_in + injected.get(stage, 0) - sum(dropped.values())
        flags = {k: v for k, v in flag_counts.items() if k.startswith(stage + "_")}
        steps.append({"stage": stage, "in": live_in, "out": out, "dropped": dict(sorted(dropped.items())),
                      "flagged": dict(sorted(flags.items())), "injected": injected.get(stage, 0)})
        live_in = out
    return steps
