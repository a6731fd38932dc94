"""Rebalance a tagged corpus towards a target mix.

A *cell* is one combination of the configured dimensions, e.g. ``zh/math/hard``
for ``[lang, task, complexity]``. Targets are marginal shares per dimension; the
cells' target shares are the observed mix raked onto those marginals (iterative
proportional fitting), so dimensions without targets keep their observed relation
to the others. With a total ``N`` (the budget, or every live row):

1. each cell's quota is ``N x share``, rounded by largest remainder so quotas sum
   to ``N``; caps (max count / max share per cell) lower quotas;
2. a cell with more rows than its quota keeps the best ones (highest quality
   score first, then a seeded hash order) and drops the rest; injected rows are
   never dropped and count towards the quota first;
3. a cell with fewer rows than its quota keeps everything and is reported with
   its shortfall; optional upsampling fills it with marked copies of its best
   rows, at most ``max_copies`` extra copies per row.

With ``exact: true`` the total shrinks until every non-empty quota can be met, so
the mix is hit exactly and only cells with no rows at all are short.
"""
from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

DIMENSIONS = ("task", "lang", "complexity", "domain")


class Row(NamedTuple):
    """What balancing needs to know about one live row."""

    id: str
    cell: tuple[str, ...]
    injected: bool
    quality: float | None


@dataclass
class Plan:
    """The decisions of one balancing run.

    Attributes:
        drop: Row index -> index into ``cells`` of the cell whose quota it exceeds.
        cells: (cell name, quota) per cell index.
        copies: (row index, copy number starting at 1) for upsampled copies.
        report: Target vs achieved, quotas and shortfalls (JSON-able).
    """

    drop: dict[int, int] = field(default_factory=dict)
    cells: list[tuple[str, int]] = field(default_factory=list)
    copies: list[tuple[int, int]] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def balance_problems(cfg: Mapping[str, Any], tasks: Sequence[str]) -> list[str]:
    """Config problems of the ``balance`` block."""
    probs: list[str] = []
    dims = cfg.get("dimensions") or []
    if not isinstance(dims, list) or not dims:
        probs.append("balance.dimensions: needs at least one of " + ", ".join(DIMENSIONS))
        dims = []
    for d in dims:
        if d not in DIMENSIONS:
            probs.append(f"balance.dimensions: {d!r} is not one of {', '.join(DIMENSIONS)}")
    for d, shares in (cfg.get("targets") or {}).items():
        if d not in dims:
            probs.append(f"balance.targets.{d}: not one of balance.dimensions ({', '.join(map(str, dims))})")
            continue
        if not isinstance(shares, Mapping):
            probs.append(f"balance.targets.{d}: expected a mapping value -> share")
            continue
        for v, s in shares.items():
            if not isinstance(s, (int, float)) or isinstance(s, bool) or not 0 <= s <= 1:
                probs.append(f"balance.targets.{d}.{v}: share must be a number in [0, 1], got {s!r}")
            if d == "task" and v not in tasks:
                probs.append(f"balance.targets.task.{v}: unknown task; known: {', '.join(tasks)}")
        total = sum(s for s in shares.values() if isinstance(s, (int, float)))
        if total > 1 + 1e-9:
            probs.append(f"balance.targets.{d}: shares sum to {total:.3f} > 1")
    if int(cfg.get("budget", 0) or 0) < 0:
        probs.append("balance.budget: must be >= 0")
    caps = cfg.get("caps") or {}
    if int(caps.get("max_cell_count", 0) or 0) < 0 or not 0 <= float(caps.get("max_cell_share", 0) or 0) <= 1:
        probs.append("balance.caps: max_cell_count >= 0 and max_cell_share in [0, 1]")
    up = cfg.get("upsample") or {}
    if up.get("enabled") and int(up.get("max_copies", 0)) < 1:
        probs.append("balance.upsample.max_copies: must be >= 1 when upsampling is enabled")
    return probs


class Supply(NamedTuple):
    """What the quotas need to know about one cell: its live rows, split by origin.

    ``first`` is the input position of the cell's first row; values of a dimension are
    visited in first-seen order, so sums over them add up in the order rows came in.
    """

    injected: int
    raw: int
    first: int

    @property
    def rows(self) -> int:
        return self.injected + self.raw


