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
    arr = np.asarray(values, dtype=np.int64)
    hist, _ = np.histogram(arr, bins=LENGTH_BINS)
    labels = [f"{a}-{b - 1}" if b < 10**12 else f"{a}+" for a, b in pairwise(LENGTH_BINS)]
    return dict(zip(labels, (int(h) for h in hist)))


def _median(arr) -> float:
    return float(np.median(arr)) if len(arr) else 0.0


class Distributions:
    """Accumulates tag counts, length histograms, medians and turns shard by shard.

    Only per-record lengths (int32) are kept for the medians, so memory grows by a few
    bytes per record rather than by the text.
    """

    def __init__(self, tokenizer: str | None = None, total: int = 0):
        self.records = 0
        self.tags: dict[str, dict[str, int]] = {}
        self.lengths: dict[str, list[np.ndarray]] = {}
        self.turns: dict[str, int] = {}
        self.tokenizer, self.total = tokenizer, total
        self.token_lengths: dict[str, list[int]] = {"instruction": [], "output": []}
        self._tok = None

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.records += table.num_rows
        for tag in TAGS:
            if tag in table.column_names:
                bucket = self.tags.setdefault(tag, {})
                for k, v in counts(table.column(tag)).items():
                    bucket[k] = bucket.get(k, 0) + v
        spaced = None
        if "lang" in table.column_names:
            spaced = pc.invert(pc.is_in(pc.fill_null(table.column("lang"), ""),
                                        value_set=pa.array(NO_SPACE_LANGS)))
        for field in ("instruction", "output"):
            col = table.column(field)
            chars = pc.utf8_length(col).to_numpy(zero_copy_only=False).astype(np.int32)
            words_col = col if spaced is None else pc.filter(col, spaced)
            words = pc.list_value_length(pc.utf8_split_whitespace(words_col)).to_numpy(zero_copy_only=False)
            self.lengths.setdefault(f"{field}_chars", []).append(chars)
            self.lengths.setdefault(f"{field}_words", []).append(words.astype(np.int32))
        turns = pc.add(pc.list_value_length(table.column("history")), 1)
        for k, v in counts(pc.cast(turns, pa.string())).items():
            self.turns[k] = self.turns.get(k, 0) + v
        if self.tokenizer:
            self._add_tokens(table)

    def _add_tokens(self, table: pa.Table) -> None:
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
            arr = np.concatenate(parts) if parts else np.zeros(0, np.int32)
            dist[name] = histogram(arr)
            dist[f"{name}_median"] = _median(arr)
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
