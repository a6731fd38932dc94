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

from array import array
from dataclasses import dataclass, field

from pipeline.train.data import IGNORE, Example


def _ints() -> array:
    return array("i")


@dataclass
class Row:
    """One training sequence, stored compactly.

    Token ids live in ``array('i')`` buffers (4 bytes a token) rather than Python lists
    (about 36 bytes a token once ids exceed 256), so a large tokenised data set costs
    little memory once packed, and :func:`collate` can turn them into tensors without
    going through Python ints.

    Attributes:
        input_ids: Concatenated token ids.
        targets: Next-token targets (shifted per record).
        spans: ``(example_index, start, end)`` of each record in the row.
    """

    input_ids: array = field(default_factory=_ints)
    targets: array = field(default_factory=_ints)
    spans: list[tuple[int, int, int]] = field(default_factory=list)

    def add(self, idx: int, ex: Example) -> None:
        start = len(self.input_ids)
        self.input_ids.extend(ex.input_ids)
        self.targets.extend(ex.targets)
        self.spans.append((idx, start, len(self.input_ids)))

    @property
    def position_ids(self) -> list[int]:
        """Positions, restarting at 0 for each record (derived from ``spans``, not stored)."""
        return [p for _, s, e in self.spans for p in range(e - s)]


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
    n = len(rows)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    tgt = torch.full((n, width), IGNORE, dtype=torch.long)
    pos = torch.zeros((n, width), dtype=torch.long)
    att = torch.zeros((n, width), dtype=torch.long)
    for b, r in enumerate(rows):
        k = len(r.input_ids)
        if k:  # frombuffer refuses empty buffers
            ids[b, :k] = torch.frombuffer(r.input_ids, dtype=torch.int32)
            tgt[b, :k] = torch.frombuffer(r.targets, dtype=torch.int32)
        for _, s, e in r.spans:
            pos[b, s:e] = torch.arange(e - s)
        pos[b, k:] = torch.arange(width - k)
        att[b, :k] = 1
    batch = {"input_ids": ids, "targets": tgt}
    if packed:
        batch["position_ids"] = pos
    else:
        batch["attention_mask"] = att
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
