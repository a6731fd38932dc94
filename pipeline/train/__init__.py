"""The built-in trainer: curated shards -> LoRA / QLoRA / full / ... adapters, and merge.

``pipeline.train(...)`` is the library call behind ``sftpipe train``: this package is
callable, so the name works whether or not its submodules were imported first.
"""
from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        """Train an adapter on curated shards; see :func:`pipeline.train.api.train`."""
        from pipeline.train.api import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
