"""Vectorised MinHash signatures for a whole batch, bit-identical to datasketch.

datasketch's default scheme ("affine32") maps each 32-bit input hash ``h`` to
``a_k * fmix32(h) + b_k mod 2**32`` for every permutation ``k`` and keeps the
minimum per permutation. :class:`MinHasher` takes its ``(a, b)`` from a
``datasketch.MinHash`` with the same ``num_perm`` and ``seed`` and computes the
same values for many documents at once, so its signatures can be wrapped in
``datasketch.LeanMinHash`` and go straight into ``datasketch.MinHashLSH``. The input
hash of a shingle is the low 32 bits of its 64-bit hash from
:mod:`pipeline.neardup.shingle`.

Why it is fast: ``MinHash.update_batch`` reduces one document at a time, so a batch
of short documents pays numpy's call overhead per document. Here documents with a
similar shingle count are grouped and padded to a common length by repeating one
of their own shingles (which cannot change a minimum), so a chunk of documents is
one dense ``(docs, length, num_perm)`` multiply-add and one ``min`` over an axis.
"""
from __future__ import annotations

import numpy as np
from datasketch import LeanMinHash, MinHash

SCHEME = "affine32"
EMPTY = np.uint32(0xFFFFFFFF)
_U32 = np.uint32


def fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (what datasketch applies to every input hash)."""
    x = x ^ (x >> _U32(16))
    x = x * _U32(0x85EBCA6B)
    x = x ^ (x >> _U32(13))
    x = x * _U32(0xC2B2AE35)
    return x ^ (x >> _U32(16))


def _padded_lengths(counts: np.ndarray) -> np.ndarray:
    """Round shingle counts up to a geometric grid (at most 1/8 padding above 8)."""
    grid = [0, 1, 2, 3, 4, 5, 6, 7, 8]
    top = int(counts.max()) if counts.size else 0
    while grid[-1] < top:
        grid.append(grid[-1] + max(1, grid[-1] // 8))
    grid_arr = np.array(grid, dtype=np.int64)
    return grid_arr[np.searchsorted(grid_arr, counts)]


class MinHasher:
    """Computes datasketch-compatible MinHash signatures for batches of documents.

    Args:
        num_perm: Number of permutations (signature length).
        seed: datasketch's permutation seed.
        chunk: Target shingle rows per dense block; a block is
            ``chunk * num_perm * 4`` bytes, sized to stay in the CPU cache.
    """

    def __init__(self, num_perm: int = 128, seed: int = 1, chunk: int = 512):
        proto = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME)
        self.num_perm = num_perm
        self.seed = seed
        self.chunk = chunk
        self.a = np.ascontiguousarray(proto.permutations[0], dtype=np.uint32)
        self.b = np.ascontiguousarray(proto.permutations[1], dtype=np.uint32)

    def signatures(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Signatures of every document of a batch.

        Args:
            hashes: Shingle hashes (any unsigned width; the low 32 bits are used),
                grouped by document.
            offsets: Document ``i`` owns ``hashes[offsets[i]:offsets[i + 1]]``.

        Returns:
            ``uint32`` array ``(docs, num_perm)``. A document without shingles gets
            the all-``0xFFFFFFFF`` signature of an empty datasketch MinHash; callers
            must not index it (it would collide with every other empty document).
        """
        ndocs = len(offsets) - 1
        sig = np.full((ndocs, self.num_perm), EMPTY, dtype=np.uint32)
        if ndocs == 0 or hashes.size == 0:
            return sig
        h = fmix32((hashes & 0xFFFFFFFF).astype(np.uint32))
        starts = offsets[:-1]
        counts = np.diff(offsets)
        padded = _padded_lengths(counts)
        order = np.argsort(padded, kind="stable")
        bounds = np.flatnonzero(np.diff(padded[order])) + 1
        for group in np.split(order, bounds):
            length = int(padded[group[0]])
            if length == 0:
                continue
            step = max(1, self.chunk // length)
            cols = np.arange(length)
            for i in range(0, group.size, step):
                docs = group[i:i + step]
                # Pad by repeating each document's last shingle: the minimum is unchanged.
                idx = starts[docs, None] + np.minimum(cols, counts[docs, None] - 1)
                sig[docs] = self._min_block(h[idx])
        return sig

    def _min_block(self, block: np.ndarray) -> np.ndarray:
        """min over axis 1 of ``a * block + b`` for a ``(docs, length)`` block."""
        docs, length = block.shape
        if length * self.num_perm > (1 << 22):  # a huge document: fold it in slices
            out = np.full((docs, self.num_perm), EMPTY, dtype=np.uint32)
            piece = max(1, (1 << 22) // self.num_perm)
            for s in range(0, length, piece):
                np.minimum(out, self._min_block(block[:, s:s + piece]), out=out)
            return out
        prod = np.multiply(block[:, :, None], self.a, dtype=np.uint32)
        np.add(prod, self.b, out=prod)
        return prod.min(axis=1)

    def lean(self, signature: np.ndarray) -> LeanMinHash:
        """Wrap one signature as a ``datasketch.LeanMinHash`` (for LSH insertion or jaccard)."""
        return LeanMinHash(seed=self.seed, hashvalues=signature, scheme=SCHEME)

    def datasketch_minhash(self, hashes: np.ndarray) -> MinHash:
        """The same signature computed by datasketch itself (slow; for tests and checks)."""
        m = MinHash(num_perm=self.num_perm, seed=self.seed, scheme=SCHEME, hashfunc=int)
        m.update_batch([int(x) & 0xFFFFFFFF for x in hashes])
        return m


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """MinHash Jaccard estimate: the fraction of equal signature slots."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)
