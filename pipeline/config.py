"""YAML recipe -> typed, validated :class:`RunConfig`.

A recipe names the stages to run and overrides per-stage rules. Each stage's defaults
live in ``rules/<stage>.yaml``; a recipe's ``rules: {<stage>: {...}}`` is deep-merged
over them. :func:`validate` collects every problem before any work starts.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from pipeline import registry
from pipeline.errors import ConfigError
from pipeline.processor import ACTIONS, as_action

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
DEFAULT_RECIPE = RULES_DIR / "default.yaml"

# Top-level recipe keys and their types.
TOP_KEYS: dict[str, type | tuple[type, ...]] = {
    "seed": int,
    "val_ratio": (int, float),
    "shard_rows": int,
    "output_format": (str, list),
    "input_format": (str, type(None)),
    "field_map": dict,
    "eval_sets": list,
    "stages": list,
    "rules": dict,
    "engine": dict,
}


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path | str) -> Any:
    """``yaml.safe_load`` a file; a missing file or bad YAML is a ConfigError naming it.

    Uses libyaml's parser when PyYAML has it (same safe constructor, several times faster:
    rule and seed files are read at every start-up).
    """
    p = Path(path)
    try:
        return yaml.load(p.read_text(encoding="utf-8"), Loader=_LOADER) or {}
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, not a YAML file") from None


def stage_rules(name: str) -> dict:
    """The default rules of a stage from ``rules/<name>.yaml`` ({} when it has none)."""
    path = RULES_DIR / f"{name}.yaml"
    return read_yaml(path) if path.exists() else {}


def deep_merge(base: Mapping, over: Mapping) -> dict:
    """Recursively merge ``over`` into a copy of ``base``; lists and scalars replace."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


@dataclass
class RunConfig:
    """The resolved recipe. ``rules`` holds every stage's fully merged rules."""

    stages: list[str]
    rules: dict[str, dict]
    seed: int = 42
    val_ratio: float = 0.05
    shard_rows: int = 50_000
    output_format: list[str] = field(default_factory=lambda: ["parquet"])
    input_format: str | None = None
    field_map: dict[str, str] = field(default_factory=dict)
    eval_sets: list[str] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> dict:
        """A JSON-able dict of everything that affects outputs (stored in the manifest)."""
        return {
            "stages": self.stages, "seed": self.seed, "val_ratio": self.val_ratio,
            "shard_rows": self.shard_rows, "output_format": self.output_format,
            "input_format": self.input_format, "field_map": self.field_map,
            "eval_sets": self.eval_sets, "rules": self.rules,
        }

    def hash(self) -> str:
        blob = json.dumps(self.resolved(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _type_problems(default: Any, value: Any, where: str) -> list[str]:
    """Compare an override against the default's types, recursively."""
    if default is None or value is None:
        return []
    if where.endswith(".action"):
        default, value = as_action(default), as_action(value)
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(default, bool) == isinstance(value, bool)
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float))
    else:
        ok = isinstance(value, type(default))
    if not ok:
        return [f"{where}: expected {type(default).__name__}, got {type(value).__name__} ({value!r})"]
    if isinstance(default, dict):
        probs = []
        for k, v in value.items():
            if k in default:
                probs += _type_problems(default[k], v, f"{where}.{k}")
        return probs
    return []


def _action_problems(stage: str, cls: type, rules: Mapping) -> list[str]:
    allowed = ACTIONS + tuple(getattr(cls, "extra_actions", ()))
    probs = []
    for check, block in (rules.get("checks") or {}).items():
        if not isinstance(block, Mapping):
            probs.append(f"rules.{stage}.checks.{check}: expected a mapping, got {block!r}")
            continue
        act = as_action(block.get("action", "off"))
        if act not in allowed:
            probs.append(f"rules.{stage}.checks.{check}.action: {act!r} is not one of {', '.join(allowed)}")
    return probs


