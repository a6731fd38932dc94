"""Ingest: expand inputs, read every file, write live records to an Arrow file and
ingest rejects straight to the rejects writer."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from pipeline.io.columns import WORK_SCHEMA, to_work_row
from pipeline.io.readers import read_file
from pipeline.io.writers import RejectWriter

CHUNK = 10_000


def ingest(paths: list[str], work_file: Path, rejects: RejectWriter, fmt: str | None = None,
           field_map: dict | None = None, progress=None) -> tuple[list[dict], list[dict], dict]:
    """Read ``paths`` into ``work_file`` (Arrow stream format).

    Returns:
        (input descriptions for the manifest, file errors, ingest reject counts by reason)
    """
    inputs, errors, reasons = [], [], {}
    buf: list[dict] = []
    tmp = work_file.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, WORK_SCHEMA) as writer:
        def flush():
            if buf:
                writer.write_table(pa.Table.from_pylist(buf, schema=WORK_SCHEMA))
                buf.clear()

        for path in paths:
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
            errors += [e.as_dict() for e in report.errors]
            inputs.append({"path": report.path, "sha256": report.sha256, "records": report.records,
                           "format": report.format, "encoding": report.encoding})
    tmp.replace(work_file)
    return inputs, errors, reasons
