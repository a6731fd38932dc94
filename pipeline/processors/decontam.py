"""`decontam`: drop (or flag) training records whose prompt contains an eval-set item.

A global stage when it has eval sets (without them it is a no-op that joins the
previous map pass). ``fit`` loads the eval sets named in ``rules["eval_sets"]`` (the
engine puts the run's ``--eval-sets`` / recipe ``eval_sets`` there), builds a hashed
n-gram index over their questions (:mod:`pipeline.decontam.index`), and checks every
live row's prompt in the main process, so the per-eval-set hit counts in
:meth:`summary` are exact whatever ``num_proc`` is. ``process`` then looks the
verdict up by record id; a row ``fit`` did not see is checked against the index
directly (the index is compact and travels with the pickled stage).

The prompt checked is the user side of the conversation: earlier user turns, the
instruction and the input. Reason: ``decontam_eval_overlap``, detail
``"gsm8k_test.jsonl#412 coverage 0.93"``. With no eval sets the stage does nothing
and its summary says ``{"enabled": false}``.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from pipeline.decontam.evalsets import load_eval_sets
from pipeline.decontam.index import Match, NgramIndex
from pipeline.decontam.text import prefix_pattern
from pipeline.processor import Stage, judge
from pipeline.record import Batch, Verdict
from pipeline.registry import register


def user_prompt(row: Mapping[str, Any]) -> str:
    """Earlier user turns, instruction and input, newline-joined (assistant text excluded)."""
    parts = [t.get("instruction", "") for t in row.get("history") or [] if isinstance(t, Mapping)]
    parts += [row.get("instruction", ""), row.get("input", "")]
    return "\n".join(p for p in parts if p)


@register
class Decontam(Stage):
    """Benchmark decontamination against the configured eval sets."""

    name = "decontam"

    @property
    def is_global(self) -> bool:
        """Global only with eval sets: without them there is nothing to fit, and the stage
        (a no-op then) joins the previous map pass instead of costing one of its own."""
        return bool(self.eval_sets)

    def __init__(self, rules=None, seed: int = 0):
        super().__init__(rules, seed)
        self.index: NgramIndex | None = None
        self.items: list[tuple[str, int]] = []      # owner id -> (eval file name, row index)
        self.set_sizes: dict[str, list[int]] = {}    # name -> [items, items indexed]
        # Results of fit() for every row it saw, keyed by a 64-bit hash of the record id
        # (sorted, for searchsorted lookups): 16 bytes per row, so a pickled copy stays small.
        self.seen_keys = np.empty(0, dtype=np.uint64)
        self.seen_owner = np.empty(0, dtype=np.int32)
        self.seen_cov = np.empty(0, dtype=np.float32)
        self.checked = 0
        # Read the eval sets now, when the engine builds every stage before any work, so an
        # unreadable eval file is a config error up front rather than one after ingest.
        self._eval_items = self._load_items() if self.eval_sets else None

    def _load_items(self):
        r = self.rules
        return load_eval_sets(self.eval_sets, r.get("question_keys") or ["question"],
                              r.get("option_keys") or [])

    @property
    def eval_sets(self) -> list[str]:
        return [str(p) for p in self.rules.get("eval_sets") or []]

    @classmethod
    def validate_rules(cls, rules: Mapping[str, Any]) -> list[str]:
        probs = []
        cov = rules.get("min_coverage", 0.8)
        if not isinstance(cov, (int, float)) or not 0 < cov <= 1:
            probs.append(f"min_coverage: must be in (0, 1], got {cov!r}")
        for k in ("n_word", "n_char", "min_item_words", "min_item_chars", "max_postings", "min_grams"):
            v = rules.get(k, 1)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                probs.append(f"{k}: must be a positive integer, got {v!r}")
        for p in rules.get("eval_sets") or []:
            if not Path(str(p)).exists():
                probs.append(f"eval_sets: {p}: no such file or directory")
        return probs

    # -- fitting --------------------------------------------------------------
    def build_index(self) -> None:
        """Load the eval sets and build the index (a no-op without eval sets)."""
        r = self.rules
        index = NgramIndex(
            n_word=r.get("n_word", 5), n_char=r.get("n_char", 5),
            min_words=r.get("min_item_words", 8), min_chars=r.get("min_item_chars", 15),
            max_postings=r.get("max_postings", 2000), min_grams=r.get("min_grams", 3),
            prefix_re=prefix_pattern(r.get("prefixes") or []))
        items = self._eval_items if getattr(self, "_eval_items", None) is not None else self._load_items()
        self._eval_items = None  # the index holds what is needed from here on
        sizes: dict[str, list[int]] = {}
        for owner, item in enumerate(items):
            added = [index.add(owner, v) for v in item.views]
            size = sizes.setdefault(item.name, [0, 0])
            size[0] += 1
            size[1] += any(added)
        index.freeze()
        self.index, self.set_sizes = index, sizes
        self.items = [(it.name, it.index) for it in items]

    def fit(self, batches: Iterable[Batch]) -> None:
        if not self.eval_sets:
            return  # disabled: nothing to index, nothing to check
        self.build_index()
        keys, owners, covs = [], [], []
        for batch in batches:
            rows = _rows(batch)
            for r, m in zip(rows, self._match(rows)):
                keys.append(_key(r["id"]))
                owners.append(m.owner if m is not None else -1)
                covs.append(m.coverage if m is not None else 0.0)
        order = np.argsort(np.array(keys, dtype=np.uint64), kind="stable")
        self.seen_keys = np.array(keys, dtype=np.uint64)[order]
        self.seen_owner = np.array(owners, dtype=np.int32)[order]
        self.seen_cov = np.array(covs, dtype=np.float32)[order]
        self.checked = len(keys)

    def _lookup(self, rid: str) -> tuple[int, float] | None:
        """``(owner, coverage)`` that fit() found for a record id, or None if unseen."""
        k = np.uint64(_key(rid))
        i = int(np.searchsorted(self.seen_keys, k))
        if i < len(self.seen_keys) and self.seen_keys[i] == k:
            return int(self.seen_owner[i]), float(self.seen_cov[i])
        return None

    @property
    def min_coverage(self) -> float:
        return float(self.rules.get("min_coverage", 0.8))

    def _match(self, rows: list[dict]) -> list[Match | None]:
        assert self.index is not None
        return self.index.best_matches([user_prompt(r) for r in rows])

    # -- judging --------------------------------------------------------------
    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        rows = _rows(batch)
        if not self.eval_sets or not rows:
            return batch, [Verdict() for _ in rows]
        if self.index is None:  # process() without fit(): build lazily
            self.build_index()
        found = [self._lookup(r["id"]) for r in rows]
        unseen = [i for i, f in enumerate(found) if f is None]
        for i, m in zip(unseen, self._match([rows[i] for i in unseen]) if unseen else []):
            found[i] = (m.owner, m.coverage) if m is not None else (-1, 0.0)
        out = []
        for r, (owner, cov) in zip(rows, found):
            hit = []
            if owner >= 0 and cov >= self.min_coverage:
                name, idx = self.items[owner]
                hit = [("eval_overlap", f"{name}#{idx} coverage {cov:.2f}")]
            out.append(judge(self, hit, {"decontam_coverage": round(float(cov), 4)}))
        return batch, out

    def summary(self) -> dict:
        if not self.eval_sets:
            return {"enabled": False}
        hit = self.seen_cov >= self.min_coverage
        per = Counter(self.items[int(o)][0] for o in self.seen_owner[hit])
        return {
            "enabled": True,
            "action": self.action("eval_overlap"),
            "min_coverage": self.min_coverage,
            "records_checked": self.checked,
            "hits": sum(per.values()),
            "eval_sets": {name: {"items": s[0], "indexed": s[1], "hits": per.get(name, 0)}
                          for name, s in sorted(self.set_sizes.items())},
            "index_bytes": self.index.nbytes() if self.index is not None else 0,
        }


def _key(rid: str) -> int:
    return xxhash.xxh3_64_intdigest(str(rid).encode("utf-8"))


def _rows(batch: Batch) -> list[dict]:
    keys = ("id", "history", "instruction", "input")
    if not batch or not batch.get("id"):
        return []
    return [{k: batch[k][i] for k in keys} for i in range(len(batch["id"]))]
