"""Decontamination recall and false positives against the real eval sets in shared/data.

Eval items (GSM8K test, HumanEval, MT-Bench, CMMLU dev) are planted, with the
perturbations the issue lists, into real Alpaca training records; the stage must
find each one and name the right ``file#row``. The false-positive rate is measured
on the untouched raw Alpaca records. Skipped when the data is absent.
"""
from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import pytest

from pipeline.config import stage_rules
from pipeline.decontam.evalsets import load_eval_sets
from pipeline.decontam.text import units
from pipeline.processors.decontam import Decontam
from pipeline.record import from_rows, new_record

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EVAL = DATA / "eval"
ALPACA = DATA / "alpaca_raw_en"

pytestmark = pytest.mark.skipif(not (EVAL.is_dir() and ALPACA.is_dir()), reason="shared/data not present")

# Recall measured at the time of writing: 878 of 879 planted items (the miss is an
# 8-character CMMLU item, below min_item_chars); we require at least 0.97 per set.
MIN_RECALL = 0.97
# False positives on raw Alpaca (21,816 records): measured 0; allow 1 in 2,000.
MAX_FP_RATE = 0.0005


def _fullwidth(t: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in t)


def _whitespace(t: str, rng: random.Random) -> str:
    if len(re.findall(r"[\u4e00-\u9fff]", t)) > len(t) / 3:  # Chinese: spaces after characters
        return "".join(c + (" " if "\u4e00" <= c <= "\u9fff" and rng.random() < 0.3 else "") for c in t)
    return re.sub(r" ", lambda _: rng.choice(["  ", "\n", " \t ", " "]), t)


def _punct(t: str, rng: random.Random) -> str:
    # Punctuation inside a number ("1.35", "2,3") is part of the number, so it is kept.
    t = re.sub(r"(?<!\d)[,.;:!?，。；：！？、]|[,.;:!?，。；：！？、](?!\d)",
               lambda _: rng.choice([" ", "!!", "，", "..."]), t)
    return t + rng.choice(["??", "。", ""])


def _prefix(t: str, rng: random.Random) -> str:
    return rng.choice(["Question: ", "问题：", "Q: ", "题目："]) + t


def perturb(text: str, rng: random.Random) -> str:
    """Two random perturbations, then embedding in a longer instruction."""
    ops = [lambda t: _whitespace(t, rng), lambda t: _punct(t, rng), _fullwidth,
           str.upper, lambda t: _prefix(t, rng)]
    for op in rng.sample(ops, 2):
        text = op(text)
    return text


def _alpaca(limit: int) -> list[dict]:
    recs = []
    for f in sorted(ALPACA.glob("*.json")):
        recs += json.loads(f.read_text(encoding="utf-8"))
        if len(recs) >= limit:
            break
    return recs[:limit]


def _stage(tmp_eval: list[str]) -> Decontam:
    rules = stage_rules("decontam")
    rules["eval_sets"] = tmp_eval
    return Decontam(rules, seed=0)


@pytest.fixture(scope="module")
def planted():
    rng = random.Random(5)
    sets = {
        "gsm8k_test.jsonl": (EVAL / "gsm8k_test.jsonl", 300),
        "humaneval.jsonl.gz": (EVAL / "humaneval.jsonl.gz", 164),
        "mt_bench_question.jsonl": (EVAL / "mt_bench_question.jsonl", 80),
        "cmmlu_dev": (EVAL / "cmmlu_dev", 335),
    }
    rules = stage_rules("decontam")
    hosts = _alpaca(1200)
    records, expected = [], []
    for label, (path, k) in sets.items():
        if not path.exists():
            continue
        items = load_eval_sets([path], rules["question_keys"], rules["option_keys"])
        for item in rng.sample(items, min(k, len(items))):
            text = item.views[0]
            if label == "cmmlu_dev":  # lettered option lines, as few-shot prompts show them
                row = list(csv.DictReader((path.parent / item.name).open(encoding="utf-8")))[item.index]
                text = row["Question"] + "\n" + "\n".join(f"{o}. {row[o]}" for o in "ABCD")
            host = rng.choice(hosts)
            body = perturb(text, rng)
            if rng.random() < 0.5:
                rec = new_record(instruction=f"{host['instruction']}\n\n{body}\n\nExplain your answer step by step.",
                                 input=host["input"], output=host["output"])
            else:
                rec = new_record(instruction=host["instruction"], input=f"Context first.\n{body}",
                                 output=host["output"])
            records.append(rec)
            # Items that normalise to the same text (HumanEval/56 and /61 differ only in
            # bracket characters) are the same match; any of them is a correct answer.
            same = [f"{o.name}#{o.index}" for o in items if units(o.views[0]) == units(item.views[0])]
            expected.append((label, same))
    stage = _stage([str(EVAL / "gsm8k_test.jsonl"), str(EVAL / "humaneval.jsonl.gz"),
                    str(EVAL / "mt_bench_question.jsonl"), str(EVAL / "cmmlu_dev")])
    batch = from_rows(records)
    stage.fit([batch])
    _, verdicts = stage.process(from_rows(records))
    return expected, verdicts, stage


def test_planted_eval_items_are_found_with_their_item_id(planted):
    expected, verdicts, _ = planted
    per: dict[str, list[bool]] = {}
    for (label, where), v in zip(expected, verdicts):
        ok = (not v.keep and v.reason == "decontam_eval_overlap"
              and v.detail.split(" coverage ")[0] in where)
        per.setdefault(label, []).append(ok)
    recall = {k: sum(v) / len(v) for k, v in per.items()}
    print("recall per eval set:", recall)
    assert set(recall) >= {"gsm8k_test.jsonl", "mt_bench_question.jsonl"}
    for k, r in recall.items():
        assert r >= MIN_RECALL, (k, r)


def test_summary_counts_hits_per_eval_set(planted):
    expected, verdicts, stage = planted
    s = stage.summary()
    assert s["enabled"] is True
    assert s["hits"] == sum(1 for v in verdicts if not v.keep)
    gsm = s["eval_sets"]["gsm8k_test.jsonl"]
    assert gsm["items"] == 1319 and gsm["hits"] >= 0.95 * sum(1 for e in expected if e[0] == "gsm8k_test.jsonl")


def test_false_positive_rate_on_raw_alpaca():
    recs = [new_record(instruction=r["instruction"], input=r["input"], output=r["output"]) for r in _alpaca(10**6)]
    stage = _stage([str(EVAL)] + [str(p) for p in [DATA / "self_instruct" / "user_oriented_instructions.jsonl"] if p.exists()])
    stage.fit([from_rows(recs)])
    hits = stage.summary()["hits"]
    print(f"false positives: {hits} / {len(recs)}")
    assert len(recs) > 20_000
    assert hits / len(recs) <= MAX_FP_RATE
