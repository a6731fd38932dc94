"""`dedup`: exact duplicates of the normalised conversation (the record ``id``).

A global stage: ``fit`` sees every live row in input order and remembers the first
occurrence of each id; later occurrences are dropped as ``dedup_exact`` naming the
kept record.
"""
from __future__ import annotations

from typing import Iterable

from pipeline.processor import Stage
from pipeline.record import Batch, Verdict
from pipeline.registry import register


@register
class Dedup(Stage):
    """Keep the first record of every normalised conversation."""

    name = "dedup"
    is_global = True

    def __init__(self, rules=None, seed: int = 0):
        super().__init__(rules, seed)
        # id -> "file#index" of its first occurrence; duplicates are keyed by (file, index).
        self.first: dict[str, str] = {}
        self.dupes: dict[tuple[str, int], str] = {}

    def fit(self, batches: Iterable[Batch]) -> None:
        first, dupes = {}, {}
        for batch in batches:
            for rid, src in zip(batch["id"], batch["source"]):
                where = f"{src['file']}#{src['index']}"
                if rid in first:
                    dupes[(src["file"], src["index"])] = rid
                else:
                    first[rid] = where
        self.first, self.dupes = first, dupes

    def summary(self) -> dict:
        return {"exact_duplicates": len(self.dupes)}

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        out = []
        for rid, src in zip(batch["id"], batch["source"]):
            if (src["file"], src["index"]) in self.dupes:
                out.append(Verdict(keep=False, reason="dedup_exact", duplicate_of=rid,
                                   detail=f"same conversation as {self.first.get(rid, '?')}"))
            else:
                out.append(Verdict())
        return batch, out
