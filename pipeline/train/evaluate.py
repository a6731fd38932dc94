"""Per-token losses, and evaluation broken down by the curation tags.

Evaluation runs on packed rows too: attention never crosses a record boundary, so the
loss of each record inside a packed row is exactly its loss alone, and we can attribute
every token's loss back to its record, then aggregate by ``task`` and ``lang``.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import nullcontext

from pipeline.train.data import IGNORE, Example
from pipeline.train.packing import Row, collate


def token_losses(model, batch: dict, autocast_dtype=None):
    """Cross-entropy of every position, 0 where the target is ignored.

    Returns:
        ``(losses, mask)``, both ``[batch, seq]``; ``mask`` is True where supervised.
    """
    import torch
    import torch.nn.functional as F

    device = next(p for p in model.parameters()).device
    inputs = {k: v.to(device) for k, v in batch.items() if k != "targets"}
    targets = batch["targets"].to(device)
    ctx = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else nullcontext()
    with ctx:
        logits = model(**inputs, use_cache=False).logits
    # Prompt tuning prepends virtual tokens to the outputs; the real positions are the last T.
    logits = logits[:, -targets.shape[1]:].float()
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                             ignore_index=IGNORE, reduction="none").view_as(targets)
    return losses, targets != IGNORE


def evaluate(model, rows: list[Row], examples: list[Example], pad_id: int, packed: bool,
             micro_batch: int, autocast_dtype=None) -> dict:
    """Token-weighted loss overall, by ``task`` and by ``lang``, plus each record's loss.

    Returns:
        ``{"loss", "tokens", "by_task", "by_lang", "records": {example_index: (loss_sum, n)}}``.
    """
    import torch

    was_training = model.training
    model.eval()
    per_rec: dict[int, list[float]] = defaultdict(lambda: [0.0, 0])
    # inference_mode, not just no_grad: no autograd bookkeeping and no version counters,
    # and each micro-batch's activations and logits are freed before the next one.
    with torch.inference_mode():
        for i in range(0, len(rows), micro_batch):
            chunk = rows[i:i + micro_batch]
            losses, mask = token_losses(model, collate(chunk, pad_id, packed), autocast_dtype)
            for b, row in enumerate(chunk):
                for idx, s, e in row.spans:
                    per_rec[idx][0] += float(losses[b, s:e].sum())
                    per_rec[idx][1] += int(mask[b, s:e].sum())
    if was_training:
        model.train()
    return summarise(per_rec, examples)


def summarise(per_rec: dict, examples: list[Example]) -> dict:
    """Aggregate ``{example_index: [loss_sum, tokens]}`` overall and by tag."""
    total, n = 0.0, 0
    groups = {"task": defaultdict(lambda: [0.0, 0]), "lang": defaultdict(lambda: [0.0, 0])}
    for idx, (s, k) in per_rec.items():
        total, n = total + s, n + k
        for tag, g in groups.items():
            key = examples[idx].tags.get(tag) or "untagged"
            g[key][0] += s
            g[key][1] += k
    def mean(s, k):
        return round(s / k, 6) if k else None
    return {
        "loss": mean(total, n), "tokens": n,
        "by_task": {k: mean(*v) for k, v in sorted(groups["task"].items())},
        "by_lang": {k: mean(*v) for k, v in sorted(groups["lang"].items())},
        "records": dict(per_rec),
    }
