"""``sftpipe validate``: per-record ingest and schema errors, without running the pipeline."""
from __future__ import annotations

from typing import Iterator, Sequence

import jsonschema

from pipeline.io.readers import expand_inputs, read_file
from pipeline.processors.normalize import Normalize
from pipeline.processors.schema import explain, load_validator
from pipeline.record import from_rows


def validate_inputs(inputs: Sequence[str], fmt: str | None = None,
                    field_map: dict | None = None) -> Iterator[dict]:
    """Yield one problem dict per bad record or unreadable file.

    Each dict has ``file``, ``index`` (record) or ``line`` (file problem), ``reason`` and ``detail``.
    """
    paths, errors = expand_inputs(inputs)
    for e in errors:
        yield {"file": e.file, "line": e.line, "reason": "input_error", "detail": e.message}
    validator = load_validator()
    norm = Normalize()
    for path in paths:
        report, items = read_file(path, fmt=fmt, field_map=field_map)
        for item in items:
            if item.record is None:
                yield {"file": report.path, "index": item.index, "reason": item.reason, "detail": item.detail}
                continue
            rec = norm.process(from_rows([item.record]))[0]
            rec = {k: v[0] for k, v in rec.items()}
            err = jsonschema.exceptions.best_match(validator.iter_errors(rec))
            if err is not None:
                reason, detail = explain(err)
                yield {"file": report.path, "index": item.index, "reason": reason, "detail": detail}
        for e in report.errors:
            yield {"file": e.file, "line": e.line, "reason": "input_error", "detail": e.message}
