"""Random access to the record batches of Arrow IPC stream files (the engine's checkpoints).

A stream file has no footer, so :func:`scan` reads it once front to back and notes the
byte offset each record batch starts at; :class:`BatchReader` later reads single batches
back from those offsets (a seek and one message), so a worker that writes one output
file reads only the batches that hold its rows. Plain reads, no memory map: pages of
the file that were read do not count as the process's resident memory.
"""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa


def schema_of(path: str) -> pa.Schema:
    """The schema a stream file starts with."""
    with pa.OSFile(path) as src:
        return pa.ipc.read_schema(pa.ipc.read_message(src))


def scan(path: str) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(offset, batch)`` for every record batch of a stream file, in order."""
    with pa.OSFile(path) as src:
        schema = pa.ipc.read_schema(pa.ipc.read_message(src))
        while True:
            offset = src.tell()
            try:
                msg = pa.ipc.read_message(src)
            except EOFError:  # the end-of-stream marker, or a file without one
                return
            yield offset, pa.ipc.read_record_batch(msg, schema)


class BatchReader:
    """Reads record batches back by ``(path, offset)`` (from :func:`scan`); keeps files open until closed."""

    def __init__(self):
        self._open: dict[str, tuple[pa.NativeFile, pa.Schema]] = {}

    def read(self, path: str, offset: int) -> pa.RecordBatch:
        if path not in self._open:
            src = pa.OSFile(path)
            self._open[path] = (src, pa.ipc.read_schema(pa.ipc.read_message(src)))
        src, schema = self._open[path]
        src.seek(offset)
        return pa.ipc.read_record_batch(pa.ipc.read_message(src), schema)

    def close(self) -> None:
        for src, _ in self._open.values():
            src.close()
        self._open.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
