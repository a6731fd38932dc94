"""Injection: exact ratio, determinism, provenance, no duplicates, language match, derived clarifications."""
from __future__ import annotations

import copy

import pytest

from pipeline import registry
from pipeline.config import stage_rules
from pipeline.record import from_rows, new_record
from pipeline.refusal import seeds as S
from pipeline.refusal.detect import script_lang
from pipeline.refusal.inject import norm_key


def corpus(n: int, zh_share: float = 0.5, derived_every: int = 4) -> list[dict]:
    """A synthetic corpus with a known language mix; some records point at their input."""
    recs = []
    n_zh = round(n * zh_share)
    for i in range(n):
        zh = i < n_zh
        if i % derived_every == 0:
            instr = f"总结以下文章，重点是第{i}段。" if zh else f"Summarize the following article, focusing on part {i}."
            recs.append(new_record(instruction=instr, input=f"Body text {i}.", output="Summary.", lang="zh" if zh else "en"))
        else:
            instr = f"写一句关于数字{i}的话。" if zh else f"Write one sentence about the number {i}."
            recs.append(new_record(instruction=instr, output=f"{i}", lang="zh" if zh else "en"))
    return recs


def run(recs: list[dict], seed: int = 11, **ratio) -> tuple[object, list[dict]]:
    rules = stage_rules("refusal")
    rules["ratio"] = {**rules["ratio"], **ratio}
    proc = registry.create("refusal", rules, seed)
    proc.fit(iter([from_rows(copy.deepcopy(recs[: len(recs) // 2])), from_rows(copy.deepcopy(recs[len(recs) // 2:]))]))
    return proc, proc.inject()


@pytest.mark.parametrize("n,target,contrast", [(400, 0.03, 0.0), (1000, 0.03, 0.01), (2500, 0.05, 0.02)])
def test_ratio_is_exact_in_the_final_set(n, target, contrast):
    proc, new = run(corpus(n), target=target, safety_contrast=contrast)
    final = n + len(new)
    neg = sum(r["meta"]["kind"] != "safety_contrast" for r in new)
    con = sum(r["meta"]["kind"] == "safety_contrast" for r in new)
    assert abs(neg / final - target) <= 0.002
    assert abs(con / final - contrast) <= 0.002
    s = proc.summary()
    assert s["ratio"]["achieved"] == pytest.approx(neg / final, abs=1e-6)
    assert s["injected"]["total"] == len(new) and s["shortfall"] == {}


def test_split_follows_language_mix_and_kinds():
    _, new = run(corpus(3000, zh_share=0.25), target=0.03, safety_contrast=0.0)
    zh = sum(r["lang"] == "zh" for r in new)
    assert abs(zh / len(new) - 0.25) < 0.05
    kinds = {k: sum(r["meta"]["kind"] == k for r in new) for k in ("out_of_bounds", "ambiguous", "false_premise")}
    assert max(kinds.values()) - min(kinds.values()) <= 1


def test_deterministic_under_seed_and_seed_matters():
    recs = corpus(1200)
    _, a = run(recs, seed=5)
    _, b = run(recs, seed=5)
    _, c = run(recs, seed=6)
    assert a == b
    assert [r["id"] for r in a] != [r["id"] for r in c]


def test_every_injected_record_carries_kind_generator_and_seed():
    _, new = run(corpus(2000), safety_contrast=0.01)
    assert new
    for r in new:
        assert r["origin"] == "injected"
        assert r["meta"]["kind"] in S.RESPONSE_TYPE
        assert r["meta"]["generator"] in ("refusal.template", "refusal.derived")
        assert r["meta"]["seed"] == 11 and r["meta"]["template"]
        assert r["response_type"] == S.RESPONSE_TYPE[r["meta"]["kind"]]
    assert {r["meta"]["kind"] for r in new} == set(S.KINDS)


def test_no_duplicates_among_injections_or_with_corpus():
    recs = corpus(4000)
    # Put two template instructions into the corpus: they must not be injected again.
    items = S.base_items(S.load(), "out_of_bounds", "en")
    recs += [new_record(instruction=it.instruction, output="x", lang="en") for it in items]
    corpus_keys = {norm_key(r["instruction"]) for r in recs if not r["input"]}
    _, new = run(recs, target=0.05)
    keys = [norm_key(r["instruction"]) for r in new]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & corpus_keys
    assert len({r["id"] for r in new}) == len(new)
    # Every bare out_of_bounds/en template was taken by the corpus, so only framed ones remain.
    oob_en = [r for r in new if r["meta"]["kind"] == "out_of_bounds" and r["lang"] == "en"]
    assert oob_en and all(".f0." not in r["meta"]["template"] for r in oob_en)


def test_language_matches_instruction():
    _, new = run(corpus(3000), safety_contrast=0.01)
    for r in new:
        assert script_lang(r["instruction"]) == r["lang"], r
        assert script_lang(r["output"]) == r["lang"], r


def test_derived_clarifications_name_the_missing_input():
    recs = corpus(2000, derived_every=3)
    by_id = {r["id"]: r for r in recs}
    _, new = run(recs)
    derived = [r for r in new if r["meta"]["generator"] == "refusal.derived"]
    assert derived
    for r in derived:
        src = by_id[r["meta"]["derived_from"]]
        assert r["instruction"] == src["instruction"] and src["input"] and r["input"] == ""
        noun = "article" if r["lang"] == "en" else "文章"
        assert noun in r["output"]
        assert r["response_type"] == "clarification"


def test_shortfall_reported_instead_of_duplicates():
    _, new = run(corpus(400), target=0.0, safety_contrast=0.9)
    proc, new = run(corpus(400), target=0.0, safety_contrast=0.9)
    s = proc.summary()
    assert sum(s["shortfall"].values()) > 0
    assert len({norm_key(r["instruction"]) for r in new}) == len(new)


def test_seed_material_volume():
    seeds = S.load()
    for kind in ("out_of_bounds", "ambiguous", "false_premise"):
        for lang in ("en", "zh"):
            block = seeds[kind][lang]
            assert len(block["instructions"]) >= 40, (kind, lang)
            assert len(block["responses"]) >= 15, (kind, lang)
    for lang in ("en", "zh"):
        assert len(seeds["ambiguous"][lang]["derived"]) >= 15
        assert len(seeds["safety_contrast"][lang]["openers"]) >= 15
        assert len(seeds["safety_contrast"][lang]["topics"]) >= 20
