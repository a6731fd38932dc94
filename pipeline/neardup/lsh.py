"""datasketch ``MinHashLSH`` over our signatures, and candidate groups from its buckets.

The index is datasketch's own: band parameters come from
``MinHashLSH``'s optimiser for the threshold (or are set explicitly), signatures go
in as ``LeanMinHash`` objects, and the band hash tables live in its storage layer.
Instead of querying every document again (which would rebuild every band key), the
candidates are read back from those hash tables: documents that share a bucket in
any band are exactly the documents ``MinHashLSH.query`` would return for each other.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from datasketch import MinHashLSH

from pipeline.neardup.minhash import MinHasher


def band_params(threshold: float, num_perm: int, bands: int | None = None, rows: int | None = None,
                weights: Sequence[float] = (0.5, 0.5)) -> tuple[int, int]:
    """(bands, rows): explicit when both are given, else datasketch's optimum for the threshold.

    With only one of them given, the other is the largest value that fits ``num_perm``.
    """
    if bands and rows:
        return int(bands), int(rows)
    if bands:
        return int(bands), num_perm // int(bands)
    if rows:
        return num_perm // int(rows), int(rows)
    probe = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=tuple(weights))
    return probe.b, probe.r


class LSHIndex:
    """A ``datasketch.MinHashLSH`` keyed by integer document numbers.

    Args:
        hasher: Supplies ``num_perm``/``seed`` and wraps signatures as LeanMinHash.
        threshold: Jaccard threshold the bands are tuned for.
        bands: Explicit band count (optional).
        rows: Explicit rows per band (optional).
        weights: datasketch's (false positive, false negative) weights.
    """

    def __init__(self, hasher: MinHasher, threshold: float, bands: int | None = None,
                 rows: int | None = None, weights: Sequence[float] = (0.5, 0.5)):
        self.hasher = hasher
        self.bands, self.rows = band_params(threshold, hasher.num_perm, bands, rows, weights)
        self.lsh = MinHashLSH(threshold=threshold, num_perm=hasher.num_perm,
                              params=(self.bands, self.rows))
        self.size = 0

    def insert(self, keys: Sequence[int], signatures: np.ndarray) -> None:
        """Insert one batch; ``keys`` are unique ints (document numbers in input order)."""
        with self.lsh.insertion_session(buffer_size=max(1, len(keys))) as session:
            for key, sig in zip(keys, signatures):
                session.insert(int(key), self.hasher.lean(sig), check_duplication=False)
        self.size += len(keys)

    def query(self, signature: np.ndarray) -> list[int]:
        """Keys sharing at least one band with ``signature`` (datasketch's own query)."""
        return sorted(self.lsh.query(self.hasher.lean(signature)))

    def buckets(self) -> Iterator[list[int]]:
        """Every bucket holding two or more documents, members sorted, in a fixed order.

        Tables are visited band by band and buckets in insertion order (dicts keep
        it), so the order depends only on the input order of the documents.
        """
        for table in self.lsh.hashtables:
            for band_key in table.keys():
                members = table.get(band_key)
                if len(members) > 1:
                    yield sorted(members)
