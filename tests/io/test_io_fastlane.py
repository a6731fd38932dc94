"""The fast ingest lane (pyarrow.json) against the generic reader, which is the oracle.

Every test runs ``ingest`` twice on the same inputs: as it is, and with the lane switched
off. The checkpoint file (byte for byte), the rejects, the manifest entries, the file
errors and the reject counts must be identical. Each test also says whether the lane
must have taken the file (clean input) or handed it to the generic reader (anything the
lane cannot prove it reads identically), so a lane that silently stopped working, or
one that took a file it should not, fails too.
"""

from __future__ import annotations

import codecs
import gzip
import json
import random
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

import pipeline.engines.ingest as ingest_mod
from pipeline.io import fastjsonl
from pipeline.io.writers import RejectWriter

EN = [
    {"instruction": "Name a primary color.", "input": "", "output": "Red."},
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
    {"instruction": "Quote this: \"hi\" \\ /", "input": "tab\there\nnewline", "output": "ok\r\n"},
]
ZH = [
    {"instruction": "把这句话翻译成英文。", "input": "今天天气很好。", "output": "The weather is nice today."},
    {"instruction": "写一首诗", "input": "", "output": "床前明月光，疑是地上霜。"},
]
ODD = [
    {"instruction": "", "input": "", "output": ""},
    {"instruction": "nul \u0000 and controls \u0001\u001f\u007f", "input": "", "output": "x"},
    {"instruction": "emoji 😀 and \u2028 \uffff \ufeff", "input": "€", "output": "𝄞"},
]


def clean(n: int = 40) -> list[dict]:
    base = EN + ZH + ODD
    return [dict(base[i % len(base)], instruction=f"{base[i % len(base)]['instruction']} #{i}") for i in range(n)]


def jsonl(records: list, ascii: bool = False, eol: str = "\n", last_eol: bool = True) -> bytes:
    lines = [json.dumps(r, ensure_ascii=ascii) if not isinstance(r, str) else r for r in records]
    return (eol.join(lines) + (eol if last_eol else "")).encode("utf-8")


def _run(paths: list[Path], out: Path, fast: bool, monkeypatch, **kw) -> tuple:
    taken: list[bool] = []
    real = ingest_mod._fast

    def spy(*a, **k):
        report = real(*a, **k)
        taken.append(report is not None)
        return report

    with monkeypatch.context() as m:
        m.setattr(ingest_mod, "_fast", spy)
        if not fast:
            m.setattr(ingest_mod, "eligible", lambda *a: False)
        rej = RejectWriter(out / "rejects")
        result = ingest_mod.ingest([str(p) for p in paths], out / "work.arrow", rej, num_proc=2, **kw)
        rej.close()
    rejects = {p.name: p.read_bytes() for p in sorted((out / "rejects").rglob("*")) if p.is_file()}
    return result, (out / "work.arrow").read_bytes(), rejects, taken


def compare(tmp_path: Path, monkeypatch, paths: list[Path], **kw) -> list[bool]:
    """Ingest ``paths`` with and without the lane; assert identical outputs.

    Returns, per file the lane tried, whether it kept it (False: handed back)."""
    fast = _run(paths, tmp_path / "fast", True, monkeypatch, **kw)
    slow = _run(paths, tmp_path / "slow", False, monkeypatch, **kw)
    assert fast[0] == slow[0], "manifest inputs, errors and reject counts"
    assert fast[2] == slow[2], "rejects"
    tables = [pa.ipc.open_stream(pa.py_buffer(r[1])).read_all() for r in (fast, slow)]
    assert tables[0].equals(tables[1]), "checkpoint rows"
    assert fast[1] == slow[1], "checkpoint bytes"
    assert slow[3] == []
    return fast[3]


def reasons(tmp_path: Path) -> list[str]:
    out = []
    for p in sorted((tmp_path / "slow" / "rejects").rglob("*.jsonl")):
        out += [orjson.loads(line)["reason"] for line in p.read_bytes().splitlines()]
    return out


