"""What a run trains on, so that ``--resume`` can refuse to continue on something else.

A checkpoint stores the fingerprint of the run that wrote it: the sha256 of every input
file (curated shards, plain-text files, replay mixes, the probe set), the curation
manifest's config hash, the base model and every option that changes the optimisation.
Resuming with other data or another config would silently splice two different runs
into one loss curve, so :func:`check` turns any difference into a clear error instead.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import SftpipeError
from pipeline.io.atomic import sha256_file
from pipeline.train.data import split_files
from pipeline.train.settings import TrainConfig

# Options that change what a run looks like or where it writes, never its numbers.
COSMETIC = ("progress", "tensorboard", "save_every", "final")
_TEXT_SUFFIXES = (".parquet", ".jsonl", ".json", ".txt")


class ResumeMismatchError(SftpipeError):
    """``--resume`` found a checkpoint made with other data, another model or another config."""

    def __init__(self, ckpt: Path, problems: list[str]):
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"cannot resume from {ckpt}: the checkpoint was written by a run with different inputs:\n{shown}\n"
            "Resume with exactly the same data, model and options, or start a new run (without --resume).")


def _data_files(data: Path) -> list[Path]:
    """The files :func:`pipeline.train.prepare.load_inputs` reads for ``data``."""
    shards = split_files(data, "train") + split_files(data, "validation")
    if shards:
        return shards
    if data.is_dir():
        return sorted(f for f in data.rglob("*") if f.suffix in _TEXT_SUFFIXES)
    return [data] if data.exists() else []


def _rel(path: Path, root: Path) -> str:
    if path == root:
        return path.name
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def compute(data: Path, cfg: TrainConfig, model: str) -> dict:
    """The fingerprint of a run: ``{"data": {...}, "model": ..., "config": {...}}``."""
    files = {_rel(f, data): sha256_file(f) for f in _data_files(data)}
    for spec in cfg.mix:
        path = Path(spec.rsplit(":", 1)[0])
        files.update({f"mix:{_rel(f, path)}": sha256_file(f) for f in _data_files(path)})
    if cfg.probe:
        files.update({f"probe:{_rel(f, Path(cfg.probe))}": sha256_file(f) for f in _data_files(Path(cfg.probe))})
    manifest_hash = None
    try:
        manifest_hash = json.loads((data / "manifest.json").read_text(encoding="utf-8")).get("config_hash")
    except (OSError, ValueError, AttributeError):
        pass
    config = {k: v for k, v in cfg.to_dict().items() if k not in COSMETIC}
    return {"data": {"manifest_config_hash": manifest_hash, "files": files}, "model": str(model),
            "config": json.loads(json.dumps(config))}


def differences(saved: dict, now: dict) -> list[str]:
    """Human-readable differences between two fingerprints ([] when they match)."""
    out = []
    a, b = saved.get("data", {}), now.get("data", {})
    if a.get("manifest_config_hash") != b.get("manifest_config_hash"):
        out.append(f"data: curation manifest config_hash {a.get('manifest_config_hash')} -> "
                   f"{b.get('manifest_config_hash')}")
    fa, fb = a.get("files", {}), b.get("files", {})
    for name in sorted(fa.keys() | fb.keys()):
        if name not in fb:
            out.append(f"data: {name} was read by the checkpointed run but is gone now")
        elif name not in fa:
            out.append(f"data: {name} is new (the checkpointed run did not read it)")
        elif fa[name] != fb[name]:
            out.append(f"data: {name} changed (sha256 {fa[name][:12]}... -> {fb[name][:12]}...)")
    if saved.get("model") != now.get("model"):
        out.append(f"model: {saved.get('model')} -> {now.get('model')}")
    ca, cb = saved.get("config", {}), now.get("config", {})
    for k in sorted(ca.keys() | cb.keys()):
        if ca.get(k) != cb.get(k):
            out.append(f"config: {k}: {ca.get(k)!r} -> {cb.get(k)!r}")
    return out


def check(ckpt_dir: Path, now: dict) -> None:
    """Raise :class:`ResumeMismatchError` unless the checkpoint in ``ckpt_dir`` was made with ``now``.

    Raises:
        ResumeMismatchError: Data, model or config differ, or there is nothing to resume.
    """
    marker = ckpt_dir / "state.json"
    if not marker.exists():
        raise ResumeMismatchError(ckpt_dir, ["there is no complete checkpoint to resume from"])
    saved = json.loads(marker.read_text(encoding="utf-8")).get("fingerprint")
    if saved is None:
        raise ResumeMismatchError(ckpt_dir, ["the checkpoint has no fingerprint (written by an older version)"])
    problems = differences(saved, now)
    if problems:
        raise ResumeMismatchError(ckpt_dir, problems)
