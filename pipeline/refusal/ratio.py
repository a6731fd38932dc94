"""Exact injection-count arithmetic.

The target is a *share of the final set*: with ``N`` live records and share ``r``,
injecting ``n = round(r * N / (1 - r))`` records makes ``n / (N + n)`` equal to ``r``
up to the rounding of one record, i.e. within ``0.5 / (N + n)`` (0.2 percentage
points once the final set has 250 rows). Counts are then split over kinds and
languages with the largest-remainder method, so the parts always add up to the total.
"""
from __future__ import annotations

import math
from collections.abc import Mapping


def injection_count(n_live: int, share: float) -> int:
    """Records to inject so that they make up ``share`` of ``n_live + injected``."""
    if n_live <= 0 or share <= 0:
        return 0
    if share >= 1:
        raise ValueError(f"share must be < 1, got {share}")
    return math.floor(share * n_live / (1 - share) + 0.5)


def allocate(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; ties by key order).

    Args:
        total: Non-negative count to split.
        weights: Non-negative weights; keys with weight 0 get 0.

    Returns:
        A count per key, summing to ``total`` (or all zeros when every weight is 0).
    """
    keys = sorted(weights)
    wsum = sum(max(0.0, float(weights[k])) for k in keys)
    if total <= 0 or wsum <= 0:
        return {k: 0 for k in keys}
    exact = {k: total * max(0.0, float(weights[k])) / wsum for k in keys}
    out = {k: math.floor(v) for k, v in exact.items()}
    rest = total - sum(out.values())
    # Largest fractional part first; key order breaks ties so the split is deterministic.
    for k in sorted(keys, key=lambda k: (-(exact[k] - out[k]), k))[:rest]:
        out[k] += 1
    return out


def share(part: int, n_live: int, n_injected_total: int) -> float:
    """``part / (n_live + n_injected_total)`` (0.0 for an empty final set)."""
    denom = n_live + n_injected_total
    return part / denom if denom else 0.0


def plan(n_live: int, target: float, contrast: float, kinds: Mapping[str, float],
         lang_mix: Mapping[str, float]) -> dict[tuple[str, str], int]:
    """Injection counts per (kind, language) cell.

    Args:
        n_live: Live records the stage saw (the final curated raw count).
        target: Share of negative samples (refusal, clarification, correction kinds).
        contrast: Share of ``safety_contrast`` samples.
        kinds: Relative weights of the negative-sample kinds.
        lang_mix: Relative weights of the languages (the corpus's language mix).

    Returns:
        ``{(kind, lang): count}``; the grand total is ``injection_count(n_live, target + contrast)``.
    """
    total = injection_count(n_live, target + contrast)
    halves = allocate(total, {"negative": target, "safety_contrast": contrast})
    by_kind = allocate(halves["negative"], kinds)
    by_kind["safety_contrast"] = halves["safety_contrast"]
    cells: dict[tuple[str, str], int] = {}
    for kind, n in by_kind.items():
        for lang, m in allocate(n, lang_mix).items():
            cells[(kind, lang)] = m
    return cells
