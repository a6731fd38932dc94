"""Helpers shared by the reader tests (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.io.readers import FileReport, Ingested, read_file

ALPACA = [
    {"instruction": "Name a primary color.", "input": "", "output": "Red."},
    {
        "instruction": "把这句话翻译成英文。",
        "input": "今天天气很好。",
        "output": "The weather is nice today.",
    },
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
]


def read_all(path: Path | str, **kw: Any) -> tuple[FileReport, list[Ingested]]:
    """Read a whole input and check the conservation invariant on the way."""
    report, items = read_file(str(path), **kw)
    got = list(items)
    assert [g.index for g in got] == list(range(len(got))), "every raw record once, in order"
    assert report.records == len(got)
    for g in got:
        assert (g.record is None) == (g.reason is not None)
        if g.record is not None:
            assert g.record["source"] == {"file": str(path), "index": g.index, "format": report.format}
    return report, got


def good(items: list[Ingested]) -> list[dict]:
    return [g.record for g in items if g.record is not None]


def reasons(items: list[Ingested]) -> list[str | None]:
    return [g.reason for g in items]
