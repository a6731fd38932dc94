"""The reader over the real public data sets in ../shared/data (skipped when absent).

Record counts come from ../shared/data/SOURCES.md.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.io.readers import expand_inputs, read_file

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# file -> (format, records, {reason: count} for the rejects; None means "every record ok")
EXPECTED = {
    "alpaca_raw_en/alpaca_data_30186-33190.json": ("alpaca", 3004, None),
    "dolly/dolly_3k.json": ("alpaca", 2996, None),
    "belle/dev1K.json": ("alpaca", 1000, None),
    "belle/zh_seed_tasks.json": ("self_instruct", 175, None),
    "self_instruct/seed_tasks.jsonl": ("self_instruct", 175, None),
    "sharegpt/fastchat_dummy_conversation.json": ("sharegpt", 500, None),
    "firefly/dummy_data.jsonl": ("firefly", 33, None),
    "firefly/dummy_dpo.jsonl": ("preference", 16, {"ingest_preference_record": 16}),
    "llama_factory/kto_en_demo.json": ("openai", 300, {"ingest_preference_record": 150}),
    "llama_factory/dpo_zh_demo.json": ("preference", 300, {"ingest_preference_record": 300}),
    "llama_factory/v1_sft_demo.jsonl": ("openai", 500, None),
    "llama_factory/alpaca_zh_demo.json": ("alpaca", 1000, None),
    "safety/hh_rlhf_harmless_base_test.jsonl.gz": ("preference", 2312, {"ingest_preference_record": 2312}),
    "eval/gsm8k_test.jsonl": ("question_answer", 1319, None),
    "zh_supplementary/code_questions.json": ("alpaca", None, None),  # has "history": "" (a real quirk)
}


@pytest.fixture(scope="module")
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return DATA


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_known_files(data, rel):
    fmt, count, rejected = EXPECTED[rel]
    path = data / rel
    if not path.exists():
        pytest.skip(f"{rel} is not in this copy of shared/data")
    report, items = read_file(str(path))
    got = list(items)
    reasons = Counter(g.reason for g in got if g.reason)
    assert report.format == fmt and report.errors == []
    assert [g.index for g in got] == list(range(len(got))) and report.records == len(got)
    if count is not None:
        assert len(got) == count
    assert dict(reasons) == (rejected or {})


def test_every_file_is_read_without_surprises(data):
    paths, errors = expand_inputs([str(data)])
    assert errors == [] and len(paths) > 50
    for path in paths:
        report, items = read_file(path)
        got = list(items)
        assert report.records == len(got)
        if report.format:
            # A recognised file: no file-level errors, and most records become records.
            assert report.errors == [], path
            assert got, path
        else:
            # Eval sets such as CMMLU, HumanEval, MT-Bench: a clear unknown-format error, no records.
            assert got == [] and report.errors[0].message.startswith("unknown format"), path
