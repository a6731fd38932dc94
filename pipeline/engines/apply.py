"""Apply one processor to one engine batch: the code every engine shares.

Rows already rejected by an earlier stage pass through untouched. For live rows the
processor's returned fields are written back, its verdict scores and flags merged,
and a dropping verdict sets the row's fate columns.
"""
from __future__ import annotations

from pipeline.io.columns import dumps, decode
from pipeline.record import FIELDS


def apply_batch(batch: dict, proc, stage: str) -> dict:
    """Run ``proc`` on the live rows of an engine batch; return the updated batch."""
    if not getattr(proc, "_setup_done", False):
        proc.setup()
        proc._setup_done = True
    live = [i for i, s in enumerate(batch["_stage"]) if not s]
    if not live:
        return batch
    sub = decode(batch, live)
    sub, verdicts = proc.process(sub)
    if len(verdicts) != len(live):
        raise RuntimeError(f"stage {stage!r} returned {len(verdicts)} verdicts for {len(live)} rows")
    for j, i in enumerate(live):
        v = verdicts[j]
        for f in FIELDS:
            if f not in ("scores", "meta", "flags"):
                batch[f][i] = sub[f][j]
        scores = sub["scores"][j]
        if v.scores:
            scores = {**scores, **{k: (None if x is None else float(x)) for k, x in v.scores.items()}}
        meta = sub["meta"][j]
        flags = list(sub["flags"][j] or [])
        for fl in v.flags:
            if fl not in flags:
                flags.append(fl)
        if v.flags and v.detail and v.keep:
            meta = {**meta, "flag_details": {**meta.get("flag_details", {}), stage: v.detail}}
        batch["flags"][i] = flags
        batch["scores"][i] = dumps(scores)
        batch["meta"][i] = dumps(meta)
        if not v.keep:
            batch["_stage"][i] = stage
            batch["_reason"][i] = v.reason
            batch["_detail"][i] = v.detail or ""
            batch["_dup"][i] = v.duplicate_of or ""
    return batch


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

