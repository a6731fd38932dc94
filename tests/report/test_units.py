"""Unit tests of the report's parts: problems in plain words, token lengths, reason meanings."""
from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline.report.dist import distributions
from pipeline.report.problems import problems
from pipeline.report.settings import describe


def _manifest(funnel, errors=()):
    return {"counts": {"read": 100}, "funnel": funnel, "errors": list(errors)}


def _step(stage, dropped=None, flagged=None):
    return {"stage": stage, "in": 100, "out": 100, "dropped": dropped or {}, "flagged": flagged or {}}


def test_problems_rank_unreadable_input_first_then_drops_over_flags():
    m = _manifest([_step("quality", {"quality_empty_output": 5}, {"quality_pii": 8}),
                   _step("dedup", {"dedup_exact": 12})],
                  errors=[{"file": "a.jsonl", "line": 7, "message": "truncated JSON"}])
    got = problems(m, {})
    assert [p["kind"] for p in got] == ["input_error", "drop", "drop"]
    assert "a.jsonl:7" in got[0]["text"] and "truncated JSON" in got[0]["text"]
    assert got[1]["code"] == "dedup_exact" and "12 record(s) (12.0% of the input)" in got[1]["text"]
    # The code's meaning is spelled out (from rules/report.yaml), not just the code.
    assert describe("quality_empty_output") in got[2]["text"]


def test_problems_name_a_skewed_mix_once_per_dimension():
    div = {"before": {"task": {"counts": {"open_qa": 80, "math": 20, "code": 0}, "total": 100, "empty": ["code"],
                               "coverage": 0.66}}}
    got = problems(_manifest([_step("quality", {"quality_empty_output": 2})]), {"diversity": div})
    kinds = [p["kind"] for p in got]
    assert kinds.count("skew") + kinds.count("gap") == 1  # skew and gap of one dimension are one problem
    assert got[0]["kind"] == "skew" and "'open_qa' makes up 80.0%" in got[0]["text"]
    assert "drop" in kinds


def test_unknown_reason_codes_get_a_generic_meaning():
    assert describe("quality_new_check") == "quality check: new check"
    assert describe("dedup_exact") != "dedup check: exact"


def test_token_lengths_with_a_local_tokenizer(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tok = tokenizers.Tokenizer(WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    table = pa.table({"instruction": ["a a a", "one two", "x"], "output": ["a " * 30, "b", ""],
                      "history": [[], [], []], "lang": ["en", "en", "zh"]})
    dist = distributions(table, str(tmp_path))
    assert dist["tokens"] == {"tokenizer": str(tmp_path), "available": True, "sampled": 3}
    assert dist["instruction_tokens"]["0-9"] == 3
    assert dist["output_tokens"]["20-49"] == 1 and dist["output_tokens"]["0-9"] == 2
    missing = distributions(table, str(tmp_path / "nope"))
    assert missing["tokens"]["available"] is False and "instruction_tokens" not in missing
    # Whitespace words are counted only for space-delimited languages (the zh row is left out).
    assert sum(dist["instruction_words"].values()) == 2
