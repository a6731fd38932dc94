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


def distributions(table: pa.Table | None, tokenizer: str | None = None) -> dict:
    """Tag counts, length histograms and medians, turns per record (and tokens when configured)."""
    if table is None or table.num_rows == 0:
        return {"records": 0}
    dist: dict = {"records": table.num_rows}
    for tag in TAGS:
        if tag in table.column_names:
            dist[tag] = counts(table.column(tag))
    spaced = None
    if "lang" in table.column_names:
        spaced = pc.invert(pc.is_in(pc.fill_null(table.column("lang"), ""),
                                    value_set=pa.array(NO_SPACE_LANGS)))
    for field in ("instruction", "output"):
        col = table.column(field)
        chars = pc.utf8_length(col).to_numpy(zero_copy_only=False)
        words_col = col if spaced is None else pc.filter(col, spaced)
        words = pc.list_value_length(pc.utf8_split_whitespace(words_col)).to_numpy(zero_copy_only=False)
        dist[f"{field}_chars"] = histogram(chars)
        dist[f"{field}_words"] = histogram(words)
        dist[f"{field}_chars_median"] = _median(chars)
        dist[f"{field}_words_median"] = _median(words)
    turns = pc.add(pc.list_value_length(table.column("history")), 1)
    dist["turns"] = {str(k): v for k, v in sorted(counts(pc.cast(turns, pa.string())).items(),
                                                   key=lambda kv: int(kv[0]))}
    if tokenizer:
        dist.update(token_lengths(table, tokenizer))
    return dist


def load_tokenizer(spec: str):
    """A ``tokenizers.Tokenizer`` from a local tokenizer.json (or a folder holding one), else None."""
    path = Path(spec)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def token_lengths(table: pa.Table, spec: str) -> dict:
    """Token-length histograms of instruction and output on an evenly spaced sample."""
    tok = load_tokenizer(spec)
    if tok is None:
        return {"tokens": {"tokenizer": spec, "available": False}}
    n = table.num_rows
    idx = np.linspace(0, n - 1, num=min(n, TOKEN_SAMPLE), dtype=np.int64)
    out: dict = {"tokens": {"tokenizer": spec, "available": True, "sampled": len(idx)}}
    for field in ("instruction", "output"):
        texts = [t or "" for t in table.column(field).take(pa.array(idx)).to_pylist()]
        lengths = [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]
        out[f"{field}_tokens"] = histogram(lengths)
        out[f"{field}_tokens_median"] = _median(lengths)
    return out