def validate(raw: Mapping[str, Any]) -> RunConfig:
    """Validate a merged recipe dict and resolve every stage's rules.

    Raises:
        ConfigError: listing every problem found.
    """
    probs: list[str] = []
    for k, v in raw.items():
        if k not in TOP_KEYS:
            probs.append(f"{k}: unknown key; known keys: {', '.join(TOP_KEYS)}")
        elif not isinstance(v, TOP_KEYS[k]):
            probs.append(f"{k}: wrong type {type(v).__name__} ({v!r})")
    stages = raw.get("stages") or []
    known = registry.names()
    resolved_rules: dict[str, dict] = {}
    for s in stages if isinstance(stages, list) else []:
        if s not in known:
            probs.append(f"stages: unknown stage {s!r}; registered stages: {', '.join(known)}")
    overrides = raw.get("rules") or {}
    if isinstance(overrides, Mapping):
        for s in overrides:
            if s not in known:
                probs.append(f"rules.{s}: unknown stage; registered stages: {', '.join(known)}")
    over_keys = set(overrides) if isinstance(overrides, Mapping) else set()
    for s in known:
        base = stage_rules(s)
        over = overrides.get(s) or {} if isinstance(overrides, Mapping) else {}
        if not isinstance(over, Mapping):
            probs.append(f"rules.{s}: expected a mapping")
            continue
        probs += _type_problems(base, over, f"rules.{s}")
        merged = deep_merge(base, over)
        cls = registry.get(s)
        probs += _action_problems(s, cls, merged)
        check_fn = getattr(cls, "validate_rules", None)
        # A stage's own rules file is checked by the tests; its deeper checks (compiling every
        # pattern) run here when the recipe runs the stage or overrides its rules.
        if check_fn is not None and (s in stages or s in over_keys):
            probs += [f"rules.{s}: {p}" for p in check_fn(merged)]
        if s in stages:
            resolved_rules[s] = merged
    from pipeline.io.formats import FORMAT_NAMES

    fmt = raw.get("input_format")
    if fmt not in (None, "auto", *FORMAT_NAMES):
        probs.append(f"input_format: {fmt!r} is not one of auto, {', '.join(FORMAT_NAMES)}")
    vr = raw.get("val_ratio", 0.05)
    if isinstance(vr, (int, float)) and not 0 <= vr < 1:
        probs.append(f"val_ratio: must be in [0, 1), got {vr}")
    sr = raw.get("shard_rows", 50_000)
    if isinstance(sr, int) and sr <= 0:
        probs.append(f"shard_rows: must be positive, got {sr}")
    fmts = raw.get("output_format", ["parquet"])
    fmts = [fmts] if isinstance(fmts, str) else fmts
    for f in fmts if isinstance(fmts, list) else []:
        if f not in ("parquet", "jsonl"):
            probs.append(f"output_format: {f!r} is not parquet or jsonl")
    if probs:
        raise ConfigError(probs)
    return RunConfig(
        stages=list(stages), rules=resolved_rules, seed=int(raw.get("seed", 42)),
        val_ratio=float(vr), shard_rows=int(sr), output_format=list(fmts),
        input_format=raw.get("input_format"), field_map=dict(raw.get("field_map") or {}),
        eval_sets=list(raw.get("eval_sets") or []), engine=dict(raw.get("engine") or {}),
    )


def load(path: Path | str | None = None, **overrides: Any) -> RunConfig:
    """Load the default recipe, merge a user recipe file and keyword overrides, validate.

    A user recipe's ``stages`` replaces the default list; its ``rules`` deep-merge.
    Keyword overrides whose value is None are ignored.
    """
    raw = read_yaml(DEFAULT_RECIPE)
    if path is not None:
        user = read_yaml(path)
        if not isinstance(user, Mapping):
            raise ConfigError(f"{path}: a recipe must be a YAML mapping")
        raw = deep_merge(raw, user)
    for k, v in overrides.items():
        if v is not None:
            raw[k] = v
    return validate(raw)
