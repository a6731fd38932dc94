"""The balance plan, as one row-by-row pass: the reference for :func:`balance.plan`.

This is the algorithm before it was split into quotas from per-cell supply and a
per-cell selection (so the ray engine can compute it from aggregates); kept verbatim
here so tests can check that the split version decides exactly the same things.
"""
from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.diversity.balance import Plan, Row


def _targets(rows: Sequence[Row], dims: Sequence[str], targets: Mapping) -> list[dict[str, float] | None]:
    """Target share per value for each targeted dimension (None where no target is set).

    Unlisted values share what the listed ones leave, in proportion to their supply.
    """
    out: list[dict[str, float] | None] = []
    for i, d in enumerate(dims):
        want = {str(k): float(v) for k, v in (targets.get(d) or {}).items()}
        if not want:
            out.append(None)
            continue
        observed: dict[str, int] = {}
        for r in rows:
            if r.cell[i] not in want:
                observed[r.cell[i]] = observed.get(r.cell[i], 0) + 1
        rest = max(0.0, 1.0 - sum(want.values()))
        ulen = sum(observed.values())
        shares = dict(want)
        for v, c in observed.items():
            shares[v] = rest * c / ulen
        total = sum(shares.values())
        out.append({v: x / total for v, x in shares.items()} if total > 0 else shares)
    return out


def _joint(rows: Sequence[Row], dims: Sequence[str], tgt: list) -> dict[tuple, float]:
    """Cell shares: the observed joint mix raked (iterative proportional fitting) to the targets.

    Raking keeps the observed relation between dimensions (e.g. that code is mostly
    English) while it moves each targeted marginal onto its target. Cells of the
    product space with no rows start from a tiny share, so a target that no row can
    meet still gets a quota and shows up as a shortfall.
    """
    n = len(rows)
    values = []
    for i in range(len(dims)):
        vs = {r.cell[i] for r in rows}
        if tgt[i]:
            vs |= {v for v, x in tgt[i].items() if x > 0}
        values.append(sorted(vs))
    counts: dict[tuple, int] = {}
    for r in rows:
        counts[r.cell] = counts.get(r.cell, 0) + 1
    eps = 1e-12
    joint = {c: counts.get(c, 0) / n + eps if n else eps for c in itertools.product(*values)}
    targeted = [i for i, t in enumerate(tgt) if t]
    for _ in range(200):
        worst = 0.0
        for i in targeted:
            marg: dict[str, float] = {}
            for c, x in joint.items():
                marg[c[i]] = marg.get(c[i], 0.0) + x
            for c, x in joint.items():
                want, have = tgt[i].get(c[i], 0.0), marg[c[i]]
                joint[c] = x * want / have if have > 0 else 0.0
            worst = max(worst, max(abs(marg[v] - tgt[i].get(v, 0.0)) for v in marg))
        if worst < 1e-12:
            break
    total = sum(joint.values())
    # Shares this small are the seeding epsilon, not a target.
    return {c: x / total for c, x in joint.items() if total and x / total > 1e-10}


def _largest_remainder(n: int, shares: dict[tuple, float]) -> dict[tuple, int]:
    raw = {c: n * s for c, s in shares.items()}
    quota = {c: math.floor(x) for c, x in raw.items()}
    left = n - sum(quota.values())
    # Ties in the remainder are broken by cell name, so the result never depends on order.
    for c in sorted(raw, key=lambda c: (-(raw[c] - quota[c]), c))[:max(0, left)]:
        quota[c] += 1
    return quota


def _rank_key(row: Row, seed: int) -> tuple:
    h = int.from_bytes(hashlib.blake2b(f"{seed}:{row.id}".encode(), digest_size=8).digest(), "big")
    return (row.quality is None, -(row.quality or 0.0), h)


