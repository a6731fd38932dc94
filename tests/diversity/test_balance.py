"""Balancing: target mix reached where supply suffices, exact shortfalls, determinism, caps, upsampling."""
from pipeline.diversity.balance import Row, balance_problems, plan


def rows_of(spec, quality=None, injected=()):
    """spec: {(cell values): count} -> rows with ids unique per cell."""
    out = []
    for cell, n in spec.items():
        for k in range(n):
            rid = f"{'-'.join(cell)}-{k}"
            q = quality(k) if quality else None
            out.append(Row(rid, cell, rid in injected, q))
    return out


def shares(rows, p, dim):
    kept = [r for i, r in enumerate(rows) if i not in p.drop] + [rows[i] for i, _ in p.copies]
    out = {}
    for r in kept:
        out[r.cell[dim]] = out.get(r.cell[dim], 0) + 1
    return {k: v / len(kept) for k, v in out.items()}, len(kept)


def test_target_mix_reached_within_one_point_when_supply_suffices():
    spec = {("en", "math"): 300, ("en", "code"): 1200, ("zh", "math"): 400, ("zh", "code"): 300}
    rows = rows_of(spec)
    cfg = {"targets": {"lang": {"en": 0.5, "zh": 0.5}, "task": {"math": 0.3, "code": 0.7}}, "budget": 800}
    p = plan(rows, ["lang", "task"], cfg, seed=7)
    lang, n = shares(rows, p, 0)
    task, _ = shares(rows, p, 1)
    assert n == 800
    assert abs(lang["en"] - 0.5) <= 0.01 and abs(lang["zh"] - 0.5) <= 0.01
    assert abs(task["math"] - 0.3) <= 0.01 and abs(task["code"] - 0.7) <= 0.01
    assert p.report["shortfalls"] == [] and p.report["shortfall_total"] == 0
    assert len(p.drop) == 2200 - 800
    tv = p.report["target_vs_achieved"]["lang"]["zh"]
    assert tv["target"] == 0.5 and abs(tv["achieved"] - 0.5) <= 0.01


def test_shortfall_reported_exactly_where_supply_is_short():
    # Only lang is targeted: each language keeps its observed task mix.
    rows = rows_of({("en", "math"): 100, ("en", "code"): 890, ("zh", "math"): 10})
    p = plan(rows, ["lang", "task"], {"targets": {"lang": {"en": 0.5, "zh": 0.5}}, "budget": 400}, seed=1)
    assert p.report["shortfalls"] == ["need 190 more zh/math"]
    assert p.report["shortfall_total"] == 190
    cells = p.report["cells"]
    assert cells["zh/math"] == {"supply": 10, "quota": 200, "kept": 10}
    assert cells["en/math"]["quota"] + cells["en/code"]["quota"] == 200
    assert cells["en/math"]["quota"] == 20 and cells["en/code"]["quota"] == 180  # 100:890 of 200
    assert not any(rows[i].cell == ("zh", "math") for i in p.drop)


def test_target_value_with_no_rows_at_all_is_short():
    rows = rows_of({("math",): 100, ("code",): 100})
    cfg = {"targets": {"task": {"math": 0.5, "code": 0.3, "translation": 0.2}}, "budget": 100}
    p = plan(rows, ["task"], cfg, seed=0)
    assert p.report["shortfalls"] == ["need 20 more translation"]
    assert p.report["cells"]["math"]["kept"] == 50 and p.report["cells"]["code"]["kept"] == 30


def test_default_total_keeps_every_row_without_targets_or_caps():
    rows = rows_of({("en", "math"): 7, ("zh", "code"): 3})
    p = plan(rows, ["lang", "task"], {}, seed=0)
    assert p.drop == {} and p.report["rows_after"] == 10 and p.report["shortfalls"] == []


