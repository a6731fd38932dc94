"""Fast lane for large, clean Alpaca JSON Lines files: ``pyarrow.json`` instead of a
Python loop over records.

:func:`eligible` looks at the start of a file and says whether the lane may be tried;
:func:`read_alpaca` then reads the whole file in chunks of whole lines, parses them with
``pyarrow.json`` on worker threads and yields each chunk's canonical columns, in order.
The generic reader (:mod:`pipeline.io.readers`) is the specification. Whatever this
module cannot prove it reads exactly as the generic reader would, and anything the
generic reader would reject or report, raises :class:`NotClean`; the caller then reads
the whole file again the generic way.

Why a chunk that passes the checks holds exactly the generic reader's records:

1. Layout, checked on the bytes before parsing: the file starts with ``{``; every line
   break is preceded by ``}`` (or ``}\\r``) and followed by ``{`` or the end of the file.
   So no line is blank. A line break is never inside a value either: JSON strings
   cannot hold raw control characters (both parsers refuse them), and between the
   tokens of one value a ``}`` is never followed by ``{``. Every line is whole values.
2. Count: pyarrow gives one row per top-level value; a chunk must give exactly one row
   per line, so every line is exactly one value, an object (it starts with ``{``), and
   row ``i`` is line ``i`` -- what the generic reader's ``orjson.loads(line)`` sees.
3. Values: pyarrow's parser is strict JSON like orjson (no comments, trailing commas,
   bad escapes, lone surrogate escapes, control characters; a duplicate key is an
   error). It does not check UTF-8, so every string column is validated and key names
   are decoded strictly. Its NaN/Infinity are doubles, which are refused below.
4. Shapes: ``instruction``/``output`` are strings without nulls; ``input``/``system`` are
   strings or null/missing (both ""); ``history`` is missing, null, ``""`` or ``[]``.
   Any other key becomes ``meta`` when it holds strings, int64 or booleans (the generic
   ``meta`` keeps those, strings up to ``META_MAX_CHARS``); nested values, doubles,
   ``chosen``/``rejected``/``label`` keys and everything else raise :class:`NotClean`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from pipeline.io import encoding
from pipeline.io.columns import dumps
from pipeline.io.containers import HF_PREFIX, container_of
from pipeline.io.fields import META_MAX_CHARS
from pipeline.io.formats import detect
from pipeline.io.readers import SAMPLE, FileReport, display_path

T = TypeVar("T")
FORMAT = "alpaca"
_TEXT = ("system", "instruction", "input", "output")
_OPTIONAL = frozenset({"system", "input"})
_REFUSED = frozenset({"chosen", "rejected", "label"})  # the generic reader looks at these keys
_META_TYPES = (pa.string(), pa.int64(), pa.bool_(), pa.null())
_LBRACE, _RBRACE, _CR, _LF = ord("{"), ord("}"), ord("\r"), ord("\n")
#: Bytes read at first for one chunk; doubled while a chunk's lines do not fit.
_BLOCK = 8 << 20
#: Past this many bytes a chunk is cut short of its line count.
_BLOCK_MAX = 64 << 20
#: A longer line leaves the file to the generic reader.
_LINE_MAX = 256 << 20


class NotClean(Exception):
    """The file must be read by the generic reader (the message says why)."""


def eligible(path: str, fmt: str | None, field_map: dict | None) -> bool:
    """Whether the fast lane may try ``path``: a plain, uncompressed UTF-8 JSON Lines file
    without a byte-order mark, whose first records are objects of the Alpaca format.
    A ``.json`` file qualifies when its first two lines are objects: the generic reader
    then reads it as JSON Lines too.

    ``fmt`` must be None, "auto" or "alpaca", and ``field_map`` rename nothing. Only the
    start of the file is read; the rest is checked while reading (:class:`NotClean`).
    """
    if fmt not in (None, "auto", FORMAT) or any(k != v for k, v in (field_map or {}).items()):
        return False
    if path.startswith(HF_PREFIX) or not os.path.isfile(path):
        return False
    try:
        kind = container_of(path)
        if kind not in ("jsonl", "json"):
            return False
        with open(path, "rb") as f:
            head = f.read(encoding.SNIFF_BYTES)  # what the generic reader sniffs the encoding from
            if head[:1] != b"{" or encoding.detect(head, len(head) < encoding.SNIFF_BYTES) != "utf-8":
                return False
            f.seek(0)
            sample = [orjson.loads(line) for line in itertools.islice(f, SAMPLE)]
    except (OSError, orjson.JSONDecodeError):
        return False
    if not all(isinstance(d, dict) for d in sample):
        return False
    if kind == "json" and len(sample) < 2:  # one object (maybe a {"data": [...]} wrapper), not lines
        return False
    return fmt == FORMAT or detect(sample) == FORMAT


def read_alpaca(
    path: str, rows: int, convert: Callable[[int, dict], T], threads: int = 2
) -> tuple[FileReport, Iterator[T]]:
    """Read an :func:`eligible` file chunk by chunk.

    Args:
        path: The file.
        rows: Lines per chunk (the last chunk, and chunks of very long lines, have fewer).
        convert: ``convert(first_index, columns)`` turns a chunk's canonical columns into
            what the iterator yields; it runs on the worker threads. ``columns`` maps
            ``system``, ``instruction``, ``input``, ``output`` and ``meta`` (JSON text)
            to string arrays of equal length; ``first_index`` is the chunk's first
            record's index in the file.
        threads: Chunks parsed and converted at the same time.

    Returns:
        The report (``sha256`` and ``records`` are set once the iterator is exhausted)
        and the iterator of converted chunks, in file order.

    Raises:
        NotClean: while iterating, as soon as the file is found not to qualify. Nothing
            read before then may be kept.
    """
    report = FileReport(path=display_path(path), sha256="", format=FORMAT, encoding="utf-8")
    return report, _read(path, report, rows, convert, max(1, threads))


def _read(path: str, report: FileReport, rows: int, convert: Callable, threads: int) -> Iterator:
    sha = hashlib.sha256()
    explicit = _Explicit()
    parse_pool = ThreadPoolExecutor(threads, thread_name_prefix="sftpipe-json")
    hash_pool = ThreadPoolExecutor(1, thread_name_prefix="sftpipe-sha256")  # one thread: in order
    pending: deque = deque()
    hashed = None
    index = 0
    try:
        with open(path, "rb", buffering=0) as f:
            for chunk, lines in _chunks(f, rows):
                hashed = hash_pool.submit(sha.update, chunk)
                pending.append(parse_pool.submit(_convert, chunk, lines, explicit, convert, index))
                index += lines
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        if hashed is not None:
            hashed.result()
    except NotClean:
        raise
    except Exception as e:  # pyarrow, numpy or I/O: the generic reader will tell
        raise NotClean(f"{type(e).__name__}: {e}") from e
    finally:
        parse_pool.shutdown(wait=True, cancel_futures=True)
        hash_pool.shutdown(wait=True, cancel_futures=True)
    report.sha256 = sha.hexdigest()
    report.records = index


def _chunks(f, rows: int) -> Iterator[tuple[memoryview, int]]:
    """Consecutive runs of ``rows`` whole lines (fewer at the end of the file or when
    they would exceed ``_BLOCK_MAX`` bytes), each checked for point 1 of the module doc."""
    size = os.fstat(f.fileno()).st_size
    offset, block = 0, _BLOCK
    while offset < size:
        f.seek(offset)
        data = f.read(block)
        if not data:
            raise NotClean("the file shrank while it was read")
        eof = offset + len(data) >= size
        breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _LF)
        grown = block >= _BLOCK_MAX and (len(breaks) > 0 or block >= _LINE_MAX)  # read no more
        if len(breaks) < rows and not eof and not grown:
            block *= 2
            continue
        if len(breaks) == 0 and not eof:
            raise NotClean(f"a line longer than {_LINE_MAX >> 20} MB")
        if len(breaks) >= rows:
            breaks = breaks[:rows]
        elif eof and (len(breaks) == 0 or breaks[-1] != len(data) - 1):
            breaks = np.append(breaks, len(data))  # the last line has no line break
        end = min(int(breaks[-1]) + 1, len(data))
        chunk = memoryview(data)[:end]
        _check_layout(np.frombuffer(chunk, dtype=np.uint8), breaks)
        yield chunk, len(breaks)
        offset += end
        block = _BLOCK  # the next chunk: as much as this one took, with a margin
        while block < _BLOCK_MAX and block < end + end // 8:
            block *= 2


def _check_layout(b: np.ndarray, breaks: np.ndarray) -> None:
    """Every line starts with ``{`` and ends with ``}`` (then ``\\r\\n`` or ``\\n``);
    ``breaks`` holds each line's end (its ``\\n``, or ``len(b)`` for a last line without)."""
    n = len(b)
    if b[0] != _LBRACE:
        raise NotClean("a line does not start with '{'")
    ends = breaks[breaks < n]
    before = b[ends - 1]
    carriage = before == _CR
    if carriage.any():
        before = np.where(carriage, b[np.maximum(ends - 2, 0)], before)
    if not (before == _RBRACE).all():
        raise NotClean("a line does not end with '}'")
    if breaks[-1] == n and b[n - 1] != _RBRACE:
        raise NotClean("the last line does not end with '}'")
    starts = ends[ends < n - 1] + 1
    if not (b[starts] == _LBRACE).all():
        raise NotClean("a line does not start with '{'")


