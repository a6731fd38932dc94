"""The column-wise writer of a checkpoint's Arrow files gives the row-by-row writer's bytes.

The row-by-row path (``shard_row`` + ``from_pydict``, :class:`ShardWriter`, :class:`RejectWriter`)
is the oracle: :func:`shard_table` must build the same table, and :func:`finalize` over
checkpoint files (``ds.files``) must write the same files and manifest as over a view
that only offers ``iter`` (which takes the row-by-row path), for any ``num_proc``.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import finalize as finalize_mod
from pipeline.config import RunConfig
from pipeline.engines.local import ArrowFiles
from pipeline.io import checkpoint_outputs, writers
from pipeline.io.columns import WORK_SCHEMA, shard_row, shard_schema
from pipeline.io.shard_table import messages_array, shard_table
from pipeline.io.stream_index import BatchReader, scan
from pipeline.record import to_messages

TEXTS = [
    "", "Name a primary color.", "把这句话翻译成英文。", "今天天气很好。", "a\x00b", "\x01\x1f ctrl",
    "\ufeffBOM first", "line one\r\nline two\r\n", "emoji 😀 and 𝄞 (astral)", "  spaced  ", "\n\n",
    "مرحبا بالعالم", "x" * 200_000,
]


def _text(rng: random.Random, null_rate: float = 0.0):
    if rng.random() < null_rate:
        return None
    return rng.choice(TEXTS)


def _row(rng: random.Random, i: int) -> dict:
    """An engine row with every kind of value the writers meet (and some they rarely do)."""
    kind = rng.random()
    history = None if rng.random() < 0.05 else []
    if kind < 0.15:
        history = [{"instruction": _text(rng, 0.2), "output": _text(rng, 0.2)} for _ in range(rng.randint(1, 3))]
    scores = rng.choice([None, "", "{}", '{"quality": 0.5}', '{"quality": 3, "len": null}',
                         '{"len": 12.25, "flag": true}', '{"quality": -1e300}'])
    meta = rng.choice([None, "", "{}", "{}", "{}", '{"split": "validation"}', '{"split": "train", "k": [1, 2]}',
                       '{"split": "test"}', '{"lang_guess": "中文"}'])
    stage = rng.choice(["", "", "", "", "quality", "dedup", None])
    return {
        "id": f"id{i:05d}", "system": rng.choice(["", "", "", None, "You are terse.", "系统提示"]),
        "instruction": _text(rng, 0.03), "input": _text(rng, 0.03), "output": _text(rng, 0.03),
        "history": history,
        "source": None if rng.random() < 0.02 else {"file": "in.jsonl", "index": i, "format": "alpaca"},
        "origin": rng.choice(["raw", "raw", "injected", None]), "lang": rng.choice(["en", "zh", ""]),
        "task": "", "domain": rng.choice(["", "code"]), "complexity": "", "cluster": "", "response_type": "",
        "flags": rng.choice([[], None, ["quality_short"], ["a", "b"]]), "scores": scores, "meta": meta,
        "_stage": stage, "_reason": f"{stage}_x" if stage else "", "_detail": "d" if stage else "",
        "_dup": rng.choice(["", "id00001"]) if stage == "dedup" else "",
    }


def _rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [_row(rng, i) for i in range(n)]


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    writers.write_parquet_table(table, sink)
    return sink.getvalue().to_pybytes()


def _reference_table(rows: list[dict], score_keys: list[str]) -> pa.Table:
    schema = shard_schema(score_keys)
    cols = {f: [] for f in schema.names}
    for r in rows:
        for f, v in shard_row(r, score_keys).items():
            cols[f].append(v)
    return pa.Table.from_pydict(cols, schema=schema)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("score_keys", [[], ["flag", "len", "quality"], ["quality"]])
def test_shard_table_equals_shard_rows(seed, score_keys):
    rows = _rows(300, seed)
    batch = pa.RecordBatch.from_pylist(rows, schema=WORK_SCHEMA)
    got, want = shard_table(batch, score_keys), _reference_table(rows, score_keys)
    assert got.schema == want.schema
    assert got.equals(want)
    assert _parquet_bytes(got) == _parquet_bytes(want)
    a, b = io.BytesIO(), io.BytesIO()
    writers.write_jsonl_shard(got.to_pydict(), a)
    writers.write_jsonl_shard({f: want.column(f).to_pylist() for f in want.schema.names}, b)
    assert a.getvalue() == b.getvalue()


def test_messages_of_simple_and_other_rows():
    rows = [
        {"system": "", "history": [], "instruction": "Q", "input": "ctx", "output": "A"},
        {"system": None, "history": None, "instruction": "", "input": "only input", "output": ""},
        {"system": "", "history": [], "instruction": "only instruction", "input": "", "output": "A"},
        {"system": "", "history": [], "instruction": "", "input": "", "output": ""},
        {"system": "S", "history": [], "instruction": "Q", "input": "", "output": "A"},
        {"system": "", "history": [{"instruction": "q0", "output": None}], "instruction": "Q", "input": "i",
         "output": "A"},
        {"system": "", "history": [], "instruction": None, "input": "i", "output": "A"},
        {"system": "", "history": [], "instruction": "Q", "input": None, "output": None},
    ]
    schema = pa.schema([WORK_SCHEMA.field(c) for c in ("system", "history", "instruction", "input", "output")])
    got = messages_array(pa.RecordBatch.from_pylist(rows, schema=schema)).to_pylist()
    assert got == [to_messages(r) for r in rows]
    assert got[0][0] == {"role": "user", "content": "Q\n\nctx"}
    assert [m["role"] for m in got[4]] == ["system", "user", "assistant"]
    assert messages_array(pa.RecordBatch.from_pylist([], schema=schema)).to_pylist() == []
    for same in (rows[3], rows[6], rows[7]):  # batches of only empty texts, only null texts
        batch = pa.RecordBatch.from_pylist([same] * 3, schema=schema)
        assert messages_array(batch).to_pylist() == [to_messages(same)] * 3


def _write_checkpoint(folder: Path, rows: list[dict], per_file: list[int], batch_rows: int,
                      schema: pa.Schema = WORK_SCHEMA) -> list[str]:
    """Rows as Arrow stream files (as the local engine writes its checkpoints)."""
    folder.mkdir(parents=True, exist_ok=True)
    files, at = [], 0
    for k, n in enumerate(per_file):
        path = folder / f"ck-{k:03d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as w:
            for a in range(at, at + n, batch_rows):
                w.write_batch(pa.RecordBatch.from_pylist(rows[a:min(at + n, a + batch_rows)], schema=schema))
        at += n
        files.append(str(path))
    return files


class _RowsOnly:
    """A checkpoint offered only through ``select_columns(...).iter(...)`` (the row-by-row path)."""

    def __init__(self, files: list[str], columns=None):
        self.ds = ArrowFiles(files, columns)

    def select_columns(self, columns):
        return _RowsOnly(self.ds.files, columns)

    def iter(self, batch_size):
        return self.ds.iter(batch_size)


def _ingest_rejects(folder: Path, n: int) -> list[str]:
    rej = writers.RejectWriter(folder)
    for i in range(n):
        rej.write(f"bad line {i}", "ingest", "ingest_wrong_type", f"line {i}", {"file": "x", "index": i})
    return [str(p) for p in rej.close()]


def _run(ds, out: Path, files_ing: list[str], n: int, shard_rows: int, formats, **kw):
    ing = {"reject_files": files_ing, "inputs": [], "errors": []}
    funnel = [{"stage": "ingest", "in": n, "out": n, "dropped": {}, "flagged": {}, "injected": 0}]
    cfg = RunConfig(stages=[], rules={}, shard_rows=shard_rows, output_format=list(formats))
    _, manifest = finalize_mod.finalize(ds, out, cfg, ing, funnel, {}, {}, n, **kw)
    return manifest


def _files(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in ("curated", "rejected") for p in sorted((out / d).rglob("*")) if p.is_file()}


CASES = [  # rows, rows per file, rows per batch, shard rows, rejects lines per file, ingest rejects, clean
    (0, [0], 5, 7, 4, 0, False),
    (0, [], 5, 7, 4, 3, False),
    (1, [1], 5, 7, 4, 0, False),
    (157, [60, 0, 97], 8, 13, 9, 13, False),
    (157, [157], 1000, 200, 1000, 2, False),
    (240, [100, 140], 7, 10, 6, 0, False),
    (130, [50, 80], 10, 20, 6, 0, True),  # all rows live, in train: shards of whole batches
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("num_proc", [1, 3])
def test_checkpoint_files_write_the_row_by_row_bytes(tmp_path, monkeypatch, case, num_proc):
    n, per_file, batch_rows, shard_rows, lines, n_ing, clean = case
    monkeypatch.setattr(writers, "REJECT_FILE_LINES", lines)
    rows = _rows(n, seed=n + batch_rows)
    if clean:
        for r in rows:
            r.update(_stage="", _reason="", _detail="", _dup="", meta=r["meta"] if r["meta"] in (None, "", "{}") else "{}")
    files = _write_checkpoint(tmp_path / "ck", rows, per_file, batch_rows)
    ing = _ingest_rejects(tmp_path / "ingest-rejects", n_ing)
    formats = ["parquet", "jsonl"]
    want = _run(_RowsOnly(files), tmp_path / "rows", ing, n, shard_rows, formats)
    with monkeypatch.context() as m:  # the column-wise path must not fall back to rows
        m.setattr(finalize_mod, "_write_rows", None)
        got = _run(ArrowFiles(files), tmp_path / "cols", ing, n, shard_rows, formats, num_proc=num_proc)
    assert _files(tmp_path / "cols") == _files(tmp_path / "rows")
    assert got == want
    c = got["counts"]
    assert c["rejected"] == n_ing + sum(1 for r in rows if r["_stage"])
    assert c["injected"] == sum(1 for r in rows if r["origin"] == "injected")
    assert sum(s["rows"] for s in got["shards"] if s["path"].endswith(".parquet")) == n + n_ing - c["rejected"]
    if n > 100 and shard_rows < 50 and not clean:  # several shards per split, several rejects files
        assert c["splits"]["validation"] > 0 and len(got["shards"]) > 4 and len(got["rejects"]) > 1


def test_all_rows_rejected_still_writes_an_empty_train_shard(tmp_path):
    rows = _rows(40, seed=5)
    for r in rows:
        r["_stage"], r["_reason"] = "quality", "quality_x"
    files = _write_checkpoint(tmp_path / "ck", rows, [40], 6)
    want = _run(_RowsOnly(files), tmp_path / "rows", [], 40, 10, ["parquet"])
    got = _run(ArrowFiles(files), tmp_path / "cols", [], 40, 10, ["parquet"], num_proc=2)
    assert _files(tmp_path / "cols") == _files(tmp_path / "rows")
    assert got == want
    assert [s["rows"] for s in got["shards"]] == [0]
    assert pq.read_table(tmp_path / "cols" / got["shards"][0]["path"]).num_rows == 0


def test_other_checkpoint_schemas_take_the_row_by_row_path(tmp_path, monkeypatch):
    rows = _rows(30, seed=9)
    # large_string ids: not the work schema, so the files are read row by row (same bytes).
    schema = WORK_SCHEMA.set(0, pa.field("id", pa.large_string()))
    files = _write_checkpoint(tmp_path / "ck", rows, [30], 8, schema=schema)
    assert not checkpoint_outputs.readable(files)
    assert checkpoint_outputs.readable(_write_checkpoint(tmp_path / "ok", rows, [30], 8))
    calls = []
    real = finalize_mod._write_rows
    monkeypatch.setattr(finalize_mod, "_write_rows", lambda *a: calls.append(1) or real(*a))
    _run(ArrowFiles(files), tmp_path / "cols", [], 30, 7, ["parquet", "jsonl"], num_proc=2)
    assert calls == [1]
    ref = _write_checkpoint(tmp_path / "ref", rows, [30], 8)
    _run(_RowsOnly(ref), tmp_path / "rows", [], 30, 7, ["parquet", "jsonl"])
    assert _files(tmp_path / "cols") == _files(tmp_path / "rows")


def test_extra_columns_in_the_checkpoint_are_ignored(tmp_path):
    rows = [dict(r, _row=i) for i, r in enumerate(_rows(50, seed=4))]
    schema = WORK_SCHEMA.append(pa.field("_row", pa.int64()))
    files = _write_checkpoint(tmp_path / "ck", rows, [50], 9, schema=schema)
    assert checkpoint_outputs.readable(files)
    got = _run(ArrowFiles(files), tmp_path / "cols", [], 50, 11, ["parquet", "jsonl"], num_proc=2)
    plain = _write_checkpoint(tmp_path / "plain", [{k: r[k] for k in WORK_SCHEMA.names} for r in rows], [50], 9)
    want = _run(_RowsOnly(plain), tmp_path / "rows", [], 50, 11, ["parquet", "jsonl"])
    assert _files(tmp_path / "cols") == _files(tmp_path / "rows") and got == want


def test_stream_index_reads_batches_back_by_offset(tmp_path):
    rows = _rows(45, seed=3)
    (path,) = _write_checkpoint(tmp_path, rows, [45], 10)
    seen = list(scan(path))
    assert [rb.num_rows for _, rb in seen] == [10, 10, 10, 10, 5]
    with BatchReader() as reader:
        for offset, rb in reversed(seen):
            assert reader.read(path, offset).equals(rb)
    assert pa.Table.from_batches([rb for _, rb in seen]).to_pylist() == \
        pa.Table.from_pylist(rows, schema=WORK_SCHEMA).to_pylist()


def test_parquet_bytes_depend_on_chunking_so_shards_are_one_chunk(tmp_path):
    """Why the writer concatenates a shard's rows: the same values in other chunks give other bytes."""
    rows = [r for r in _rows(400, seed=7) if not r["_stage"]]
    table = _reference_table(rows, [])
    pieces = pa.Table.from_batches(table.to_batches(max_chunksize=37))
    assert pieces.equals(table)
    assert _parquet_bytes(pieces) != _parquet_bytes(table)
    assert _parquet_bytes(pieces.combine_chunks()) == _parquet_bytes(table)


def test_split_and_scores_come_from_meta_and_live_rows(tmp_path):
    rows = _rows(60, seed=11)
    rows[0].update(_stage="quality", scores='{"only_rejected": 1}', meta='{"split": "validation"}')
    rows[1].update(_stage="", scores='{"live_key": 2}', meta='{"split": "validation", "x": 1}')
    files = _write_checkpoint(tmp_path / "ck", rows, [60], 9)
    got = _run(ArrowFiles(files), tmp_path / "cols", [], 60, 1000, ["jsonl"], num_proc=2)
    val = [json.loads(x) for x in (tmp_path / "cols" / "curated" / "validation-00000-of-00001.jsonl").read_bytes()
           .splitlines()]
    expect_val = [r["id"] for r in rows if not r["_stage"] and r["meta"] and
                  orjson.loads(r["meta"]).get("split") == "validation"]
    assert [r["id"] for r in val] == expect_val and "id00001" in expect_val
    assert "live_key" in val[0]["scores"] and all("only_rejected" not in r["scores"] for r in val)
    assert got["counts"]["splits"]["validation"] == len(expect_val)

