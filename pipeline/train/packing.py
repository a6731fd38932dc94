"""Packing several records into one row, and batching rows into tensors.

A packed row concatenates records and restarts ``position_ids`` at 0 for each one. We
pass no 2-D attention mask, so ``transformers`` derives a block-diagonal causal mask
from the position resets (``masking_utils.find_packed_sequence_indices``; flash/varlen
kernels use the same signal): no token attends across a record boundary. Targets are
shifted inside each record before packing, so no record predicts its neighbour either.

Methods that prepend virtual tokens (prompt/prefix tuning) cannot pack; they fall back
to one record per row with rows grouped by length to keep padding low.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.train.data import IGNORE, Example


@dataclass
class Row:
    """One training sequence.

    Attributes:
        input_ids: Concatenated token ids.
        targets: Next-token targets (shifted per record).
        position_ids: Positions, restarting at 0 for each record.
        spans: ``(example_index, start, end)`` of each record in the row.
    """

    input_ids: list[int] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    position_ids: list[int] = field(default_factory=list)
    spans: list[tuple[int, int, int]] = field(default_factory=list)

    def add(self, idx: int, ex: Example) -> None:
        start = len(self.input_ids)
        self.input_ids += ex.input_ids
        self.targets += ex.targets
        self.position_ids += list(range(len(ex.input_ids)))
        self.spans.append((idx, start, len(self.input_ids)))


def pack(examples: list[Example], max_len: int, enabled: bool = True, window: int = 64) -> list[Row]:
    """Build rows: best-fit-decreasing packing, or one record per row.

    Args:
        examples: Tokenised records (already within budget, unless the policy kept long ones).
        max_len: Row capacity in tokens. A record longer than this gets a row of its own.
        enabled: False puts one record in each row (sorted by length, for grouping).
        window: How many of the most recent open rows best-fit searches; bounds the cost
            on large sets while staying deterministic.

    Returns:
        Rows in a deterministic order.
    """
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i].input_ids), i))
    rows: list[Row] = []
    if not enabled:
        for i in order:
            r = Row()
            r.add(i, examples[i])
            rows.append(r)
        return rows
    for i in order:
        n = len(examples[i].input_ids)
        best, best_free = None, max_len + 1
        for r in rows[-window:]:
            free = max_len - len(r.input_ids)
            if n <= free < best_free:
                best, best_free = r, free
        if best is None:
            best = Row()
            rows.append(best)
        best.add(i, examples[i])
    return rows


def collate(rows: list[Row], pad_id: int, packed: bool):
    """Pad rows to the longest one and return the model inputs as tensors.

    Padding is a segment of its own (positions restart at 0, targets ignored) so it can
    never be attended to from a real record. Without packing a 2-D ``attention_mask`` is
    returned instead, which prompt/prefix tuning need.
    """
    import torch

    width = max(len(r.input_ids) for r in rows)
    ids, tgt, pos, att = [], [], [], []
    for r in rows:
        pad = width - len(r.input_ids)
        ids.append(r.input_ids + [pad_id] * pad)
        tgt.append(r.targets + [IGNORE] * pad)
        pos.append(r.position_ids + list(range(pad)))
        att.append([1] * len(r.input_ids) + [0] * pad)
    batch = {"input_ids": torch.tensor(ids), "targets": torch.tensor(tgt)}
    if packed:
        batch["position_ids"] = torch.tensor(pos)
    else:
        batch["attention_mask"] = torch.tensor(att)
    return batch


def batch_plan(rows: list[Row], micro_batch: int, seed: int, epoch: int, shuffle: bool = True) -> list[list[int]]:
    """Row indices of each micro-batch of one epoch; a pure function of (seed, epoch).

    Neighbouring rows (similar length when unpacked) form a micro-batch, and the order
    of micro-batches is shuffled, so resume can replay an epoch exactly from its index.
    """
    import torch

    batches = [list(range(i, min(i + micro_batch, len(rows)))) for i in range(0, len(rows), micro_batch)]
    if not shuffle:
        return batches
    g = torch.Generator().manual_seed(seed * 1000 + epoch)
    return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]


def padding_efficiency(rows: list[Row], plan: list[list[int]]) -> float:
    """Real tokens / tokens computed (rows padded to the longest in their micro-batch)."""
    real = computed = 0
    for b in plan:
        lens = [len(rows[i].input_ids) for i in b]
        real += sum(lens)
        computed += max(lens) * len(lens)
    return real / computed if computed else 1.0