def supply_of(rows: Sequence[Row]) -> dict[tuple, Supply]:
    """Per-cell supply of live rows (the aggregate :func:`quotas` works from)."""
    inj: dict[tuple, int] = {}
    raw: dict[tuple, int] = {}
    first: dict[tuple, int] = {}
    for i, r in enumerate(rows):
        first.setdefault(r.cell, i)
        if r.injected:
            inj[r.cell] = inj.get(r.cell, 0) + 1
        else:
            raw[r.cell] = raw.get(r.cell, 0) + 1
    return {c: Supply(inj.get(c, 0), raw.get(c, 0), f) for c, f in first.items()}


def _targets(supply: Mapping[tuple, Supply], dims: Sequence[str], targets: Mapping) -> list[dict[str, float] | None]:
    """Target share per value for each targeted dimension (None where no target is set).

    Unlisted values share what the listed ones leave, in proportion to their supply.
    """
    in_order = sorted(supply.items(), key=lambda kv: kv[1].first)
    out: list[dict[str, float] | None] = []
    for i, d in enumerate(dims):
        want = {str(k): float(v) for k, v in (targets.get(d) or {}).items()}
        if not want:
            out.append(None)
            continue
        observed: dict[str, int] = {}
        for c, s in in_order:
            if c[i] not in want:
                observed[c[i]] = observed.get(c[i], 0) + s.rows
        rest = max(0.0, 1.0 - sum(want.values()))
        ulen = sum(observed.values())
        shares = dict(want)
        for v, c in observed.items():
            shares[v] = rest * c / ulen
        total = sum(shares.values())
        out.append({v: x / total for v, x in shares.items()} if total > 0 else shares)
    return out


def _joint(supply: Mapping[tuple, Supply], dims: Sequence[str], tgt: list) -> dict[tuple, float]:
    """Cell shares: the observed joint mix raked (iterative proportional fitting) to the targets.

    Raking keeps the observed relation between dimensions (e.g. that code is mostly
    English) while it moves each targeted marginal onto its target. Cells of the
    product space with no rows start from a tiny share, so a target that no row can
    meet still gets a quota and shows up as a shortfall.
    """
    counts = {c: s.rows for c, s in supply.items() if s.rows}
    n = sum(counts.values())
    values = []
    for i in range(len(dims)):
        vs = {c[i] for c in counts}
        if tgt[i]:
            vs |= {v for v, x in tgt[i].items() if x > 0}
        values.append(sorted(vs))
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


@dataclass
class Quotas:
    """Per-cell quotas, computed from per-cell supply alone (:func:`quotas`).

    Everything but *which* rows go follows from these numbers: how many rows each cell
    drops and keeps, how many copies it gets, its shortfall and the whole report.
    """

    dims: list[str]
    tgt: list
    quota: dict[tuple, int]
    supply: dict[tuple, Supply]
    total: int
    rows: int
    max_copies: int
    top: int

    def cells(self) -> list[tuple]:
        """Every cell with a quota or a row, sorted (the order of ``Plan.cells``)."""
        return sorted(set(self.quota) | set(self.supply))

    def _s(self, c: tuple) -> Supply:
        return self.supply.get(c) or Supply(0, 0, -1)

    def room(self, c: tuple) -> int:
        """Raw (not injected) rows the cell may keep."""
        return max(0, self.quota.get(c, 0) - self._s(c).injected)

    def dropping(self, c: tuple) -> int:
        """Raw rows over the cell's quota (dropped)."""
        return max(0, self._s(c).raw - self.room(c))

    def copies(self, c: tuple) -> int:
        """Upsampled copies the cell gets (0 unless upsampling is on and the cell is short)."""
        s, q = self._s(c), self.quota.get(c, 0)
        if not self.max_copies or q <= s.rows or not s.rows:
            return 0
        return min(q - s.rows, self.max_copies * s.rows)

    def report(self) -> dict:
        kept: dict[tuple, int] = {}
        short: dict[tuple, int] = {}
        for c in self.cells():
            s, q, need = self._s(c), self.quota.get(c, 0), self.copies(c)
            kept[c] = s.injected + min(self.room(c), s.raw) + need
            if q > s.rows + need:
                short[c] = q - s.rows - need
        dropped = sum(self.dropping(c) for c in self.cells())
        copies = sum(self.copies(c) for c in self.cells())
        counts = {c: s.rows for c, s in self.supply.items()}
        return _report(self.dims, self.tgt, self.quota, counts, kept, short, self.total, self.rows, dropped,
                       copies, self.top)


