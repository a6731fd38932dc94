"""Library entry points: :func:`train`, :func:`merge` and :func:`demo_train`.

The CLI commands are thin shells over these; notebooks call them directly.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline.train import outputs
from pipeline.train.settings import TrainConfig, load_config


def _init_distributed() -> tuple[int, int]:
    """Join the process group when launched by torchrun/accelerate (``WORLD_SIZE`` > 1)."""
    import torch
    import torch.distributed as dist
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(data: str | Path, model: str, out: str | Path, *, method: str | None = None,
          config: str | Path | None = None, max_steps: int | None = None, epochs: float | None = None,
          resume: bool = False, objective: str | None = None, mix: list[str] | None = None,
          probe: str | None = None, template: str | None = None, overrides: dict[str, Any] | None = None,
          stop_at: int | None = None) -> dict:
    """Fine-tune ``model`` on the curated shards in ``data`` and write the run to ``out``.

    Args:
        data: A curation output dir (``curated/*.parquet``, ``manifest.json``); for
            ``objective="cpt"`` also a folder or file of plain text (JSONL ``text``, ``.txt``, Parquet).
        model: Local path (or hub id, if the hub is reachable) of a causal LM.
        out: Run folder: adapter/weights, metrics, model card, checkpoints.
        method: lora | qlora | dora | full | bitfit | prompt | prefix (overrides the recipe).
        config: Recipe YAML path or name under ``rules/train/``.
        max_steps: Optimiser steps (overrides ``epochs``).
        epochs: Passes over the training rows.
        resume: Continue from ``out/checkpoints/last``; refused (``ResumeMismatchError``) when
            the data files, the model or the training options differ from the checkpoint's.
        objective: ``sft`` (default) or ``cpt``.
        mix: ``PATH:RATIO`` replay specs.
        probe: Held-out general set for the forgetting delta.
        template: ``auto`` or a named chat template.
        overrides: Any other config keys.
        stop_at: Stop after this many steps, leaving a checkpoint to ``resume`` from.

    Returns:
        The run summary (also the ``end`` event of ``metrics.jsonl``).
    """
    import shutil

    import torch

    from pipeline.train import checkpoint, fingerprint
    from pipeline.train.loop import LoopData, MetricsLog, train_loop
    from pipeline.train.model import (
        apply_method,
        checkpointing_enabled,
        device_and_dtype,
        load_base,
        load_tokenizer,
        trainable_summary,
    )
    from pipeline.train.packing import batch_plan, pack, padding_efficiency
    from pipeline.train.prepare import prepare
    from pipeline.train.templates import end_of_turn_ids, resolve_template

    flags = {"method": method, "max_steps": max_steps, "epochs": epochs, "objective": objective,
             "mix": mix or None, "probe": probe, "template": template, **(overrides or {})}
    cfg: TrainConfig = load_config(config, flags)
    data, out = Path(data), Path(out)
    rank, _ = _init_distributed()
    main = rank == 0
    # Before anything heavy: a resume must continue the very run that wrote the checkpoint.
    fp = fingerprint.compute(data, cfg, model)
    if resume:
        fingerprint.check(out / "checkpoints" / "last", fp)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.jsonl"
    if not resume and main:
        # A fresh run must not leave an older run's checkpoints around to be resumed or picked.
        metrics_path.unlink(missing_ok=True)
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    log = MetricsLog(metrics_path, cfg.tensorboard, enabled=main)
    torch.manual_seed(cfg.seed)

    device, autocast_dtype = device_and_dtype(cfg)
    tokenizer = load_tokenizer(model, cfg.trust_remote_code)
    template_name, template_src = resolve_template(tokenizer, cfg.template)
    prep = prepare(data, cfg, tokenizer, template_src)
    if not resume:
        log.write(prep.audit)
    if main:
        _write_jsonl(out / "rejected.jsonl", prep.rejects)
        tasks = outputs.write_examples(tokenizer, prep.train, out / "examples")
        contract = outputs.template_contract(tokenizer, template_name, template_src, prep.train[0],
                                             end_of_turn_ids(tokenizer))
        (out / outputs.CONTRACT).write_text(json.dumps(contract, ensure_ascii=False, indent=1), encoding="utf-8")

    base = load_base(model, cfg, device)
    net = apply_method(base, cfg)
    packed = cfg.packing and cfg.method not in ("prompt", "prefix")
    rows = {k: pack(v, cfg.max_seq_len, packed) for k, v in
            (("train", prep.train), ("val", prep.val), ("probe", prep.probe))}
    for ex in prep.train + prep.val + prep.probe:  # the rows hold the only copy of the tokens now
        ex.release_tokens()
    plan = batch_plan(rows["train"], cfg.micro_batch_size, cfg.seed, 0)
    if not resume:
        log.write({"event": "setup", "step": 0, "device": device, "bf16": autocast_dtype is not None,
                   "packed": packed, "rows": len(rows["train"]), "records": len(prep.train),
                   "padding_efficiency": round(padding_efficiency(rows["train"], plan), 4),
                   "template": template_name, "gradient_checkpointing": checkpointing_enabled(net),
                   **trainable_summary(net)})
    loop_data = LoopData(rows["train"], prep.train, rows["val"], prep.val, rows["probe"], prep.probe,
                         packed, tokenizer.pad_token_id)
    result = train_loop(net, loop_data, cfg, out, log, autocast_dtype, resume=resume, stop_at=stop_at,
                        fingerprint=fp)
    if not result["finished"] or not main:
        return {**result, "out": str(out)}
    best_dir = out / "checkpoints" / "best"
    final_weights, final_step = "last", result["steps"]
    if cfg.final == "best" and checkpoint.read_state(best_dir) is not None:
        checkpoint.load_weights(best_dir, net)
        final_weights, final_step = "best", checkpoint.read_state(best_dir)["step"]

    from pipeline.train.evaluate import evaluate
    from pipeline.train.model import merged_for_eval
    ev = lambda r, e: evaluate(net, r, e, tokenizer.pad_token_id, packed, cfg.micro_batch_size, autocast_dtype)
    # Training is over: the final passes (per-record losses of every train record, validation,
    # probe) run with LoRA merged into the base, so they skip the adapter matmuls.
    with merged_for_eval(net, cfg.method):
        final_train = ev(rows["train"], prep.train)
        final_val = ev(rows["val"], prep.val) if prep.val else None
        probe_after = ev(rows["probe"], prep.probe)["loss"] if prep.probe else None
    parts = [("train", prep.train, final_train["records"])]
    if final_val:
        parts.append(("validation", prep.val, final_val["records"]))
    outputs.write_record_losses(out / "record_losses.parquet", parts)
    outputs.save_weights(net, tokenizer, out, cfg.method)
    summary = {"event": "end", "step": result["steps"], "method": cfg.method, "steps": result["steps"],
               "stopped_early": result["stopped_early"], "final_weights": final_weights,
               "final_step": final_step, "train_loss": final_train["loss"],
               "val_loss": final_val["loss"] if final_val else None, "best_val_loss": result["best_val_loss"],
               "best_step": result["best_step"],
               "tasks": tasks if main else []}
    if prep.probe:
        summary.update(probe_before=result["probe_before"], probe_after=probe_after,
                       forgetting_delta=round(probe_after - result["probe_before"], 6))
    log.write(summary)
    resolved = {**cfg.to_dict(), "base_model": str(model), "template_name": template_name,
                "data": str(data)}
    (out / "train_config.json").write_text(json.dumps(resolved, indent=1), encoding="utf-8")
    manifest = outputs.read_manifest(data)
    (out / "README.md").write_text(outputs.model_card(resolved, manifest, summary, str(model), template_name),
                                   encoding="utf-8")
    return {**summary, "out": str(out)}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def merge(adapter: str | Path, out: str | Path, base: str | None = None, atol: float = 1e-4) -> dict:
    """Merge a LoRA/DoRA/QLoRA adapter into its base and save the merged model.

    See :func:`pipeline.train.merge.merge_adapter`.
    """
    from pipeline.train.merge import merge_adapter
    return merge_adapter(Path(adapter), Path(out), base=base, atol=atol)


def demo_train(curated_out_dir: str | Path, work_dir: str | Path) -> Path:
    """Train a small LoRA on a curation output with a tiny locally built model (``make demo``).

    Returns:
        The adapter folder.
    """
    from pipeline.train.tiny import build_model

    work = Path(work_dir)
    model_dir = build_model(work / "tiny-model", hidden=64, layers=2)
    out = work / "adapter"
    train(curated_out_dir, str(model_dir), out, method="lora", max_steps=8,
          overrides={"max_seq_len": 256, "micro_batch_size": 4, "eval_every": 4, "lr": 1e-3,
                     "warmup_steps": 1, "max_eval_records": 64, "lint_action": "reject"})
    return out
