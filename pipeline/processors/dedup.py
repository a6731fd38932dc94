"""`dedup`: exact duplicates (same record ``id``) and near-duplicate clusters.

A global stage. ``fit`` sees every live row in input order: the first occurrence of
each id is kept and later ones are ``dedup_exact``; the surviving rows go through
:class:`pipeline.neardup.detector.NearDupDetector` (MinHash LSH), whose clusters
keep one representative and reject the other members as ``dedup_near`` naming it.
Clusters whose outputs disagree materially are ``dedup_conflict`` instead of being
collapsed silently. Settings: ``rules/dedup.yaml``.

``process`` only looks rows up in what ``fit`` decided, so any number of workers
gives the same verdicts. Rows are identified by ``(source file, index, id)``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pipeline.neardup.config import NearDupConfig
from pipeline.neardup.detector import Member, NearDupDetector
from pipeline.processor import Stage, as_action, iter_rows
from pipeline.record import Batch, Verdict
from pipeline.registry import register


def row_key(rid: str, src: Mapping[str, Any] | None) -> tuple:
    src = src or {}
    return (src.get("file", ""), src.get("index", -1), rid)


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
        first: dict[str, str] = {}
        dupes: dict[tuple, str] = {}
        exact_on = self.action("exact") != "off"
        detector = NearDupDetector(self.near_cfg) if self.action("near") != "off" else None
        for batch in batches:
            live, keys = [], []
            for row in iter_rows(batch):
                rid, src = row["id"], row["source"] or {}
                key = row_key(rid, src)
                # Rows without a distinct source position cannot be told apart from
                # the first occurrence; never risk dropping both.
                if exact_on and rid in first and first[rid] != f"{src.get('file', '')}#{src.get('index', '')}":
                    dupes[key] = rid
                    continue
                first.setdefault(rid, f"{src.get('file', '')}#{src.get('index', '')}")
                live.append(row)
                keys.append(key)
            if detector is not None:
                detector.add(live, keys)
        # Keep "where" only for ids that have duplicates: this object is pickled to every worker.
        self.first = {rid: first[rid] for rid in set(dupes.values())}
        self.dupes = dupes
        if detector is not None:
            self.members = detector.finish()
            self.near_summary = detector.summary()

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