def quotas(supply: Mapping[tuple, Supply], dims: Sequence[str], cfg: Mapping[str, Any]) -> Quotas:
    """Each cell's quota from the per-cell supply (see the module docstring, step 1).

    Args:
        supply: Cell -> :class:`Supply` of the live rows (cells without rows may be absent).
        dims: The dimensions that make up a cell.
        cfg: The ``balance`` rules block.
    """
    supply = {c: s for c, s in supply.items() if s.rows}
    rows = sum(s.rows for s in supply.values())
    tgt = _targets(supply, dims, cfg.get("targets") or {})
    shares = _joint(supply, dims, tgt)
    n = int(cfg.get("budget", 0) or 0) or rows
    if cfg.get("exact"):
        feasible = [supply[c].rows / s for c, s in shares.items() if c in supply]
        n = min([n] + [math.floor(f + 1e-9) for f in feasible])
    quota = _largest_remainder(n, shares)
    caps = cfg.get("caps") or {}
    cap = min(int(caps.get("max_cell_count", 0) or 0) or n,
              math.floor(float(caps.get("max_cell_share", 0) or 0) * n) or n)
    for c in list(set(quota) | set(supply)):
        quota[c] = min(quota.get(c, 0), cap)
    up = cfg.get("upsample") or {}
    max_copies = int(up.get("max_copies", 0)) if up.get("enabled") else 0
    return Quotas(list(dims), tgt, quota, supply, n, rows, max_copies, int(cfg.get("report_shortfalls", 20)))


class Selection(NamedTuple):
    """Which rows of one cell go, and the order copies are made in.

    Positions index the cell's rows as passed to :func:`select`.
    """

    drop: list[int]    # rows over the quota, best first (the order ``Plan.drop`` gets them in)
    ranked: list[int]  # kept rows, best first (copies cycle through them)


def select(rows: Sequence[Row], quota: int, seed: int) -> Selection:
    """One cell's selection (step 2): injected rows stay and count first; then the best raw rows.

    Args:
        rows: Every live row of one cell, in input order.
        quota: The cell's quota.
        seed: Run seed for the order among equally good rows.
    """
    injected = [i for i, r in enumerate(rows) if r.injected]
    raw = sorted((i for i, r in enumerate(rows) if not r.injected), key=lambda i: _rank_key(rows[i], seed))
    room = max(0, quota - len(injected))
    keep = injected + raw[:room]
    return Selection(raw[room:], sorted(keep, key=lambda i: _rank_key(rows[i], seed)))


def copy_plan(ranked: Sequence, need: int) -> list[tuple]:
    """(source, copy number) for ``need`` copies cycling through ``ranked`` (best first)."""
    return [(ranked[k % len(ranked)], k // len(ranked) + 1) for k in range(need)]


def plan(rows: Sequence[Row], dims: Sequence[str], cfg: Mapping[str, Any], seed: int) -> Plan:
    """Decide which rows to drop (and which to copy) to approach the target mix.

    :func:`quotas` from :func:`supply_of` the rows, then :func:`select` in every cell
    that drops rows or gets copies. (The ray engine runs the same two steps from
    aggregates: pipeline/engines/ray_balance.py.)

    Args:
        rows: Every live row, in input order; ``cell`` holds its values of ``dims``.
        dims: The dimensions that make up a cell.
        cfg: The ``balance`` rules block.
        seed: Run seed for the order among equally good rows.
    """
    q = quotas(supply_of(rows), dims, cfg)
    members: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        members.setdefault(r.cell, []).append(i)
    out = Plan()
    for cell_no, c in enumerate(q.cells()):
        out.cells.append((_name(c), q.quota.get(c, 0)))
        need = q.copies(c)
        if not q.dropping(c) and not need:
            continue
        idx = members[c]
        sel = select([rows[i] for i in idx], q.quota.get(c, 0), seed)
        for j in sel.drop:
            out.drop[idx[j]] = cell_no
        out.copies += [(idx[j], k) for j, k in copy_plan(sel.ranked, need)]
    out.report = q.report()
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
