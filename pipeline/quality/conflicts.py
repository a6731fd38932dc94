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
from itertools import chain, islice, pairwise
from typing import Any, Iterable, Mapping

import numpy as np
import xxhash

from pipeline.text import script

_NORM_RE = re.compile(r"[\W_]+")
_ASCII_NON_ALNUM = bytes(c for c in range(128) if not chr(c).isalnum())
_xxh64 = xxhash.xxh64_intdigest
# Feature lists per numpy pass in ``simhashes``: bounds the bit matrix (64 bytes a feature).
_SIMHASH_CHUNK = 500


def norm(text: str) -> bytes:
    """Case-folded text without punctuation and whitespace, UTF-8 encoded (what gets hashed).

    Text made only of punctuation or emoji keeps its case-folded form, so "？？？" and
    "😀😀" do not collapse into one empty key.
    """
    text = text or ""
    if text.isascii():
        return _ascii_norm(text.lower())
    folded = text.casefold()
    return (_NORM_RE.sub("", folded) or folded.strip()).encode()


def _ascii_norm(low: str) -> bytes:
    # ``norm`` of lower-cased ASCII text: case folding is lower-casing there and
    # ``[\W_]`` is every byte but letters and digits, so bytes.translate replaces the regex.
    return low.encode().translate(None, _ASCII_NON_ALNUM) or low.strip().encode()


def prompt_key(row: Mapping[str, Any]) -> int:
    """64-bit hash of the normalised conversation up to (not including) the answer."""
    # One digest of the joined parts equals the streamed digest of the same bytes.
    system = row.get("system", "")
    parts = [norm(system) if system else b""]
    for turn in row.get("history") or []:
        parts.append(b"\x1e" + norm(turn.get("instruction", "")))
        parts.append(b"\x1f" + norm(turn.get("output", "")))
    parts.append(b"\x1d" + norm(row.get("instruction", "")))
    parts.append(b"\x1d" + norm(row.get("input", "")))
    return _xxh64(b"".join(parts))


def _lower_tokens(text: str) -> list[str]:
    """Lower-cased script-aware tokens (ASCII text is lower-cased first: the same tokens)."""
    if text.isascii():
        return script.tokens(text.lower())
    return list(map(str.lower, script.tokens(text)))


def _features(low_toks: list[str]) -> list[str]:
    """SimHash features of lower-cased tokens: bigrams "a b", or the lone token."""
    return list(map(" ".join, pairwise(low_toks))) or low_toks


def simhash(text: str) -> int:
    """64-bit SimHash over token bigrams (CJK characters or words) of a sample of ``text``."""
    return simhashes([_features(_lower_tokens(script.sample(text, 600)))])[0]


def simhashes(feature_lists: list[list[str]]) -> list[int]:
    """The 64-bit SimHash of each feature list (0 for an empty one), a few hundred lists per numpy pass.

    A bit of a SimHash is set where more than half of its features' 64-bit hashes set it.
    """
    out: list[int] = []
    for i in range(0, len(feature_lists), _SIMHASH_CHUNK):
        out += _simhash_chunk(feature_lists[i:i + _SIMHASH_CHUNK])
    return out


def _simhash_chunk(feature_lists: list[list[str]]) -> list[int]:
    sizes = np.fromiter(map(len, feature_lists), np.int64, len(feature_lists))
    out = [0] * len(feature_lists)
    rows = np.flatnonzero(sizes)
    if not len(rows):
        return out
    hashes = np.fromiter(map(_xxh64, map(str.encode, chain.from_iterable(feature_lists))), np.uint64, int(sizes.sum()))
    # One row of 64 bits per feature, summed per feature list (in the narrowest type that
    # holds the count: it sets reduceat's speed).
    bits = np.unpackbits(hashes.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    dtype = np.uint16 if sizes.max() < 2 ** 16 else np.int64
    counts = np.add.reduceat(bits, (np.cumsum(sizes) - sizes)[rows], axis=0, dtype=dtype)
    majority = counts > sizes[rows, None] // 2  # 2c > n, for integers
    for i, h in zip(rows.tolist(), np.packbits(majority, axis=1, bitorder="little").view(np.uint64).ravel().tolist()):
        out[i] = h
    return out


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

    def fingerprints(self, outputs: list[str]) -> list[tuple[int, int, bool]]:
        """``(hash of the normalised output, SimHash, is short)`` of each output.

        A short output conflicts on any difference, so its SimHash (0) is never needed.
        """
        keys, shorts, feats = [], [], []
        for out in outputs:
            out = out or ""
            if out.isascii():
                low = out.lower()
                keys.append(_xxh64(_ascii_norm(low)))
                toks = script.tokens(low)  # lower-cased already
            else:
                keys.append(_xxh64(norm(out)))
                toks = script.tokens(out)
            short = len(toks) <= self.short_tokens
            shorts.append(short)
            if short:
                feats.append([])
                continue
            sample = script.sample(out, 600)
            if sample is not out:
                toks = _lower_tokens(sample)
            elif not out.isascii():
                toks = list(map(str.lower, toks))
            feats.append(_features(toks))
        return list(zip(keys, simhashes(feats), shorts))

    def _differs(self, a: tuple[int, int, bool], b: tuple[int, int, bool]) -> bool:
        if a[0] == b[0]:
            return False
        return a[2] or b[2] or bin(a[1] ^ b[1]).count("1") > self.min_hamming

    def features(self, rows: list[Mapping[str, Any]]) -> list[tuple[int, tuple[int, int, bool]]]:
        """What ``fit`` needs of each row: its prompt key and output fingerprint (row-local)."""
        fps = self.fingerprints([row.get("output", "") for row in rows])
        return [(prompt_key(row), fp) for row, fp in zip(rows, fps)]

    def fit(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """One pass over every live row in input order (fingerprinted a thousand at a time)."""
        def items() -> Iterable[tuple[str, int, tuple[int, int, bool]]]:
            it = iter(rows)
            while chunk := list(islice(it, 1000)):
                yield from ((row.get("id", ""), *f) for row, f in zip(chunk, self.features(chunk)))

        self.fit_features(items())

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
