"""Union-find clusters from LSH buckets, exact-Jaccard verification, representatives.

Everything here is keyed by document number (input order), iterates in sorted order
and breaks ties by document number, so the same input gives the same clusters and
representatives on every run.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from pipeline.neardup.shingle import PART_SHIFT


class UnionFind:
    """Disjoint sets over 0..n-1; the root of a set is always its smallest member."""

    def __init__(self, n: int = 0):
        self.parent = list(range(n))

    def grow(self, n: int) -> None:
        self.parent.extend(range(len(self.parent), n))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        lo, hi = (ra, rb) if ra < rb else (rb, ra)
        self.parent[hi] = lo
        return lo

    def groups(self) -> dict[int, list[int]]:
        """root -> sorted members, for sets with two or more members."""
        out: dict[int, list[int]] = {}
        for x in range(len(self.parent)):
            out.setdefault(self.find(x), []).append(x)
        return {r: m for r, m in out.items() if len(m) > 1}


def part_jaccard(a: np.ndarray, b: np.ndarray, nparts: int) -> tuple[float, list[float | None]]:
    """Exact Jaccard of two sorted unique shingle-hash sets, overall and per part.

    Returns:
        (overall, per-part) where a part that is empty in both documents is None.
    """
    inter = np.intersect1d(a, b, assume_unique=True)
    ca = np.bincount((a >> PART_SHIFT).astype(np.int64), minlength=nparts)
    cb = np.bincount((b >> PART_SHIFT).astype(np.int64), minlength=nparts)
    ci = np.bincount((inter >> PART_SHIFT).astype(np.int64), minlength=nparts)
    union = a.size + b.size - inter.size
    overall = inter.size / union if union else 1.0
    parts: list[float | None] = []
    for p in range(nparts):
        u = int(ca[p] + cb[p] - ci[p])
        parts.append(None if u == 0 else float(ci[p]) / u)
    return overall, parts


def link_buckets(buckets: Iterable[Sequence[int]], uf: UnionFind,
                 verify: Callable[[int, int], bool] | None, max_heads: int = 64) -> dict[str, int]:
    """Union the members of each bucket, optionally only pairs that pass ``verify``.

    Without verification every bucket is merged whole (plain LSH). With it, each
    member is compared with the first member of each distinct cluster already seen
    in the bucket, so a bucket costs a few comparisons per member rather than all
    pairs; pair results are cached because a true pair shares many bands.

    Returns:
        Counters: buckets, pairs checked, pairs accepted.
    """
    stats = {"buckets": 0, "pairs_checked": 0, "pairs_accepted": 0}
    tried: dict[tuple[int, int], bool] = {}
    for members in buckets:
        stats["buckets"] += 1
        if verify is None:
            for m in members[1:]:
                uf.union(members[0], m)
            continue
        heads: list[int] = []
        for m in members:
            root = uf.find(m)
            linked = False
            for h in heads:
                if uf.find(h) == root:
                    linked = True
                    break
                pair = (h, m) if h < m else (m, h)
                ok = tried.get(pair)
                if ok is None:
                    ok = tried[pair] = verify(*pair)
                    stats["pairs_checked"] += 1
                    stats["pairs_accepted"] += ok
                if ok:
                    uf.union(h, m)
                    linked = True
                    break
            if not linked and len(heads) < max_heads:
                heads.append(m)
    return stats


def pick_representative(members: Sequence[int], policy: Sequence[str], quality: Sequence[float | None],
                        output_len: Sequence[int]) -> int:
    """The member to keep: ranked by the policy's criteria in order, then input order.

    Args:
        members: Document numbers of one cluster.
        policy: Criteria, any of ``quality`` (highest score first; members without a
            score rank last), ``longest_output`` and ``first``.
        quality: Quality score per document (None when absent).
        output_len: Output length in characters per document.
    """
    def rank(m: int) -> tuple:
        key: list = []
        for crit in policy:
            if crit == "quality":
                q = quality[m]
                key.append((0, -q) if q is not None else (1, 0.0))
            elif crit == "longest_output":
                key.append(-output_len[m])
            elif crit == "first":
                key.append(m)
        key.append(m)
        return tuple(key)

    return min(members, key=rank)