def reference_plan(rows: Sequence[Row], dims: Sequence[str], cfg: Mapping[str, Any], seed: int) -> Plan:
    """Decide which rows to drop (and which to copy) to approach the target mix.

    Args:
        rows: Every live row, in input order; ``cell`` holds its values of ``dims``.
        dims: The dimensions that make up a cell.
        cfg: The ``balance`` rules block.
        seed: Run seed for the order among equally good rows.
    """
    tgt = _targets(rows, dims, cfg.get("targets") or {})
    shares = _joint(rows, dims, tgt)
    members: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        members.setdefault(r.cell, []).append(i)
    supply = {c: len(ix) for c, ix in members.items()}
    n = int(cfg.get("budget", 0) or 0) or len(rows)
    if cfg.get("exact"):
        feasible = [supply.get(c, 0) / s for c, s in shares.items() if supply.get(c, 0)]
        n = min([n] + [math.floor(f + 1e-9) for f in feasible])
    quota = _largest_remainder(n, shares)
    caps = cfg.get("caps") or {}
    cap = min(int(caps.get("max_cell_count", 0) or 0) or n,
              math.floor(float(caps.get("max_cell_share", 0) or 0) * n) or n)
    for c in list(set(quota) | set(supply)):
        quota[c] = min(quota.get(c, 0), cap)

    out = Plan()
    up = cfg.get("upsample") or {}
    max_copies = int(up.get("max_copies", 0)) if up.get("enabled") else 0
    kept: dict[tuple, int] = {}
    short: dict[tuple, int] = {}
    for c in sorted(set(quota) | set(supply)):
        idx = members.get(c, [])
        q = quota.get(c, 0)
        cell_no = len(out.cells)
        out.cells.append((_name(c), q))
        injected = [i for i in idx if rows[i].injected]
        raw = sorted((i for i in idx if not rows[i].injected), key=lambda i: _rank_key(rows[i], seed))
        room = max(0, q - len(injected))
        for i in raw[room:]:
            out.drop[i] = cell_no
        keep = injected + raw[:room]
        kept[c] = len(keep)
        if q > len(idx):
            need = 0
            if max_copies and keep:
                ranked = sorted(keep, key=lambda i: _rank_key(rows[i], seed))
                need = min(q - len(idx), max_copies * len(ranked))
                for k in range(need):
                    out.copies.append((ranked[k % len(ranked)], k // len(ranked) + 1))
                kept[c] += need
            if q > len(idx) + need:
                short[c] = q - len(idx) - need
    out.report = _report(dims, tgt, quota, supply, kept, short, n, len(rows), len(out.drop), len(out.copies),
                         int(cfg.get("report_shortfalls", 20)))
    return out


def _name(cell: tuple) -> str:
    return "/".join(cell)


def _report(dims, tgt, quota, supply, kept, short, n, rows, dropped, copies, top) -> dict:
    total = sum(kept.values())
    per_dim = {}
    for i, d in enumerate(dims):
        got: dict[str, int] = {}
        for c, k in kept.items():
            got[c[i]] = got.get(c[i], 0) + k
        values = sorted(set(tgt[i] or ()) | set(got))
        per_dim[d] = {v: {"target": round(tgt[i].get(v, 0.0), 6) if tgt[i] else None,
                          "achieved": round(got.get(v, 0) / total, 6) if total else 0.0,
                          "rows": got.get(v, 0)} for v in values}
    shortfalls = sorted(short.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "total_target": n, "rows_before": rows, "rows_after": total, "dropped": dropped,
        "upsampled_copies": copies, "dimensions": list(dims), "target_vs_achieved": per_dim,
        "cells": {_name(c): {"supply": supply.get(c, 0), "quota": quota.get(c, 0), "kept": kept.get(c, 0)}
                  for c in sorted(set(quota) | set(supply)) if quota.get(c, 0) or supply.get(c, 0)},
        "shortfall_total": sum(short.values()),
        "shortfalls": [f"need {k} more {_name(c)}" for c, k in shortfalls[:top]],
    }
