"""Bad input gets a clear answer: a reject with a reason, or a file error naming the line."""

from __future__ import annotations

import json

import pytest
from io_helpers import ALPACA, good, read_all, reasons

from pipeline.io.readers import MAX_ERRORS, read_file


def test_truncated_json_array_keeps_complete_records(write):
    text = json.dumps(ALPACA * 2, indent=2)
    cut = text[: text.index('"Add the numbers."', text.index('"Add the numbers."') + 1)]
    path = write("cut.json", cut)
    report, items = read_all(path)
    assert len(good(items)) == 5 and all(g.reason is None for g in items)
    start_line = cut[: cut.rindex("{")].count("\n") + 1
    assert len(report.errors) == 1
    err = report.errors[0]
    assert err.line == start_line and err.file == str(path)
    assert err.message.startswith(f"truncated JSON: the record starting at line {start_line} is incomplete")


def test_array_cut_between_records(write):
    report, items = read_all(write("cut2.json", json.dumps(ALPACA)[:-1] + ",\n"))
    assert len(good(items)) == 3
    assert report.errors[0].message == "truncated JSON array: the file ends before the closing ']'"
    assert report.errors[0].line == 2


def test_syntax_error_inside_an_array_names_its_line(write):
    text = json.dumps(ALPACA, indent=2).replace('"input": "2 and 3"', '"input" "2 and 3"')
    report, items = read_all(write("syntax.json", text))
    assert len(good(items)) == 2
    bad_line = text[: text.index('"input" "2 and 3"')].count("\n") + 1
    assert report.errors[0].line >= 1
    assert f"invalid JSON at line {bad_line}: Expecting ':' delimiter" == report.errors[0].message


def test_reading_is_lazy_for_arrays(write):
    # The break at the end is not seen after the first record: the file is not parsed whole.
    recs = [{"instruction": f"q{i}", "output": "a" * 200} for i in range(20_000)]
    report, items = read_file(str(write("lazy.json", json.dumps(recs)[:-5])))
    first = next(items)
    assert first.record["instruction"] == "q0" and report.errors == []
    rest = list(items)
    assert len(rest) == 19_998 and len(report.errors) == 1


def test_broken_jsonl_line(write):
    lines = [json.dumps(r) for r in ALPACA]
    lines.insert(1, '{"instruction": "x", "output": "y"')
    lines.insert(3, "")  # a blank line is no record
    report, items = read_all(write("broken.jsonl", "\n".join(lines) + "\n"))
    assert reasons(items) == [None, "ingest_invalid_json", None, None]
    assert items[1].detail.startswith("line 2: unexpected end of data")
    assert items[1].raw == '{"instruction": "x", "output": "y"'
    assert [(e.line, e.file) for e in report.errors] == [(2, report.path)]
    assert items[3].record["source"]["index"] == 3


def test_nul_bytes(write):
    body = (json.dumps(ALPACA[0]) + "\n" + '{"instruction": "a\x00b", "output": "c"}\n').encode()
    report, items = read_all(write("nul.jsonl", body))
    assert reasons(items) == [None, "ingest_invalid_json"]
    assert items[1].detail == "line 2: NUL byte at byte 19 of the record"
    assert [e.line for e in report.errors] == [2]
    array = (
        b'[{"instruction": "a", "output": "b"},\n {"instruction": "a\x00", "output": "c"},\n'
        b' {"instruction": "d", "output": "e"}]'
    )
    _report, items = read_all(write("nul.json", array))
    assert reasons(items) == [None, "ingest_invalid_json", None]
    assert items[1].detail.startswith("line 2: NUL byte")


@pytest.mark.parametrize("name", ["big.jsonl", "big.json", "big.csv"])
def test_ten_megabyte_field(write, name):
    big = "长" * 3_000_000 + "x" * 1_000_000  # 10 MB of UTF-8
    recs = [ALPACA[0], {"instruction": "Summarise.", "input": big, "output": "ok"}, ALPACA[2]]
    if name.endswith(".csv"):
        content = "instruction,input,output\n" + "".join(
            f"{r['instruction']},{r['input']},{r['output']}\n" for r in recs
        )
    else:
        content = recs
    report, items = read_all(write(name, content))
    assert len(good(items)) == 3 and report.errors == []
    assert good(items)[1]["input"] == big


def test_wrong_types(write):
    recs = [
        {"instruction": "a", "output": 42},
        {"instruction": ["a"], "output": "b"},
        {"instruction": "a", "input": None, "system": None, "history": None, "output": "b"},
        {"instruction": "a", "input": {"k": 1}, "output": "b"},
        {"instruction": "a", "output": None},
        {"instruction": "a", "output": "b", "history": [["q", 1]]},
        {"instruction": "a", "output": "b", "history": "not a list"},
        {"instruction": "a", "output": "b", "history": [["only one"]]},
    ]
    _report, items = read_all(write("types.jsonl", recs))
    assert [(g.reason, g.detail) for g in items] == [
        ("ingest_wrong_type", "field 'output' is int, expected string"),
        ("ingest_wrong_type", "field 'instruction' is list, expected string"),
        (None, ""),
        ("ingest_wrong_type", "field 'input' is dict, expected string"),
        ("ingest_wrong_type", "field 'output' is null, expected string"),
        ("ingest_wrong_type", "field 'history[0][1]' is int, expected string"),
        ("ingest_wrong_type", "field 'history' is str, expected a list of [question, answer] pairs"),
        ("ingest_wrong_type", "field 'history[0]' is not a [question, answer] pair"),
    ]
    assert items[2].record["input"] == "" and items[2].record["system"] == ""
    assert items[0].raw == recs[0]


