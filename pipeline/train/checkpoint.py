"""Checkpoints that let ``--resume`` reproduce an uninterrupted run.

A checkpoint holds the trainable weights (safetensors), the optimiser state, the
scheduler state, the RNG states (dropout draws from torch's global generator) and the
data position (epoch, micro-batch index). Data order is a pure function of (seed,
epoch), so restoring the position replays exactly the batches the original run would
have seen next.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def _atomic_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def save(ckpt_dir: Path, model, optimizer, scheduler, state: dict) -> None:
    """Write a checkpoint; ``state.json`` is written last, so a checkpoint without it is incomplete.

    With ``optimizer=None`` only the trainable weights and ``state`` are written (the
    ``best`` checkpoint: something to pick final weights from, not to resume from).
    """
    import torch
    from safetensors.torch import save_file

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    marker = ckpt_dir / "state.json"
    if marker.exists():
        marker.unlink()
    weights = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    save_file(weights, str(ckpt_dir / "trainable.safetensors"))
    if optimizer is None:
        _atomic_json(marker, state)
        return
    torch.save(optimizer.state_dict(), ckpt_dir / "optimizer.pt")
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng.update({f"cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    save_file(rng, str(ckpt_dir / "rng.safetensors"))
    _atomic_json(marker, {**state, "scheduler": scheduler.state_dict()})


def load(ckpt_dir: Path, model, optimizer, scheduler) -> dict:
    """Restore a checkpoint into the given objects; returns the saved ``state``.

    Raises:
        FileNotFoundError: There is no complete checkpoint in ``ckpt_dir``.
    """
    import torch
    from safetensors.torch import load_file

    marker = ckpt_dir / "state.json"
    if not marker.exists():
        raise FileNotFoundError(f"no complete checkpoint in {ckpt_dir}")
    state = json.loads(marker.read_text(encoding="utf-8"))
    load_weights(ckpt_dir, model)
    # Our own file, tensors and plain containers only: weights_only keeps pickle out.
    optimizer.load_state_dict(torch.load(ckpt_dir / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(state.pop("scheduler"))
    rng = load_file(str(ckpt_dir / "rng.safetensors"))
    torch.set_rng_state(rng["torch"])
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        if f"cuda{i}" in rng:
            torch.cuda.set_rng_state(rng[f"cuda{i}"], i)
    return state


def read_state(ckpt_dir: Path) -> dict | None:
    """The ``state.json`` of a complete checkpoint, or None."""
    marker = ckpt_dir / "state.json"
    return json.loads(marker.read_text(encoding="utf-8")) if marker.exists() else None


def load_weights(ckpt_dir: Path, model) -> None:
    """Copy a checkpoint's trainable weights into ``model`` (same parameter names)."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(ckpt_dir / "trainable.safetensors"))
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device))
