"""Containers: how raw records are stored (JSON, JSON Lines, CSV/TSV, Parquet, a
``datasets.save_to_disk`` folder, a hub dataset), each optionally gzipped.

:func:`open_container` turns one input into a stream of *items* ``(line, obj,
problem)`` (see :mod:`pipeline.io.jsontext`) plus the text encoding. Nothing here
knows about record formats; that is :mod:`pipeline.io.formats`.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from pipeline.io.encoding import open_utf8, undecodable_detail
from pipeline.io.jsontext import ErrFn, Item, iter_json, iter_jsonl

#: Extensions a directory walk picks up (each also with ``.gz``).
EXTENSIONS: dict[str, str] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
}
HF_PREFIX = "hf:"
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
# CSV cells that hold a JSON list in list-typed columns (conversations, history, ...).
_LIST_COLUMNS = frozenset({"history", "conversations", "messages", "conversation", "instances"})
_SURROGATE = re.compile("[\ud800-\udfff]")
_BATCH = 2048

# A 10 MB cell is legitimate in instruction data; the csv module's default cap is 128 KB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def is_dataset_dir(path: Path) -> bool:
    """A folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    return (path / "state.json").is_file() or (path / "dataset_dict.json").is_file()


def container_of(path: str) -> str:
    """Name the container of an input: json, jsonl, csv, tsv, parquet, arrow or hf."""
    if path.startswith(HF_PREFIX):
        return "hf"
    p = Path(path)
    if p.is_dir():
        return "arrow"
    name = p.name.lower()
    name = name.removesuffix(".gz")
    kind = EXTENSIONS.get(os.path.splitext(name)[1])
    if kind:
        return kind
    with _open_binary(path) as f:  # unknown extension: look at the content
        head = f.read(4096)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.lstrip()[:1] in (b"[", b"{"):
        return "json"
    return "tsv" if head.split(b"\n", 1)[0].count(b"\t") > head.split(b"\n", 1)[0].count(b",") else "csv"


def _open_binary(path: str) -> BinaryIO:
    """Open a file for reading bytes, decompressing gzip transparently (by magic, not name)."""
    f = open(path, "rb")  # noqa: SIM115 - the caller owns and closes the returned stream
    if f.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def _parse_list_cells(row: dict) -> None:
    for key in _LIST_COLUMNS.intersection(row):
        cell = row[key]
        if cell.startswith("["):
            try:
                row[key] = orjson.loads(cell)
            except orjson.JSONDecodeError:
                pass  # left as text: the format mapper reports the wrong type


def _iter_csv(stream: BinaryIO, delimiter: str, encoding: str, err: ErrFn) -> Iterator[Item]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header:
            err(None, "empty file")
            return
        width = len(header)
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:  # dict(zip(...)) keeps the last such column: say so rather than lose one silently
            names = ", ".join(repr(h) for h in twice)
            err(reader.line_num, f"duplicate column name(s) {names} in the header; the last of each is used")
        start = reader.line_num + 1
        for cells in reader:
            line, end = start, reader.line_num
            start = end + 1
            if not cells:
                continue  # a blank line is no record
            joined = delimiter.join(cells)
            if _SURROGATE.search(joined):
                joined = joined.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                yield line, joined, ("ingest_undecodable", f"line {line}: {undecodable_detail(encoding)}")
            elif len(cells) != width:
                yield (
                    line,
                    joined,
                    ("ingest_invalid_row", f"line {line}: {len(cells)} cells, the header has {width}"),
                )
            else:
                row = dict(zip(header, cells))
                _parse_list_cells(row)
                yield line, row, None
    except csv.Error as e:
        err(reader.line_num, f"invalid CSV: {e}")


def _iter_parquet(path: str, err: ErrFn) -> Iterator[Item]:
    import pyarrow.parquet as pq

    try:
        with _open_binary(path) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=_BATCH):
                for row in batch.to_pylist():
                    yield None, row, None
    except Exception as e:  # noqa: BLE001 - any pyarrow failure is a bad file, not a crash
        err(None, f"cannot read Parquet: {type(e).__name__}: {e}")


