"""Exact injection-count arithmetic."""
from __future__ import annotations

import pytest

from pipeline.refusal.ratio import allocate, injection_count, plan, share


@pytest.mark.parametrize("n", [250, 997, 1000, 4321, 10_000, 123_457])
@pytest.mark.parametrize("r", [0.01, 0.03, 0.05, 0.2])
def test_share_of_final_set_is_exact(n, r):
    k = injection_count(n, r)
    assert abs(k / (n + k) - r) <= 0.5 / (n + k) + 1e-12
    assert abs(k / (n + k) - r) <= 0.002


def test_injection_count_edges():
    assert injection_count(0, 0.03) == 0
    assert injection_count(100, 0.0) == 0
    with pytest.raises(ValueError):
        injection_count(100, 1.0)


def test_allocate_sums_and_is_proportional():
    out = allocate(10, {"a": 1, "b": 1, "c": 1})
    assert sum(out.values()) == 10 and sorted(out.values()) == [3, 3, 4]
    out = allocate(7, {"en": 3, "zh": 1})
    assert out == {"en": 5, "zh": 2}
    assert allocate(5, {"en": 0, "zh": 0}) == {"en": 0, "zh": 0}
    assert allocate(0, {"en": 1}) == {"en": 0}


def test_plan_splits_by_kind_and_language_mix():
    cells = plan(9700, 0.03, 0.0, {"out_of_bounds": 1, "ambiguous": 1, "false_premise": 1}, {"en": 3, "zh": 1})
    total = sum(cells.values())
    assert total == injection_count(9700, 0.03) == 300
    en = sum(v for (k, lang), v in cells.items() if lang == "en")
    assert en == 225  # 3:1 language mix
    assert {k for k, _ in cells} == {"out_of_bounds", "ambiguous", "false_premise", "safety_contrast"}
    assert share(total, 9700, total) == pytest.approx(0.03, abs=0.002)