def test_deterministic_and_seeded():
    rows = rows_of({("a",): 50, ("b",): 50})
    cfg = {"targets": {"task": {"a": 0.2, "b": 0.8}}, "budget": 50}
    p1, p2 = plan(rows, ["task"], cfg, seed=3), plan(rows, ["task"], cfg, seed=3)
    assert p1.drop == p2.drop and p1.report == p2.report
    p3 = plan(rows, ["task"], cfg, seed=4)
    assert set(p3.drop) != set(p1.drop)
    # Input order does not change which ids are kept.
    rev = list(reversed(rows))
    p4 = plan(rev, ["task"], cfg, seed=3)
    assert {rev[i].id for i in p4.drop} == {rows[i].id for i in p1.drop}


def test_highest_quality_kept_first():
    rows = rows_of({("a",): 10}, quality=lambda k: float(k))
    p = plan(rows, ["task"], {"budget": 4}, seed=0)
    kept = sorted(r.id for i, r in enumerate(rows) if i not in p.drop)
    assert kept == ["a-6", "a-7", "a-8", "a-9"]


def test_injected_rows_are_never_dropped_and_fill_the_quota_first():
    injected = {f"a-{k}" for k in range(8)}
    rows = rows_of({("a",): 18, ("b",): 10}, injected=injected)
    p = plan(rows, ["task"], {"targets": {"task": {"a": 0.25, "b": 0.75}}, "budget": 20}, seed=0)
    dropped = {rows[i].id for i in p.drop}
    assert not dropped & injected
    assert {f"a-{k}" for k in range(8, 18)} <= dropped  # quota 5 < 8 injected: every raw "a" goes


def test_caps_limit_a_cell():
    rows = rows_of({("a",): 80, ("b",): 20})
    p = plan(rows, ["task"], {"caps": {"max_cell_count": 30}}, seed=0)
    assert p.report["cells"]["a"]["kept"] == 30 and p.report["cells"]["b"]["kept"] == 20
    p = plan(rows, ["task"], {"caps": {"max_cell_share": 0.5}}, seed=0)
    assert p.report["cells"]["a"]["kept"] == 50


def test_upsampling_is_capped_and_leaves_the_rest_as_shortfall():
    rows = rows_of({("a",): 3, ("b",): 90}, quality=lambda k: float(k))
    cfg = {"targets": {"task": {"a": 0.1, "b": 0.9}}, "budget": 100, "upsample": {"enabled": True, "max_copies": 2}}
    p = plan(rows, ["task"], cfg, seed=0)
    assert len(p.copies) == 6  # 7 short, 3 rows x 2 copies max
    assert sorted(k for _, k in p.copies) == [1, 1, 1, 2, 2, 2]
    assert rows[p.copies[0][0]].id == "a-2"  # best first
    assert p.report["shortfalls"] == ["need 1 more a"]


def test_exact_mode_shrinks_the_total_to_hit_the_mix():
    rows = rows_of({("a",): 10, ("b",): 100})
    p = plan(rows, ["task"], {"targets": {"task": {"a": 0.5, "b": 0.5}}, "exact": True}, seed=0)
    assert p.report["rows_after"] == 20 and p.report["shortfalls"] == []


def test_balance_config_problems():
    tasks = ["math", "code"]
    assert balance_problems({"dimensions": ["task"], "targets": {"task": {"math": 0.5}}}, tasks) == []
    probs = balance_problems({"dimensions": ["task", "mood"], "budget": -1,
                              "targets": {"task": {"math": 0.8, "poetry": 0.4}, "lang": {"en": 1}}}, tasks)
    text = "\n".join(probs)
    for needle in ("mood", "poetry", "sum to 1.200", "balance.targets.lang", "budget"):
        assert needle in text, needle


