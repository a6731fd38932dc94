"""Near-duplicate detection over a stream of records: the whole flow in one object.

``add`` takes batches of canonical records in input order: it shingles and hashes
their key text (vectorised), computes MinHash signatures (vectorised, optionally in
a process pool), inserts them into a datasketch ``MinHashLSH`` and keeps each
record's shingle hashes for exact verification. ``finish`` reads candidate buckets
back from the index, verifies pairs, forms union-find clusters, picks one
representative per cluster, detects conflicting answers and returns one
:class:`Member` per clustered record.

Engines that distribute the work (the ray engine) use the same pieces: ``sign_records``
and ``doc_facts`` per batch on the workers, then ``add_candidates`` and ``cluster`` here
with the candidate buckets they found, so the clusters are the ones ``finish`` would give.

Records whose key gives no shingle at all (empty, or only punctuation/emoji) fall
back to exact matching on their normalised key text, and an all-empty key never
matches anything.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from multiprocessing import get_all_start_methods, get_context
from typing import Any

import numpy as np

from pipeline.neardup.cluster import (
    UnionFind,
    counted_jaccard,
    link_buckets,
    part_cuts,
    pick_representative,
    sorted_overlap,
)
from pipeline.neardup.config import NearDupConfig
from pipeline.neardup.gcpause import gc_paused
from pipeline.neardup.lsh import LSHIndex
from pipeline.neardup.minhash import MinHasher
from pipeline.neardup.shingle import PART_SHIFT, char_classes, fold_table, hash_batch, normalize_text
from pipeline.neardup.summary import cluster_summary

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Member:
    """The outcome for one record that belongs to a near-duplicate cluster.

    Attributes:
        cluster: Cluster id (the representative's record id).
        representative: Record id of the member that is kept.
        representative_at: ``file#index`` of the representative.
        is_representative: True for the kept member.
        jaccard: Exact Jaccard of this member's key shingles with the representative's.
        size: Members in the cluster.
        conflict: Why the cluster's outputs disagree ("" when they agree).
    """

    cluster: str
    representative: str
    representative_at: str
    is_representative: bool
    jaccard: float
    size: int
    conflict: str = ""


def key_parts(rec: Mapping[str, Any], cfg: NearDupConfig) -> tuple[list[str], int, int]:
    """The texts shingled for one record.

    Returns:
        (parts, number of key parts, index of the output part). Parts past the key
        parts are auxiliary: shingled for conflict checks, never part of the key.
    """
    prompt = [rec.get("system") or ""]
    for turn in rec.get("history") or []:
        prompt += [turn.get("instruction", ""), turn.get("output", "")]
    prompt.append(rec.get("instruction") or "")
    inp = rec.get("input") or ""
    if not cfg.separate_input:
        prompt.append(inp)
    prompt_text = "\n".join(p for p in prompt if p)
    head = [prompt_text, inp] if cfg.separate_input else [prompt_text]
    output = rec.get("output") or ""
    if cfg.key == "output":
        return [output], 1, 0
    if cfg.key == "prompt":
        return head + [output], len(head), len(head)
    return head + [output], len(head) + 1, len(head)


def numbers_fingerprint(text: str) -> int:
    """A stable hash of the set of numbers in a text (0 when it has none).

    ``\\d`` matches any Unicode digit, so full-width numbers are found in the raw text;
    only the (short) matches are normalised, which keeps this cheap on long outputs.
    """
    found = _NUMBER.findall(text)
    if not found:
        return 0
    nums = sorted({unicodedata.normalize("NFKC", n) for n in found})
    return zlib.crc32("\x1f".join(nums).encode()) | (1 << 32)


def doc_facts(rec: Mapping[str, Any], cfg: NearDupConfig) -> tuple[str, str, float | None, int, int]:
    """What clustering needs about one record besides its shingles.

    Returns:
        (id, ``file#index``, quality score or None, output length, numbers fingerprint)
    """
    src = rec.get("source") or {}
    q = (rec.get("scores") or {}).get(cfg.quality_key)
    out = rec.get("output") or ""
    return (rec["id"], f"{src.get('file', '')}#{src.get('index', '')}",
            float(q) if isinstance(q, (int, float)) else None, len(out),
            numbers_fingerprint(out) if cfg.conflict_numbers else 0)


def fallback_key(parts: Sequence[str], nkey: int) -> str:
    """The exact-match key of a document whose key gives no shingle ("" if the key is empty).

    NUL keeps part boundaries (\x1f would be collapsed as whitespace).
    """
    text = normalize_text("\x00".join(parts[:nkey]))
    return text if text.replace("\x00", "") else ""


def sign_records(records: Sequence[Mapping[str, Any]], cfg: NearDupConfig) -> tuple:
    """Shingle and sign a batch of records in one go (what :meth:`NearDupDetector.add` does per chunk).

    Every result is per document, whatever the batch: engines may cut batches as they like.

    Returns:
        (parts per record, number of key parts, shingle hashes, offsets, key shingle
        counts, ``uint32`` signatures ``(records, num_perm)``)
    """
    docs = [key_parts(rec, cfg)[0] for rec in records]
    nkey = key_parts({}, cfg)[1]
    if not docs:
        return docs, nkey, np.zeros(0, np.uint64), np.zeros(1, np.int64), np.zeros(0, np.int64), \
            np.zeros((0, cfg.num_perm), np.uint32)
    return (docs, nkey, *_signature_job((docs, nkey, cfg.shingle, cfg.num_perm, cfg.minhash_seed)))


@dataclass(frozen=True)
class CandidateDoc:
    """A document computed elsewhere (an engine's workers), handed to :meth:`NearDupDetector.add_candidates`.

    Attributes:
        row_key: How the caller identifies the record in results.
        facts: :func:`doc_facts` of the record.
        shingles: Its sorted unique shingle hashes, all parts.
    """

    row_key: Any
    facts: tuple
    shingles: np.ndarray


def _signature_job(args: tuple) -> tuple:
    """Shingle + sign one chunk of documents (runs in the main process or a pool worker)."""
    docs, nkey, shingle_cfg, num_perm, seed = args
    sb = hash_batch(docs, shingle_cfg)
    hashes, offsets = sb.hashes, sb.offsets
    if nkey < len(docs[0]):  # auxiliary parts are stored but never signed
        doc_of = np.repeat(np.arange(len(docs)), np.diff(offsets))
        keep = (hashes >> PART_SHIFT) < nkey
        hashes_key = hashes[keep]
        offsets_key = np.concatenate(([0], np.cumsum(np.bincount(doc_of[keep], minlength=len(docs)))))
    else:
        hashes_key, offsets_key = hashes, offsets
    sigs = MinHasher(num_perm, seed).signatures(hashes_key, offsets_key)
    return hashes, offsets, np.diff(offsets_key), sigs


class NearDupDetector:
    """Streams records in, then returns clusters. See the module docstring.

    Args:
        cfg: Near-duplicate settings.
    """

    def __init__(self, cfg: NearDupConfig):
        self.cfg = cfg
        self.hasher = MinHasher(cfg.num_perm, cfg.minhash_seed)
        self.index = LSHIndex(self.hasher, cfg.threshold, cfg.bands, cfg.rows, cfg.lsh_weights)
        self.ids: list[str] = []
        self.where: list[str] = []
        self.row_keys: list[Any] = []
        self.quality: list[float | None] = []
        self.output_len: list[int] = []
        self.numbers: list[int] = []
        self.fallback: dict[str, int] = {}
        self.fallback_pairs: list[tuple[int, int]] = []
        self.no_shingle = 0
        self._bases: list[int] = []
        self._hashes: list[np.ndarray] = []
        self._offsets: list[np.ndarray] = []
        self._unique: dict[int, np.ndarray] = {}
        self._cuts: dict[int, tuple[np.ndarray, list[int]]] = {}
        # (a, b) with a < b -> key_jaccard(a, b): verification and the members' scores share it.
        self._jaccards: dict[tuple[int, int], tuple[float, list[float | None]]] = {}
        self._pool = None
        self.nkey = 0
        self.output_part = 0
        self.stats: dict[str, int] = {}
        self.clusters: list[dict] = []
        # Set by an engine that only hands over candidate documents (add_candidates):
        # how many records went into detection in all.
        self.records: int | None = None

    def add(self, records: Sequence[Mapping[str, Any]], row_keys: Sequence[Any]) -> None:
        """Add records (canonical dicts) in input order; ``row_keys`` identify them in results."""
        if not records:
            return
        cfg = self.cfg
        docs = []
        for rec, rk in zip(records, row_keys):
            parts, self.nkey, self.output_part = key_parts(rec, cfg)
            docs.append(parts)
            self._facts(rk, doc_facts(rec, cfg))
        base = len(self.ids) - len(docs)
        step = cfg.batch_size
        if cfg.num_proc > 1:  # give every worker a share of this batch
            step = max(1, min(step, -(-len(docs) // cfg.num_proc)))
        jobs = [(docs[i:i + step], self.nkey, cfg.shingle, cfg.num_perm, cfg.minhash_seed)
                for i in range(0, len(docs), step)]
        results = self._map(jobs)
        for (chunk, *_), (hashes, offsets, key_counts, sigs) in zip(jobs, results):
            self._store(base, chunk, hashes, offsets, key_counts, sigs)
            base += len(chunk)

    def _facts(self, rk: Any, facts: tuple) -> None:
        rid, where, quality, output_len, numbers = facts
        self.ids.append(rid)
        self.where.append(where)
        self.row_keys.append(rk)
        self.quality.append(quality)
        self.output_len.append(output_len)
        self.numbers.append(numbers)

    def add_candidates(self, docs: Sequence[CandidateDoc], records: int, no_shingle: int) -> None:
        """Take documents signed and bucketed elsewhere, in input order (instead of :meth:`add`).

        Only documents that share a bucket (or a no-shingle key) with another one are
        needed; :meth:`cluster` then gets their buckets as positions in ``docs``.

        Args:
            docs: The candidate documents, in input order.
            records: Records that went into detection in all (for the summary).
            no_shingle: How many of them had no key shingle.
        """
        _, self.nkey, self.output_part = key_parts({}, self.cfg)
        for doc in docs:
            self._unique[len(self.ids)] = doc.shingles
            self._facts(doc.row_key, doc.facts)
        self.records, self.no_shingle = records, no_shingle

    def _map(self, jobs: list[tuple]) -> Iterable[tuple]:
        """Results of the jobs in job order; with ``num_proc`` > 1 this process runs the first
        job itself while ``num_proc - 1`` pool workers run the others (only their results
        travel back, and this process is not idle meanwhile)."""
        if self.cfg.num_proc <= 1 or len(jobs) <= 1:
            return map(_signature_job, jobs)
        if self._pool is None:
            # Workers inherit the character tables instead of each building them.
            fold_table()
            char_classes()
            # fork starts in milliseconds and the job touches only numpy; spawn elsewhere.
            method = "fork" if "fork" in get_all_start_methods() else "spawn"
            self._pool = get_context(method).Pool(self.cfg.num_proc - 1)
        rest = self._pool.imap(_signature_job, jobs[1:])  # imap keeps job order; workers start now
        return chain([_signature_job(jobs[0])], rest)

    def _store(self, base: int, docs: list, hashes: np.ndarray, offsets: np.ndarray,
               key_counts: np.ndarray, sigs: np.ndarray) -> None:
        self._bases.append(base)
        self._hashes.append(hashes)
        self._offsets.append(offsets)
        signed = np.flatnonzero(key_counts > 0)
        # Empty signatures would all share every bucket: index only documents with shingles.
        self.index.insert((signed + base).tolist(), sigs[signed])
        for local in np.flatnonzero(key_counts == 0).tolist():
            self.no_shingle += 1
            text = fallback_key(docs[local], self.nkey)
            if not text:
                continue  # an all-empty key matches nothing
            doc = base + local
            first = self.fallback.setdefault(text, doc)
            if first != doc:
                self.fallback_pairs.append((first, doc))

    def shingles(self, doc: int) -> np.ndarray:
        """Sorted unique shingle hashes of one document (all parts, key parts first)."""
        got = self._unique.get(doc)
        if got is None:
            b = bisect.bisect_right(self._bases, doc) - 1
            off = self._offsets[b]
            local = doc - self._bases[b]
            got = np.sort(self._hashes[b][off[local]:off[local + 1]])
            if got.size > 1:  # np.unique, without its overhead on many small arrays
                got = got[np.concatenate(([True], got[1:] != got[:-1]))]
            self._unique[doc] = got
        return got

    def _cut(self, doc: int) -> tuple[np.ndarray, list[int]]:
        """A document's sorted unique hashes and where each of its parts starts (then its size)."""
        got = self._cuts.get(doc)
        if got is None:
            s = self.shingles(doc)
            got = self._cuts[doc] = (s, part_cuts(s))
        return got

    def _key_set(self, doc: int) -> np.ndarray:
        s, cuts = self._cut(doc)
        return s[:cuts[self.nkey]]

    def _part_set(self, doc: int, part: int) -> np.ndarray:
        s, cuts = self._cut(doc)
        return s[cuts[part]:cuts[part + 1]]

    def key_jaccard(self, a: int, b: int) -> tuple[float, list[float | None]]:
        """:func:`part_jaccard` of two documents' key sets (cached per pair; it is symmetric)."""
        pair = (a, b) if a < b else (b, a)
        got = self._jaccards.get(pair)
        if got is None:
            (sa, ca), (sb, cb), nkey = self._cut(a), self._cut(b), self.nkey
            got = self._jaccards[pair] = counted_jaccard(
                sa[:ca[nkey]], sb[:cb[nkey]], [ca[p + 1] - ca[p] for p in range(nkey)],
                [cb[p + 1] - cb[p] for p in range(nkey)])
        return got

    def _verify(self, a: int, b: int) -> bool:
        overall, parts = self.key_jaccard(a, b)
        floor = self.cfg.part_min_jaccard
        return overall >= self.cfg.threshold and all(p is None or p >= floor for p in parts)

    def _conflict(self, rep: int, m: int) -> str:
        """Why member ``m``'s output disagrees materially with the representative's ("" if not)."""
        oa, ob = self._part_set(rep, self.output_part), self._part_set(m, self.output_part)
        if oa.size or ob.size:
            inter = sorted_overlap(oa, ob).size
            j = inter / (oa.size + ob.size - inter)
            if j < self.cfg.conflict_output_jaccard:
                return f"output jaccard {j:.2f} with {self.where[rep]}"
        na, nb = self.numbers[rep], self.numbers[m]
        if na and nb and na != nb:
            return f"numbers differ from {self.where[rep]}"
        return ""

    def finish(self) -> dict[Any, Member]:
        """Cluster everything added so far; returns row key -> :class:`Member`."""
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
        return self.cluster(self.index.buckets(), self.fallback_pairs)

    def cluster(self, buckets: Iterable[Sequence[int]], fallback_pairs: Iterable[tuple[int, int]]) -> dict[Any, Member]:
        """Clusters from candidate buckets and no-shingle pairs; returns row key -> :class:`Member`.

        Args:
            buckets: Sorted document numbers per LSH bucket with two or more members,
                band by band and, within a band, in the order of each bucket's first
                member (what :meth:`LSHIndex.buckets` yields).
            fallback_pairs: ``(first, later)`` documents with the same no-shingle key.
        """
        with gc_paused():  # see pipeline.neardup.gcpause
            return self._cluster(buckets, fallback_pairs)

    def _cluster(self, buckets: Iterable[Sequence[int]], fallback_pairs: Iterable[tuple[int, int]]
                 ) -> dict[Any, Member]:
        uf = UnionFind(len(self.ids))
        verify = self._verify if self.cfg.verify else None
        self.stats = link_buckets(buckets, uf, verify, self.cfg.max_bucket_heads)
        for a, b in fallback_pairs:
            uf.union(a, b)
        out: dict[Any, Member] = {}
        self.clusters = []
        for members in uf.groups().values():
            rep = pick_representative(members, self.cfg.representative, self.quality, self.output_len)
            conflicts = {m: self._conflict(rep, m) for m in members if m != rep}
            why = next((c for c in conflicts.values() if c), "")
            cid = self.ids[rep]
            for m in members:
                jac = 1.0 if m == rep else self.key_jaccard(rep, m)[0]
                out[self.row_keys[m]] = Member(cid, cid, self.where[rep], m == rep, jac, len(members),
                                               conflicts.get(m, "") or ("" if not why else f"cluster: {why}"))
            self.clusters.append({"cluster": cid, "members": [self.ids[m] for m in members],
                                  "conflict": why})
        self._unique.clear()
        self._cuts.clear()
        self._jaccards.clear()
        return out

    def summary(self, limit: int = 10) -> dict:
        """Cluster counts, size distribution, largest and conflicting clusters (JSON-able)."""
        lsh = {"threshold": self.cfg.threshold, "num_perm": self.cfg.num_perm,
               "bands": self.index.bands, "rows": self.index.rows, "verify": self.cfg.verify,
               "key": self.cfg.key}
        records = len(self.ids) if self.records is None else self.records
        return cluster_summary(self.clusters, records, self.no_shingle,
                               {**lsh, **self.stats}, limit)
