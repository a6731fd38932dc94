"""The report's fast paths against the plain definitions they replace.

- word counts from bytes vs ``list_value_length(utf8_split_whitespace(...))``;
- flag example rows (dictionary-encoded) vs the row-by-row walk;
- the rejects stream that stops early vs reading every line;
- the per-shard, column-pruned, multi-process report vs a one-table reference.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.report import collect, dist, shards, words
from pipeline.report.build import build_report
from pipeline.runner import run
from tests.report.conftest import FULL

SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]
TRICKY = ["", " ", "  ", "   ", "    ", "a", " a", "a ", "a  ", "  a  ", "a b", "a  b", "a \t\n b",
          "\r\n", "a\r\nb\r\n", "\ufeffhello world", "\x00", "a\x00 b", "\x1c\x1d", "a\x1f", "\x08 \x0e",
          "\x7f \x7f", "数据 模型", "数据模型。", "请问？", "a\u3000b", "\u3000", "a\u3000", "a \u3000",
          "\u3000\u3000", "a\u00a0b", "\u0085", "x\u2028", "\u200b", "a\u200bb", "\u180e", "\ufeff",
          "emoji 😀 😀", "😀", "é è", "mixed\u2003 \u2009x", "\u205f\u202f"]


def _generic(values) -> np.ndarray:
    """The kernel's counts, with a string after the last one (the kernel peeks past a string's end)."""
    return words.generic_word_counts(pa.array([*values, "x"]))[:-1]


@pytest.fixture(params=[1 << 20, 7, 64])
def chunk_bytes(request, monkeypatch):
    """Chunks of many rows, and tiny ones so that rows straddle every chunk boundary case."""
    monkeypatch.setattr(words, "CHUNK_BYTES", request.param)
    return request.param


def test_word_counts_tricky_strings(chunk_bytes):
    got = words.word_counts(pa.array(TRICKY))
    assert got.tolist() == _generic(TRICKY).tolist()
    assert got.dtype == np.int32
    assert words.word_counts(pa.array(["   "])).tolist() == [3]  # the kernel's own quirk, kept


def test_word_counts_every_whitespace_code_point(chunk_bytes):
    values = [f"a{s}b" for s in SPACES] + [s for s in SPACES] + [s * 2 for s in SPACES] + \
             [f"x {s}" for s in SPACES] + [f"{s}{s}y" for s in SPACES] + [f"z{s}\u3000" for s in SPACES]
    assert words.word_counts(pa.array(values)).tolist() == _generic(values).tolist()


def test_word_counts_random_rows_and_boundaries(chunk_bytes):
    rng = random.Random(7)
    alphabet = ["a", "b", " ", "  ", "\t", "\n", "\r\n", "\x00", "\x0e", "\x1c", "数", "。", "é", "😀",
                "\u00a0", "\u3000", "\u2009", "\ufeff", "\x85", "\x1b"]
    for _ in range(20):
        values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(300)]
        arr = pa.array(values)
        assert words.word_counts(arr).tolist() == _generic(values).tolist()
        sliced = arr.slice(17, 200)  # an offset into shared buffers, more rows after it
        assert words.word_counts(sliced).tolist() == words.generic_word_counts(sliced).tolist()
        assert words.word_counts(arr.take(pa.array(range(0, 300, 3)))).tolist() == _generic(values[::3]).tolist()


def test_word_counts_chunked_huge_and_empty(chunk_bytes):
    big = ("word " * 300_000) + "  "
    col = pa.chunked_array([pa.array(["a b", big, ""]), pa.array([], pa.string()), pa.array(["", ""]),
                            pa.array([" x", "y "])])
    assert words.word_counts(col).tolist() == _generic(["a b", big, "", "", "", " x", "y "]).tolist()
    assert words.word_counts(pa.array(["", "", ""])).tolist() == [1, 1, 1]
    assert words.word_counts(pa.chunked_array([], pa.string())).tolist() == []


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # a null's count, as ever
def test_word_counts_fall_back_where_bytes_cannot_be_trusted():
    # Nulls, another string type, and invalid UTF-8 (which the parquet reader does not reject).
    with_nulls = pa.array(["a b", None, " c "])
    assert words.word_counts(with_nulls).tolist() == words.generic_word_counts(with_nulls).tolist()
    large = pa.array(["a b", "  ", "数 据"], pa.large_string())
    assert words.word_counts(large).tolist() == words.generic_word_counts(large).tolist() == [2, 3, 2]
    bad = pa.Array.from_buffers(pa.string(), 3, [None, pa.py_buffer(np.array([0, 4, 6, 9], np.int32)),
                                                 pa.py_buffer(b"a\xff b c d e\xc3")])
    assert words.word_counts(bad).tolist() == words.generic_word_counts(bad).tolist()


def _flag_rows_by_walk(flags, per):
    """The original walk: every flat code in order, keeping the first ``per`` rows of each."""
    rows: dict[str, list[int]] = {}
    parents = pc.list_parent_indices(flags).to_numpy()
    for code, row in zip(pc.list_flatten(flags).to_pylist(), parents):
        bucket = rows.setdefault(code, [])
        if len(bucket) < per:
            bucket.append(int(row))
    return rows


@pytest.mark.parametrize("per", [0, 1, 2, 5])
def test_flag_rows_matches_the_walk(per):
    rng = random.Random(per)
    codes = ["quality_pii", "format_structure", "leak_skeleton", "split_cross_leak"]
    lists = [[rng.choice(codes) for _ in range(rng.choice([0, 0, 1, 2, 3]))] for _ in range(200)]
    col = pa.chunked_array([pa.array(lists[:70], pa.list_(pa.string())), pa.array(lists[70:], pa.list_(pa.string()))])
    assert collect.flag_rows(col, per) == _flag_rows_by_walk(col, per)
    assert collect.flag_rows(pa.array([[], []], pa.list_(pa.string())), per) == {}


def _write_run(folder: Path, lines: list[dict], funnel_drops: dict[str, int], rejected: int) -> dict:
    (folder / "rejected").mkdir(parents=True)
    half = len(lines) // 2
    for i, part in enumerate((lines[:half], lines[half:])):
        (folder / "rejected" / f"rejected-{i:05d}.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in part))
    return {"funnel": [{"stage": "x", "dropped": funnel_drops}], "counts": {"rejected": rejected},
            "rejects": ["rejected/rejected-00000.jsonl", "rejected/rejected-00001.jsonl"]}


def _examples_by_full_read(out, manifest, per, chars, wanted):
    examples, found = {}, {}
    for r in collect.reject_lines(out, manifest):
        rec = r["record"] if isinstance(r["record"], dict) else {"raw": r["record"]}
        bucket = examples.setdefault(r["reason"], [])
        if len(bucket) < per:
            bucket.append(collect.example(rec, r.get("detail", ""), r["stage"], r.get("source"), chars))
        rid = rec.get("id")
        if wanted and rid in wanted and rid not in found:
            found[rid] = {**collect.example(rec, r.get("detail", ""), r["stage"], r.get("source"), chars),
                          "fate": r["reason"]}
    return examples, found


def _reject_lines(n: int, seed: int) -> tuple[list[dict], dict[str, int]]:
    rng = random.Random(seed)
    reasons = ["dedup_exact"] * 8 + ["quality_pii"] * 3 + ["format_json_invalid"]
    lines = []
    for i in range(n):
        rec = {"id": f"id{i % 37}", "instruction": f"q{i}", "output": f"a{i}"} if i % 11 else f"raw line {i}"
        lines.append({"record": rec, "reason": rng.choice(reasons), "stage": "s", "detail": f"d{i}",
                      "source": {"file": "f", "index": i}})
    drops: dict[str, int] = {}
    for x in lines:
        drops[x["reason"]] = drops.get(x["reason"], 0) + 1
    return lines, drops


@pytest.mark.parametrize("per", [0, 1, 3, 5])
@pytest.mark.parametrize("wanted", [set(), {"id3", "id30"}, {"id5", "missing"}])
def test_reject_examples_stop_early_with_the_same_result(tmp_path, per, wanted):
    lines, drops = _reject_lines(150, per)
    manifest = _write_run(tmp_path, lines, drops, len(lines))
    got = collect.reject_examples(tmp_path, manifest, per, 12, wanted)
    assert got == _examples_by_full_read(tmp_path, manifest, per, 12, wanted)
    assert set(got[0]) == set(drops)


def test_reject_examples_stop_reading_once_nothing_can_change(tmp_path):
    lines, drops = _reject_lines(150, 1)
    manifest = _write_run(tmp_path, lines, drops, len(lines))
    with open(tmp_path / manifest["rejects"][-1], "ab") as fh:
        fh.write(b"not json: a full read would fail here\n")
    examples, found = collect.reject_examples(tmp_path, manifest, 2, 12, {"id3"})
    assert found["id3"]["fate"] in drops and all(len(v) == min(2, drops[k]) for k, v in examples.items())
    with pytest.raises(orjson.JSONDecodeError):  # a wanted id that never comes: every line is read
        collect.reject_examples(tmp_path, manifest, 2, 12, {"never"})


def test_reject_examples_read_everything_when_the_funnel_does_not_add_up(tmp_path):
    lines, drops = _reject_lines(150, 2)
    extra = {"record": {"id": "z"}, "reason": "unlisted_reason", "stage": "s", "detail": "", "source": {}}
    manifest = _write_run(tmp_path, lines + [extra], drops, len(lines) + 1)
    examples, _ = collect.reject_examples(tmp_path, manifest, 1, 12, set())
    assert "unlisted_reason" in examples
    assert (examples, _) == _examples_by_full_read(tmp_path, manifest, 1, 12, set())


# --- the whole report: shards, workers and pruned columns vs one table read the plain way ---

@pytest.fixture(scope="session")
def sharded_run(tmp_path_factory, corpus) -> Path:
    """The full recipe with tiny shards, so that flags, clusters and examples span many of them."""
    tmp = tmp_path_factory.mktemp("sharded")
    recipe = tmp / "recipe.yaml"
    rules = {"quality": {"checks": {"missing_input": {"action": "flag"}, "arithmetic": {"action": "flag"}}}}
    recipe.write_text(yaml.safe_dump({"stages": FULL, "shard_rows": 3, "rules": rules}), encoding="utf-8")
    run([str(corpus)], config=recipe, out=tmp / "out", progress=False)
    return tmp / "out"


def _reference_distributions(out: Path, manifest: dict) -> dict:
    """Distributions as first written: every shard whole, words by filter + split, one histogram."""
    tags: dict[str, dict[str, int]] = {}
    lengths: dict[str, list[np.ndarray]] = {}
    turns: dict[str, int] = {}
    records = 0
    for p in collect.shard_paths(out, manifest):
        t = pq.read_table(p)
        if t.num_rows == 0:
            continue
        records += t.num_rows
        for tag in dist.TAGS:
            for k, v in dist.counts(t.column(tag)).items():
                tags.setdefault(tag, {})[k] = tags.get(tag, {}).get(k, 0) + v
        spaced = pc.invert(pc.is_in(pc.fill_null(t.column("lang"), ""), value_set=pa.array(dist.NO_SPACE_LANGS)))
        for field in ("instruction", "output"):
            chars = pc.utf8_length(t.column(field)).to_numpy(zero_copy_only=False).astype(np.int32)
            w = pc.list_value_length(pc.utf8_split_whitespace(pc.filter(t.column(field), spaced)))
            lengths.setdefault(f"{field}_chars", []).append(chars)
            lengths.setdefault(f"{field}_words", []).append(w.to_numpy(zero_copy_only=False).astype(np.int32))
        for k, v in dist.counts(pc.cast(pc.add(pc.list_value_length(t.column("history")), 1), pa.string())).items():
            turns[k] = turns.get(k, 0) + v
    result: dict = {"records": records, **{tag: dict(sorted(c.items())) for tag, c in tags.items()}}
    for name, parts in lengths.items():
        arr = np.concatenate(parts)
        result[name] = dist.histogram(arr)
        result[f"{name}_median"] = float(np.median(arr))
    result["turns"] = dict(sorted(turns.items(), key=lambda kv: int(kv[0])))
    return result


def test_sharded_report_is_the_same_for_any_num_proc(sharded_run):
    manifest = json.loads((sharded_run / "manifest.json").read_text(encoding="utf-8"))
    paths = collect.shard_paths(sharded_run, manifest)
    assert len(paths) > 5
    one = build_report(sharded_run, num_proc=1)
    assert one == build_report(sharded_run, num_proc=3)
    ref = _reference_distributions(sharded_run, manifest)
    assert one["distributions"] == ref and list(one["distributions"]) == list(ref)
    flagged = [c for s in manifest["funnel"] for c in s["flagged"]]
    assert flagged and all(one["examples"][c] for c in flagged)
    members = [m for c in one["clusters"] for m in c["members"]]
    assert members and all(m["fate"] != "unknown" for m in members)


def test_shard_parts_match_whole_shard_reading(sharded_run):
    """Flag examples and wanted ids from pruned columns equal those from the whole shard."""
    manifest = json.loads((sharded_run / "manifest.json").read_text(encoding="utf-8"))
    paths = collect.shard_paths(sharded_run, manifest)
    ids = frozenset(pq.read_table(paths[0], columns=["id"]).column("id").to_pylist()[:2]
                    + pq.read_table(paths[-1], columns=["id"]).column("id").to_pylist()[-1:])
    for p in paths:
        t = pq.read_table(p)
        got = shards.part(p, shards.Wants(2, 40, ids))
        want_flags = {code: [collect.flag_example({c: t.column(c)[r].as_py() for c in ("instruction", "output",
                                                                                       "meta", "source")}, code, 40)
                             for r in rows] for code, rows in _flag_rows_by_walk(t.column("flags"), 2).items()}
        assert got["flags"] == want_flags
        want_found = {r["id"]: {**collect.example(r, "", "", r["source"], 40), "fate": "kept"}
                      for r in t.select(["id", "instruction", "output", "source"]).to_pylist() if r["id"] in ids}
        assert got["found"] == want_found


def test_token_lengths_come_out_the_same_shard_by_shard(sharded_run, tmp_path, monkeypatch):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    from pipeline.report import build

    tok = tokenizers.Tokenizer(WordLevel({"[UNK]": 0, "the": 1, "of": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    cfg = {**build.settings(), "tokenizer": str(tmp_path)}
    monkeypatch.setattr(build, "settings", lambda: cfg)
    manifest = json.loads((sharded_run / "manifest.json").read_text(encoding="utf-8"))
    want = dist.Distributions(str(tmp_path), manifest["counts"]["curated"])
    for p in collect.shard_paths(sharded_run, manifest):
        want.add(pq.read_table(p))
    got = build_report(sharded_run, num_proc=3)["distributions"]
    assert got == want.result() and got["tokens"]["available"] and got["tokens"]["sampled"] > 5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 10**7), max_size=30), max_size=6))
def test_median_from_value_counts_equals_numpy_median(parts):
    from pipeline.report.dist import _median, counted_median, value_counts

    counted = [value_counts(np.array(p, dtype=np.int32)) for p in parts]
    flat = np.array([x for p in parts for x in p], dtype=np.int32)
    assert counted_median(counted) == _median(flat)
