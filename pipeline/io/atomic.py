"""Atomic file writes: write to a temporary name in the same folder, then rename."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def tmp_path(path: Path) -> Path:
    """The temporary sibling a file is written to before its final rename."""
    return path.with_name(f".{path.name}.tmp")


def commit(path: Path) -> None:
    """Rename the temporary sibling of ``path`` onto ``path`` (atomic on POSIX)."""
    os.replace(tmp_path(path), path)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically as UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    """Deterministic, human-readable JSON (sorted keys, UTF-8 kept), written atomically."""
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
