"""Every input format maps to canonical records; everything that cannot is rejected with a reason."""

from __future__ import annotations

import pytest
from io_helpers import good, read_all, reasons

from pipeline.io.formats import FORMAT_NAMES, detect
from pipeline.io.readers import _record
from pipeline.record import new_record


def _one(write, rec, name="one.jsonl", **kw):
    report, items = read_all(write(name, [rec]), **kw)
    assert len(items) == 1
    return report, items[0]


def _turns(rec):
    return [(h["instruction"], h["output"]) for h in rec["history"]] + [(rec["instruction"], rec["output"])]


def test_alpaca_with_system_and_history(write):
    rec = {
        "instruction": "And 3+3?",
        "input": "",
        "output": "6",
        "system": "Be brief.",
        "history": [["1+1?", "2"], ["2+2?", "4"]],
        "category": "math",
        "id": 7,
        "tags": ["x"],
        "long": "z" * 300,
    }
    report, got = _one(write, rec)
    r = got.record
    assert report.format == "alpaca"
    assert r["system"] == "Be brief." and _turns(r) == [("1+1?", "2"), ("2+2?", "4"), ("And 3+3?", "6")]
    assert r["meta"] == {"category": "math", "id": 7}  # scalars only, short strings only


def test_sharegpt(write):
    rec = {
        "id": "c1",
        "system": "Top system.",
        "conversations": [
            {"from": "system", "value": "Turn system."},
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello"},
            {"from": "user", "value": "你好"},
            {"from": "assistant", "value": "你好！"},
        ],
    }
    report, got = _one(write, rec)
    r = got.record
    assert report.format == "sharegpt"
    assert r["system"] == "Top system.\n\nTurn system."
    assert _turns(r) == [("Hi", "Hello"), ("你好", "你好！")]
    assert r["meta"] == {"id": "c1"}


@pytest.mark.parametrize(
    "turns,reason,detail",
    [
        (
            [("human", "a"), ("human", "b"), ("gpt", "c")],
            "ingest_roles_not_alternating",
            "field 'conversations[1]' is a user turn, expected assistant",
        ),
        (
            [("human", "a"), ("gpt", "b"), ("human", "c")],
            "ingest_roles_not_alternating",
            "field 'conversations' ends with a user turn ('conversations[2]')",
        ),
        (
            [("gpt", "a"), ("human", "b")],
            "ingest_roles_not_alternating",
            "field 'conversations[0]' is an assistant turn, expected user",
        ),
        (
            [("human", "a"), ("function_call", "{}"), ("observation", "42"), ("gpt", "b")],
            "ingest_tool_turn",
            "field 'conversations[1]' is a function_call turn (tool use is not supported)",
        ),
        (
            [("human", "a"), ("gpt", "b"), ("system", "late")],
            "ingest_roles_not_alternating",
            "field 'conversations[2]' is a system turn, expected user",
        ),
        (
            [("human", "a"), ("narrator", "b")],
            "ingest_unknown_role",
            "field 'conversations[1]' has unknown role 'narrator'",
        ),
        ([("system", "only")], "ingest_missing_field", "field 'conversations' has no user/assistant turns"),
        (
            [("human", "a"), ("gpt", 5)],
            "ingest_wrong_type",
            "field 'conversations[1].content' is int, expected string",
        ),
        (
            [("human", "a"), ("gpt", ["x", "y"])],
            "ingest_preference_record",
            "field 'conversations[1].content' is a list (several candidate answers)",
        ),
    ],
)
def test_sharegpt_rejects(write, turns, reason, detail):
    rec = {"conversations": [{"from": f, "value": v} for f, v in turns]}
    _report, got = _one(write, rec, fmt="sharegpt")
    assert (got.reason, got.detail) == (reason, detail)
    assert got.raw == rec


def test_openai_messages_string_and_parts(write):
    recs = [
        {
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "Q1"},
                {"role": "assistant", "content": "A1"},
                {"role": "user", "content": "Q2"},
                {"role": "assistant", "content": "A2"},
            ]
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "value": "he"}, {"type": "text", "value": "llo"}],
                    "loss_weight": 0.0,
                },
                {"role": "assistant", "content": [{"type": "text", "text": "hi"}], "loss_weight": 1.0},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": "x"}]},
                {"role": "assistant", "content": "a"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "Q"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
                {"role": "tool", "content": "42"},
                {"role": "assistant", "content": "42."},
            ]
        },
    ]
    report, items = read_all(write("oa.jsonl", recs))
    assert report.format == "openai"
    first, second = good(items)
    assert first["system"] == "S" and _turns(first) == [("Q1", "A1"), ("Q2", "A2")]
    assert _turns(second) == [("hello", "hi")]
    assert [(g.reason, g.detail) for g in items[2:]] == [
        ("ingest_wrong_type", "field 'messages[0].content[0]' is a 'image_url' part; only text is supported"),
        ("ingest_tool_turn", "field 'messages[1]' is an assistant turn (tool use is not supported)"),
    ]