class _Explicit:
    """The keys a file's chunks are parsed as strings: the canonical text fields, and keys
    whose ISO-date strings pyarrow would otherwise take for timestamps. Shared by threads."""

    def __init__(self):
        self._names = list(_TEXT)
        self._lock = threading.Lock()

    def schema(self) -> pa.Schema:
        with self._lock:
            return pa.schema([(name, pa.string()) for name in self._names])

    def add(self, names: list[str]) -> None:
        with self._lock:
            self._names += [name for name in names if name not in self._names]


def _convert(chunk: memoryview, lines: int, explicit: _Explicit, convert: Callable, first: int):
    return convert(first, _parse(chunk, lines, explicit))


def _parse(chunk: memoryview, lines: int, explicit: _Explicit) -> dict:
    """Parse one chunk and check points 2-4 of the module doc; the canonical columns."""
    table = _json(chunk, explicit.schema())
    stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    if stamps:  # pyarrow took ISO dates for timestamps: read those keys as the strings they are
        explicit.add(stamps)
        table = _json(chunk, explicit.schema())
    if table.num_rows != lines:
        raise NotClean(f"{table.num_rows} JSON values on {lines} lines")
    names = table.column_names  # decoding them checks the keys' UTF-8
    if _REFUSED.intersection(names):
        raise NotClean("a 'chosen', 'rejected' or 'label' key")
    for field in table.schema:
        if pa.types.is_string(field.type):
            table.column(field.name).validate(full=True)  # pyarrow leaves UTF-8 unchecked
    cols = {}
    for name in _TEXT:
        col = _whole(table.column(name))
        if col.null_count:
            if name not in _OPTIONAL:
                raise NotClean(f"'{name}' missing or not a string")
            col = col.fill_null("")
        cols[name] = col
    if "history" in names:
        _check_no_history(_whole(table.column("history")))
    extra = sorted(set(names) - set(_TEXT) - {"history"})
    cols["meta"] = _meta(table, extra)
    return cols


