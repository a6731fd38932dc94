"""`dedup`: exact duplicates (same record ``id``) and near-duplicate clusters.

A global stage. ``fit`` sees every live row in input order: the first occurrence of
each id is kept and later ones are ``dedup_exact``; the surviving rows go through
:class:`pipeline.neardup.detector.NearDupDetector` (MinHash LSH), whose clusters
keep one representative and reject the other members as ``dedup_near`` naming it.
Clusters whose outputs disagree materially are ``dedup_conflict`` instead of being
collapsed silently. Settings: ``rules/dedup.yaml``.

``process`` only looks rows up in what ``fit`` decided, so any number of workers
gives the same verdicts. Rows are identified by ``(source file, index, id)``.

An engine that runs the fit in pieces (the ray engine, :mod:`pipeline.engines.ray_dedup`)
uses the same decisions through :meth:`Dedup.exact_decide`, :meth:`Dedup.near_detector`
(then :mod:`pipeline.neardup.detector`'s ``sign_records`` / ``CandidateDoc`` and
:func:`pipeline.neardup.lsh.band_keys`) and :meth:`Dedup.install`, so its verdicts and
summary are the local ones.
"""
from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.engines.arrow_apply import python_rows
from pipeline.neardup.config import NearDupConfig
from pipeline.neardup.gcpause import gc_paused
from pipeline.processor import Stage, as_action, iter_rows
from pipeline.record import Batch, Verdict
from pipeline.registry import register

if TYPE_CHECKING:  # the detector (and datasketch) load only when near-duplicate detection runs
    from pipeline.neardup.detector import Member, NearDupDetector


def row_key(rid: str, src: Mapping[str, Any] | None) -> tuple:
    src = src or {}
    return (src.get("file", ""), src.get("index", -1), rid)


_HEX = np.full(256, 255, np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)


