"""Vectorised MinHash: bit-identical to datasketch, usable by its LSH, same estimate quality."""
from __future__ import annotations

import hashlib

import numpy as np
from datasketch import MinHash, MinHashLSH

from pipeline.neardup.minhash import EMPTY, MinHasher, estimate_jaccard


def _docs(rng: np.random.Generator, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    parts = [rng.integers(0, 2**64 - 1, size=s, dtype=np.uint64) for s in sizes]
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    return (np.concatenate(parts) if parts else np.zeros(0, np.uint64)), offsets


def test_signatures_equal_datasketch_minhash_for_every_document():
    rng = np.random.default_rng(0)
    sizes = [1, 2, 7, 8, 9, 31, 64, 65, 200, 0, 3, 1000, 5]
    hashes, offsets = _docs(rng, sizes)
    mh = MinHasher(num_perm=64, seed=3)
    sig = mh.signatures(hashes, offsets)
    for i, s in enumerate(sizes):
        if s == 0:
            assert (sig[i] == EMPTY).all()
            continue
        ref = mh.datasketch_minhash(hashes[offsets[i]:offsets[i + 1]])
        assert np.array_equal(ref.hashvalues, sig[i]), i


def test_huge_document_is_folded_in_slices_with_the_same_result():
    rng = np.random.default_rng(1)
    hashes, offsets = _docs(rng, [70_000])  # 70k x 64 perms is above the slice limit
    mh = MinHasher(num_perm=64, seed=1)
    assert np.array_equal(mh.signatures(hashes, offsets)[0], mh.datasketch_minhash(hashes).hashvalues)


def test_chunk_size_does_not_change_signatures():
    rng = np.random.default_rng(2)
    hashes, offsets = _docs(rng, list(rng.integers(0, 90, size=300)))
    a = MinHasher(128, 1, chunk=64).signatures(hashes, offsets)
    b = MinHasher(128, 1, chunk=4096).signatures(hashes, offsets)
    assert np.array_equal(a, b)


def test_lean_minhash_goes_into_datasketch_lsh_and_estimates_jaccard():
    rng = np.random.default_rng(4)
    base = rng.integers(0, 2**63, size=100, dtype=np.uint64)
    near = base.copy()
    near[:10] = rng.integers(0, 2**63, size=10, dtype=np.uint64)  # true Jaccard 90/110
    other = rng.integers(0, 2**63, size=100, dtype=np.uint64)
    hashes = np.concatenate([base, near, other])
    mh = MinHasher(128, 1)
    sig = mh.signatures(hashes, np.array([0, 100, 200, 300]))
    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    for i in range(3):
        lsh.insert(i, mh.lean(sig[i]))
    assert sorted(lsh.query(mh.lean(sig[0]))) == [0, 1]
    est = mh.lean(sig[0]).jaccard(mh.lean(sig[1]))
    assert est == estimate_jaccard(sig[0], sig[1])
    assert abs(est - 90 / 110) < 0.15


def _h64(b: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(b, digest_size=8).digest(), "little")


def test_estimate_error_is_the_same_as_datasketch_default_hashing():
    """Same sets, our hashing vs datasketch's SHA1 default: equal estimate quality."""
    rng = np.random.default_rng(7)
    errs_ours, errs_ds = [], []
    mh = MinHasher(128, 1)
    for k in range(60):
        shared = [f"s{k}-{i}".encode() for i in range(60)]
        a = shared + [f"a{k}-{i}".encode() for i in range(int(rng.integers(0, 40)))]
        b = shared + [f"b{k}-{i}".encode() for i in range(int(rng.integers(0, 40)))]
        true = len(set(a) & set(b)) / len(set(a) | set(b))
        ha = np.array([_h64(x) for x in a], dtype=np.uint64)
        hb = np.array([_h64(x) for x in b], dtype=np.uint64)
        sig = mh.signatures(np.concatenate([ha, hb]), np.array([0, len(a), len(a) + len(b)]))
        errs_ours.append(abs(estimate_jaccard(sig[0], sig[1]) - true))
        ma, mb = MinHash(num_perm=128), MinHash(num_perm=128)
        ma.update_batch(a)
        mb.update_batch(b)
        errs_ds.append(abs(ma.jaccard(mb) - true))
    # Standard error of a 128-permutation estimate is about 0.04; both are in that regime.
    assert np.mean(errs_ours) < 0.06 and np.mean(errs_ds) < 0.06
    assert abs(np.mean(errs_ours) - np.mean(errs_ds)) < 0.02
