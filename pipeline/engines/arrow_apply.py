"""Apply a fused chain of stages to one Arrow engine table.

Stages that implement ``process_arrow`` (see :class:`pipeline.processor.Stage`) work on the
Arrow table directly, with vectorised kernels; the others run through the shared Python path
(:func:`pipeline.engines.apply.apply_chain`). Either way every stage sees only the rows still
live when it runs, and rows rejected earlier pass through untouched, in place.

A stage's Arrow path must give exactly the table its Python path gives; the usual shape is
"decide with kernels which rows can be affected, run the Python path on just those"
(:func:`python_rows`).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.engines.apply import apply_chain
from pipeline.io.columns import WORK_SCHEMA


def run(table: pa.Table, chain: list) -> pa.Table:
    """``[(stage, processor), ...]`` over an engine table; returns the table in WORK_SCHEMA."""
    table = table.cast(WORK_SCHEMA) if table.schema != WORK_SCHEMA else table
    for segment in _segments(chain):
        table = _live_only(table, lambda t, seg=segment: _run_segment(t, seg))
    return table


def _segments(chain: list) -> list[list]:
    """Consecutive Python stages fuse into one segment (decoded once); each Arrow stage is its own."""
    out: list[list] = []
    for stage, proc in chain:
        arrow = hasattr(proc, "process_arrow")
        if arrow or not out or _is_arrow(out[-1]):
            out.append([(stage, proc)])
        else:
            out[-1].append((stage, proc))
    return out


def _is_arrow(segment: list) -> bool:
    return len(segment) == 1 and hasattr(segment[0][1], "process_arrow")


def _run_segment(table: pa.Table, segment: list) -> pa.Table:
    if _is_arrow(segment):
        proc = segment[0][1]
        if not getattr(proc, "_setup_done", False):
            proc.setup()
            proc._setup_done = True
        out = proc.process_arrow(table)
        if out is not None:
            return out
    return pa.Table.from_pydict(apply_chain(table.to_pydict(), segment), schema=WORK_SCHEMA)


def _live_only(table: pa.Table, fn) -> pa.Table:
    """``fn`` over the live rows of ``table`` (all of them, or a filtered copy), spliced back in place."""
    live = pc.equal(table.column("_stage"), "")
    n_live = pc.sum(live).as_py() or 0
    if n_live == 0:
        return table
    if n_live == table.num_rows:
        return fn(table)
    return splice(table, live, fn(table.filter(live)))


def python_rows(table: pa.Table, mask, stage: str, proc) -> pa.Table:
    """Run ``proc``'s Python path on the rows of a live ``table`` where ``mask`` is true; splice them back."""
    n = pc.sum(mask).as_py() or 0
    if n == 0:
        return table
    done = pa.Table.from_pydict(apply_chain(table.filter(mask).to_pydict(), [(stage, proc)]), schema=WORK_SCHEMA)
    return done if n == table.num_rows else splice(table, mask, done)


def splice(table: pa.Table, mask, rows: pa.Table) -> pa.Table:
    """``table`` with the rows where ``mask`` is true replaced, in order, by ``rows``.

    Only columns whose values changed are rebuilt; the others stay the same buffers.
    """
    mask = pa.array(mask) if not isinstance(mask, (pa.Array, pa.ChunkedArray)) else mask
    old = table.filter(mask)
    order = None
    columns = []
    for name in table.column_names:
        new = rows.column(name)
        if new.equals(old.column(name)):
            columns.append(table.column(name))
            continue
        if order is None:
            m = mask.to_numpy(zero_copy_only=False) if isinstance(mask, pa.Array) else \
                np.concatenate([c.to_numpy(zero_copy_only=False) for c in mask.chunks])
            positions = np.concatenate([np.flatnonzero(~m), np.flatnonzero(m)])
            order = pa.array(np.argsort(positions, kind="stable"))
        keep = table.column(name).filter(pc.invert(mask))
        merged = pa.chunked_array(keep.chunks + new.chunks, type=keep.type)
        columns.append(merged.take(order))
    return pa.Table.from_arrays(columns, schema=table.schema)


def all_items(lists: pa.ChunkedArray, item_ok) -> pa.Array:
    """Rows whose list is not null and whose every item passes ``item_ok`` (an items -> mask kernel; null fails)."""
    parts = []
    for chunk in lists.chunks:
        good = np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool).copy()
        items = chunk.flatten()
        if len(items):
            ok = pc.fill_null(pc.and_(pc.is_valid(items), item_ok(items)), False).to_numpy(zero_copy_only=False)
            good[pc.list_parent_indices(chunk).to_numpy()[~ok]] = False
        parts.append(good)
    return pa.array(np.concatenate(parts) if parts else np.zeros(0, bool))
