"""The dedup stage: exact duplicates, near-duplicate clusters (EN + ZH), conflicts, determinism."""
from __future__ import annotations

import copy
import pickle

import pytest

from pipeline.config import deep_merge, stage_rules
from pipeline.neardup.synth import make_corpus, pair_scores
from pipeline.processors.dedup import Dedup
from pipeline.record import from_rows, new_record


def rec(i: int, instruction: str, output: str, input: str = "", **kw) -> dict:
    return new_record(instruction=instruction, input=input, output=output,
                      source={"file": "t.jsonl", "index": i, "format": "alpaca"}, **kw)


def run(records: list[dict], near: dict | None = None, checks: dict | None = None, batches: int = 1):
    """Fit on ``records`` split into ``batches`` engine batches, then process them all."""
    rules = deep_merge(stage_rules("dedup"), {"near": near or {}, "checks": checks or {}})
    proc = Dedup(rules, seed=1)
    step = max(1, -(-len(records) // batches))
    proc.fit(iter([from_rows(copy.deepcopy(records[i:i + step])) for i in range(0, len(records), step)]))
    out, verdicts = proc.process(from_rows(copy.deepcopy(records)))
    return proc, out, verdicts


EN_BASE = ("Give three tips for staying healthy.",
           ("1. Eat a balanced diet with plenty of fruits and vegetables. 2. Exercise regularly to keep "
            "your body active and strong. 3. Get enough sleep every night so that you wake up rested."))
ZH_BASE = ("请简单介绍一下长城的历史。",
           ("长城是中国古代的军事防御工程，始建于春秋战国时期。秦始皇统一六国后，把各国修筑的长城连接起来，"
            "明朝时又进行了大规模的修缮和扩建，形成了今天我们看到的样子。"))


def test_exact_duplicates_are_dropped_naming_the_first():
    a = rec(0, "What is 2+2?", "4")
    b = dict(a, source={"file": "u.jsonl", "index": 7, "format": "alpaca"})
    proc, _, v = run([a, rec(1, "Other question?", "Other answer."), b])
    assert [x.keep for x in v] == [True, True, False]
    assert v[2].reason == "dedup_exact" and v[2].duplicate_of == a["id"]
    assert "t.jsonl#0" in v[2].detail
    assert proc.summary()["exact_duplicates"] == 1
    _, _, v = run([a, b], checks={"exact": {"action": "flag"}})
    assert v[1].keep and v[1].flags == ("dedup_exact",)


@pytest.mark.parametrize("variant", [
    ("  give THREE tips for staying   healthy!! ", EN_BASE[1].replace(". ", ".  ")),              # case, space, punct
    (EN_BASE[0], EN_BASE[1].replace("every night", "each night")),                                  # word edits
    (EN_BASE[0].upper(), EN_BASE[1].replace("with plenty of", "with lots of").replace(", ", " ")),  # both
    (EN_BASE[0], EN_BASE[1].replace("1.", "１．").replace("Exercise", "ｅｘｅｒｃｉｓｅ")),          # full width
])
def test_english_near_duplicates_are_found(variant):
    records = [rec(0, *EN_BASE), rec(1, *variant), rec(2, "Name a primary color.", "Red.")]
    _, out, v = run(records)
    long_first = len(records[0]["output"]) >= len(records[1]["output"])
    rep, dup = (0, 1) if long_first else (1, 0)
    assert v[dup].keep is False and v[dup].reason == "dedup_near"
    assert v[dup].duplicate_of == records[rep]["id"]
    assert v[rep].keep and v[2].keep and v[2].reason is None
    assert out["cluster"][0] == out["cluster"][1] == records[rep]["id"]
    assert out["cluster"][2] == ""
    assert 0.7 <= v[dup].scores["near_dup_jaccard"] <= 1.0


@pytest.mark.parametrize("variant", [
    ("请简单介绍一下长城的历史", ZH_BASE[1].replace("，", ",").replace("。", ".")),          # half-width punct
    (ZH_BASE[0], ZH_BASE[1].replace("大规模的", "大规模")),                                  # char deletion
    (ZH_BASE[0], ZH_BASE[1].replace("秦始皇", "秦始皇帝").replace("今天", "如今")),          # char edits
    (" ".join(ZH_BASE[0]), ZH_BASE[1].replace("。", "。\n\n")),                              # whitespace
])
def test_chinese_near_duplicates_are_found(variant):
    records = [rec(0, *ZH_BASE), rec(1, *variant), rec(2, "写一首关于春天的诗。", "春风又绿江南岸。")]
    _, out, v = run(records)
    assert sorted(x.reason or "" for x in v) == ["", "", "dedup_near"]
    dup = 0 if v[0].reason else 1
    assert v[dup].duplicate_of == records[1 - dup]["id"]
    assert out["cluster"][0] == out["cluster"][1] != ""
    assert v[2].keep


def test_records_sharing_a_template_are_not_merged():
    sentences = [("The weather is nice today.", "Il fait beau aujourd'hui."),
                 ("My brother plays football every weekend.", "Mon frère joue au football chaque week-end."),
                 ("I would like a cup of coffee.", "Je voudrais une tasse de café.")]
    as_input = [rec(i, "Translate the following sentence into French.", fr, input=en)
                for i, (en, fr) in enumerate(sentences)]
    inline = [rec(10 + i, f"Translate the following sentence into French: {en}", fr)
              for i, (en, fr) in enumerate(sentences)]
    zh = [rec(20, "把下面的句子翻译成英文。", "The weather is nice today.", input="今天天气很好。"),
          rec(21, "把下面的句子翻译成英文。", "My brother likes football.", input="我哥哥喜欢足球。")]
    # A long shared instruction with one varying word and different answers.
    long_tpl = "Please read the word below carefully and then write down its antonym in lowercase, nothing else:"
    words = [rec(30, f"{long_tpl} hot", "cold"), rec(31, f"{long_tpl} big", "small"),
             rec(32, f"{long_tpl} fast", "slow")]
    proc, out, v = run(as_input + inline + zh + words)
    assert all(x.keep and not x.flags for x in v)
    assert set(out["cluster"]) == {""}
    assert proc.summary()["near"]["clusters"] == 0


def test_prompt_key_merges_same_question_and_reports_conflicting_answers():
    q = "What is the boiling point of water at sea level in degrees Celsius?"
    a = rec(0, q, "The boiling point of water at sea level is 100 degrees Celsius.")
    b = rec(1, q + " ", "Water boils at 90 degrees Celsius when you are at sea level, under normal pressure.")
    c = rec(2, "Name a primary color.", "Red.")
    _, out, v = run([a, b, c], near={"key": "prompt"})
    assert [x.keep for x in v] == [True, True, True]
    assert v[0].flags == v[1].flags == ("dedup_conflict",)
    assert out["cluster"][0] == out["cluster"][1] != ""
    proc, _, v = run([a, b, c], near={"key": "prompt"}, checks={"conflict": {"action": "drop"}})
    assert [x.reason for x in v] == ["dedup_conflict", "dedup_conflict", None]
    s = proc.summary()["near"]
    assert s["conflicting_clusters"] == 1 and set(s["conflicting"][0]["members"]) == {a["id"], b["id"]}
    # With the conflict check off the cluster collapses like any other.
    _, _, v = run([a, b, c], near={"key": "prompt"}, checks={"conflict": {"action": "off"}})
    assert sorted(x.reason or "" for x in v) == ["", "", "dedup_near"]


def test_numbers_that_differ_make_a_conflict():
    body = "After adding the two numbers and checking the result twice, the final answer is {}."
    a = rec(0, "Add 19 and 23, then explain the steps briefly.", body.format(42))
    b = rec(1, "add 19 and 23, then explain the steps briefly", body.format(24))
    _, _, v = run([a, b])
    assert [x.flags for x in v] == [("dedup_conflict",), ("dedup_conflict",)]
    _, _, v = run([a, b], near={"conflict_numbers": False})
    assert sorted(x.reason or "" for x in v) == ["", "dedup_near"]


def test_short_texts_fall_back_to_exact_matching_and_never_match_everything():
    records = [rec(0, "???", "!!!"), rec(1, "  ？？？", "！！！"), rec(2, "...", "!!!"),
               rec(3, "😀", "🎉"), rec(4, "😀😀", "🎉"), rec(5, "", "—"), rec(6, "", "–"),
               rec(7, "Hi", "Hello"), rec(8, "hi!", "HELLO"), rec(9, "Hi", "Bye")]
    proc, _, v = run(records)
    reasons = [x.reason for x in v]
    # 0/1 match after width/space folding; 7/8 match (one shingle per part, equal).
    # Outputs have equal lengths, so the first of each pair is the representative.
    assert reasons == [None, "dedup_near", None, None, None, None, None, None, "dedup_near", None]
    assert v[1].duplicate_of == records[0]["id"] and v[8].duplicate_of == records[7]["id"]
    assert proc.summary()["near"]["no_shingle_records"] == 7


def test_representative_policy_quality_then_longest_then_first():
    base = rec(0, *EN_BASE)
    longer = rec(1, EN_BASE[0], EN_BASE[1] + " Drink water.")
    scored = rec(2, EN_BASE[0], EN_BASE[1].replace("every night", "each night"), scores={"quality_score": 0.9})
    _, _, v = run([base, longer, scored])
    assert [x.keep for x in v] == [False, False, True]
    assert v[0].duplicate_of == v[1].duplicate_of == scored["id"]
    _, _, v = run([base, longer])  # no quality scores: the longest output wins
    assert [x.keep for x in v] == [False, True]
    _, _, v = run([base, longer, scored], near={"representative": ["first"]})
    assert [x.keep for x in v] == [True, False, False]


def test_summary_reports_clusters_sizes_and_largest():
    corpus = make_corpus(120, seed=11)
    proc, out, v = run(corpus.records)
    s = proc.summary()["near"]
    sizes = {}
    for c in out["cluster"]:
        if c:
            sizes[c] = sizes.get(c, 0) + 1
    assert s["clusters"] == len(sizes)
    assert s["records_in_clusters"] == sum(sizes.values())
    assert sum(s["size_distribution"].values()) == len(sizes)
    assert s["largest"][0]["size"] == max(sizes.values())
    assert s["duplicates"] == sum(1 for x in v if x.reason == "dedup_near")
    assert s["index"]["bands"] * s["index"]["rows"] <= 128


def test_recall_and_precision_on_planted_duplicates():
    corpus = make_corpus(900, seed=2)
    assert len(corpus.records) > 1200
    _, out, v = run(corpus.records, batches=3)
    precision, recall = pair_scores(corpus.groups, out["cluster"])
    assert recall >= 0.95, recall
    assert precision >= 0.95, precision
    # Every drop names a record of the same planted group.
    by_id = {r["id"]: g for r, g in zip(corpus.records, corpus.groups)}
    drops = [(g, x) for g, x in zip(corpus.groups, v) if x.reason == "dedup_near"]
    assert drops and sum(by_id[x.duplicate_of] == g for g, x in drops) / len(drops) >= 0.95


def _outcome(proc, out, v):
    return [(x.keep, x.reason, x.duplicate_of, tuple(x.flags), dict(x.scores)) for x in v], out["cluster"]


def test_deterministic_across_runs_batches_and_signature_workers():
    corpus = make_corpus(150, seed=4)
    ref = _outcome(*run(corpus.records))
    assert ref[1].count("") < len(corpus.records)  # there are clusters to compare
    assert _outcome(*run(corpus.records)) == ref
    assert _outcome(*run(corpus.records, batches=7)) == ref
    assert _outcome(*run(corpus.records, near={"batch_size": 13})) == ref
    assert _outcome(*run(corpus.records, near={"batch_size": 40, "num_proc": 2})) == ref


def test_process_is_worker_independent_and_picklable():
    corpus = make_corpus(60, seed=5)
    proc, _, v = run(corpus.records)
    clone = pickle.loads(pickle.dumps(proc))
    half = len(corpus.records) // 2
    # Two "workers" each seeing half of the rows give the same verdicts as one.
    v1 = clone.process(from_rows(copy.deepcopy(corpus.records[:half])))[1]
    v2 = clone.process(from_rows(copy.deepcopy(corpus.records[half:])))[1]
    assert v1 + v2 == v
    assert not any(k.startswith("_") for k in proc.__getstate__())
    assert len(pickle.dumps(proc)) < 200_000


def test_rows_not_seen_by_fit_are_kept():
    proc, _, _ = run([rec(0, *EN_BASE)])
    injected = new_record(instruction=EN_BASE[0], output=EN_BASE[1] + "!", origin="injected")
    _, v = proc.process(from_rows([injected]))
    assert v[0].keep and v[0].reason is None


def test_near_off_keeps_exact_only():
    records = [rec(0, *EN_BASE), rec(1, EN_BASE[0].upper(), EN_BASE[1])]
    proc, _, v = run(records, checks={"near": {"action": "off"}})
    assert all(x.keep for x in v)
    assert "near" not in proc.summary()


def test_validate_rules_reports_bad_settings():
    rules = deep_merge(stage_rules("dedup"), {"near": {"key": "everything", "bands": 100, "rows": 100}})
    probs = Dedup.validate_rules(rules)
    assert any("near.key" in p for p in probs) and any("exceeds num_perm" in p for p in probs)
    assert Dedup.validate_rules(stage_rules("dedup")) == []


@pytest.mark.slow
def test_engine_output_is_identical_for_num_proc_1_and_2(tmp_path):
    """End to end through the local engine: fit once, process in 1 or 2 workers."""
    import json

    import pipeline

    corpus = make_corpus(1500, seed=3)  # > 2 engine batches, so num_proc=2 really forks
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({k: r[k] for k in ("instruction", "input", "output")},
                                      ensure_ascii=False) + "\n" for r in corpus.records), encoding="utf-8")
    results = []
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        summary = pipeline.run([str(src)], out=out, num_proc=n, only=["dedup"], progress=False)
        manifest = json.loads((out / "manifest.json").read_text())
        rejected = (out / "rejected" / "rejected-00000.jsonl").read_text(encoding="utf-8")
        results.append(([s["sha256"] for s in manifest["shards"]], rejected, summary.counts["by_stage"]))
    assert results[0] == results[1]
    assert results[0][2]["dedup"]["dedup_near"] > 300
