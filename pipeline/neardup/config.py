"""Typed near-duplicate settings, read from the ``near`` block of ``rules/dedup.yaml``."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pipeline.neardup.shingle import MAX_N, ShingleConfig

KEYS = ("prompt", "prompt_output", "output")
CRITERIA = ("quality", "longest_output", "first")


@dataclass(frozen=True)
class NearDupConfig:
    """See ``rules/dedup.yaml`` for what each setting means and why it defaults as it does."""

    key: str = "prompt_output"
    separate_input: bool = True
    threshold: float = 0.7
    num_perm: int = 128
    bands: int | None = None
    rows: int | None = None
    lsh_weights: tuple[float, float] = (0.1, 0.9)
    minhash_seed: int = 1
    word_n: int = 3
    char_n: int = 3
    char_n_short: int = 2
    short_units: int = 6
    verify: bool = True
    part_min_jaccard: float = 0.2
    representative: tuple[str, ...] = ("quality", "longest_output", "first")
    quality_key: str = "quality_score"
    conflict_output_jaccard: float = 0.5
    conflict_numbers: bool = True
    batch_size: int = 10_000
    num_proc: int = 1
    max_bucket_heads: int = 64
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_rules(cls, near: Mapping[str, Any] | None) -> NearDupConfig:
        """Build from the ``near`` rules block; unknown keys are kept in ``extra`` for validation."""
        near = dict(near or {})
        known = {f.name for f in fields(cls)} - {"extra"}
        kw: dict[str, Any] = {k: v for k, v in near.items() if k in known and v is not None}
        for k in ("lsh_weights", "representative"):
            if isinstance(kw.get(k), (list, tuple)):
                kw[k] = tuple(kw[k])
        return cls(**kw, extra={k: v for k, v in near.items() if k not in known})

    @property
    def shingle(self) -> ShingleConfig:
        return ShingleConfig(self.word_n, self.char_n, self.char_n_short, self.short_units)

    def problems(self) -> list[str]:
        """Every configuration problem, as ``near.<setting>: ...`` lines."""
        p: list[str] = [f"near.{k}: unknown setting" for k in sorted(self.extra)]
        if self.key not in KEYS:
            p.append(f"near.key: {self.key!r} is not one of {', '.join(KEYS)}")
        for name in ("threshold", "part_min_jaccard", "conflict_output_jaccard"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 <= v <= 1:
                p.append(f"near.{name}: must be a number in [0, 1], got {v!r}")
        if isinstance(self.threshold, (int, float)) and self.threshold <= 0:
            p.append("near.threshold: must be above 0 (0 would match everything)")
        if not isinstance(self.num_perm, int) or self.num_perm < 2:
            p.append(f"near.num_perm: must be an integer >= 2, got {self.num_perm!r}")
        for name in ("bands", "rows"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                p.append(f"near.{name}: must be a positive integer or null, got {v!r}")
        if isinstance(self.bands, int) and isinstance(self.rows, int) and isinstance(self.num_perm, int):
            if self.bands * self.rows > self.num_perm:
                p.append(f"near.bands * near.rows = {self.bands * self.rows} exceeds num_perm {self.num_perm}")
            if self.bands < 2:
                p.append("near.bands: datasketch needs at least 2 bands")
        w = self.lsh_weights
        nums = isinstance(w, tuple) and all(isinstance(x, (int, float)) for x in w)
        if not nums or len(w) != 2 or abs(sum(w) - 1.0) > 1e-9 or any(not 0 <= x <= 1 for x in w):
            p.append(f"near.lsh_weights: two numbers in [0, 1] summing to 1, got {w!r}")
        for name in ("word_n", "char_n", "char_n_short"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 1 <= v <= MAX_N:
                p.append(f"near.{name}: must be an integer in 1..{MAX_N}, got {v!r}")
        for name in ("short_units", "batch_size", "num_proc", "max_bucket_heads"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                p.append(f"near.{name}: must be a positive integer, got {v!r}")
        rep = self.representative
        if not isinstance(rep, tuple) or not rep or any(c not in CRITERIA for c in rep):
            p.append(f"near.representative: a list of {', '.join(CRITERIA)}, got {rep!r}")
        return p
