"""What the report needs from each curated shard, one shard at a time, optionally in parallel.

A shard's part is its distributions share (:func:`pipeline.report.dist.measure`), the
first few records of each flag it holds, and the examples of the wanted record ids it
holds. Only the columns these need are read; ``meta`` and ``source`` are read only for
shards that hold an example, and only those rows' values are kept.

Parts are independent, so ``num_proc`` fork()ed workers can measure shards while the
caller merges the parts *in shard order*: the result is the same as one process
reading shard after shard (without fork(), e.g. on Windows, one process does).
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.report import collect
from pipeline.report.dist import TAGS, measure


@dataclass(frozen=True)
class Wants:
    """What to pick from every shard: ``per`` flag examples cut to ``chars``, and ``ids``."""
    per: int
    chars: int
    ids: frozenset[str] = frozenset()


def part(path: Path, wants: Wants, keep_table: bool = False) -> dict:
    """One shard's part: ``{"dist", "flags": {code: [example]}, "found": {id: example}}``.

    With ``keep_table`` the shard's text table is returned too (under ``"table"``), for
    measures the caller takes itself (token lengths).
    """
    names = pq.read_schema(path).names
    cols = [c for c in (*TAGS, "instruction", "output", "history", "flags") if c in names]
    if wants.ids and "id" in names:
        cols.append("id")
    table = pq.read_table(path, columns=cols)
    flag_rows = collect.flag_rows(table.column("flags"), wants.per) if "flags" in names and table.num_rows else {}
    id_rows = _id_rows(table, wants.ids)
    extra = _extra_rows(path, names, sorted({r for rows in flag_rows.values() for r in rows} | set(id_rows)))
    flag_cols = [c for c in ("instruction", "output", "meta", "source") if c in names]
    flags = {code: [collect.flag_example(_row(table, extra, r, flag_cols), code, wants.chars) for r in rows]
             for code, rows in flag_rows.items()}
    found = {}
    id_cols = [c for c in ("id", "instruction", "output", "source") if c in names]
    for r in id_rows:  # in row order: a later row with the same id replaces an earlier one
        rec = _row(table, extra, r, id_cols)
        found[rec["id"]] = {**collect.example(rec, "", "", rec.get("source"), wants.chars), "fate": "kept"}
    result = {"dist": measure(table), "flags": flags, "found": found}
    if keep_table:
        result["table"] = table
    return result


def parts(paths: list[Path], wants: Wants, num_proc: int = 1, keep_table: bool = False) -> Iterator[dict]:
    """The :func:`part` of every shard, in shard order (``num_proc`` workers when fork() exists)."""
    if num_proc <= 1 or len(paths) < 2 or keep_table or "fork" not in multiprocessing.get_all_start_methods():
        for p in paths:
            yield part(p, wants, keep_table)
        return
    with multiprocessing.get_context("fork").Pool(min(num_proc, len(paths))) as pool:
        yield from pool.imap(_part_job, [(p, wants) for p in paths])


def _part_job(job: tuple[Path, Wants]) -> dict:
    return part(*job)


def _id_rows(table: pa.Table, ids: frozenset[str]) -> list[int]:
    if not ids or "id" not in table.column_names or table.num_rows == 0:
        return []
    mask = pc.is_in(table.column("id"), value_set=pa.array(sorted(ids), pa.string()))
    return [int(i) for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_numpy()]


def _extra_rows(path: Path, names: list[str], rows: list[int]) -> dict[int, dict]:
    """``meta`` and ``source`` of the given rows: ``{row: {column: value}}``."""
    cols = [c for c in ("meta", "source") if c in names]
    if not rows or not cols:
        return {r: {} for r in rows}
    picked = pq.read_table(path, columns=cols).take(pa.array(rows, pa.int64())).to_pylist()
    return dict(zip(rows, picked))


def _row(table: pa.Table, extra: dict[int, dict], row: int, cols: list[str]) -> dict:
    """Row ``row`` as a dict of ``cols`` (in that order), from the shard table or the extra columns."""
    return {c: (table.column(c)[row].as_py() if c in table.column_names else extra[row][c]) for c in cols}
