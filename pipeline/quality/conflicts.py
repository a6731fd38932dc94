"""Conflicting duplicates: the same normalised prompt with materially different outputs.

Fitting keeps hashes, never texts: per prompt key (64-bit hash of the normalised
system + history + instruction + input) the first output's 64-bit SimHash and a
64-bit prefix of the first record's id; a second entry list appears only for keys
that turn out to conflict. Two outputs conflict when their normalised forms differ
and either one is short (short answers differ in substance: "4" vs "5") or their
SimHashes are more than ``min_hamming`` bits apart.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import numpy as np
import xxhash

from pipeline.text import script

_NORM_RE = re.compile(r"[\W_]+")
_xxh64 = xxhash.xxh64_intdigest


def norm(text: str) -> str:
    """Case-folded text without punctuation and whitespace.

    Text made only of punctuation or emoji keeps its case-folded form, so "？？？" and
    "😀😀" do not collapse into one empty key.
    """
    folded = (text or "").casefold()
    return _NORM_RE.sub("", folded) or folded.strip()


def prompt_key(row: Mapping[str, Any]) -> int:
    """64-bit hash of the normalised conversation up to (not including) the answer."""
    # One digest of the joined parts equals the streamed digest of the same bytes.
    system = row.get("system", "")
    parts = [norm(system).encode() if system else b""]
    for turn in row.get("history") or []:
        parts.append(b"\x1e" + norm(turn.get("instruction", "")).encode())
        parts.append(b"\x1f" + norm(turn.get("output", "")).encode())
    parts.append(b"\x1d" + norm(row.get("instruction", "")).encode())
    parts.append(b"\x1d" + norm(row.get("input", "")).encode())
    return _xxh64(b"".join(parts))


def simhash(text: str, toks: list[str] | None = None) -> int:
    """64-bit SimHash over token bigrams (CJK characters or words).

    ``toks``: the script-aware tokens of ``text`` when the caller has them already
    (only used when ``text`` is short enough not to be sampled).
    """
    sample = script.sample(text, 600)
    toks = list(map(str.lower, toks if toks is not None and sample is text else script.tokens(sample)))
    feats = [f"{a} {b}" for a, b in zip(toks, toks[1:])] or toks
    if not feats:
        return 0
    hashes = np.array([_xxh64(f.encode()) for f in feats], dtype=np.uint64)
    # One row of 64 bits per feature; a bit of the SimHash is set where most features set it.
    bits = np.unpackbits(hashes.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    majority = bits.sum(axis=0) * 2 > len(feats)
    return int(np.packbits(majority, bitorder="little").view(np.uint64)[0])


def id_tag(rec_id: str) -> int:
    """64-bit integer tag of a record id (ids are hex content hashes)."""
    try:
        return int(rec_id[:16], 16)
    except ValueError:
        return xxhash.xxh64_intdigest(rec_id.encode())


class ConflictIndex:
    """Fit over all rows, then answer "which conflict cluster is this row in?".

    Args:
        short_tokens: Outputs with at most this many tokens conflict on any normalised difference.
        min_hamming: SimHash distance above which longer outputs count as different.
    """

    def __init__(self, short_tokens: int = 10, min_hamming: int = 12):
        self.short_tokens = short_tokens
        self.min_hamming = min_hamming
        self.clusters: dict[int, tuple[int, int]] = {}  # key -> (first id tag, members)

    def _fingerprint(self, output: str) -> tuple[int, int, bool]:
        n = norm(output)
        toks = script.tokens(output)
        short = len(toks) <= self.short_tokens
        # A short output conflicts on any difference, so its SimHash is never needed.
        return _xxh64(n.encode()), 0 if short else simhash(output, toks), short

    def _differs(self, a: tuple[int, int, bool], b: tuple[int, int, bool]) -> bool:
        if a[0] == b[0]:
            return False
        return a[2] or b[2] or bin(a[1] ^ b[1]).count("1") > self.min_hamming

    def features(self, row: Mapping[str, Any]) -> tuple[int, tuple[int, int, bool]]:
        """What ``fit`` needs of one row: its prompt key and output fingerprint (row-local)."""
        return prompt_key(row), self._fingerprint(row.get("output", ""))

    def fit(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """One pass over every live row in input order."""
        self.fit_features((row.get("id", ""), *self.features(row)) for row in rows)

    def fit_features(self, items: Iterable[tuple[str, int, tuple[int, int, bool]]]) -> None:
        """``fit`` from ``(id, prompt key, fingerprint)`` per live row, in input order."""
        first: dict[int, tuple[int, int, int, bool]] = {}
        members: dict[int, int] = {}
        conflicted: set[int] = set()
        for rid, key, fp in items:
            seen = first.get(key)
            if seen is None:
                first[key] = (id_tag(rid),) + fp
                continue
            members[key] = members.get(key, 1) + 1
            if key not in conflicted and self._differs(seen[1:], fp):
                conflicted.add(key)
        self.clusters = {k: (first[k][0], members[k]) for k in conflicted}

    def lookup(self, row: Mapping[str, Any]) -> tuple[str, bool, int] | None:
        """``(cluster id, is_first_member, cluster size)`` for a conflicting row, else None."""
        if not self.clusters:
            return None
        key = prompt_key(row)
        hit = self.clusters.get(key)
        if hit is None:
            return None
        return f"{key:016x}", id_tag(row.get("id", "")) == hit[0], hit[1]
