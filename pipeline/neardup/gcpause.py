"""Pausing Python's cyclic garbage collector around allocation-heavy loops.

Near-duplicate detection builds millions of small containers that live until the
end (datasketch's bucket sets, per-record facts). Every few hundred allocations
the collector rescans young objects, and now and then all of them: with an index
of a few hundred thousand sets that is a large share of the run for no gain, since
none of these objects form reference cycles (reference counting frees them).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block; restore its previous state after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
