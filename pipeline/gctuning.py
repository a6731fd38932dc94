"""A gentler cyclic garbage collector for the length of a batch run.

A run allocates millions of short-lived containers (row dicts, token lists, decoded
meta) and keeps large long-lived ones (lexicons, compiled rules, dedup maps). With
Python's defaults the collector runs every 700 net allocations and, every so often,
rescans everything that survived, including all the long-lived structures: about a
tenth of a run's time on a 30k-record corpus, for garbage that reference counting
frees anyway (rows do not form cycles). Inside :func:`relaxed_gc` collections are
rarer and what exists at the start (imports, set-up state) is frozen out of them,
which also keeps fork()ed workers from touching, and so copying, those pages.
Outputs do not depend on when collections happen.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Net allocations between young-generation collections during a run (default 700).
YOUNG_THRESHOLD = 50_000


@contextmanager
def relaxed_gc(young: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Raise the young-generation threshold and freeze existing objects; restore both after."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(young, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
