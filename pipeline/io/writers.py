"""Writers for curated shards and rejects. Every file is written under a temporary
name and renamed when complete, so an interrupted run never leaves a shard that
looks finished.

The encoders (:func:`reject_line`, :func:`write_parquet_shard`, :func:`write_jsonl_shard`)
and names (:func:`shard_name`, :func:`reject_name`) are shared with the ray engine's
sink (:mod:`pipeline.engines.ray_sink`), which writes the same bytes from worker tasks.
"""
from __future__ import annotations

import os
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.io.atomic import commit, sha256_file, tmp_path
from pipeline.io.columns import canonical, shard_row, shard_schema

REJECT_FILE_LINES = 200_000  # lines per rejects file before the next one starts


def reject_line(record, stage: str, reason: str, detail: str, source: dict, duplicate_of: str = "") -> bytes:
    """One rejects line (with its newline): ``{record, stage, reason, detail, source[, duplicate_of]}``."""
    line = {"record": record, "stage": stage, "reason": reason, "detail": detail, "source": source}
    if duplicate_of:
        line["duplicate_of"] = duplicate_of
    return orjson.dumps(line, option=orjson.OPT_SORT_KEYS, default=str) + b"\n"


def row_reject_line(row: dict) -> bytes:
    """The rejects line of an engine row whose fate is set (``_stage`` non-empty)."""
    rec = canonical(row)
    return reject_line(rec, row["_stage"], row["_reason"], row["_detail"], rec["source"], row["_dup"])


def ingest_reject_line(raw: bytes) -> bytes:
    """An ingest checkpoint's rejects line, as the final rejects files carry it."""
    r = orjson.loads(raw)
    return reject_line(r["record"], r["stage"], r["reason"], r["detail"], r["source"])


def reject_name(index: int) -> str:
    return f"rejected-{index:05d}.jsonl"


def shard_count(total: int, shard_rows: int) -> int:
    """Shards of a split with ``total`` rows (an empty split still gets one)."""
    return max(1, -(-total // shard_rows))


def shard_name(split: str, index: int, n_shards: int, ext: str) -> str:
    return f"{split}-{index:05d}-of-{n_shards:05d}.{ext}"


def write_parquet_shard(cols: dict[str, list], schema: pa.Schema, where) -> None:
    """Write shard columns (from :func:`shard_row`) as zstd parquet to a path or Arrow stream."""
    write_parquet_table(pa.Table.from_pydict(cols, schema=schema), where)


def write_parquet_table(table: pa.Table, where) -> None:
    """Write a curated shard table as zstd parquet to a path or Arrow stream.

    The bytes depend on how the columns are chunked: a table from ``from_pydict`` has one
    chunk per column, and so must any table whose bytes should match it.
    """
    pq.write_table(table, where, compression="zstd")


def write_jsonl_shard(cols: dict[str, list], fh) -> None:
    """Write shard columns (from :func:`shard_row`) as JSON lines (``meta`` decoded) to a binary file."""
    names = list(cols)
    for values in zip(*cols.values()):
        r = dict(zip(names, values))
        r["meta"] = orjson.loads(r["meta"])
        fh.write(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\n")


class RejectWriter:
    """Appends ``{record, stage, reason, detail, source[, duplicate_of]}`` lines, rolling files."""

    def __init__(self, folder: Path, max_lines: int | None = None):
        self.folder, self.max_lines = folder, max_lines or REJECT_FILE_LINES
        folder.mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []
        self.count = 0
        self._fh = None
        self._lines = 0

    def _open(self) -> None:
        path = self.folder / reject_name(len(self.files))
        self.files.append(path)
        self._fh = open(tmp_path(path), "wb")
        self._lines = 0

    def write_line(self, line: bytes) -> None:
        """Append one encoded line (from :func:`reject_line`)."""
        if self._fh is None or self._lines >= self.max_lines:
            self.close_current()
            self._open()
        self._fh.write(line)
        self._lines += 1
        self.count += 1

    def write(self, record, stage: str, reason: str, detail: str, source: dict, duplicate_of: str = "") -> None:
        self.write_line(reject_line(record, stage, reason, detail, source, duplicate_of))

    def write_row(self, row: dict) -> None:
        """Write an engine row whose fate is set (``_stage`` non-empty)."""
        self.write_line(row_reject_line(row))

    def close_current(self) -> None:
        if self._fh is not None:
            self._fh.close()
            commit(self.files[-1])
            self._fh = None

    def close(self) -> list[Path]:
        """Finish; an empty rejects file is still written so the layout is stable."""
        if not self.files:
            self._open()
        self.close_current()
        return self.files


class ShardWriter:
    """Writes one split's curated rows to ``<split>-NNNNN-of-MMMMM.<ext>`` files of bounded size."""

    def __init__(self, folder: Path, split: str, total: int, shard_rows: int, score_keys: list[str],
                 formats: list[str]):
        self.folder, self.split, self.shard_rows = folder, split, shard_rows
        self.n_shards = shard_count(total, shard_rows)
        self.score_keys, self.formats = score_keys, formats
        self.schema = shard_schema(score_keys)
        self.shards: list[dict] = []
        self._cols: dict[str, list] = {f: [] for f in self.schema.names}
        self._n = 0
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, row: dict) -> None:
        """Add one engine row (JSON-encoded scores/meta)."""
        out = shard_row(row, self.score_keys)
        for f, col in self._cols.items():
            col.append(out[f])
        self._n += 1
        if self._n >= self.shard_rows:
            self._flush()

    def _name(self, ext: str) -> Path:
        return self.folder / shard_name(self.split, len(self.shards), self.n_shards, ext)

    def _flush(self) -> None:
        cols, n = self._cols, self._n
        self._cols, self._n = {f: [] for f in self.schema.names}, 0
        paths = []
        if "parquet" in self.formats:
            path = self._name("parquet")
            write_parquet_shard(cols, self.schema, tmp_path(path))
            commit(path)
            paths.append(path)
        if "jsonl" in self.formats:
            path = self._name("jsonl")
            with open(tmp_path(path), "wb") as fh:
                write_jsonl_shard(cols, fh)
            commit(path)
            paths.append(path)
        self.shards.append({"paths": paths, "rows": n})

    def close(self) -> list[dict]:
        """Flush the last shard (an empty split still gets one empty shard) and describe them."""
        if self._n or not self.shards:
            self._flush()
        out = []
        for s in self.shards:
            for p in s["paths"]:
                out.append({"path": os.path.join(p.parent.name, p.name), "rows": s["rows"], "sha256": sha256_file(p)})
        return out
