"""Encodings: detected, reported, decoded; undecodable bytes name their line."""

from __future__ import annotations

import codecs
import json

import pytest
from io_helpers import ALPACA, good, read_all, reasons

from pipeline.io import encoding as enc_mod
from pipeline.io.encoding import detect

ZH = [
    {"instruction": "写一首关于春天的诗。", "input": "", "output": "春风又绿江南岸，明月何时照我还。"},
    {"instruction": "“全角标点”需要保留吗？", "input": "", "output": "需要：全角标点有意义。"},
]


def _jsonl(records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


@pytest.mark.parametrize(
    "codec,bom,reported",
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"),
        ("gbk", b"", "gb18030"),
        ("gb18030", b"", "gb18030"),
    ],
)
@pytest.mark.parametrize("name", ["zh.jsonl", "zh.json", "zh.csv"])
def test_encodings_are_detected_and_decoded(write, codec, bom, reported, name):
    if name.endswith(".csv"):
        text = "instruction,output\n" + "".join(f"{r['instruction']},{r['output']}\n" for r in ZH)
    elif name.endswith(".jsonl"):
        text = _jsonl(ZH)
    else:
        text = json.dumps(ZH, ensure_ascii=False, indent=1)
    report, items = read_all(write(name, bom + text.encode(codec)))
    assert report.encoding == reported
    assert [(r["instruction"], r["output"]) for r in good(items)] == [
        (r["instruction"], r["output"]) for r in ZH
    ]
    assert report.errors == []


def test_utf16_without_bom_is_recognised(write):
    report, items = read_all(write("a.jsonl", _jsonl(ALPACA[:1]).encode("utf-16-le")))
    assert report.encoding == "utf-16-le" and len(good(items)) == 1


def test_detect_does_not_mistake_a_cut_character_for_bad_utf8():
    data = "春".encode() * 10
    assert detect(data[:-1], complete=False) == "utf-8"
    assert detect("春天".encode("gbk"), complete=True) == "gb18030"


def test_gbk_file_longer_than_the_sniff_window(write, monkeypatch):
    monkeypatch.setattr(enc_mod, "SNIFF_BYTES", 64)
    report, items = read_all(write("big.jsonl", _jsonl(ZH * 50).encode("gbk")))
    assert report.encoding == "gb18030" and len(good(items)) == 100 and report.errors == []


def test_undecodable_bytes_in_gbk_file_name_the_line(write):
    lines = [json.dumps(r, ensure_ascii=False).encode("gbk") for r in ZH * 2]
    lines[2] = lines[2].replace("春".encode("gbk"), b"\x81\x20", 1)  # 0x81 needs a trail byte >= 0x40
    report, items = read_all(write("bad.jsonl", b"\n".join(lines) + b"\n"))
    assert report.encoding == "gb18030"
    assert reasons(items) == [None, None, "ingest_undecodable", None]
    assert items[2].detail == "line 3: undecodable bytes (not valid gb18030)"
    assert [(e.line, e.message) for e in report.errors] == [
        (3, "line 3: undecodable bytes (not valid gb18030)")
    ]


def test_invalid_utf8_after_the_sniff_window_names_the_line(write, monkeypatch):
    monkeypatch.setattr(enc_mod, "SNIFF_BYTES", 32)
    body = _jsonl(ALPACA).encode()
    bad = body.replace(b"Add the", b"Add \xff\xfe the")
    report, items = read_all(write("bad.jsonl", bad))
    assert report.encoding == "utf-8"
    assert reasons(items) == [None, None, "ingest_undecodable"]
    assert report.errors[0].line == 3


def test_undecodable_element_in_json_array(write, monkeypatch):
    monkeypatch.setattr(enc_mod, "SNIFF_BYTES", 16)
    body = json.dumps(ALPACA, indent=1).encode().replace(b"Add the", b"Add \xff the")
    report, items = read_all(write("bad.json", body))
    start = body.rfind(b"{", 0, body.index(b"Add \xff"))
    line = body.count(b"\n", 0, start) + 1
    assert reasons(items) == [None, None, "ingest_undecodable"]
    assert items[2].detail == f"line {line}: undecodable bytes (not valid utf-8)"
    assert [e.line for e in report.errors] == [line]


def test_undecodable_csv_row(write):
    data = "instruction,output\n春,天\n坏,行\n".encode("gbk").replace("坏".encode("gbk"), b"\x81\x20")
    report, items = read_all(write("bad.csv", data))
    assert reasons(items) == [None, "ingest_undecodable"]
    assert "\udc81" not in items[1].raw  # the raw text is safe to write out
    assert report.errors[0].line == 3
