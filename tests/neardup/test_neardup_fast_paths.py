"""The fast paths of near-dedup give exactly what the plain definitions give.

Bulk LSH insertion vs datasketch's own insert (table contents and iteration order),
``part_jaccard`` vs set arithmetic, ``UnionFind.groups`` and ``link_buckets`` vs
straightforward reference versions, and the compact pickling of the dedup stage.
"""
from __future__ import annotations

import gc
import pickle
import random

import numpy as np
import pytest

from pipeline.neardup.cluster import UnionFind, link_buckets, part_jaccard, sorted_overlap
from pipeline.neardup.gcpause import gc_paused
from pipeline.neardup.lsh import LSHIndex
from pipeline.neardup.minhash import MinHasher
from pipeline.neardup.shingle import PART_SHIFT


def _signatures_with_shared_bands(n: int, num_perm: int, seed: int) -> np.ndarray:
    """Signatures where many documents copy some slots of an earlier one (shared buckets)."""
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, 2**32, size=(n, num_perm), dtype=np.uint64).astype(np.uint32)
    for i in range(1, n):
        if rng.random() < 0.6:
            src = int(rng.integers(0, i))
            keep = rng.random(num_perm) < rng.random()
            sig[i, keep] = sig[src, keep]
    return sig


@pytest.mark.parametrize("batches", [[60], [1, 59], [7, 20, 33], [1, 1, 58]])
def test_bulk_insert_matches_datasketch_insert_in_content_and_order(batches):
    mh = MinHasher(64, 1)
    sig = _signatures_with_shared_bands(sum(batches), 64, seed=len(batches))
    ours = LSHIndex(mh, threshold=0.5, bands=16, rows=4)
    lo = 0
    for size in batches:
        ours.insert(list(range(lo, lo + size)), sig[lo:lo + size])
        lo += size
    ref = LSHIndex(mh, threshold=0.5, bands=16, rows=4)
    for i in range(len(sig)):
        ref.lsh.insert(i, mh.lean(sig[i]))

    def tables(index):  # keys in iteration order, each with its members
        return [[(h, sorted(t.get(h))) for h in t] for t in index.lsh.hashtables]

    assert tables(ours) == tables(ref)
    shared = [m for t in tables(ref) for _, m in t if len(m) > 1]
    assert len(shared) > 20  # the data really has shared buckets
    assert list(ours.buckets()) == shared
    assert list(ours.lsh.keys.keys()) == list(ref.lsh.keys.keys())
    assert all(ours.lsh.keys.get(k) == ref.lsh.keys.get(k) for k in range(len(sig)))
    assert ours.size == len(sig)
    for i in (0, 5, len(sig) - 1):
        assert ours.query(sig[i]) == ref.query(sig[i])


def test_clear_empties_the_index_but_keeps_its_parameters():
    mh = MinHasher(32, 1)
    sig = _signatures_with_shared_bands(30, 32, seed=9)
    index = LSHIndex(mh, threshold=0.5)
    bands, rows = index.bands, index.rows
    index.insert(list(range(30)), sig)
    assert list(index.buckets())
    index.clear()
    assert (index.bands, index.rows, index.size) == (bands, rows, 0)
    assert list(index.buckets()) == [] and index.query(sig[0]) == []
    index.insert([0, 1], sig[[3, 3]])  # usable again
    assert list(index.buckets()) == [[0, 1]] * bands


def _reference_part_jaccard(a, b, nparts):
    sa, sb = set(a.tolist()), set(b.tolist())
    union = len(sa | sb)
    overall = len(sa & sb) / union if union else 1.0
    parts = []
    for p in range(nparts):
        pa = {x for x in sa if x >> 62 == p}
        pb = {x for x in sb if x >> 62 == p}
        u = len(pa | pb)
        parts.append(None if u == 0 else len(pa & pb) / u)
    return overall, parts


def _tagged_set(rng, sizes, pool=40):
    parts = [np.uint64(p) << PART_SHIFT | rng.choice(pool, size=n, replace=False).astype(np.uint64)
             for p, n in enumerate(sizes)]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)