def id_keys(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A 64-bit key per id, equal for equal ids: the first 16 hex digits of a ``record_id``
    (24 lowercase hex characters), and Python's string hash for any other id (or null).
    Distinct ids may share a key; keys only pick rows whose ids are then compared exactly."""
    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    n = len(arr)
    keys = np.zeros(n, np.uint64)
    hexed = np.zeros(n, bool)
    if n and arr.type == pa.string():
        offsets = np.frombuffer(arr.buffers()[1], np.int32, n + 1, 4 * arr.offset)
        rows = np.flatnonzero((np.diff(offsets) == 24) & arr.is_valid().to_numpy(zero_copy_only=False))
        if len(rows):
            data = np.frombuffer(arr.buffers()[2], np.uint8)
            nibbles = _HEX[data[offsets[rows][:, None] + np.arange(16)]]
            good = (nibbles != 255).all(axis=1)
            rows, nibbles = rows[good], nibbles[good]
            keys[rows] = np.bitwise_or.reduce(nibbles.astype(np.uint64) << np.arange(60, -1, -4, dtype=np.uint64),
                                              axis=1)
            hexed[rows] = True
    rest = np.flatnonzero(~hexed)
    if len(rest):
        others = arr.take(pa.array(rest)).to_pylist()
        keys[rest] = np.array([hash(s) for s in others], np.int64).view(np.uint64)
    return keys


def _among(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` occur in ``sorted_keys`` (sorted, as np.unique gives them)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), bool)
    return sorted_keys[np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)] == keys


def _where(src: Mapping[str, Any]) -> str:
    return f"{src.get('file', '')}#{src.get('index', '')}"


class ExactState:
    """First occurrence per id, fed rows in input order; later occurrences are duplicates.

    Rows without a distinct source position cannot be told apart from the first
    occurrence; never risk dropping both.
    """

    def __init__(self, on: bool = True):
        self.on = on
        self.first: dict[str, str] = {}
        self.dupes: dict[tuple, str] = {}

    def see(self, rid: str, src: Mapping[str, Any] | None) -> bool:
        """Record one row; True when it is an exact duplicate of an earlier one."""
        src = src or {}
        where = _where(src)
        if self.on and rid in self.first and self.first[rid] != where:
            self.dupes[row_key(rid, src)] = rid
            return True
        self.first.setdefault(rid, where)
        return False

    def result(self) -> tuple[dict[str, str], dict[tuple, str]]:
        """(id -> ``file#index`` of its first occurrence, for ids with duplicates; duplicates by row key)."""
        return {rid: self.first[rid] for rid in set(self.dupes.values())}, self.dupes


def exact_duplicates(rows: pa.Table | None, on: bool, fallback) -> tuple[dict[str, str], dict[tuple, str]]:
    """:class:`ExactState`'s ``result()`` for ``rows`` (``id``, ``source``; every row of each id, in
    input order), computed with Arrow and numpy. Rows with a null id, source, file or index go to
    ``fallback(rows) -> (flags, first, dupes)`` (:meth:`Dedup.exact_decide`) instead.

    A row is a duplicate when an earlier row has its id and a different ``(file, index)``;
    ``first`` maps each id that has duplicates to ``file#index`` of its first row.
    """
    if rows is None or not on or not rows.num_rows:
        return {}, {}
    src = rows.column("source")
    file, index = pc.struct_field(src, "file"), pc.struct_field(src, "index")
    if any(c.null_count for c in (rows.column("id"), src, file, index)):
        _, first, dupes = fallback(zip(rows.column("id").to_pylist(), src.to_pylist()))
        return first, dupes
    codes = rows.column("id").combine_chunks().dictionary_encode().indices.to_numpy()
    _, first_pos = np.unique(codes, return_index=True)
    head = first_pos[codes]  # each row's first row of its id (dictionary codes follow first appearance)
    fcodes = file.combine_chunks().dictionary_encode().indices.to_numpy()
    idx = index.combine_chunks().to_numpy()
    dup = np.flatnonzero((np.arange(len(codes)) != head) & ((fcodes != fcodes[head]) | (idx != idx[head])))
    if not len(dup):
        return {}, {}
    d = rows.take(pa.array(dup))
    ids, files, indexes = (c.to_pylist() for c in (d.column("id"), pc.struct_field(d.column("source"), "file"),
                                                    pc.struct_field(d.column("source"), "index")))
    dupes = {(f, i, rid): rid for rid, f, i in zip(ids, files, indexes)}
    h = rows.take(pa.array(head[dup]))
    first = {rid: f"{f}#{i}" for rid, f, i in zip(ids, pc.struct_field(h.column("source"), "file").to_pylist(),
                                                  pc.struct_field(h.column("source"), "index").to_pylist())}
    return first, dupes


@register
class Dedup(Stage):
    """Exact and near-duplicate removal with deterministic clusters."""

    name = "dedup"
    is_global = True
    #: What fit reads: the key texts, where a row came from, and scores for the representative.
    fit_columns: ClassVar[tuple[str, ...]] = (
        "id", "source", "system", "history", "instruction", "input", "output", "scores")

    def __init__(self, rules=None, seed: int = 0):
        super().__init__(rules, seed)
        self.near_cfg = NearDupConfig.from_rules(self.rules.get("near"))
        # id -> "file#index" of its first occurrence; later occurrences by row key.
        self.first: dict[str, str] = {}
        self.dupes: dict[tuple, str] = {}
        self.members: dict[tuple, Member] = {}
        self.near_summary: dict = {}
        # Exact dedup alone needs only ids and positions: the engine then skips the text columns.
        self.fit_columns = ("id", "source") if self.action("near") == "off" else type(self).fit_columns

    @classmethod
    def validate_rules(cls, rules: Mapping[str, Any]) -> list[str]:
        return NearDupConfig.from_rules(rules.get("near")).problems()

    def action(self, name: str) -> str:
        # Without rules (e.g. a bare Dedup()) exact dedup still drops, as it always did.
        default = "drop" if name == "exact" else "off"
        return as_action(self.check(name).get("action", default)) if self.rules else default

    def fit(self, batches: Iterable[Batch]) -> None:
        with gc_paused():  # see pipeline.neardup.gcpause
            self._fit(batches)

    def _fit(self, batches: Iterable[Batch]) -> None:
        from pipeline.neardup.detector import NearDupDetector

        exact = ExactState(self.action("exact") != "off")
        detector = NearDupDetector(self.near_cfg) if self.action("near") != "off" else None
        for batch in batches:
            live, keys = [], []
            for row in iter_rows(batch):
                rid, src = row["id"], row["source"] or {}
                if exact.see(rid, src):
                    continue
                live.append(row)
                keys.append(row_key(rid, src))
            if detector is not None:
                detector.add(live, keys)
        # Keep "where" only for ids that have duplicates: this object is pickled to every worker.
        first, dupes = exact.result()
        self.install(first, dupes, detector.finish() if detector is not None else None,
                     detector.summary() if detector is not None else None)
        if detector is not None:
            detector.index.clear()  # frees it now rather than in a later garbage collection

    # The Arrow paths (see pipeline.processor.Stage): exact dedup needs no Python per row
    # except for the rows whose id occurs more than once.

    @property
    def arrow_fit(self) -> bool:
        """``fit_arrow`` can stand in for ``fit``: only without near-duplicate detection."""
        return self.action("near") == "off"

    def fit_arrow(self, tables: Callable[[], Iterable[pa.Table]]) -> None:
        """``fit`` from Arrow tables of the live rows (``id`` and ``source``), in input order.

        ``tables()`` gives a fresh pass over them; two passes are made. The first keeps one
        64-bit key per row (:func:`id_keys`) to find the keys seen more than once; the second
        gathers only the rows with such keys, and :func:`exact_duplicates` decides on them as
        :meth:`exact_decide` would. Memory is 8 bytes per row plus the repeated rows.
        """
        keys = [id_keys(t.column("id")) for t in tables()]
        flat = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
        uniq, counts = np.unique(flat, return_counts=True)
        repeated = uniq[counts > 1]
        del flat, uniq, counts
        parts = [t.filter(pa.array(hit)) for t, k in zip(tables(), keys) if (hit := _among(k, repeated)).any()]
        rows = pa.concat_tables(parts) if parts else None
        self.install(*exact_duplicates(rows, self.action("exact") != "off", self.exact_decide), None, None)

    def process_arrow(self, table: pa.Table) -> pa.Table:
        """Only rows whose id was seen more than once, or is in a near-duplicate cluster, can change."""
        known = getattr(self, "_arrow_keys", None)
        if known is None:
            ids = sorted(set(self.first) | {k[2] for k in self.members})
            known = self._arrow_keys = np.unique(id_keys(pa.array(ids, pa.string())))
        cand = _among(id_keys(table.column("id")), known)
        if not cand.any():
            return table
        sub = table.filter(pa.array(cand))
        rids = sub.column("id").to_pylist()
        hits = [(key := row_key(rid, src)) in self.dupes or key in self.members
                for rid, src in zip(rids, sub.column("source").to_pylist())]
        mask = cand.copy()
        mask[np.flatnonzero(cand)] = hits
        mask = pa.array(mask)
        if self.members or self.action("exact") != "drop":
            return python_rows(table, mask, self.name, self)
        # Only exact duplicates to drop: their verdicts touch the four fate columns alone.
        dup = [rid for rid, hit in zip(rids, hits) if hit]
        fate = {"_stage": [self.name] * len(dup), "_reason": ["dedup_exact"] * len(dup),
                "_detail": [self._exact(rid).detail for rid in dup], "_dup": dup}
        for name, values in fate.items():
            i = table.schema.get_field_index(name)
            col = table.column(i).combine_chunks()
            table = table.set_column(i, name, pc.replace_with_mask(col, mask, pa.array(values, pa.string())))
        return table

    # What an engine that runs the fit in pieces needs (see the module docstring).

    @property
    def near_on(self) -> bool:
        return self.action("near") != "off"

    def exact_decide(self, rows: Iterable[tuple[str, Mapping[str, Any] | None]]
                     ) -> tuple[list[bool], dict[str, str], dict[tuple, str]]:
        """Exact-duplicate decisions for ``(id, source)`` rows in input order.

        Rows whose id occurs once among the live rows can never be duplicates, so an
        engine may pass only the rows of repeated ids.

        Returns:
            (per row: is it a duplicate, then ``first`` and ``dupes`` for :meth:`install`)
        """
        exact = ExactState(self.action("exact") != "off")
        flags = [exact.see(rid, src) for rid, src in rows]
        return (flags, *exact.result())

    def near_detector(self) -> NearDupDetector:
        """A fresh detector with this stage's settings (for :meth:`NearDupDetector.add_candidates`)."""
        from pipeline.neardup.detector import NearDupDetector

        return NearDupDetector(self.near_cfg)

    def install(self, first: dict[str, str], dupes: dict[tuple, str],
                members: dict[tuple, Member] | None, near_summary: dict | None) -> None:
        """Set what ``process`` looks up: the outcome of :meth:`fit`, however it was computed."""
        self.first, self.dupes = first, dupes
        self.members = members or {}
        self._arrow_keys = None
        self.near_summary = near_summary or {}

    # The fitted lookups travel to every worker of the process pass, pickled by whatever the
    # engine uses (dill, pure Python, for HF datasets): hand it one blob from the C pickler.
    _PACKED = ("first", "dupes", "members")

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        fitted = {k: state.pop(k) for k in self._PACKED if k in state}
        state["packed_fit"] = pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        packed = state.pop("packed_fit", None)
        super().__setstate__(state)
        if packed is not None:
            self.__dict__.update(pickle.loads(packed))

    def summary(self) -> dict:
        out: dict[str, Any] = {"exact_duplicates": len(self.dupes)}
        if self.near_summary:
            out["near"] = self.near_summary
        return out

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        out = []
        for i, (rid, src) in enumerate(zip(batch["id"], batch["source"])):
            key = row_key(rid, src)
            if key in self.dupes:
                out.append(self._exact(rid))
                continue
            m = self.members.get(key)
            if m is None:
                out.append(Verdict())
                continue
            batch["cluster"][i] = m.cluster
            out.append(self._near(m))
        return batch, out

    def _exact(self, rid: str) -> Verdict:
        detail = f"same conversation as {self.first.get(rid, '?')}"
        if self.action("exact") == "drop":
            return Verdict(keep=False, reason="dedup_exact", duplicate_of=rid, detail=detail)
        return Verdict(flags=("dedup_exact",), detail=detail)

    def _near(self, m: Member) -> Verdict:
        scores = {"near_dup_jaccard": round(m.jaccard, 4), "near_dup_cluster_size": float(m.size)}
        conflict = self.action("conflict")
        if m.conflict and conflict != "off":
            detail = f"near-duplicate cluster {m.cluster} ({m.size} records) with conflicting outputs: {m.conflict}"
            if conflict == "drop":
                return Verdict(keep=False, reason="dedup_conflict", detail=detail, scores=scores)
            return Verdict(flags=("dedup_conflict",), detail=detail, scores=scores)
        if m.is_representative:
            return Verdict(scores=scores)
        detail = f"near-duplicate (jaccard {m.jaccard:.2f}) of {m.representative_at}, cluster of {m.size}"
        if self.action("near") == "drop":
            return Verdict(keep=False, reason="dedup_near", duplicate_of=m.representative,
                           detail=detail, scores=scores)
        return Verdict(flags=("dedup_near",), detail=detail, scores=scores)
