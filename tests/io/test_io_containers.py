"""Containers: JSON array / object / JSON Lines, CSV, TSV, Parquet, gzip, save_to_disk, hub."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from io_helpers import ALPACA, good, read_all, reasons

from pipeline.io.containers import container_of


def _texts(items):
    return [(r["instruction"], r["input"], r["output"]) for r in good(items)]


EXPECTED = [(r["instruction"], r["input"], r["output"]) for r in ALPACA]


@pytest.mark.parametrize("name", ["a.json", "a.jsonl", "a.ndjson", "a.json.gz", "a.jsonl.gz"])
def test_json_containers_read_every_record(write, name):
    report, items = read_all(write(name, ALPACA))
    assert _texts(items) == EXPECTED
    assert (report.format, report.encoding, report.errors) == ("alpaca", "utf-8", [])
    assert len(report.sha256) == 64


def test_json_lines_content_in_a_json_file(write):
    path = write("lines.json", "".join(json.dumps(r) + "\n" for r in ALPACA))
    report, items = read_all(path)
    assert _texts(items) == EXPECTED and report.errors == []


def test_compact_array_on_one_line(write):
    _report, items = read_all(write("a.json", json.dumps(ALPACA)))
    assert _texts(items) == EXPECTED


def test_single_object_is_one_record(write):
    _report, items = read_all(write("one.json", ALPACA[1]))
    assert _texts(items) == EXPECTED[1:2]


def test_data_wrapper_object_holds_the_records(write):
    _report, items = read_all(write("wrapped.json", {"data": ALPACA}))
    assert _texts(items) == EXPECTED


def test_array_whose_strings_contain_object_boundaries(write):
    # "}, {" inside strings must not split records (the fast splitter verifies with a parser).
    tricky = [
        {"instruction": 'Fix: [{"a": 1}, {"b": 2}]', "output": '}, {"x": "]"}, {'},
        {"instruction": "next", "output": "}]"},
    ]
    _report, items = read_all(write("tricky.json", json.dumps(tricky)))
    assert [r["output"] for r in good(items)] == ['}, {"x": "]"}, {', "}]"]


def test_array_with_many_fake_boundaries_in_one_record(write):
    # More candidate ends than the fast path tries: the stdlib fallback takes over.
    recs = [{"instruction": "}, {" * 200, "output": "ok"}, {"instruction": "b", "output": "c"}]
    _report, items = read_all(write("fake.json", json.dumps(recs)))
    assert [r["instruction"] for r in good(items)] == ["}, {" * 200, "b"]


def test_array_elements_that_are_not_objects_are_rejected(write):
    _report, items = read_all(write("mixed.json", json.dumps([ALPACA[0], "text", [1, 2], ALPACA[2]])))
    assert reasons(items) == [None, "ingest_wrong_type", "ingest_wrong_type", None]
    assert items[1].detail == "record is str, expected object"


def test_empty_array_is_not_an_error(write):
    report, items = read_all(write("empty.json", "[ ]"))
    assert items == [] and report.errors == []


@pytest.mark.parametrize("name,delim", [("a.csv", ","), ("a.tsv", "\t"), ("a.csv.gz", ",")])
def test_csv_and_tsv(write, name, delim):
    lines = [delim.join(["instruction", "input", "output"])]
    lines += [
        delim.join(['"' + v.replace('"', '""') + '"' for v in (r["instruction"], r["input"], r["output"])])
        for r in ALPACA
    ]
    report, items = read_all(write(name, "\r\n".join(lines) + "\r\n"))
    assert _texts(items) == EXPECTED
    assert report.format == "alpaca"


def test_csv_multiline_cell_list_column_and_bad_row(write):
    text = 'instruction,output,history\n"Line one\nline two",answer,"[[""q"", ""a""]]"\nshort row\nx,y,\n'
    report, items = read_all(write("m.csv", text))
    assert reasons(items) == [None, "ingest_invalid_row", None]
    first = items[0].record
    assert first["instruction"] == "Line one\nline two"
    assert first["history"] == [{"instruction": "q", "output": "a"}]
    assert items[1].detail == "line 4: 1 cells, the header has 3"
    assert [(e.line, e.message) for e in report.errors] == [(4, "line 4: 1 cells, the header has 3")]


def test_parquet(write, tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist(ALPACA), path, row_group_size=2)
    report, items = read_all(path)
    assert _texts(items) == EXPECTED
    assert (report.format, report.encoding) == ("alpaca", "")


def test_parquet_wrong_column_type_is_a_record_reject(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"instruction": ["a", "b"], "output": [1, 2]}), path)
    _report, items = read_all(path)
    assert reasons(items) == ["ingest_wrong_type"] * 2
    assert items[0].detail == "field 'output' is int, expected string"


def test_corrupt_parquet_is_a_file_error(write):
    report, items = read_all(write("bad.parquet", b"PAR1 this is not parquet"))
    assert items == [] and len(report.errors) == 1
    assert "cannot read Parquet" in report.errors[0].message


def test_save_to_disk_dataset_and_dataset_dict(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(ALPACA)
    ds.save_to_disk(str(tmp_path / "ds"))
    report, items = read_all(tmp_path / "ds")
    assert _texts(items) == EXPECTED and report.format == "alpaca"
    dd = datasets.DatasetDict({"train": ds, "test": datasets.Dataset.from_list(ALPACA[:1])})
    dd.save_to_disk(str(tmp_path / "dd"))
    report, items = read_all(tmp_path / "dd")
    assert _texts(items) == EXPECTED[:1] + EXPECTED  # splits in name order: test, train


def test_plain_directory_is_not_a_record_container(tmp_path):
    (tmp_path / "d").mkdir()
    report, items = read_all(tmp_path / "d")
    assert items == [] and "save_to_disk" in report.errors[0].message


def test_hub_dataset_offline_is_an_input_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    report, items = read_all("hf:nobody/surely-not-a-dataset:train")
    assert items == []
    assert report.errors[0].message.startswith("cannot load hub dataset 'nobody/surely-not-a-dataset'")


def test_unknown_extension_is_sniffed(write):
    assert container_of(str(write("data.txt", json.dumps(ALPACA)))) == "json"
    assert container_of(str(write("data.dat", "instruction\toutput\na\tb\n"))) == "tsv"
    _report, items = read_all(write("data.txt", json.dumps(ALPACA)))
    assert _texts(items) == EXPECTED


def test_gzip_detected_by_content_not_name(write):
    import gzip

    path = write("sneaky.jsonl", gzip.compress(json.dumps(ALPACA[0]).encode()))
    _report, items = read_all(path)
    assert _texts(items) == EXPECTED[:1]


def test_truncated_gzip_keeps_records_before_the_break(write, tmp_path):
    import gzip

    data = gzip.compress(("".join(json.dumps(r) + "\n" for r in ALPACA * 3000)).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    report, items = read_all(path)
    assert 0 < len(items) < 9000 and all(g.record for g in items)
    assert "truncated compressed stream" in report.errors[-1].message


def test_jsonl_named_file_holding_an_array(write):
    report, items = read_all(write("array.jsonl", json.dumps(ALPACA, indent=2)))
    assert _texts(items) == EXPECTED and report.errors == []


def test_json_lines_in_json_file_with_a_broken_first_line(write):
    text = '{"instruction": "x", "output": \n' + "".join(json.dumps(r) + "\n" for r in ALPACA)
    report, items = read_all(write("lines.json", text))
    assert reasons(items) == ["ingest_invalid_json", None, None, None]
    assert report.errors[0].line == 1


def test_one_line_wrapper_object(write):
    _report, items = read_all(write("wrap.json", json.dumps({"data": ALPACA})))
    assert _texts(items) == EXPECTED
