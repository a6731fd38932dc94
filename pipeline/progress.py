"""Progress bars (records/s, ETA) for the engines; none when progress is off."""
from __future__ import annotations

import sys


def bar(progress: bool, desc: str, total: int | None = None):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc=desc, total=total, unit=" rec", file=sys.stderr, mininterval=0.5)


def with_progress(batches, progress: bool, desc: str, total: int):
    """Pass batches through, advancing a progress bar (records/s, ETA) by their row counts."""
    shown = bar(progress, desc, total)
    if shown is None:
        yield from batches
        return
    try:
        for b in batches:
            shown.update(len(b["id"]) if b else 0)
            yield b
    finally:
        shown.close()
