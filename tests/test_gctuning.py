"""relaxed_gc: a gentler collector inside, the previous settings restored after."""
from __future__ import annotations

import gc

import pytest

from pipeline.gctuning import relaxed_gc


def test_relaxed_gc_raises_the_threshold_freezes_and_restores():
    before = gc.get_threshold()
    with relaxed_gc(young=123_456):
        assert gc.get_threshold() == (123_456, *before[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_relaxed_gc_restores_after_an_error():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), relaxed_gc():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