def test_clean_english_chinese_and_odd_text_takes_the_lane(tmp_path, monkeypatch):
    p = tmp_path / "a.jsonl"
    p.write_bytes(jsonl(clean()))
    assert compare(tmp_path, monkeypatch, [p]) == [True]
    assert reasons(tmp_path) == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(jsonl(clean(), ascii=True), id="ascii-escapes-and-surrogate-pairs"),
        pytest.param(jsonl(clean(), eol="\r\n"), id="crlf"),
        pytest.param(jsonl(clean(), last_eol=False), id="no-final-newline"),
        pytest.param(jsonl(clean(), eol="\r\n", last_eol=False), id="crlf-no-final-newline"),
        pytest.param(jsonl(clean(1)), id="one-line"),
        pytest.param(b'{"instruction":"x","output":"y"}', id="one-line-no-newline"),
        pytest.param(jsonl([dict(r, system="Be brief.") for r in clean()]), id="system"),
        pytest.param(jsonl([dict(r, system=None, input=None) for r in clean()]), id="null-system-input"),
        pytest.param(jsonl([{k: v for k, v in r.items() if k != "input"} for r in clean()]), id="no-input"),
        pytest.param(jsonl([dict(r, history=h) for r, h in zip(clean(), [[], None] * 20)]), id="empty-or-null-history"),
        pytest.param(jsonl([dict(r, history=[]) for r in clean()]), id="history-all-empty-lists"),
        pytest.param(jsonl([dict(r, history="") for r in clean()]), id="history-all-empty-strings"),
        pytest.param(
            jsonl([dict(r, category="qa", n=i, ok=i % 2 == 0, note=None, long="x" * (250 + i % 10))
                   for i, r in enumerate(clean())]),
            id="extra-scalars-to-meta",
        ),
        pytest.param(jsonl([dict(r, id=f"r{i}", **({"tag": "t"} if i % 3 else {})) for i, r in enumerate(clean())]),
                     id="extra-key-in-some-records"),
        pytest.param(jsonl([dict(r, created=f"2023-01-0{1 + i % 9}") for i, r in enumerate(clean())]),
                     id="iso-dates-stay-text"),
        pytest.param(jsonl([dict(r, instruction="2023-01-01") for r in clean()]), id="date-instruction"),
        pytest.param(jsonl([{"output": r["output"], "instruction": r["instruction"]} for r in clean()]), id="key-order"),
        pytest.param(jsonl(clean()).replace(b'"instruction"', b'"\\u0069nstruction"'), id="escaped-key"),
        pytest.param(jsonl([dict(r, **{"": "empty key", "é": 1}) for r in clean()]), id="odd-meta-keys"),
        pytest.param(jsonl(clean()).replace(b'", "', b'" ,\t"'), id="whitespace-inside-lines"),
        pytest.param(jsonl([dict(r, output="y" * 300_000) for r in clean(3)]), id="huge-fields"),
    ],
)
def test_clean_variants_take_the_lane(tmp_path, monkeypatch, data):
    p = tmp_path / "a.jsonl"
    p.write_bytes(data)
    assert compare(tmp_path, monkeypatch, [p]) == [True]


LATE = 35  # past the records the format is detected from, so only the lane's checks can catch it


def late(line: str | bytes, n: int = 45) -> bytes:
    head = jsonl(clean(n))
    lines = head.split(b"\n")
    lines[LATE] = line.encode("utf-8") if isinstance(line, str) else line
    return b"\n".join(lines)


