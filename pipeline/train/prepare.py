"""Turn the run's inputs (curated shards, replay mixes, probe set) into checked examples."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError, InputError
from pipeline.train.audit import apply_budget, enforce_lint, lint
from pipeline.train.data import Example, encode_sft, encode_text, iter_split, read_records, split_files
from pipeline.train.settings import TrainConfig
from pipeline.train.templates import end_of_turn_ids


@dataclass
class Prepared:
    """Examples ready to pack, plus what the audit and lint found."""

    train: list[Example]
    val: list[Example]
    probe: list[Example]
    audit: dict
    rejects: list[dict] = field(default_factory=list)
    lint_problems: int = 0


def _is_text(rec: dict) -> bool:
    return "text" in rec and not rec.get("messages") and "output" not in rec


def _encode(recs: Iterable[dict], tokenizer, template: str, cfg: TrainConfig, objective: str,
            limit: int | None = None) -> list[Example]:
    """Encode records as they stream in (at most ``limit``), keeping only the token ids."""
    out = []
    for r in recs:
        if limit is not None and len(out) >= limit:
            break
        if objective == "cpt" or _is_text(r):
            out.append(encode_text(r, tokenizer))
        else:
            out.append(encode_sft(r, tokenizer, template, cfg.supervise))
    return out


def load_inputs(data: Path, cfg: TrainConfig) -> tuple[Iterable[dict], Iterable[dict]]:
    """Train and validation records (streamed): curated shards, or (for ``cpt``) any text files."""
    if split_files(data, "train"):
        return iter_split(data, "train"), iter_split(data, "validation")
    if cfg.objective == "cpt" and not (data / "curated").exists():
        train = read_records(data)
        if train:
            return train, []
    raise InputError(str(data), "no training records (expected curated/train-*.parquet)")


def mix_in(base: int, specs: list[str], seed: int) -> list[dict]:
    """Replay data: each ``PATH:RATIO`` adds ``round(RATIO * base)`` records from PATH.

    Records are drawn with a seeded permutation (repeated when PATH is smaller than the
    request) and marked ``origin=mixed`` so per-record losses can tell them apart.

    Args:
        base: How many training records the curated set has.
        specs: ``PATH:RATIO`` strings.
        seed: Run seed.
    """
    import torch

    out = []
    for j, spec in enumerate(specs):
        path, ratio = spec.rsplit(":", 1)
        pool = read_records(path)
        if not pool:
            raise InputError(path, "mix file has no records")
        want = round(float(ratio) * base)
        g = torch.Generator().manual_seed(seed + 7919 * (j + 1))
        order: list[int] = []
        while len(order) < want:
            order += torch.randperm(len(pool), generator=g).tolist()
        for i in order[:want]:
            rec = dict(pool[i])
            rec["origin"] = "mixed"
            rec.setdefault("id", f"mix{j}-{i}")
            out.append(rec)
    return out


def prepare(data: Path, cfg: TrainConfig, tokenizer, template: str) -> Prepared:
    """Read, encode, audit and lint every input of the run.

    Raises:
        LintError: ``lint_action: fail`` and some record cannot be trained on.
        ConfigError: Nothing is left to train on after the policy and lint.
    """
    train_recs, val_recs = load_inputs(data, cfg)
    encoded = _encode(train_recs, tokenizer, template, cfg, cfg.objective)
    if not encoded:
        raise InputError(str(data), "no training records (the train shards are empty)")
    encoded += _encode(mix_in(len(encoded), cfg.mix, cfg.seed), tokenizer, template, cfg, cfg.objective)
    eot = end_of_turn_ids(tokenizer)
    train, rejects, audit = apply_budget(encoded, cfg.max_seq_len, cfg.truncation, cfg.objective)
    del encoded
    val, val_rejects, val_audit = apply_budget(
        _encode(val_recs, tokenizer, template, cfg, cfg.objective, limit=cfg.max_eval_records),
        cfg.max_seq_len, cfg.truncation, cfg.objective)
    problems = lint(train, eot, cfg.objective)
    train, lint_rejects = enforce_lint(train, problems, cfg.lint_action)
    val, val_lint = enforce_lint(val, lint(val, eot, cfg.objective), "reject")
    for r in rejects + lint_rejects:
        r["split"] = "train"
    for r in val_rejects + val_lint:
        r["split"] = "validation"
    audit["validation"] = {k: v for k, v in val_audit.items() if k != "event"}
    audit["lint_rejected"] = len(lint_rejects)
    probe: list[Example] = []
    if cfg.probe:
        # A probe is a held-out general set: chat records or plain text, never rejected, only
        # kept within budget so its loss is comparable before and after training.
        probe_recs = read_records(cfg.probe)
        obj = "cpt" if all(_is_text(r) for r in probe_recs) else "sft"
        probe, _, _ = apply_budget(_encode(probe_recs, tokenizer, template, cfg, obj),
                                   cfg.max_seq_len, "truncate_prompt", obj)
        probe = [p for p in probe if any(t != -100 for t in p.labels)]
    if not train:
        raise ConfigError("no training records left after the truncation policy and lint")
    return Prepared(train, val, probe, audit, rejects + lint_rejects + val_rejects + val_lint,
                    len(problems))
