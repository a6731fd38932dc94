"""`split`: deterministic train/validation assignment by id hash, plus split hygiene.

The side is a pure function of the record id and the seed, so it does not depend on
input order, ``num_proc`` or engine. Split hygiene then makes sure no near-duplicate
prompt sits on both sides: such groups are moved to one side (``split_cross_leak``
in the summary and the records' flags).
"""
from __future__ import annotations

import hashlib
from typing import Iterable

from pipeline.decontam.hygiene import cross_split_groups, prompt_grams
from pipeline.decontam.text import UnitHasher
from pipeline.processor import Stage
from pipeline.record import Batch, Verdict, prompt_text
from pipeline.registry import register


def split_key(rid: str, meta: dict | None) -> str:
    """What decides the side: the record id, or for an upsampled copy the id it was copied from,
    so copies always land beside their original."""
    return (meta or {}).get("upsampled_from") or rid


def side(rid: str, seed: int, val_ratio: float) -> str:
    """'validation' for a stable ``val_ratio`` share of ids, else 'train'."""
    if val_ratio <= 0:
        return "train"
    h = hashlib.blake2b(f"{seed}:{rid}".encode(), digest_size=8).digest()
    return "validation" if int.from_bytes(h, "big") / 2**64 < val_ratio else "train"


@register
class Split(Stage):
    """Assign ``meta.split`` and keep near-duplicate prompts on one side."""

    name = "split"
    is_global = True
    fit_columns = ["id", "system", "history", "instruction", "input", "meta"]

    def __init__(self, rules=None, seed: int = 0):
        super().__init__(rules, seed)
        self.moved: dict[str, str] = {}
        self.groups = 0

    @property
    def val_ratio(self) -> float:
        return float(self.rules.get("val_ratio", 0.05))

    def fit(self, batches: Iterable[Batch]) -> None:
        hyg = self.rules.get("hygiene") or {}
        if not hyg.get("enabled", True) or self.val_ratio <= 0:
            for _ in batches:
                pass
            return
        rows, grams = [], []
        for b in batches:
            feats = b.get("_fit") or self.fit_features(b)
            for i, rid in enumerate(b["id"]):
                key = split_key(rid, b["meta"][i])
                rows.append((key, "", side(key, self.seed, self.val_ratio)))
                grams.append(feats[i])
        groups = cross_split_groups(rows, float(hyg.get("threshold", 0.8)), grams=grams)
        self.groups = len(groups)
        for group in groups:
            # The whole group goes to train: the validation set must stay unseen.
            for key in group:
                if side(key, self.seed, self.val_ratio) != "train":
                    self.moved[key] = "train"

    def fit_features(self, batch: Batch) -> list:
        """Each row's prompt n-gram hashes for split hygiene (the engine may run this in parallel)."""
        hasher = UnitHasher()
        return [prompt_grams(prompt_text({k: batch[k][i] for k in ("system", "history", "instruction", "input")}),
                             hasher=hasher) for i in range(len(batch["id"]))]

    def summary(self) -> dict:
        return {"val_ratio": self.val_ratio, "split_cross_leak_groups": self.groups,
                "split_cross_leak_moved": len(self.moved)}

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        out = []
        for i, rid in enumerate(batch["id"]):
            meta = dict(batch["meta"][i] or {})
            key = split_key(rid, meta)
            meta["split"] = self.moved.get(key) or side(key, self.seed, self.val_ratio)
            batch["meta"][i] = meta
            out.append(Verdict(flags=("split_cross_leak",) if key in self.moved else ()))
        return batch, out
