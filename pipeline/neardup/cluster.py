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
        parent = self.parent
        # Only members that were ever linked have a parent other than themselves; every
        # root of a set with two or more members is its smallest member, so ascending
        # roots, each followed by its other members in ascending order.
        linked = np.flatnonzero(np.asarray(parent, dtype=np.int64) != np.arange(len(parent))).tolist()
        rest: dict[int, list[int]] = {}
        for x in linked:
            rest.setdefault(self.find(x), []).append(x)
        return {r: [r, *rest[r]] for r in sorted(rest)}


def sorted_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The elements of sorted unique ``a`` that are in sorted unique ``b``, in order.

    ``np.intersect1d`` would concatenate and sort both; a binary search of each
    element of the smaller array in the larger one finds the same elements.
    """
    if a.size > b.size:
        a, b = b, a
    if a.size == 0:
        return a
    at = np.searchsorted(b, a)
    at[at == b.size] = 0  # past the end: compared with b[0], which is below a's element
    return a[b[at] == a]


#: Where parts 1, 2 and 3 start in a sorted set of part-tagged hashes.
PART_STARTS = np.arange(1, 4, dtype=np.uint64) << PART_SHIFT


def part_cuts(s: np.ndarray) -> list[int]:
    """Start of each part 0..3 in a sorted set of part-tagged hashes, then its size."""
    return [0, *s.searchsorted(PART_STARTS).tolist(), s.size]


def part_counts(s: np.ndarray, nparts: int) -> list[int]:
    """Elements of a sorted hash set per part (the part is in the top bits, so parts are runs)."""
    cuts = part_cuts(s)
    return [cuts[p + 1] - cuts[p] if p < 4 else 0 for p in range(nparts)]


def part_jaccard(a: np.ndarray, b: np.ndarray, nparts: int) -> tuple[float, list[float | None]]:
    """Exact Jaccard of two sorted unique shingle-hash sets, overall and per part.

    Returns:
        (overall, per-part) where a part that is empty in both documents is None.
    """
    return counted_jaccard(a, b, part_counts(a, nparts), part_counts(b, nparts))


def counted_jaccard(a: np.ndarray, b: np.ndarray, ca: Sequence[int], cb: Sequence[int]
                    ) -> tuple[float, list[float | None]]:
    """:func:`part_jaccard` with the per-part sizes of ``a`` and ``b`` already known."""
    inter = sorted_overlap(a, b)
    nparts = len(ca)
    ci = part_counts(inter, nparts)
    union = a.size + b.size - inter.size
    overall = inter.size / union if union else 1.0
    parts: list[float | None] = []
    for p in range(nparts):
        u = ca[p] + cb[p] - ci[p]
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
    find, union = uf.find, uf.union
    parent = uf.parent
    nbuckets = checked = accepted = 0
    for members in buckets:
        nbuckets += 1
        if verify is None:
            for m in members[1:]:
                union(members[0], m)
            continue
        if len(members) == 2 and max_heads > 0:  # the common case, same steps as the loop below
            h, m = members
            if parent[h] == h and parent[m] == m:
                same = h == m
            else:
                same = find(h) == find(m)
            if same:
                continue
            pair = (h, m) if h < m else (m, h)
            ok = tried.get(pair)
            if ok is None:
                ok = tried[pair] = verify(*pair)
                checked += 1
                accepted += ok
            if ok:
                union(h, m)
            continue
        heads: list[int] = []
        for m in members:
            root = find(m)
            linked = False
            for h in heads:
                if find(h) == root:
                    linked = True
                    break
                pair = (h, m) if h < m else (m, h)
                ok = tried.get(pair)
                if ok is None:
                    ok = tried[pair] = verify(*pair)
                    checked += 1
                    accepted += ok
                if ok:
                    union(h, m)
                    linked = True
                    break
            if not linked and len(heads) < max_heads:
                heads.append(m)
    stats.update(buckets=nbuckets, pairs_checked=checked, pairs_accepted=accepted)
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