def test_dolly(write):
    report, got = _one(
        write,
        {"instruction": "Who?", "context": "Ada wrote it.", "response": "Ada.", "category": "closed_qa"},
    )
    r = got.record
    assert report.format == "dolly"
    assert (r["instruction"], r["input"], r["output"], r["meta"]) == (
        "Who?",
        "Ada wrote it.",
        "Ada.",
        {"category": "closed_qa"},
    )


def test_firefly_single_and_multi_turn(write):
    report, got = _one(write, {"kind": "Couplet", "input": "上联：春风", "target": "下联：秋月"})
    assert report.format == "firefly"
    assert (got.record["instruction"], got.record["output"], got.record["meta"]) == (
        "上联：春风",
        "下联：秋月",
        {"kind": "Couplet"},
    )
    multi = {
        "conversation_id": 3,
        "category": "Brainstorming",
        "conversation": [{"human": "问1", "assistant": "答1"}, {"human": "问2", "assistant": "答2"}],
    }
    report, got = _one(write, multi, name="multi.jsonl")
    assert report.format == "firefly"
    assert _turns(got.record) == [("问1", "答1"), ("问2", "答2")]
    assert got.record["meta"] == {"category": "Brainstorming", "conversation_id": 3}
    report, got = _one(write, {"conversation": [{"human": "问1"}]}, name="open.jsonl")
    assert got.reason == "ingest_roles_not_alternating"


def test_openorca(write):
    report, got = _one(
        write, {"id": "niv.1", "system_prompt": "You are helpful.", "question": "Q?", "response": "A."}
    )
    r = got.record
    assert report.format == "openorca"
    assert (r["system"], r["instruction"], r["output"], r["meta"]) == (
        "You are helpful.",
        "Q?",
        "A.",
        {"id": "niv.1"},
    )


def test_query_response_with_history(write):
    report, got = _one(write, {"query": "再说一次", "response": "好的", "history": [["你好", "你好！"]]})
    assert report.format == "query_response"
    assert _turns(got.record) == [("你好", "你好！"), ("再说一次", "好的")]


@pytest.mark.parametrize(
    "rec,fmt,pair",
    [
        ({"prompt": "P", "completion": "C"}, "prompt_completion", ("P", "C")),
        ({"question": "Q", "answer": "A #### 4"}, "question_answer", ("Q", "A #### 4")),
    ],
)
def test_common_variants(write, rec, fmt, pair):
    report, got = _one(write, rec)
    assert report.format == fmt and (got.record["instruction"], got.record["output"]) == pair


def test_self_instruct_takes_the_first_instance(write):
    rec = {
        "id": "seed_task_1",
        "name": "x",
        "instruction": "Classify.",
        "is_classification": True,
        "instances": [{"input": "i1", "output": "o1"}, {"input": "i2", "output": "o2"}],
    }
    report, got = _one(write, rec)
    r = got.record
    assert report.format == "self_instruct"
    assert (r["instruction"], r["input"], r["output"]) == ("Classify.", "i1", "o1")
    assert r["meta"] == {"id": "seed_task_1", "is_classification": True, "n_instances": 2, "name": "x"}
    report, got = _one(write, {"instruction": "x", "instances": []}, fmt="self_instruct")
    assert got.reason == "ingest_missing_field"


def test_preference_records(write):
    recs = [
        {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"},
        {
            "conversations": [{"from": "human", "value": "q"}],
            "chosen": {"from": "gpt", "value": "a"},
            "rejected": {"from": "gpt", "value": "b"},
        },
    ]
    report, items = read_all(write("pref.jsonl", recs))
    assert report.format == "preference"
    assert reasons(items) == ["ingest_preference_record"] * 2
    recs = [{"instruction": "q", "output": ["a", "b"]}, {"instruction": "q", "output": "a"}]
    report, items = read_all(write("list.jsonl", recs))
    assert [(g.reason, g.detail) for g in items] == [
        ("ingest_preference_record", "field 'output' is a list (several candidate answers)"),
        (None, ""),
    ]


def test_kto_label(write):
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    _report, items = read_all(
        write("kto.json", [{"messages": msgs, "label": True}, {"messages": msgs, "label": False}])
    )
    assert reasons(items) == [None, "ingest_preference_record"]
    assert items[0].record["meta"] == {"label": True}


def test_reader_record_equals_new_record():
    args = {
        "system": "s",
        "instruction": "i",
        "input": "x",
        "output": "o",
        "history": [{"instruction": "a", "output": "b"}],
        "meta": {"k": 1},
        "source": {"file": "f", "index": 3, "format": "alpaca"},
    }
    assert _record(
        args["system"],
        args["instruction"],
        args["input"],
        args["output"],
        args["history"],
        args["meta"],
        args["source"],
    ) == new_record(**args)


def test_detect_prefers_the_best_match_and_needs_a_majority():
    alpaca = {"instruction": "a", "output": "b"}
    dolly = {"instruction": "a", "response": "b"}
    assert detect([alpaca, alpaca, dolly]) == "alpaca"
    assert detect([dolly, dolly, alpaca]) == "dolly"
    assert detect([alpaca, {"x": 1}, {"y": 2}]) is None
    assert detect([]) is None
    assert set(FORMAT_NAMES) >= {
        "alpaca",
        "sharegpt",
        "openai",
        "dolly",
        "firefly",
        "openorca",
        "query_response",
    }