def _iter_dataset(ds) -> Iterator[Item]:
    """Rows of a ``datasets.Dataset``, batch-wise (Arrow batches, never the whole table)."""
    for table in ds.with_format("arrow").iter(batch_size=_BATCH):
        for row in table.to_pylist():
            yield None, row, None


def _iter_splits(obj) -> Iterator[Item]:
    if isinstance(obj, dict):  # a DatasetDict (a dict subclass): splits in name order
        for split in sorted(obj.keys()):
            yield from _iter_dataset(obj[split])
    else:
        yield from _iter_dataset(obj)


def _iter_saved(path: str, err: ErrFn) -> Iterator[Item]:
    if not is_dataset_dir(Path(path)):
        err(None, "a directory that was not written by datasets.save_to_disk")
        return
    try:
        import datasets

        obj = datasets.load_from_disk(path)
    except Exception as e:  # noqa: BLE001 - a broken folder is a bad input, not a crash
        err(None, f"cannot load with datasets.load_from_disk: {type(e).__name__}: {e}")
        return
    yield from _iter_splits(obj)


def _iter_hub(spec: str, err: ErrFn) -> Iterator[Item]:
    """``hf:NAME[:SPLIT]`` through ``datasets.load_dataset`` (needs the hub or its cache)."""
    name, _, split = spec[len(HF_PREFIX) :].partition(":")
    try:
        import datasets

        obj = datasets.load_dataset(name, split=split or None)
    except Exception as e:  # noqa: BLE001 - offline, unknown name, bad split: all user-facing
        err(None, f"cannot load hub dataset {name!r}: {type(e).__name__}: {e}")
        return
    yield from _iter_splits(obj)


def open_container(path: str, err: ErrFn) -> tuple[str, str, Iterator[Item]]:
    """Open one input.

    Args:
        path: A file, a ``save_to_disk`` folder, or ``hf:NAME[:SPLIT]``.
        err: Receives file-level problems as ``(line, message)``.

    Returns:
        ``(container, encoding, items)``. ``encoding`` is empty for binary containers.
        ``items`` is lazy: nothing but the first bytes is read before iteration.
    """
    kind = container_of(path)
    if kind == "hf":
        return kind, "", _iter_hub(path, err)
    if kind == "arrow":
        return kind, "", _iter_saved(path, err)
    if kind == "parquet":
        return kind, "", _iter_parquet(path, err)

    def opener() -> BinaryIO:
        return _open_binary(path)

    stream, encoding, first = open_utf8(opener)
    if not first:
        stream.close()
        err(None, _why_no_text(opener))
        return kind, encoding, iter(())
    if kind in ("json", "jsonl") and first not in "[{":
        stream.close()
        err(1, f"not JSON: the file starts with {first!r}, expected '[' or '{{'")
        return kind, encoding, iter(())
    if kind == "jsonl" and first == "{":
        return kind, encoding, _closing(stream, iter_jsonl(stream, encoding))
    if kind in ("json", "jsonl"):  # a .jsonl holding a JSON array is read as one
        stream.close()
        return kind, encoding, iter_json(lambda: open_utf8(opener)[0], encoding, err)
    delimiter = "\t" if kind == "tsv" else ","
    return kind, encoding, _closing(stream, _iter_csv(stream, delimiter, encoding, err))


def _why_no_text(opener) -> str:
    """Why a file gave no text: "empty file", unless a gzip stream broke off before any of
    its text could be decompressed (a cut deflate block yields nothing at all)."""
    try:
        with opener() as f:
            while f.read(1 << 20):
                pass
    except EOFError as e:
        return f"truncated compressed stream: nothing could be decompressed ({e})"
    except (OSError, zlib.error) as e:
        return f"cannot read: {type(e).__name__}: {e}"
    return "empty file"


def _closing(stream: BinaryIO, items: Iterator[Item]) -> Iterator[Item]:
    try:
        yield from items
    finally:
        stream.close()
