"""The one processor registry. YAML refers to processors only by registered name."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, TypeVar

from pipeline.errors import ConfigError

T = TypeVar("T")
_REGISTRY: dict[str, type] = {}


def register(cls: T) -> T:
    """Class decorator: register a processor under its ``name`` (the stage name)."""
    name = getattr(cls, "name", None)
    if not name:
        raise TypeError(f"{cls!r} has no `name`")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"processor name {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def _load_all() -> None:
    # Importing every module under pipeline.processors runs their @register lines.
    import pipeline.processors as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"pipeline.processors.{mod.name}")


def names() -> list[str]:
    """All registered processor names, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def get(name: str) -> type:
    """The processor class registered as ``name``.

    Raises:
        ConfigError: when no such processor exists; the message lists those that do.
    """
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown stage {name!r}; registered stages: {', '.join(sorted(_REGISTRY))}") from None


def create(name: str, rules: dict | None = None, seed: int = 0) -> object:
    """Instantiate a registered processor with its resolved rules and the run seed."""
    cls: Callable = get(name)
    return cls(rules or {}, seed)
