"""Ingest: expand inputs, read every file, write live records to an Arrow file and
ingest rejects straight to the rejects writer.

Large clean Alpaca JSON Lines files take a fast lane (:mod:`pipeline.io.fastjsonl`):
pyarrow parses them and Arrow builds their rows. When such a file turns out not to be
clean, what the lane wrote is cut off again and the whole file is read the generic
way, so every file gives the same rows, rejects and report whichever way it is read.
"""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from pipeline.io.columns import WORK_SCHEMA, to_work_row
from pipeline.io.fastjsonl import FORMAT, NotClean, eligible, read_alpaca
from pipeline.io.fastwork import rebatch, work_batch
from pipeline.io.readers import FileReport, display_path, read_file
from pipeline.io.writers import RejectWriter

CHUNK = 10_000


class _Checkpoint:
    """The ingest Arrow stream, which can be cut back to an earlier mark."""

    def __init__(self, sink: pa.NativeFile):
        self.sink = sink
        self.writer = None  # opened by the first write: the schema is written then

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        if self.writer is None:
            self.writer = pa.ipc.new_stream(self.sink, WORK_SCHEMA)
        self.writer.write(data)

    def mark(self) -> int:
        return self.sink.tell()

    def rewind(self, mark: int) -> None:
        """Drop everything written after ``mark`` (the writer asks the file its position)."""
        os.lseek(self.sink.fileno(), mark, os.SEEK_SET)
        os.ftruncate(self.sink.fileno(), mark)
        if mark == 0:
            self.writer = None  # the schema went too

    def close(self) -> None:
        if self.writer is None:
            self.writer = pa.ipc.new_stream(self.sink, WORK_SCHEMA)
        self.writer.close()


def ingest(paths: list[str], work_file: Path, rejects: RejectWriter, fmt: str | None = None,
           field_map: dict | None = None, progress=None,
           num_proc: int = 1) -> tuple[list[dict], list[dict], dict]:
    """Read ``paths`` into ``work_file`` (Arrow stream format).

    ``num_proc`` sets how many fast-lane chunks are parsed at once (at least two threads).

    Returns:
        (input descriptions for the manifest, file errors, ingest reject counts by reason)
    """
    inputs, errors, reasons = [], [], {}
    tmp = work_file.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink:
        out = _Checkpoint(sink)
        for path in paths:
            report = None
            if eligible(path, fmt, field_map):
                report = _fast(path, out, progress, max(2, num_proc))
            if report is None:
                report = _generic(path, out, rejects, reasons, fmt, field_map, progress)
            errors += [e.as_dict() for e in report.errors]
            inputs.append({"path": report.path, "sha256": report.sha256, "records": report.records,
                           "format": report.format, "encoding": report.encoding})
        out.close()
    tmp.replace(work_file)
    return inputs, errors, reasons


def _fast(path: str, out: _Checkpoint, progress, threads: int) -> FileReport | None:
    """Read one file through the fast lane; None (and nothing written) when it is not clean."""
    mark, done = out.mark(), 0
    shown = display_path(path)

    def rows(first: int, cols: dict) -> pa.RecordBatch:
        return work_batch(cols, shown, FORMAT, first)

    report, batches = read_alpaca(path, CHUNK, rows, threads)
    try:
        for batch in rebatch(batches, CHUNK):
            out.write(batch)
            done += batch.num_rows
            if progress is not None:
                progress.update(batch.num_rows)
    except NotClean:
        out.rewind(mark)
        if progress is not None and done:
            progress.update(-done)
        return None
    return report


def _generic(path: str, out: _Checkpoint, rejects: RejectWriter, reasons: dict, fmt: str | None,
             field_map: dict | None, progress) -> FileReport:
    """Read one file record by record (any container, format and encoding)."""
    buf: list[dict] = []

    def flush():
        if buf:
            out.write(pa.Table.from_pylist(buf, schema=WORK_SCHEMA))
            buf.clear()

    report, items = read_file(path, fmt=fmt, field_map=field_map)
    for item in items:
        if item.record is not None:
            buf.append(to_work_row(item.record))
            if len(buf) >= CHUNK:
                flush()
        else:
            src = {"file": report.path, "index": item.index, "format": report.format}
            # `record` is always an object; raw text or non-object JSON goes under "raw".
            raw = item.raw if isinstance(item.raw, dict) else {"raw": item.raw}
            rejects.write(raw, "ingest", item.reason, item.detail, src)
            reasons[item.reason] = reasons.get(item.reason, 0) + 1
        if progress is not None:
            progress.update(1)
    flush()
    return report
