"""The processor interface every stage implements, plus the shared check/action helper.

A processor measures and judges; it does no I/O and removes no rows. The engine owns
batching, parallelism, counters, rejects and checkpoints.

Each processor receives its resolved rules (``rules/<name>.yaml`` merged with the
recipe's overrides) and the run seed. Rules that describe individual checks use the
shape ``checks: {<check>: {action: drop|flag|off, ...thresholds}}``; :func:`judge`
turns the hits of one row into a :class:`~pipeline.record.Verdict` honouring those actions.
"""
from __future__ import annotations

from typing import Any, ClassVar, Iterable, Iterator, Mapping, Protocol, runtime_checkable

from pipeline.record import Batch, Verdict

ACTIONS = ("drop", "flag", "off")


def as_action(value: Any) -> str:
    """YAML 1.1 reads an unquoted ``off`` as False; treat it as the action "off"."""
    return "off" if value is False or value is None else str(value)


@runtime_checkable
class Processor(Protocol):
    """What the engine calls. ``process`` returns the (possibly updated) batch and one verdict per row."""

    name: ClassVar[str]

    def setup(self) -> None: ...

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]: ...


class Stage:
    """Small convenience base: stores rules and seed, no-op ``setup``.

    Subclasses set ``name`` and implement ``process``. Global stages set
    ``is_global = True`` and implement ``fit(batches)``, which the engine calls once
    with every live row (in input order) before any ``process`` call. A stage that needs
    a fit only in some configurations may make ``is_global`` a property. Injecting
    stages implement ``inject(summary) -> list[dict]`` returning new canonical records.

    Optional Arrow paths, for speed on large corpora (the local engine uses them):

    - ``process_arrow(table) -> table | None`` takes an engine table of live rows
      (:data:`pipeline.io.columns.WORK_SCHEMA`) and returns exactly what the Python path
      would make of it, or None to have the engine use the Python path. The usual shape:
      decide with Arrow kernels which rows can be affected and run the Python path on those
      only (:func:`pipeline.engines.arrow_apply.python_rows`).
    - ``fit_arrow(tables)`` stands in for ``fit`` when the stage's ``arrow_fit`` is true;
      ``tables()`` starts a pass over Arrow tables of the live rows' ``fit_columns``, in input
      order (as many passes as the stage needs).

    Each Arrow path is tested to agree with the Python path on tricky tables.
    """

    name: ClassVar[str] = ""
    is_global: ClassVar[bool] = False
    #: Extra actions beyond drop/flag/off that a check of this stage accepts (e.g. "redact").
    extra_actions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, rules: Mapping[str, Any] | None = None, seed: int = 0):
        self.rules: dict[str, Any] = dict(rules or {})
        self.seed = seed

    def setup(self) -> None:
        """Load lexicons or models; called once per worker before ``process``."""

    def fit(self, batches: Iterable[Batch]) -> None:  # pragma: no cover - overridden by global stages
        """See the whole dataset before processing (global stages only)."""

    def check(self, name: str) -> dict[str, Any]:
        """The rule block of one check (empty dict when the check is not configured)."""
        return dict((self.rules.get("checks") or {}).get(name) or {})

    def action(self, name: str) -> str:
        """The configured action of a check: drop, flag, off, or a stage-specific one."""
        return as_action(self.check(name).get("action", "off"))

    def enabled(self, name: str) -> bool:
        return self.action(name) != "off"

    def __getstate__(self) -> dict:
        # Processors travel to worker processes; drop anything built in setup() that
        # subclasses mark as transient by prefixing it with "_".
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def judge(stage: Stage, hits: Iterable[tuple[str, str]], scores: Mapping[str, float] | None = None) -> Verdict:
    """Turn one row's check hits into a verdict.

    Args:
        stage: The processor whose ``checks`` actions apply.
        hits: ``(check_name, detail)`` pairs that fired, in priority order. The reason
            code is ``<stage>_<check_name>``.
        scores: Measurements to attach whatever the outcome.

    Returns:
        The first ``drop`` hit rejects the row; ``flag`` hits (and stage-specific
        actions such as ``redact``, which the stage has already applied) become flags.
        ``off`` hits are ignored.
    """
    flags: list[str] = []
    details: list[str] = []
    for check, detail in hits:
        act = stage.action(check)
        code = f"{stage.name}_{check}"
        if act == "off":
            continue
        if act == "drop":
            return Verdict(keep=False, reason=code, detail=detail, scores=dict(scores or {}))
        flags.append(code)
        if detail:
            details.append(f"{code}: {detail}")
    return Verdict(flags=tuple(flags), detail="; ".join(details), scores=dict(scores or {}))


def iter_rows(batch: Batch) -> Iterator[dict]:
    """Rows of a columnar batch as dicts, lazily."""
    keys = list(batch)
    if not keys:
        return
    for i in range(len(batch[keys[0]])):
        yield {k: batch[k][i] for k in keys}