@pytest.mark.parametrize("seed", range(6))
def test_part_jaccard_matches_set_arithmetic(seed):
    rng = np.random.default_rng(seed)
    for _ in range(150):
        nparts = int(rng.integers(1, 5))
        a = _tagged_set(rng, [int(rng.integers(0, 12)) for _ in range(nparts)], pool=15)
        b = _tagged_set(rng, [int(rng.integers(0, 12)) for _ in range(nparts)], pool=15)
        got = part_jaccard(a, b, nparts)
        want = _reference_part_jaccard(a, b, nparts)
        assert got[0] == pytest.approx(want[0], abs=0) and got[1] == want[1]
        assert part_jaccard(b, a, nparts) == got  # symmetric, bit for bit
        assert sorted_overlap(a, b).tolist() == sorted(set(a.tolist()) & set(b.tolist()))


def _reference_groups(parent_pairs, n):
    uf = UnionFind(n)
    for a, b in parent_pairs:
        uf.union(a, b)
    out: dict[int, list[int]] = {}
    for x in range(n):
        out.setdefault(uf.find(x), []).append(x)
    return {r: m for r, m in out.items() if len(m) > 1}


def test_groups_match_a_full_scan_in_content_and_order():
    rng = random.Random(4)
    n = 300
    pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(120)]
    uf = UnionFind(n)
    for a, b in pairs:
        uf.union(a, b)
    got = uf.groups()
    want = _reference_groups(pairs, n)
    assert list(got.items()) == list(want.items())
    assert all(r == m[0] and m == sorted(m) for r, m in got.items())


def _reference_link(buckets, n, verify, max_heads):
    """The bucket walk without any shortcut: every bucket through the general loop."""
    uf = UnionFind(n)
    stats = {"buckets": 0, "pairs_checked": 0, "pairs_accepted": 0}
    tried = {}
    for members in buckets:
        stats["buckets"] += 1
        heads = []
        for m in members:
            root = uf.find(m)
            linked = False
            for h in heads:
                if uf.find(h) == root:
                    linked = True
                    break
                pair = (min(h, m), max(h, m))
                if pair not in tried:
                    tried[pair] = verify(*pair)
                    stats["pairs_checked"] += 1
                    stats["pairs_accepted"] += tried[pair]
                if tried[pair]:
                    uf.union(h, m)
                    linked = True
                    break
            if not linked and len(heads) < max_heads:
                heads.append(m)
    return stats, uf.groups()


@pytest.mark.parametrize("max_heads", [0, 1, 2, 64])
def test_link_buckets_matches_the_plain_walk(max_heads):
    rng = random.Random(max_heads)
    n = 80
    ok = {(a, b): rng.random() < 0.5 for a in range(n) for b in range(a + 1, n)}
    buckets = [sorted(rng.sample(range(n), rng.choice([2, 2, 2, 3, 5]))) for _ in range(400)]
    calls = []

    def verify(a, b):
        calls.append((a, b))
        return ok[(a, b)]

    uf = UnionFind(n)
    stats = link_buckets(buckets, uf, verify, max_heads)
    want_stats, want_groups = _reference_link(buckets, n, lambda a, b: ok[(a, b)], max_heads)
    assert stats == want_stats and uf.groups() == want_groups
    assert len(calls) == len(set(calls)) == stats["pairs_checked"]
    if max_heads:
        assert stats["pairs_accepted"] > 0


def test_gc_paused_restores_the_previous_state():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), gc_paused():
        raise KeyError("x")
    assert gc.isenabled()


def test_fitted_dedup_stage_pickles_to_the_same_decisions():
    import dill

    from pipeline.config import stage_rules
    from pipeline.neardup.synth import make_corpus
    from pipeline.processors.dedup import Dedup
    from pipeline.record import FIELDS

    corpus = make_corpus(200, seed=5)
    records = corpus.records + corpus.records[:15]  # exact duplicates too
    for i, r in enumerate(records):
        r["source"] = {**r["source"], "index": i}
    batch = {k: [r[k] for r in records] for k in FIELDS}
    proc = Dedup(stage_rules("dedup"))
    proc.fit([{k: list(v) for k, v in batch.items()}])
    assert proc.dupes and proc.members

    def decide(p):
        b, verdicts = p.process({k: list(v) for k, v in batch.items()})
        return verdicts, b["cluster"], p.summary()

    want = decide(proc)
    for dumps, loads in ((pickle.dumps, pickle.loads), (dill.dumps, dill.loads)):
        copy = loads(dumps(proc))
        assert (copy.first, copy.dupes, copy.members) == (proc.first, proc.dupes, proc.members)
        assert decide(copy) == want