def _random_rows(rng, n):
    """Rows over 3 x 4 x 3 cells with skewed supply, repeated ids, missing and tied qualities, injected rows."""
    langs, tasks, buckets = ["en", "zh", "fr"], ["math", "code", "open_qa", "rewriting"], ["easy", "medium", "hard"]
    rows = []
    for i in range(n):
        cell = (rng.choices(langs, [6, 3, 1])[0], rng.choices(tasks, [1, 5, 3, 1])[0], rng.choice(buckets))
        rid = f"r{rng.randrange(n * 2)}" if rng.random() < 0.05 else f"r{i}"
        q = None if rng.random() < 0.3 else round(rng.choice([0.5, 0.9, rng.random()]), 2)
        rows.append(Row(rid, cell, rng.random() < 0.04, q))
    return rows


def test_split_plan_decides_exactly_what_the_row_by_row_plan_did():
    """plan() = quotas from per-cell supply + per-cell selection, against the old one-pass algorithm
    (tests/diversity/balance_reference.py) on random corpora and configurations."""
    import random

    from pipeline.diversity.balance import _targets, supply_of
    from tests.diversity.balance_reference import _targets as ref_targets
    from tests.diversity.balance_reference import reference_plan

    dims = ["lang", "task", "complexity"]
    configs = [
        {},
        {"targets": {"lang": {"en": 0.5, "zh": 0.4}}},
        {"targets": {"lang": {"en": 0.5, "zh": 0.5}, "task": {"math": 0.3, "code": 0.2}}, "budget": 900},
        {"targets": {"task": {"math": 0.4, "translation": 0.1}, "complexity": {"hard": 0.5}},
         "caps": {"max_cell_share": 0.08}, "upsample": {"enabled": True, "max_copies": 2}},
        {"targets": {"lang": {"fr": 0.3}, "complexity": {"easy": 0.2, "medium": 0.3, "hard": 0.5}}, "exact": True},
        {"caps": {"max_cell_count": 40}, "budget": 2500, "upsample": {"enabled": True, "max_copies": 3},
         "report_shortfalls": 5},
    ]
    rng = random.Random(20)
    dropped_any = copied_any = 0
    for k, cfg in enumerate(configs):
        rows = _random_rows(rng, rng.randint(1500, 3000))
        for seed in (0, 7):
            got, want = plan(rows, dims, cfg, seed), reference_plan(rows, dims, cfg, seed)
            assert got.cells == want.cells, k
            assert got.drop == want.drop, k
            assert list(got.drop) == list(want.drop), k  # same order, so id-keyed maps match too
            assert got.copies == want.copies, k
            assert got.report == want.report, k
            # The target shares themselves, to the last bit and in the same order.
            tg = _targets(supply_of(rows), dims, cfg.get("targets") or {})
            assert [list((t or {}).items()) for t in tg] == \
                [list((t or {}).items()) for t in ref_targets(rows, dims, cfg.get("targets") or {})], k
            dropped_any += bool(got.drop)
            copied_any += bool(got.copies)
    assert dropped_any >= 8 and copied_any >= 2  # the comparisons covered drops and copies


def test_quotas_need_only_counts():
    """Quotas and the whole report follow from per-cell supply, whatever the row order and ids."""
    from pipeline.diversity.balance import quotas, supply_of

    rows = rows_of({("en", "math"): 300, ("en", "code"): 1200, ("zh", "math"): 40}, injected={"en-math-1"})
    cfg = {"targets": {"lang": {"en": 0.5, "zh": 0.5}}, "budget": 600, "upsample": {"enabled": True, "max_copies": 2}}
    q = quotas(supply_of(rows), ["lang", "task"], cfg)
    p = plan(rows, ["lang", "task"], cfg, seed=1)
    assert q.report() == p.report
    assert q.dropping(("en", "code")) == 1200 - q.quota[("en", "code")]
    assert q.room(("en", "math")) == q.quota[("en", "math")] - 1  # the injected row counts first
    assert q.copies(("zh", "math")) == 80 and len(p.copies) == 80
    assert sum(q.dropping(c) for c in q.cells()) == len(p.drop)
