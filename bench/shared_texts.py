"""(instruction, input, output) triples from ../shared/data, read at run time for benchmarks.

Nothing is copied into the repository; an absent folder gives an empty list.
"""
from __future__ import annotations

import glob
import json
import os
from pathlib import Path

DATA = Path(os.environ.get("SFTPIPE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_triples(patterns: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Every record of the files matching ``patterns`` (JSON array or JSONL) as text triples."""
    out = []
    for pat in patterns:
        for f in sorted(glob.glob(str(DATA / pat))):
            text = Path(f).read_text(encoding="utf-8")
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                items = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
            for d in items if isinstance(items, list) else []:
                if isinstance(d, dict):
                    out.append(tuple(d.get(k) if isinstance(d.get(k), str) else ""
                                     for k in ("instruction", "input", "output")))
    return out