@pytest.mark.parametrize(
    "line, reason",
    [
        ('{"instruction": "a", "input": "", "output": "\\ud800"}', "ingest_undecodable"),
        ('{"instruction": "a", "input": "", "output": "\\udc00x"}', "ingest_undecodable"),
        (b'{"instruction": "a", "input": "", "output": "bad \xff byte"}', "ingest_undecodable"),
        (b'{"instruction": "a", "input": "", "output": "cesu \xed\xa0\x80"}', "ingest_undecodable"),
        (b'{"instruction": "a", "bad\xfekey": "", "output": "x"}', "ingest_undecodable"),
        (b'{"instruction": "raw \x00 nul", "input": "", "output": "x"}', "ingest_invalid_json"),
        (b'{"instruction": "raw \t tab", "input": "", "output": "x"}', "ingest_invalid_json"),
        ('{"instruction": "a", "output": "b"} {"instruction": "c", "output": "d"}', "ingest_invalid_json"),
        ('{"instruction": "a", "output": "b"}{"instruction": "c", "output": "d"}', "ingest_invalid_json"),
        ('{"instruction": "a", "output": "b"} null', "ingest_invalid_json"),
        ('{"instruction": "a", "output": "b"},', "ingest_invalid_json"),
        ('{"instruction": "a", "output": "b",}', "ingest_invalid_json"),
        ('{"instruction": "a", "output": NaN}', "ingest_invalid_json"),
        ('{"instruction": "a", "output": "b", "score": Infinity}', "ingest_invalid_json"),
        ('{"instruction": "a", "output": "b"} // comment', "ingest_invalid_json"),
        ('{"instruction": "a", "output": "b"', "ingest_invalid_json"),
        ("null", "ingest_wrong_type"),
        ("[1, 2]", "ingest_wrong_type"),
        ('"text"', "ingest_wrong_type"),
        ("{}", "ingest_missing_field"),
        ('{"instruction": "a", "input": ""}', "ingest_missing_field"),
        ('{"instruction": 5, "output": "b"}', "ingest_wrong_type"),
        ('{"instruction": "a", "output": null}', "ingest_wrong_type"),
        ('{"instruction": "a", "output": ["b", "c"]}', "ingest_preference_record"),
        ('{"instruction": "a", "input": 7, "output": "b"}', "ingest_wrong_type"),
        ('{"instruction": "a", "output": "b", "history": "earlier"}', "ingest_wrong_type"),
        ('{"instruction": "a", "output": "b", "history": [null]}', "ingest_wrong_type"),
        ('{"instruction": "a", "output": "b", "chosen": "c", "rejected": "d"}', "ingest_preference_record"),
        ('{"instruction": "a", "output": "b", "label": false}', "ingest_preference_record"),
        ('{"instruction": "a", "output": "b", "system": 3}', "ingest_wrong_type"),
    ],
)
def test_a_late_bad_record_hands_the_whole_file_back(tmp_path, monkeypatch, line, reason):
    p = tmp_path / "a.jsonl"
    p.write_bytes(late(line))
    assert compare(tmp_path, monkeypatch, [p]) == [False]
    assert reasons(tmp_path) == [reason]


@pytest.mark.parametrize(
    "line",
    [
        '{"instruction": "a", "output": "b", "instruction": "c"}',  # duplicate key: orjson keeps the last
        '{"instruction": "a",\n"output": "b"}',  # an object over two lines
        '{"instruction": "a", "output": "b", "history": [["q", "a"]]}',
        '{"instruction": "a", "output": "b", "tags": ["x"]}',
        '{"instruction": "a", "output": "b", "extra": {"k": 1}}',
        '{"instruction": "a", "output": "b", "score": 0.5}',
        '{"instruction": "a", "output": "b", "big": 12345678901234567890}',
        '{"instruction": "a", "output": "b", "label": true}',
        '{"instruction": "a", "output": "b", "n": "text in a column of numbers"}',
        '{"instruction": "a}\n{b", "output": "c"}',  # a raw line break in a string, between } and {
        '{"instruction": "a}\r\n{b", "output": "c"}',
        "",  # a blank line
        "   \t",  # a whitespace-only line
        '  {"instruction": "a", "output": "b"}',  # leading whitespace
        '{"instruction": "a", "output": "b"} ',  # trailing whitespace
    ],
)
def test_what_the_lane_cannot_prove_goes_generic(tmp_path, monkeypatch, line):
    records = [dict(r, n=i) for i, r in enumerate(clean(45))] if "text in" in line else clean(45)
    lines = jsonl(records).split(b"\n")
    lines[LATE] = line.encode("utf-8")
    p = tmp_path / "a.jsonl"
    p.write_bytes(b"\n".join(lines))
    assert compare(tmp_path, monkeypatch, [p]) == [False]


