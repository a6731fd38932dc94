"""Distributions of the curated set, computed column-wise with pyarrow (cheap at 1M rows).

Lengths are counted in characters for every record, and in whitespace words only for
records in space-delimited languages: a Chinese sentence has no spaces, so its "word"
count would be meaningless. Token lengths need a local tokenizer (``rules/report.yaml``)
and are measured on an evenly spaced sample.
"""
from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.report.words import word_counts

LENGTH_BINS = [0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10**12]
TAGS = ("lang", "task", "domain", "complexity", "response_type", "origin")
NO_SPACE_LANGS = ("zh", "ja", "ko", "th")
TOKEN_SAMPLE = 20_000


def counts(col) -> dict[str, int]:
    """value -> count, sorted by value; nulls and "" are shown as "(none)"."""
    vc = pc.value_counts(pc.fill_null(col, "")).to_pylist()
    return dict(sorted(((v["values"] or "(none)"), v["counts"]) for v in vc))


def histogram(values) -> dict[str, int]:
    """Counts per length bin (labels like "20-49", "5000+"), all bins present."""
    return labelled(bin_counts(values))


def bin_counts(values) -> np.ndarray:
    """Counts per length bin; the counts of parts add up to those of the whole."""
    hist, _ = np.histogram(np.asarray(values, dtype=np.int64), bins=LENGTH_BINS)
    return hist


def labelled(counts: np.ndarray) -> dict[str, int]:
    """Bin counts as ``{label: count}`` (labels like "20-49", "5000+")."""
    labels = [f"{a}-{b - 1}" if b < 10**12 else f"{a}+" for a, b in pairwise(LENGTH_BINS)]
    return dict(zip(labels, (int(h) for h in counts)))


def _median(arr) -> float:
    return float(np.median(arr)) if len(arr) else 0.0