def test_missing_fields(write):
    # Detection needs most sampled records to fit a format; the misfits are then rejected one by one.
    recs = ALPACA + [{"instruction": "no answer"}, {"output": "no question", "instruction_x": "q"}]
    report, items = read_all(write("missing.jsonl", recs))
    assert report.format == "alpaca"
    assert [(g.reason, g.detail) for g in items[3:]] == [
        ("ingest_missing_field", "field 'output' is missing"),
        ("ingest_missing_field", "field 'instruction' is missing"),
    ]


@pytest.mark.parametrize(
    "name,content",
    [
        ("empty.json", b""),
        ("empty.jsonl", b"\n\n  \n"),
        ("empty.csv", b""),
        ("bom.json", b"\xef\xbb\xbf  "),
        ("empty.json.gz", b""),
    ],
)
def test_empty_file(write, name, content):
    report, items = read_all(write(name, content))
    assert items == []
    assert [(e.message, e.file) for e in report.errors] == [("empty file", report.path)]


@pytest.mark.parametrize("name", ["notjson.json", "notjson.jsonl"])
def test_non_json_file_with_json_extension(write, name):
    report, items = read_all(write(name, "instruction,output\nhello,world\n"))
    assert items == []
    assert report.errors[0].message == "not JSON: the file starts with 'i', expected '[' or '{'"


def test_garbage_object_file(write):
    report, items = read_all(write("garbage.json", "{ this is not json }\n"))
    assert items == [] and report.errors[0].message.startswith("not valid JSON: line 1:")


def test_unknown_format_names_the_keys(write):
    recs = [{"question_id": 1, "turns": ["a", "b"], "category": "x"}] * 3
    report, items = read_all(write("mt.jsonl", recs))
    assert items == [] and report.format == ""
    msg = report.errors[0].message
    assert msg.startswith(
        "unknown format: no known format matches the keys seen (category, question_id, turns)"
    )
    assert "--format" in msg and "field_map" in msg


def test_field_map_makes_an_unknown_format_readable(write):
    recs = [{"prompt_text": "Hi?", "reply": "Hello.", "tag": "greeting"}]
    path = write("odd.jsonl", recs)
    report, items = read_all(path)
    assert items == [] and "unknown format" in report.errors[0].message
    report, items = read_all(path, field_map={"instruction": "prompt_text", "output": "reply"})
    assert report.format == "alpaca" and report.errors == []
    rec = good(items)[0]
    assert (rec["instruction"], rec["output"], rec["meta"]) == ("Hi?", "Hello.", {"tag": "greeting"})
    assert items[0].record is not None


def test_forced_format(write):
    # Detection would call this Alpaca; forcing Dolly reads response/context instead.
    recs = [{"instruction": "Q", "output": "alpaca answer", "response": "dolly answer", "context": "ctx"}]
    path = write("forced.jsonl", recs)
    assert good(read_all(path)[1])[0]["output"] == "alpaca answer"
    report, items = read_all(path, fmt="dolly")
    assert report.format == "dolly"
    assert (good(items)[0]["output"], good(items)[0]["input"]) == ("dolly answer", "ctx")
    report, items = read_all(path, fmt="sharegpt")
    assert reasons(items) == ["ingest_missing_field"]


def test_unknown_forced_format_is_an_error(write):
    report, items = read_all(write("a.jsonl", ALPACA), fmt="nope")
    assert items == [] and report.errors[0].message.startswith("unknown format 'nope'; known formats: ")


def test_missing_file(tmp_path):
    report, items = read_all(tmp_path / "nothere.json")
    assert items == [] and "cannot read" in report.errors[0].message


def test_file_errors_are_capped(write):
    lines = ["{broken"] * (MAX_ERRORS + 30)
    report, items = read_all(write("many.jsonl", "\n".join(lines) + "\n" + json.dumps(ALPACA[0]) + "\n"))
    assert len(items) == MAX_ERRORS + 31
    assert len(report.errors) == MAX_ERRORS + 1
    assert report.errors[-1].message == "30 more errors not listed"


def test_bad_bytes_in_elements_the_fast_path_does_not_take(write):
    # Non-object elements go through the stdlib decoder: NUL and bad bytes are still rejects.
    body = (
        b'[{"instruction": "a", "output": "b"},\n"nul\x00here",\n"bad \xff byte",\n'
        b'{"instruction": "c", "output": "d"}]'
    )
    report, items = read_all(write("mixed.json", body))
    assert [(g.reason, g.detail) for g in items] == [
        (None, ""),
        ("ingest_invalid_json", "line 2: NUL byte at byte 5 of the record"),
        ("ingest_undecodable", "line 3: undecodable bytes (not valid utf-8)"),
        (None, ""),
    ]
    assert [e.line for e in report.errors] == [2, 3]


@pytest.mark.parametrize("fake_ends", [0, 100])
def test_lone_surrogate_escape_is_undecodable_on_both_paths(write, fake_ends):
    # 100 fake "}, {" boundaries push the element onto the stdlib path, which accepts "\ud800".
    recs = (
        '[{"instruction": "'
        + "}, {" * fake_ends
        + '\\ud800", "output": "x"}, {"instruction": "a", "output": "b"}]'
    )
    report, items = read_all(write("sur.json", recs))
    assert reasons(items) == ["ingest_undecodable", None]
    assert len(report.errors) == 1 and report.errors[0].line == 1
    assert "lone surrogate escape" in items[0].detail
    json.dumps(items[0].raw)  # the raw record can be written to the rejects file
    items[0].raw.encode("utf-8")