def _json(chunk: memoryview, explicit: pa.Schema) -> pa.Table:
    return pj.read_json(
        pa.BufferReader(pa.py_buffer(chunk)),
        read_options=pj.ReadOptions(use_threads=False, block_size=len(chunk) + 1),
        parse_options=pj.ParseOptions(
            explicit_schema=explicit,
            newlines_in_values=False,
            unexpected_field_behavior="infer",
        ),
    )


def _whole(col: pa.ChunkedArray) -> pa.Array:
    """The column as one array (a chunk parsed as one block is one already: no copy)."""
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _check_no_history(col: pa.Array) -> None:
    """``history`` that the generic reader takes for no history: null, ``""`` or ``[]``."""
    if pa.types.is_null(col.type):
        return
    if pa.types.is_string(col.type):
        if pc.any(pc.not_equal(col, "")).as_py():
            raise NotClean("a non-empty 'history'")
        return
    if pa.types.is_list(col.type) and not pc.any(pc.greater(pc.list_value_length(col), 0)).as_py():
        return
    raise NotClean("a non-empty 'history'")


def _meta(table: pa.Table, extra: list[str]) -> pa.Array:
    """``meta`` as the generic reader writes it: the extra keys' scalar values as JSON."""
    n = table.num_rows
    kept = []
    for name in extra:
        col = _whole(table.column(name))
        if col.type not in _META_TYPES:
            raise NotClean(f"key {name!r} holds {col.type} values")
        if col.null_count < n:
            kept.append((name, col.to_pylist()))
    if not kept:
        return pa.repeat(pa.scalar("{}", pa.string()), n)
    texts = []
    for i in range(n):
        d = {}
        for name, values in kept:
            v = values[i]
            if v is not None and (not isinstance(v, str) or len(v) <= META_MAX_CHARS):
                d[name] = v
        texts.append(dumps(d))
    return pa.array(texts, pa.string())
