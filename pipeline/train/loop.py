"""The training loop. Read it top to bottom: this is the whole of training.

One optimiser step = ``grad_accum`` micro-batches (times the world size under
data parallelism). The loss is the mean over every supervised token of the step, so
the result does not depend on how the tokens were split into micro-batches or ranks.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.train import checkpoint
from pipeline.train.evaluate import evaluate, token_losses
from pipeline.train.packing import Row, batch_plan, collate
from pipeline.train.settings import TrainConfig


@dataclass
class LoopData:
    """Everything the loop iterates over (built by :mod:`pipeline.train.api`)."""

    train_rows: list[Row]
    train_examples: list
    val_rows: list[Row]
    val_examples: list
    probe_rows: list[Row]
    probe_examples: list
    packed: bool
    pad_id: int


class MetricsLog:
    """Append-only ``metrics.jsonl`` (plus TensorBoard scalars when asked for)."""

    def __init__(self, path: Path, tensorboard: bool = False, enabled: bool = True):
        self.path, self.enabled, self.tb = path, enabled, None
        if tensorboard and enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(path.parent / "tensorboard"))
            except ImportError:
                print("tensorboard is not installed; logging to metrics.jsonl only")

    def truncate_after(self, step: int) -> None:
        """On resume, forget events logged after the checkpoint we restart from."""
        if not self.path.exists():
            return
        keep = [ln for ln in self.path.read_text(encoding="utf-8").splitlines()
                if ln.strip() and json.loads(ln).get("step", 0) <= step]
        self.path.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")

    def write(self, event: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(event, ensure_ascii=False) + "\n")
        if self.tb is not None and "step" in event:
            for k, v in event.items():
                if isinstance(v, (int, float)) and k != "step":
                    self.tb.add_scalar(f"{event.get('event', 'x')}/{k}", v, event["step"])


def lr_lambda(warmup: int, total: int, min_ratio: float):
    """Linear warmup to the peak, then cosine decay to ``min_ratio`` of it."""
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return f


def _dist():
    """``(rank, world_size)`` under torch.distributed, else ``(0, 1)``."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train_loop(model, data: LoopData, cfg: TrainConfig, run_dir: Path, log: MetricsLog,
               autocast_dtype=None, resume: bool = False, stop_at: int | None = None,
               fingerprint: dict | None = None) -> dict:
    """Train ``model`` in place; returns the final summary (also logged as the ``end`` event).

    Args:
        model: A model whose trainable parameters have ``requires_grad`` set.
        data: Rows and examples.
        cfg: The resolved config.
        run_dir: Checkpoints go to ``run_dir/checkpoints/last`` (to resume from) and
            ``run_dir/checkpoints/best`` (weights at the lowest validation loss).
        log: Metrics sink.
        autocast_dtype: ``torch.bfloat16`` for bf16 autocast, or None.
        resume: Continue from ``run_dir/checkpoints/last``.
        stop_at: Stop (with a checkpoint) after this many steps - for time-sliced jobs.
        fingerprint: What the run trains on (:mod:`pipeline.train.fingerprint`); stored
            in every checkpoint so ``--resume`` can check it.
    """
    import torch
    import torch.distributed as dist
    from tqdm import tqdm

    rank, world = _dist()
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    per_step = cfg.grad_accum * world
    plan_len = len(batch_plan(data.train_rows, cfg.micro_batch_size, cfg.seed, 0))
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * plan_len / per_step))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(min(cfg.warmup_steps, total - 1), total, cfg.min_lr_ratio))
    anchor = [p.detach().clone() for p in params] if cfg.l2_init > 0 else None

    def run_eval(rows, examples):
        return evaluate(model, rows, examples, data.pad_id, data.packed, cfg.micro_batch_size, autocast_dtype)

    # State that a checkpoint carries besides weights/optimiser/scheduler/RNG.
    st = {"step": 0, "epoch": 0, "index": 0, "best": None, "best_step": None, "bad_evals": 0,
          "probe_before": None}
    ckpt_dir = run_dir / "checkpoints" / "last"
    best_dir = run_dir / "checkpoints" / "best"
    if resume:
        st = {**st, **checkpoint.load(ckpt_dir, model, optimizer, scheduler)}
        st.pop("fingerprint", None)
        log.truncate_after(st["step"])
    elif data.probe_rows:
        probe = run_eval(data.probe_rows, data.probe_examples)
        st["probe_before"] = probe["loss"]
        log.write({"event": "probe", "step": 0, "probe_loss": probe["loss"]})

    plan = batch_plan(data.train_rows, cfg.micro_batch_size, cfg.seed, st["epoch"])

    def next_micro_batch() -> list[Row]:
        # Walk the epoch's plan; a new epoch gets a new (seeded) order.
        nonlocal plan
        if st["index"] >= len(plan):
            st["epoch"], st["index"] = st["epoch"] + 1, 0
            plan = batch_plan(data.train_rows, cfg.micro_batch_size, cfg.seed, st["epoch"])
        rows = [data.train_rows[i] for i in plan[st["index"]]]
        st["index"] += 1
        return rows

    model.train()
    bar = tqdm(total=total, initial=st["step"], disable=not cfg.progress or rank != 0, desc="train")
    stopped_early = False
    while st["step"] < total:
        t0 = time.perf_counter()
        micro = [next_micro_batch() for _ in range(per_step)]
        batches = [collate(rows, data.pad_id, data.packed) for rows in micro]
        n_sup = sum(int((b["targets"] != -100).sum()) for b in batches)
        loss_sum, penalty = 0.0, 0.0
        for b in batches[rank::world]:
            losses, _ = token_losses(model, b, autocast_dtype)
            loss = losses.sum() / max(1, n_sup)
            if anchor is not None:
                # L2 pull towards the initial weights (EWC with a flat Fisher): the step's
                # objective is CE + l2_init * ||w - w0||^2. Each of the per_step micro-batches
                # (over all ranks) adds its share, so the summed gradient carries it once.
                reg = sum(((p - a) ** 2).sum() for p, a in zip(params, anchor))
                loss = loss + cfg.l2_init * reg / per_step
                penalty = cfg.l2_init * float(reg.detach())
            loss.backward()
            loss_sum += float(losses.detach().sum())
        if world > 1:  # data parallel: sum gradients and losses over ranks (loss already globally normalised)
            for p in params:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
            t = torch.tensor([loss_sum])
            dist.all_reduce(t)
            loss_sum = float(t)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        st["step"] += 1

        tokens = sum(int(b["input_ids"].numel()) for b in batches)
        dt = time.perf_counter() - t0
        event = {"event": "train", "step": st["step"], "epoch": st["epoch"], "loss": round(loss_sum / max(1, n_sup), 6),
                 "lr": scheduler.get_last_lr()[0], "grad_norm": round(grad_norm, 6),
                 "tokens": tokens, "tokens_per_s": round(tokens / dt, 1)}
        if anchor is not None:  # ``loss`` stays the data loss, comparable with runs without the penalty
            event.update(l2_penalty=round(penalty, 8), objective=round(event["loss"] + penalty, 6))
        log.write(event)
        bar.update(1)
        bar.set_postfix(loss=f"{event['loss']:.4f}", tok_s=f"{event['tokens_per_s']:.0f}")

        if data.val_rows and (st["step"] % cfg.eval_every == 0 or st["step"] == total):
            ev = run_eval(data.val_rows, data.val_examples)
            out = {"event": "eval", "step": st["step"], "val_loss": ev["loss"], "by_task": ev["by_task"],
                   "by_lang": ev["by_lang"]}
            if data.probe_rows:
                probe = run_eval(data.probe_rows, data.probe_examples)["loss"]
                out.update(probe_loss=probe, forgetting_delta=_delta(probe, st["probe_before"]))
            log.write(out)
            # Early stopping counts evals that fail to beat the best by min_delta; the best
            # checkpoint simply follows the lowest validation loss seen.
            improved = st["best"] is None or ev["loss"] < st["best"] - cfg.early_stopping_min_delta
            st["bad_evals"] = 0 if improved else st["bad_evals"] + 1
            if st["best"] is None or ev["loss"] < st["best"]:
                st["best"], st["best_step"] = ev["loss"], st["step"]
                if rank == 0:
                    checkpoint.save(best_dir, model, None, None, {"step": st["step"], "val_loss": ev["loss"]})
            if cfg.early_stopping_patience and st["bad_evals"] >= cfg.early_stopping_patience:
                stopped_early = True
        done = stopped_early or st["step"] == total or st["step"] == stop_at
        if rank == 0 and (st["step"] % cfg.save_every == 0 or done):
            checkpoint.save(ckpt_dir, model, optimizer, scheduler, {**st, "fingerprint": fingerprint})
        if done:
            break
    bar.close()
    return {"steps": st["step"], "total_steps": total, "stopped_early": stopped_early,
            "best_val_loss": st["best"], "best_step": st["best_step"], "probe_before": st["probe_before"],
            "finished": st["step"] == total or stopped_early}


def _delta(now, before):
    return None if now is None or before is None else round(now - before, 6)

