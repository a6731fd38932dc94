"""normalize's Arrow path: the stable-character set is sound, and the Arrow path equals the Python path."""
from __future__ import annotations

import sys
import unicodedata

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.engines.apply import apply_chain
from pipeline.io.columns import WORK_SCHEMA, work_table
from pipeline.processors.normalize import Normalize, normalize_text
from pipeline.record import new_record, record_id
from pipeline.text.stable import stable, stable_chars

STABLE = sorted(stable_chars())


def _composition_seconds() -> set[str]:
    """Characters that canonically compose with a preceding character (NFC quick check "maybe")."""
    out = {chr(c) for c in range(0x1161, 0x1176)} | {chr(c) for c in range(0x11A8, 0x11C3)}  # Hangul V, T
    for cp in range(sys.maxunicode + 1):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                out.add(chr(int(parts[1], 16)))
    return out


def test_every_stable_character_is_a_plain_starter():
    seconds = _composition_seconds()
    for c in STABLE:
        assert unicodedata.combining(c) == 0, repr(c)
        assert unicodedata.normalize("NFC", c) == c, repr(c)
        assert c not in seconds, repr(c)
        assert not c.isspace() or c in " \t\n", repr(c)
        assert normalize_text(f"a{c}b") == f"a{c}b", repr(c)


# Characters normalisation touches, mixed with stable ones.
TRICKY = ["\r", "\r\n", "\u200b", "\u200c", "\u200d", "\u0301", "e\u0301", "\u00a0", "\u3000", "\x00", "\x7f",
          "\ufeff", "\u00ad", "\uf900", "\u2028", "\x85", "\u1161", "\u302a", "\t", "\n", " ", " \n", "\u1100\u1161"]
ALPHABET = st.sampled_from(STABLE[:200] + STABLE[-200:] + ["中", "文", "。", "，", "Ω", "é"] + TRICKY)
texts = st.lists(ALPHABET, max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(texts, min_size=1, max_size=20))
def test_stable_implies_unchanged(values):
    mask = stable(pa.array(values, pa.string())).to_pylist()
    for text, ok in zip(values, mask):
        if ok:
            assert normalize_text(text) == text, repr(text)


def test_stable_settles_plain_text_and_scans_the_rest():
    values = ["plain ascii line", "", " lead", "trail ", "two\nlines", "tab\tinside", "中文，标点。", "a\r\nb",
              "e\u0301", "x\u200by", None, "end\n", "a \nb"]
    assert stable(pa.array(values, pa.string())).to_pylist() == [
        True, True, False, False, True, True, True, False, False, False, False, False, False]


def _python(table: pa.Table) -> pa.Table:
    return pa.Table.from_pydict(apply_chain(table.to_pydict(), [("normalize", Normalize())]), schema=WORK_SCHEMA)


def _records(values: list[str]) -> list[dict]:
    recs = []
    for i, v in enumerate(values):
        hist = [{"instruction": v, "output": "ok"}] if i % 3 == 0 else []
        recs.append(new_record(instruction=v or "x", input=values[-1 - i], output=f"{v}!", system=v if i % 4 == 0 else "",
                               history=hist, source={"file": "f", "index": i, "format": "alpaca"}))
    return recs


@settings(max_examples=150, deadline=None)
@given(st.lists(texts, min_size=1, max_size=30))
def test_arrow_path_equals_python_path(values):
    table = work_table(_records(values))
    got = Normalize().process_arrow(table)
    assert got.equals(_python(table))


def test_arrow_path_recomputes_ids_of_changed_rows_only():
    recs = _records(["clean text", "needs\r\nwork ", "中文"])
    table = work_table(recs)
    got = Normalize().process_arrow(table).to_pylist()
    assert got[0]["id"] == recs[0]["id"] and got[2]["id"] == recs[2]["id"]
    assert got[1]["instruction"] == "needs\nwork"
    assert got[1]["id"] == record_id(got[1]) != recs[1]["id"]


def test_null_history_goes_through_the_python_path():
    table = work_table(_records(["a", "b"]))
    hist = pa.array([None, []], table.schema.field("history").type)
    table = table.set_column(table.schema.get_field_index("history"), "history", hist)
    got = Normalize().process_arrow(table)
    assert got.column("history").to_pylist() == [[], []]
    assert got.equals(_python(table))


@pytest.mark.parametrize("chunks", [1, 3])
def test_chunked_tables(chunks):
    recs = _records(["alpha", "beta \n", "中文\u3000", "ok", "x\u200dy", "plain"])
    table = work_table(recs)
    size = -(-table.num_rows // chunks)
    chunked = pa.Table.from_batches([b for i in range(0, table.num_rows, size)
                                     for b in table.slice(i, size).to_batches()])
    assert Normalize().process_arrow(chunked).equals(_python(table))