def value_counts(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, their counts): what a median needs, in far less memory than the values."""
    return np.unique(np.asarray(arr, dtype=np.int64), return_counts=True)


def counted_median(parts: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """``np.median`` of the values the ``(values, counts)`` parts stand for (0.0 when none)."""
    if not parts:
        return 0.0
    values, inverse = np.unique(np.concatenate([v for v, _ in parts]), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate([c for _, c in parts])).astype(np.int64)
    n = int(counts.sum())
    if n == 0:
        return 0.0
    cum = np.cumsum(counts)
    lo, hi = (values[np.searchsorted(cum, k, side="right")] for k in ((n - 1) // 2, n // 2))
    return float(np.mean([lo, hi]))


def measure(table: pa.Table) -> dict:
    """One table's share of the distributions: tag counts, per-record lengths, turns.

    Parts of several tables (shards) are combined by :meth:`Distributions.merge`, so a
    shard can be measured in another process. Word counts come from
    :func:`pipeline.report.words.word_counts`, the same numbers as
    ``list_value_length(utf8_split_whitespace(...))``.
    """
    if table.num_rows == 0:
        return {"records": 0}
    part: dict = {"records": table.num_rows, "tags": {}, "lengths": {}, "bins": {}}
    for tag in TAGS:
        if tag in table.column_names:
            part["tags"][tag] = counts(table.column(tag))
    spaced = None
    if "lang" in table.column_names:
        spaced = pc.invert(pc.is_in(pc.fill_null(table.column("lang"), ""),
                                    value_set=pa.array(NO_SPACE_LANGS))).to_numpy(zero_copy_only=False)
    for field in ("instruction", "output"):
        col = table.column(field)
        words = word_counts(col)
        part["lengths"][f"{field}_chars"] = pc.utf8_length(col).to_numpy(zero_copy_only=False).astype(np.int32)
        part["lengths"][f"{field}_words"] = words if spaced is None else words[spaced]
    for name, arr in part["lengths"].items():
        part["bins"][name] = bin_counts(arr)
        part["lengths"][name] = value_counts(arr)
    turns = pc.add(pc.list_value_length(table.column("history")), 1)
    part["turns"] = counts(pc.cast(turns, pa.string()))
    return part


class Distributions:
    """Accumulates tag counts, length histograms, medians and turns shard by shard.

    Lengths are kept as (distinct value, count) pairs for the medians, so memory grows with
    the number of distinct lengths, not records; histograms are summed from the parts' bins.
    """

    def __init__(self, tokenizer: str | None = None, total: int = 0):
        self.records = 0
        self.tags: dict[str, dict[str, int]] = {}
        self.lengths: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.bins: dict[str, np.ndarray] = {}
        self.turns: dict[str, int] = {}
        self.tokenizer, self.total = tokenizer, total
        self.token_lengths: dict[str, list[int]] = {"instruction": [], "output": []}
        self._tok = None

    def add(self, table: pa.Table) -> None:
        """Measure ``table`` and merge it (token lengths too, when a tokenizer is set)."""
        self.merge(measure(table))
        self.add_tokens(table)

    def merge(self, part: dict) -> None:
        """Add one :func:`measure` part (parts must come in shard order)."""
        if not part["records"]:
            return
        self.records += part["records"]
        for tag, c in part["tags"].items():
            bucket = self.tags.setdefault(tag, {})
            for k, v in c.items():
                bucket[k] = bucket.get(k, 0) + v
        for name, arr in part["lengths"].items():
            self.lengths.setdefault(name, []).append(arr)
            self.bins[name] = self.bins[name] + part["bins"][name] if name in self.bins else part["bins"][name]
        for k, v in part["turns"].items():
            self.turns[k] = self.turns.get(k, 0) + v

    def add_tokens(self, table: pa.Table) -> None:
        """Token lengths of an evenly spaced sample of ``table`` (nothing without a tokenizer)."""
        if not self.tokenizer or table.num_rows == 0:
            return
        if self._tok is None:
            self._tok = load_tokenizer(self.tokenizer) or False
        if not self._tok:
            return
        # An evenly spaced sample of TOKEN_SAMPLE rows over the whole set, taken per shard.
        share = min(1.0, TOKEN_SAMPLE / max(1, self.total or table.num_rows))
        k = max(1, round(table.num_rows * share))
        idx = np.linspace(0, table.num_rows - 1, num=min(table.num_rows, k), dtype=np.int64)
        for field in ("instruction", "output"):
            texts = [t or "" for t in table.column(field).take(pa.array(idx)).to_pylist()]
            self.token_lengths[field] += [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]

    def result(self) -> dict:
        if self.records == 0:
            return {"records": 0}
        dist: dict = {"records": self.records}
        for tag, c in self.tags.items():
            dist[tag] = dict(sorted(c.items()))
        for name, parts in self.lengths.items():
            dist[name] = labelled(self.bins[name])
            dist[f"{name}_median"] = counted_median(parts)
        dist["turns"] = {k: v for k, v in sorted(self.turns.items(), key=lambda kv: int(kv[0]))}
        if self.tokenizer:
            if not self._tok:
                dist["tokens"] = {"tokenizer": self.tokenizer, "available": False}
            else:
                dist["tokens"] = {"tokenizer": self.tokenizer, "available": True,
                                  "sampled": len(self.token_lengths["output"])}
                for field, lengths in self.token_lengths.items():
                    dist[f"{field}_tokens"] = histogram(lengths)
                    dist[f"{field}_tokens_median"] = _median(lengths)
        return dist


def distributions(table: pa.Table | None, tokenizer: str | None = None) -> dict:
    """Distributions of one table (see :class:`Distributions` for the shard-by-shard form)."""
    acc = Distributions(tokenizer, table.num_rows if table is not None else 0)
    if table is not None:
        acc.add(table)
    return acc.result()


def load_tokenizer(spec: str):
    """A ``tokenizers.Tokenizer`` from a local tokenizer.json (or a folder holding one), else None."""
    path = Path(spec)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))