@pytest.mark.parametrize(
    "name, data",
    [
        ("bom.jsonl", codecs.BOM_UTF8 + jsonl(clean())),
        ("utf16.jsonl", jsonl(clean()).decode().encode("utf-16")),
        ("utf16le.jsonl", jsonl(clean()).decode().encode("utf-16-le")),
        ("gbk.jsonl", jsonl(clean()).decode().replace("😀", "").replace("𝄞", "").replace("\uffff", "")
         .replace("\u2028", "").replace("€", "").encode("gbk", "ignore")),
        ("a.jsonl.gz", gzip.compress(jsonl(clean()), mtime=0)),
        ("gz-named-plain.jsonl", gzip.compress(jsonl(clean()), mtime=0)),
        ("array.jsonl", json.dumps(clean()).encode()),
        ("one-line.json", jsonl(clean(1))),
        ("wrapper.json", json.dumps({"data": clean()}).encode()),
        ("pretty.json", json.dumps(clean()[0], indent=1).encode()),
        ("empty.jsonl", b""),
        ("blank.jsonl", b"\n \n"),
        ("first-bad.jsonl", b"{nope\n" + jsonl(clean())),
        ("sharegpt.jsonl", jsonl([{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}] * 5)),
        ("dolly.jsonl", jsonl([{"instruction": "q", "context": "", "response": "a"}] * 5)),
    ],
)
def test_files_the_lane_does_not_try(tmp_path, monkeypatch, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    assert compare(tmp_path, monkeypatch, [p]) == []


def test_json_lines_named_json_take_the_lane(tmp_path, monkeypatch):
    p = tmp_path / "lines.json"
    p.write_bytes(jsonl(clean(2)))
    assert compare(tmp_path / "1", monkeypatch, [p]) == [True]
    p.write_bytes(late('{"instruction": 1, "output": "b"}'))
    assert compare(tmp_path / "2", monkeypatch, [p]) == [False]


def test_format_and_field_map_options(tmp_path, monkeypatch):
    p = tmp_path / "a.jsonl"
    p.write_bytes(jsonl(clean()))
    assert compare(tmp_path / "1", monkeypatch, [p], fmt="alpaca") == [True]
    assert compare(tmp_path / "2", monkeypatch, [p], fmt="auto") == [True]
    assert compare(tmp_path / "3", monkeypatch, [p], field_map={"instruction": "instruction"}) == [True]
    assert compare(tmp_path / "4", monkeypatch, [p], fmt="dolly") == []
    assert compare(tmp_path / "5", monkeypatch, [p], field_map={"output": "instruction"}) == []
    q = tmp_path / "q.jsonl"
    q.write_bytes(jsonl([{"prompt": r["instruction"], "completion": r["output"]} for r in clean()]))
    assert compare(tmp_path / "6", monkeypatch, [q], field_map={"instruction": "prompt", "output": "completion"}) == []


def test_a_file_handed_back_after_batches_were_written(tmp_path, monkeypatch):
    """The lane cuts the checkpoint back to where the file began: at the very start (its
    schema too) and after a file before it; the generic reader then writes the file."""
    monkeypatch.setattr(ingest_mod, "CHUNK", 7)
    monkeypatch.setattr(fastjsonl, "_BLOCK", 512)
    monkeypatch.setattr(fastjsonl, "_BLOCK_MAX", 2048)
    good, bad = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    good.write_bytes(jsonl(clean(60)))
    lines = jsonl(clean(60)).split(b"\n")
    lines[50] = b'{"instruction": "a", "output": 1}'
    bad.write_bytes(b"\n".join(lines))
    assert compare(tmp_path / "1", monkeypatch, [bad, good]) == [False, True]
    assert compare(tmp_path / "2", monkeypatch, [good, bad, good]) == [True, False, True]


def test_small_blocks_and_batches(tmp_path, monkeypatch):
    """Chunks cut by bytes rather than lines, lines longer than a block, and batches that
    gather rows from several chunks."""
    monkeypatch.setattr(ingest_mod, "CHUNK", 5)
    monkeypatch.setattr(fastjsonl, "_BLOCK", 64)
    monkeypatch.setattr(fastjsonl, "_BLOCK_MAX", 300)
    monkeypatch.setattr(fastjsonl, "_LINE_MAX", 1 << 16)
    records = clean(50)
    records[40] = dict(records[40], output="long " * 2000)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(jsonl(records))
    b.write_bytes(jsonl(records, eol="\r\n", last_eol=False))
    assert compare(tmp_path, monkeypatch, [a, b, a]) == [True, True, True]


def test_a_field_larger_than_a_block(tmp_path, monkeypatch):
    """A 12 MB output: more than the 8 MB the lane first reads for a chunk."""
    records = clean(5)
    records[3] = dict(records[3], output="长" * (4 << 20))
    p = tmp_path / "a.jsonl"
    p.write_bytes(jsonl(records))
    assert compare(tmp_path, monkeypatch, [p]) == [True]


def test_a_line_longer_than_the_lane_reads_goes_generic(tmp_path, monkeypatch):
    monkeypatch.setattr(fastjsonl, "_BLOCK", 64)
    monkeypatch.setattr(fastjsonl, "_BLOCK_MAX", 256)
    monkeypatch.setattr(fastjsonl, "_LINE_MAX", 1024)
    records = clean(45)
    records[LATE] = dict(records[LATE], output="x" * 5000)
    p = tmp_path / "a.jsonl"
    p.write_bytes(jsonl(records))
    assert compare(tmp_path, monkeypatch, [p]) == [False]


def test_many_files_mixed(tmp_path, monkeypatch):
    paths = []
    for i, data in enumerate([jsonl(clean()), late('{"instruction": 1, "output": "b"}'), b"",
                              gzip.compress(jsonl(clean(7)), mtime=0), jsonl(clean(3), eol="\r\n")]):
        p = tmp_path / f"{i}.jsonl"
        p.write_bytes(data)
        paths.append(p)
    assert compare(tmp_path, monkeypatch, paths) == [True, False, True]


_ALPHABET = [c.encode() for c in '{}[]",:\\ \t\r\n\x00\x7f0aé中😀'] + [
    b"\\u", b"\\ud800", b"\\n", b"null", b"true", b"1e5", b"\xff", b"\xe4\xb8", b"\\\\", b'"x": 1,', b"[]",
    b"\\u00e9", b"\\/", b'\\"', b"\\ud83d\\ude00", b"\\u0000", b"\xc2\xa0", b"\\t"]  # the last: fine in a string


@pytest.mark.parametrize("seed", range(60))
def test_random_damage_never_differs(tmp_path, monkeypatch, seed):
    """Random edits past the detection sample: whatever the lane does, it matches."""
    rng = random.Random(seed)
    records = [dict(r, tag=rng.choice(["a", "b", None]), n=rng.randrange(5)) for r in clean(45)]
    data = bytearray(jsonl(records))
    start = len(jsonl(records[:LATE]))
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(start, len(data))
        piece = rng.choice(_ALPHABET) if rng.random() < 0.8 else b""
        data[pos:pos + rng.choice([0, 0, 1, 3])] = piece
    p = tmp_path / "a.jsonl"
    p.write_bytes(bytes(data))
    assert len(compare(tmp_path, monkeypatch, [p])) == 1


SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
REAL = ["alpaca_raw_en/alpaca_data_51009-52002.json", "dolly/dolly_3k.json", "code_alpaca/code_alpaca_2k.json",
        "llama_factory/alpaca_zh_demo.json", "zh_supplementary/code_questions.json", "belle/dev1K.json"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data not available")
def test_real_alpaca_data_as_json_lines(tmp_path, monkeypatch):
    """Real English and Chinese Alpaca data (and Dolly with its extra ``category``), written
    as JSON Lines at run time; BELLE's file is JSON Lines already."""
    paths = []
    for name in REAL:
        src = SHARED / name
        if not src.is_file():
            continue
        data = src.read_bytes()
        if data.lstrip()[:1] == b"[":
            data = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in orjson.loads(data))
        p = tmp_path / "in" / (src.stem + ".jsonl")
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
        paths.append(p)
    if not paths:
        pytest.skip("none of the real files is available")
    assert compare(tmp_path, monkeypatch, paths) == [True] * len(paths)
