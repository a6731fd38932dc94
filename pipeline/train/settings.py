"""Training recipe -> typed, validated :class:`TrainConfig`.

A recipe is ``rules/train/<name>.yaml``; command-line flags override it. Like the
curation config, :func:`load_config` collects *every* problem before any work starts.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pipeline.config import RULES_DIR, deep_merge, read_yaml
from pipeline.errors import ConfigError

TRAIN_RULES = RULES_DIR / "train"
METHODS = ("lora", "qlora", "dora", "full", "bitfit", "prompt", "prefix")
OBJECTIVES = ("sft", "cpt")
TRUNCATION = ("drop", "truncate_prompt", "keep")
SUPERVISE = ("all", "last")
LINT_ACTIONS = ("fail", "reject")
FINAL = ("last", "best")


@dataclass
class TrainConfig:
    """Everything a run needs. Field docs live in ``rules/train/lora.yaml``."""

    method: str = "lora"
    objective: str = "sft"
    template: str = "auto"
    supervise: str = "all"
    max_seq_len: int = 1024
    truncation: str = "truncate_prompt"
    packing: bool = True
    micro_batch_size: int = 4
    grad_accum: int = 1
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 10
    min_lr_ratio: float = 0.1
    max_grad_norm: float = 1.0
    max_steps: int | None = None
    epochs: float = 1.0
    bf16: str = "auto"
    gradient_checkpointing: bool = False
    eval_every: int = 50
    save_every: int = 50
    early_stopping_patience: int = 0
    early_stopping_min_delta: float = 0.0
    final: str = "last"
    max_eval_records: int = 2000
    seed: int = 42
    trust_remote_code: bool = False
    tensorboard: bool = False
    l2_init: float = 0.0
    lint_action: str = "fail"
    lora: dict = field(default_factory=lambda: {
        "r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear", "train_embeddings": False})
    virtual_tokens: int = 16
    quant: dict = field(default_factory=lambda: {"quant_type": "nf4", "double_quant": True})
    mix: list = field(default_factory=list)
    probe: str | None = None
    progress: bool = True

    def to_dict(self) -> dict:
        """JSON-able form, written as the run's resolved config."""
        return asdict(self)


_CHOICES = {"method": METHODS, "objective": OBJECTIVES, "truncation": TRUNCATION,
            "supervise": SUPERVISE, "lint_action": LINT_ACTIONS, "final": FINAL, "bf16": ("auto", "on", "off")}
_POSITIVE = ("max_seq_len", "micro_batch_size", "grad_accum", "eval_every", "save_every", "max_eval_records",
             "virtual_tokens")


def validate(values: Mapping[str, Any]) -> list[str]:
    """Every problem with a raw config mapping (unknown keys, wrong types, bad choices)."""
    problems = []
    known = {f.name: f for f in fields(TrainConfig)}
    defaults = TrainConfig()
    for k, v in values.items():
        if k not in known:
            problems.append(f"{k}: unknown training option (known: {', '.join(sorted(known))})")
            continue
        d = getattr(defaults, k)
        if v is None and k in ("max_steps", "probe"):
            continue
        want = (int, float) if isinstance(d, float) else type(d) if d is not None else (int, str)
        if isinstance(v, bool) and want in ((int, float), int):
            problems.append(f"{k}: expected a number, got {v!r}")
        elif not isinstance(v, want):
            problems.append(f"{k}: expected {getattr(want, '__name__', 'number')}, got {type(v).__name__}")
    for k, choices in _CHOICES.items():
        if k in values and values[k] not in choices:
            problems.append(f"{k}: {values[k]!r} is not one of {', '.join(choices)}")
    for k in _POSITIVE:
        if isinstance(values.get(k), int) and values[k] <= 0:
            problems.append(f"{k}: must be > 0")
    if isinstance(values.get("max_steps"), int) and values["max_steps"] <= 0:
        problems.append("max_steps: must be > 0")
    for spec in values.get("mix") or []:
        if not isinstance(spec, str) or ":" not in spec:
            problems.append(f"mix: {spec!r} must be PATH:RATIO")
            continue
        try:
            if float(spec.rsplit(":", 1)[1]) <= 0:
                problems.append(f"mix: ratio in {spec!r} must be > 0")
        except ValueError:
            problems.append(f"mix: ratio in {spec!r} is not a number")
    return problems


def load_config(recipe: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Resolve a recipe plus overrides into a validated config.

    Args:
        recipe: A YAML path, a recipe name under ``rules/train/`` (``lora``, ``qlora``,
            ``full``), or ``None`` for the built-in defaults.
        overrides: Values that win over the recipe (CLI flags); ``None`` values are ignored.

    Raises:
        ConfigError: Listing every problem found.
    """
    raw: dict = {}
    if recipe is not None:
        path = Path(recipe)
        if not path.exists() and (TRAIN_RULES / f"{recipe}.yaml").exists():
            path = TRAIN_RULES / f"{recipe}.yaml"
        raw = read_yaml(path)
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: a training recipe must be a mapping")
    raw = deep_merge(raw, {k: v for k, v in (overrides or {}).items() if v is not None})
    problems = validate(raw)
    if problems:
        raise ConfigError(problems)
    cfg = TrainConfig()
    for k, v in raw.items():
        if isinstance(getattr(cfg, k), dict):
            v = deep_merge(getattr(cfg, k), v)
        setattr(cfg, k, v)
    return cfg
