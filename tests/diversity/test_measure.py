"""Diversity measurements: entropy, normalisation against the taxonomy, coverage, joint cells."""
import math
from collections import Counter

from pipeline.diversity.measure import Profile, distribution, entropy


def test_entropy_values():
    assert entropy([5]) == 0.0
    assert math.isclose(entropy([1, 1]), 1.0)
    assert math.isclose(entropy([1, 1, 1, 1]), 2.0)
    assert entropy([]) == 0.0 and entropy([0, 0]) == 0.0


def test_distribution_normalises_against_the_universe_and_lists_empty_cells():
    d = distribution(Counter({"a": 2, "b": 2}), ["a", "b", "c", "d"])
    assert d["counts"] == {"a": 2, "b": 2, "c": 0, "d": 0}
    assert d["shares"]["a"] == 0.5
    assert math.isclose(d["entropy"], 1.0)
    assert math.isclose(d["normalized_entropy"], 0.5)  # 1 bit of a possible 2
    assert d["empty"] == ["c", "d"] and d["coverage"] == 0.5


def test_values_outside_the_universe_still_count():
    d = distribution(Counter({"a": 1, "zz": 1}), ["a"])
    assert d["counts"] == {"a": 1, "zz": 1} and d["total"] == 2


def test_profile_joint_cells_pairs_and_clusters():
    p = Profile(["math", "code"], ["science", "other"], ["easy", "medium", "hard"])
    p.add("math", "en", "science", "easy", "calculate", "sum", cluster="c1")
    p.add("math", "zh", "other", "hard", "计算", "面积", cluster="c1")
    p.add("code", "en", "other", "easy", "write", "function")
    p.add("code", "en", "other", "easy", "write", "function")
    s = p.summary(top_pairs=2, top_verbs=5)
    assert s["rows"] == 4
    assert s["task_x_lang"]["counts"]["en/math"] == 1 and s["task_x_lang"]["counts"]["zh/code"] == 0
    assert "zh/code" in s["task_x_lang"]["empty"]
    assert s["task_x_complexity"]["counts"]["code/easy"] == 2
    assert "math/medium" in s["task_x_complexity"]["empty"]
    assert s["verb_object"]["top_pairs"][0] == ["write", "function", 2]
    assert len(s["verb_object"]["top_pairs"]) == 2
    assert s["near_dup_clusters"] == {"clusters": 1, "records_in_clusters": 2, "size_histogram": {"2": 1},
                                      "largest": 2}
    assert s["domain"]["counts"] == {"science": 1, "other": 3}
