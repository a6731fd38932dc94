"""Curated shard tables built column-wise from engine rows: the vectorised twin of
:func:`pipeline.io.columns.shard_row`.

:func:`shard_table` gives the table that ``pa.Table.from_pydict`` of ``shard_row`` over
the same rows gives (same schema, same values, one chunk per column), so the parquet
and JSONL bytes written from it are the same. The canonical columns pass through as
they are; ``meta`` and ``messages`` are Arrow kernels; Python runs only where a row
needs it: ``scores`` that are not empty, and the ``messages`` of rows with a system
prompt, earlier turns or a missing (null) text, which :func:`pipeline.record.to_messages`
builds and which are spliced back in row order.
"""
from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.io.columns import MESSAGES, shard_schema
from pipeline.record import FIELDS, to_messages

_CONVERSATION = ["system", "history", "instruction", "input", "output"]


def shard_table(rows: pa.RecordBatch, score_keys: list[str]) -> pa.Table:
    """Engine rows (the canonical columns with their work-schema types) -> curated shard table.

    ``rows`` should be one contiguous batch: the parquet writer's bytes depend on how
    a column is chunked, and ``from_pydict`` gives one chunk per column.
    """
    schema = shard_schema(score_keys)
    arrays = []
    for f in FIELDS:
        if f == "scores":
            arrays.append(scores_array(rows.column(f), score_keys))
        elif f == "meta":
            arrays.append(meta_array(rows.column(f)))
        else:
            arrays.append(rows.column(f))
    arrays.append(messages_array(rows))
    return pa.Table.from_arrays(arrays, schema=schema)


def blank_json(col: pa.Array) -> np.ndarray:
    """Per row: whether a JSON-object column holds nothing (null, ``""`` or ``"{}"``)."""
    blank = pc.or_(pc.is_null(col), pc.is_in(col, pa.array(["", "{}"], pa.string())))
    return blank.to_numpy(zero_copy_only=False)


def meta_array(meta: pa.Array) -> pa.Array:
    """``row["meta"] or "{}"``: null and empty become ``"{}"``."""
    empty = pc.fill_null(pc.equal(meta, ""), True)
    return pc.if_else(empty, pa.scalar("{}", pa.string()), meta)


def scores_array(scores: pa.Array, score_keys: list[str]) -> pa.Array:
    """The ``scores`` struct: each key's float, null where a row lacks it (no keys: ``_none``, all null).

    Only rows whose JSON is neither null, ``""`` nor ``"{}"`` are decoded in Python.
    """
    n = len(scores)
    fields = list(shard_schema(score_keys).field("scores").type)
    if not score_keys:
        return pa.StructArray.from_arrays([pa.nulls(n, pa.float64())], fields=fields)
    keys = [f.name for f in fields]
    values = {k: [None] * n for k in keys}
    todo = np.flatnonzero(~blank_json(scores))
    for i, text in zip(todo.tolist(), scores.take(pa.array(todo)).to_pylist()):
        d = orjson.loads(text)
        for k in keys:
            v = d.get(k)
            if v is not None:
                values[k][i] = float(v)
    return pa.StructArray.from_arrays([pa.array(values[k], pa.float64()) for k in keys], fields=fields)


def messages_array(rows: pa.RecordBatch) -> pa.Array:
    """``to_messages`` of every row as a ``list<struct<role, content>>`` column.

    A simple row (no system prompt, no earlier turns; instruction, input and output not
    null) gets ``[user, assistant]`` from kernels (:func:`_two_turns`). Other rows get
    :func:`to_messages`, spliced in at their place.
    """
    n = rows.num_rows
    if not n:
        return pa.array([], MESSAGES)
    simple = pc.and_(pc.fill_null(pc.equal(rows.column("system"), ""), True),
                     pc.fill_null(pc.equal(pc.list_value_length(rows.column("history")), 0), True))
    for c in ("instruction", "input", "output"):
        simple = pc.and_(simple, pc.is_valid(rows.column(c)))
    simple = simple.to_numpy(zero_copy_only=False)
    content = _two_turns(rows, simple)
    roles = pa.array(["user", "assistant"], pa.string())
    counts = np.full(n, 2, np.int64)
    others = np.flatnonzero(~simple)
    if not len(others):
        role_at = np.tile(np.array([0, 1], np.int64), n)
    else:  # every message is taken by position from [two per row, then the other rows' messages]
        msgs = [to_messages(r) for r in rows.select(_CONVERSATION).take(pa.array(others)).to_pylist()]
        counts[others] = [len(m) for m in msgs]
        flat = [m for ms in msgs for m in ms]
        offsets = np.concatenate(([0], np.cumsum(counts)))
        easy = np.flatnonzero(simple)
        content_at = np.empty(offsets[-1], np.int64)
        role_at = np.empty(offsets[-1], np.int64)
        content_at[offsets[easy]], content_at[offsets[easy] + 1] = 2 * easy, 2 * easy + 1
        role_at[offsets[easy]], role_at[offsets[easy] + 1] = 0, 1
        lens = counts[others]
        at = np.repeat(offsets[others] - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(len(flat))
        content_at[at] = 2 * n + np.arange(len(flat))
        role_at[at] = 2 + np.arange(len(flat))
        content = pa.concat_arrays([content, pa.array([m["content"] for m in flat], pa.string())])
        content = content.take(pa.array(content_at))
        roles = pa.concat_arrays([roles, pa.array([m["role"] for m in flat], pa.string())])
    item = pa.StructArray.from_arrays([roles.take(pa.array(role_at)), content], fields=list(MESSAGES.value_type))
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), item, type=MESSAGES)


def _two_turns(rows: pa.RecordBatch, simple: np.ndarray) -> pa.Array:
    """Per row ``[user turn, output]`` (``2 * n`` strings), right for the ``simple`` rows.

    The user turn is the instruction, then a blank line and the input when both are
    non-empty (else whichever is non-empty), as in :func:`to_messages`. Each row's user
    turn and output are joined into one string and the two strings are its two parts,
    so the text is copied once. Other rows get an empty user turn and whatever they joined to.
    """
    n = rows.num_rows
    ins, inp, out = (rows.column(c) for c in ("instruction", "input", "output"))
    sep = pc.if_else(pc.and_(pc.not_equal(ins, ""), pc.not_equal(inp, "")), "\n\n", "")
    joined = pc.binary_join_element_wise(ins, sep, inp, out, "")  # null (empty) where a part is null
    starts = np.frombuffer(joined.buffers()[1], np.int32)[joined.offset:joined.offset + n + 1]
    user_len = sum(_lengths(c) for c in (ins, sep, inp))
    bounds = np.empty(2 * n + 1, np.int32)
    bounds[0:-1:2], bounds[-1] = starts[:-1], starts[-1]
    bounds[1::2] = np.where(simple, starts[:-1] + user_len, starts[:-1])
    data = joined.buffers()[2] or pa.py_buffer(b"")
    return pa.Array.from_buffers(pa.string(), 2 * n, [None, pa.py_buffer(bounds), data])


def _lengths(col: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.binary_length(col), 0).to_numpy(zero_copy_only=False).astype(np.int64)
