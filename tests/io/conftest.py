"""Fixtures for the reader tests: every file is written here, in tmp_path, at run time."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def write(tmp_path: Path):
    """``write(name, content)``: bytes as they are; str as UTF-8; anything else as JSON.

    Names ending in ``.gz`` are gzipped; ``.jsonl`` content given as a list is written
    one JSON object per line.
    """

    def _write(name: str, content: Any, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        base = name.removesuffix(".gz")
        if isinstance(content, bytes):
            data = content
        elif isinstance(content, str):
            data = content.encode(encoding)
        elif base.endswith((".jsonl", ".ndjson")):
            data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in content).encode(encoding)
        else:
            data = json.dumps(content, ensure_ascii=False, indent=2).encode(encoding)
        if name.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        path.write_bytes(data)
        return path

    return _write
