"""Union-find, verification, representatives, the LSH wrapper and config validation."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.neardup.cluster import UnionFind, link_buckets, part_jaccard, pick_representative
from pipeline.neardup.config import NearDupConfig
from pipeline.neardup.lsh import LSHIndex, band_params
from pipeline.neardup.minhash import MinHasher
from pipeline.neardup.shingle import PART_SHIFT


def test_union_find_roots_are_smallest_members_and_groups_sorted():
    uf = UnionFind(6)
    uf.union(4, 2)
    uf.union(5, 4)
    uf.union(0, 3)
    assert uf.find(5) == 2
    assert uf.groups() == {0: [0, 3], 2: [2, 4, 5]}


def _tagged(part: int, values: list[int]) -> list[int]:
    return [(part << int(PART_SHIFT)) | v for v in values]


def test_part_jaccard_matches_python_sets():
    a = np.array(sorted(_tagged(0, [1, 2, 3, 4]) + _tagged(2, [7, 8])), dtype=np.uint64)
    b = np.array(sorted(_tagged(0, [2, 3, 4, 5]) + _tagged(2, [9])), dtype=np.uint64)
    overall, parts = part_jaccard(a, b, 3)
    assert overall == pytest.approx(3 / 8)
    assert parts == [pytest.approx(3 / 5), None, 0.0]


def test_link_buckets_verifies_and_caches_pairs():
    calls = []

    def verify(a, b):
        calls.append((a, b))
        return {a, b} <= {1, 2, 3}

    uf = UnionFind(5)
    stats = link_buckets([[1, 2, 4], [1, 2, 4], [3, 2]], uf, verify)
    assert uf.groups() == {1: [1, 2, 3]}
    assert len(calls) == len(set(calls))  # every pair verified at most once
    assert stats["pairs_accepted"] == 2
    uf2 = UnionFind(5)
    link_buckets([[1, 2, 4]], uf2, None)  # plain LSH merges the whole bucket
    assert uf2.groups() == {1: [1, 2, 4]}


def test_representative_policy():
    q = [None, 0.5, 0.9, None]
    lens = [10, 50, 5, 80]
    assert pick_representative([0, 1, 2, 3], ["quality", "longest_output", "first"], q, lens) == 2
    assert pick_representative([0, 1, 3], ["quality", "longest_output"], q, lens) == 1
    assert pick_representative([0, 3], ["quality", "longest_output"], q, lens) == 3
    assert pick_representative([0, 1, 2, 3], ["first"], q, lens) == 0
    assert pick_representative([1, 3], ["longest_output"], [None] * 4, [0, 9, 0, 9]) == 1  # tie -> first


def test_band_params_derived_or_explicit():
    assert band_params(0.7, 128) == (14, 9)  # datasketch's optimum for 0.7
    assert band_params(0.7, 128, bands=16, rows=8) == (16, 8)
    assert band_params(0.7, 128, bands=32) == (32, 4)


def test_buckets_are_what_datasketch_query_returns():
    rng = np.random.default_rng(0)
    mh = MinHasher(64, 1)
    base = rng.integers(0, 2**62, size=50, dtype=np.uint64)
    docs = [base, np.concatenate([base[:45], rng.integers(0, 2**62, 5, dtype=np.uint64)]),
            rng.integers(0, 2**62, size=50, dtype=np.uint64), base[:48]]
    sig = mh.signatures(np.concatenate(docs), np.array([0, 50, 100, 150, 198]))
    idx = LSHIndex(mh, threshold=0.7)
    idx.insert([0, 1, 2, 3], sig)
    partners = {i: set() for i in range(4)}
    for members in idx.buckets():
        for m in members:
            partners[m] |= set(members) - {m}
    for i in range(4):
        assert partners[i] == set(idx.query(sig[i])) - {i}
    assert partners[2] == set()
    assert partners[0] == {1, 3}


@pytest.mark.parametrize("near,needle", [
    ({"key": "instruction"}, "near.key"),
    ({"threshold": 0}, "near.threshold"),
    ({"threshold": 1.5}, "near.threshold"),
    ({"bands": 20, "rows": 10}, "exceeds num_perm"),
    ({"word_n": 0}, "near.word_n"),
    ({"representative": ["best"]}, "near.representative"),
    ({"lsh_weights": [0.9, 0.9]}, "near.lsh_weights"),
    ({"treshold": 0.5}, "near.treshold: unknown"),
    ({"num_proc": 0}, "near.num_proc"),
])
def test_config_problems_are_reported(near, needle):
    probs = NearDupConfig.from_rules(near).problems()
    assert any(needle in p for p in probs), probs


def test_default_rules_are_valid():
    from pipeline.config import stage_rules

    assert NearDupConfig.from_rules(stage_rules("dedup")["near"]).problems() == []


def test_batch_insert_builds_the_index_datasketch_would_build():
    rng = np.random.default_rng(3)
    mh = MinHasher(64, 1)
    hashes = rng.integers(0, 2**62, size=400, dtype=np.uint64)
    sig = mh.signatures(hashes, np.arange(0, 401, 20))
    ours = LSHIndex(mh, threshold=0.5)
    ours.insert(list(range(10)), sig[:10])
    ours.insert(list(range(10, 20)), sig[10:])
    ref = LSHIndex(mh, threshold=0.5)
    for i in range(20):
        ref.lsh.insert(i, mh.lean(sig[i]))
    def tables(index):
        return [{h: set(t.get(h)) for h in t} for t in index.lsh.hashtables]

    assert tables(ours) == tables(ref)
    assert {k: ours.lsh.keys.get(k) for k in range(20)} == {k: ref.lsh.keys.get(k) for k in range(20)}
    assert 5 in ours.lsh and ours.query(sig[5]) == ref.query(sig[5])
