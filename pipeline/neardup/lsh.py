"""datasketch ``MinHashLSH`` over our signatures, and candidate groups from its buckets.

The index is datasketch's own: band parameters come from
``MinHashLSH``'s optimiser for the threshold (or are set explicitly), signatures go
in as ``LeanMinHash`` objects, and the band hash tables live in its storage layer.
Instead of querying every document again (which would rebuild every band key), the
candidates are read back from those hash tables: documents that share a bucket in
any band are exactly the documents ``MinHashLSH.query`` would return for each other.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np
from datasketch import MinHashLSH
from datasketch.storage import DictListStorage, DictSetStorage

from pipeline.neardup.gcpause import gc_paused
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


def band_keys(signatures: np.ndarray, hashranges: Sequence[tuple[int, int]]) -> list[list[bytes]]:
    """The bucket key of every document in every band: ``[band][doc] -> bytes``.

    A band key is the band's slice of the signature as big-endian 32-bit values,
    byte for byte what ``MinHashLSH`` stores, so two documents share a bucket
    exactly when their keys are equal. Engines that bucket documents themselves
    (the ray engine groups these keys with a shuffle) get datasketch's candidates.
    """
    n = len(signatures)
    swapped = np.asarray(signatures).astype(">u4")
    out = []
    for lo, hi in hashranges:
        blob = np.ascontiguousarray(swapped[:, lo:hi]).tobytes()
        width = (hi - lo) * 4
        out.append([blob[k:k + width] for k in range(0, n * width, width)])
    return out


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
        self.threshold = threshold
        self.bands, self.rows = band_params(threshold, hasher.num_perm, bands, rows, weights)
        self.lsh = MinHashLSH(threshold=threshold, num_perm=hasher.num_perm,
                              params=(self.bands, self.rows))
        self.size = 0

    def insert(self, keys: Sequence[int], signatures: np.ndarray) -> None:
        """Insert one batch; ``keys`` are unique ints (document numbers in input order).

        The first document goes through ``MinHashLSH.insert`` (which also records the
        MinHash scheme); the rest are written to the same storage layer directly with
        band keys cut from the whole batch at once. The bytes are exactly what
        ``MinHashLSH`` computes per band (big-endian hash values), so the index is
        the one datasketch would have built, without its per-band Python overhead.
        With datasketch's in-memory storage (the default) the batch is written into
        its dicts in one pass per band; any other storage gets ``insert`` calls.
        """
        n = len(keys)
        if n == 0:
            return
        keys = [int(k) for k in keys]
        if self.size == 0:
            self.lsh.insert(keys[0], self.hasher.lean(signatures[0]), check_duplication=False)
            keys, signatures = keys[1:], signatures[1:]
            n -= 1
            self.size += 1
        if n == 0:
            return
        bands = band_keys(signatures, self.lsh.hashranges)
        if (self._in_memory() and len(set(keys)) == n
                and self.lsh.keys._dict.keys().isdisjoint(keys)):  # new, distinct keys
            _bulk_insert(self.lsh, keys, bands)
        else:
            for k, key in enumerate(keys):
                hs = [band[k] for band in bands]
                self.lsh.keys.insert(key, *hs)
                for h, table in zip(hs, self.lsh.hashtables):
                    table.insert(h, key)
        self.size += n

    def _in_memory(self) -> bool:
        """Whether the index uses datasketch's dict storage (whose dicts can be filled in bulk)."""
        lsh = self.lsh
        return (type(lsh.keys) is DictListStorage and isinstance(getattr(lsh.keys, "_dict", None), defaultdict)
                and all(type(t) is DictSetStorage and isinstance(getattr(t, "_dict", None), defaultdict)
                        for t in lsh.hashtables))

    def clear(self) -> None:
        """Empty the index now (its bands and parameters stay).

        ``MinHashLSH`` keeps a bound method of itself, a reference cycle, so a dropped
        index is only freed by the cyclic collector, which then has to scan every
        bucket set first. Callers done with an index clear it instead.
        """
        if self._in_memory():
            self.lsh.keys._dict.clear()
            for table in self.lsh.hashtables:
                table._dict.clear()
        else:
            self.lsh = MinHashLSH(threshold=self.threshold, num_perm=self.hasher.num_perm,
                                  params=(self.bands, self.rows))
        self.size = 0

    @property
    def hashranges(self) -> list[tuple[int, int]]:
        """Signature slice ``(lo, hi)`` of each band, in band order."""
        return list(self.lsh.hashranges)

    def query(self, signature: np.ndarray) -> list[int]:
        """Keys sharing at least one band with ``signature`` (datasketch's own query)."""
        return sorted(self.lsh.query(self.hasher.lean(signature)))

    def buckets(self) -> Iterator[list[int]]:
        """Every bucket holding two or more documents, members sorted, in a fixed order.

        Tables are visited band by band and buckets in insertion order (dicts keep
        it), so the order depends only on the input order of the documents.
        """
        if self._in_memory():  # the same walk over datasketch's dicts, without a get() per key
            for table in self.lsh.hashtables:
                for members in table._dict.values():
                    if len(members) > 1:
                        yield sorted(members)
            return
        for table in self.lsh.hashtables:
            for band_key in table:  # a datasketch Storage iterates over its keys
                members = table.get(band_key)
                if len(members) > 1:
                    yield sorted(members)


def _bulk_insert(lsh: MinHashLSH, keys: list[int], bands: list[list[bytes]]) -> None:
    """What ``MinHashLSH.insert`` does for each key in turn, written straight into its dict storage.

    ``keys`` are new to the index. Per band table, each bucket key gets the set of
    documents under it; a key first seen here is added in the order of its first
    document, as a sequence of inserts would add it, so the tables iterate alike.
    """
    with gc_paused():  # millions of new sets: the cyclic collector would rescan them again and again
        lsh.keys._dict.update(zip(keys, map(list, zip(*bands))))
        for band, table in zip(bands, lsh.hashtables):
            d = table._dict
            get = d.get
            for h, key in zip(band, keys):
                members = get(h)
                if members is None:
                    d[h] = {key}
                else:
                    members.add(key)

