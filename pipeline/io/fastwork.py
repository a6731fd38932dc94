"""Engine rows (:data:`~pipeline.io.columns.WORK_SCHEMA`) built from canonical text columns
with Arrow kernels, for the fast ingest lane (:mod:`pipeline.io.fastjsonl`).

The rows are those :func:`~pipeline.io.columns.to_work_row` makes of the records the
generic reader builds, for records without history: ``id`` is
:func:`~pipeline.record.record_id` (the same bytes hashed), ``source`` names the file,
the row's index and the format, every other field takes its default, and the engine
columns are empty.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.io.columns import ENGINE_COLS, HISTORY, SOURCE, WORK_SCHEMA

_ID_CHARS = 24  # record_id: a 12-byte blake2b digest in hex
_EMPTY_TEXT = ("lang", "task", "domain", "complexity", "cluster", "response_type", *ENGINE_COLS)


def record_ids(system: pa.Array, instruction: pa.Array, inp: pa.Array, output: pa.Array) -> pa.Array:
    """``record_id`` of each row of history-free records (no nulls in the inputs).

    ``record_id`` hashes ``system + "\\x1d" + instruction + "\\x1d" + input + "\\x1d" + output``
    when the history is empty; Arrow joins those strings, Python only hashes each one.
    """
    joined = pc.binary_join_element_wise(system, instruction, inp, output, "\x1d")
    n = len(joined)
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * joined.offset)
    offsets = offsets.tolist()
    text = memoryview(joined.buffers()[2])
    blake = hashlib.blake2b
    digests = b"".join([blake(text[a:b], digest_size=12).digest() for a, b in itertools.pairwise(offsets)])
    hexed = digests.hex().encode("ascii")
    id_offsets = np.arange(0, _ID_CHARS * (n + 1), _ID_CHARS, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(id_offsets), pa.py_buffer(hexed))


def _empty_lists(n: int, list_type: pa.ListType) -> pa.Array:
    values = pa.array([], type=list_type.value_type)
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), values, type=list_type)


def work_batch(cols: dict[str, pa.Array], source_file: str, fmt: str, first_index: int) -> pa.RecordBatch:
    """One engine batch from ``cols`` (``system``, ``instruction``, ``input``, ``output``,
    ``meta`` as JSON text); row ``i`` is raw record ``first_index + i`` of ``source_file``."""
    n = len(cols["instruction"])
    empty = pa.repeat(pa.scalar("", pa.string()), n)
    source = pa.StructArray.from_arrays(
        [
            pa.repeat(pa.scalar(source_file, pa.string()), n),
            pa.array(np.arange(first_index, first_index + n, dtype=np.int64)),
            pa.repeat(pa.scalar(fmt, pa.string()), n),
        ],
        fields=list(SOURCE),
    )
    arrays = {
        "id": record_ids(cols["system"], cols["instruction"], cols["input"], cols["output"]),
        "system": cols["system"],
        "instruction": cols["instruction"],
        "input": cols["input"],
        "output": cols["output"],
        "history": _empty_lists(n, HISTORY),
        "source": source,
        "origin": pa.repeat(pa.scalar("raw", pa.string()), n),
        "flags": _empty_lists(n, WORK_SCHEMA.field("flags").type),
        "scores": pa.repeat(pa.scalar("{}", pa.string()), n),
        "meta": cols["meta"],
        **{c: empty for c in _EMPTY_TEXT},
    }
    return pa.RecordBatch.from_arrays([arrays[f.name] for f in WORK_SCHEMA], schema=WORK_SCHEMA)


def rebatch(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of exactly ``rows`` (the last one may be shorter).

    A batch that already has the size passes through untouched; rows gathered from
    several batches are copied into one.
    """
    pending: list[pa.RecordBatch] = []
    have = 0
    for batch in batches:
        start = 0
        while start < batch.num_rows:
            take = min(rows - have, batch.num_rows - start)
            pending.append(batch.slice(start, take))
            have += take
            start += take
            if have == rows:
                yield _one(pending)
                pending, have = [], 0
    if have:
        yield _one(pending)


def _one(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]
