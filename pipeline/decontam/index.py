"""A compact inverted index of hashed n-grams, scored by coverage of the indexed text.

Each indexed text is a *view* (an eval item may have several views, e.g. a CMMLU
question with and without its options). A view's n-grams are stored as postings
``(gram hash -> view id)`` in two sorted numpy arrays (8 + 4 bytes per posting), so
the index pickles small and loads fast in worker processes.

A query text matches a view with

    coverage = |grams(view) ∩ grams(query)| / |grams(view)|

the fraction of the view that appears in the query. Coverage, unlike Jaccard, is
not diluted when a short eval item sits inside a long instruction, which is what
catches a 10-word prompt or a 20-character Chinese question.

Grams shared by more than ``max_postings`` views are dropped (they are boilerplate
such as "how many ... does"), and removed from each view's denominator too, so they
neither create matches nor prevent them. A view left with fewer than ``min_grams``
grams is not matchable.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.decontam.text import UnitHasher, gram_hashes, is_cjk_units, units

_LABELS = frozenset("abcdefgh")


def strip_option_labels(us: Sequence[str]) -> list[str]:
    """Drop single Latin letters a-h from a CJK unit stream.

    In Chinese multiple-choice text they are option labels ("A. 胸 B. 腹"); an eval
    item's options are indexed without labels, so a prompt that adds them (in any
    style) still matches. Only applied to CJK-mode matching, where a lone Latin
    letter is never a word of the text.
    """
    return [u for u in us if u not in _LABELS]


def has_cjk_unit(us: Sequence[str]) -> bool:
    return any(len(u) == 1 and not u.isascii() for u in us)


@dataclass(frozen=True)
class Match:
    """The best view a query text matched: its view id, owner key and coverage."""

    view: int
    owner: int
    coverage: float


class NgramIndex:
    """Hashed word/char n-gram index; build with :meth:`add` then :meth:`freeze`.

    Args:
        n_word: n for texts whose units are mostly words.
        n_char: n for texts whose units are mostly CJK characters.
        min_words: Views with fewer word units are not indexed (too generic).
        min_chars: Views with fewer CJK-character units are not indexed.
        max_postings: Grams in more views than this are dropped as boilerplate.
        min_grams: Views with fewer surviving grams are not matchable.
        prefix_re: Optional leading-prefix pattern stripped before tokenising.
    """

    def __init__(self, n_word: int = 5, n_char: int = 5, min_words: int = 8, min_chars: int = 15,
                 max_postings: int = 2000, min_grams: int = 3, prefix_re: re.Pattern | None = None):
        self.n_word, self.n_char = int(n_word), int(n_char)
        self.min_words, self.min_chars = int(min_words), int(min_chars)
        self.max_postings, self.min_grams = int(max_postings), int(min_grams)
        self.prefix_re = prefix_re
        self.hasher = UnitHasher()
        self.keys = np.empty(0, dtype=np.uint64)   # sorted gram hashes
        self.vals = np.empty(0, dtype=np.int32)    # view id of each posting
        self.view_owner = np.empty(0, dtype=np.int32)
        self.view_len = np.empty(0, dtype=np.int32)
        self.modes: set[str] = set()               # "word" and/or "char": views of each kind exist
        self._pending: list[tuple[int, np.ndarray]] = []

    # -- building ---------------------------------------------------------------
    def add(self, owner: int, text: str) -> bool:
        """Add one view of ``owner``; returns False when it is too short to index."""
        us = units(text, self.prefix_re)
        cjk = is_cjk_units(us)
        if cjk:
            us = strip_option_labels(us)
        if len(us) < (self.min_chars if cjk else self.min_words):
            return False
        n = self.n_char if cjk else self.n_word
        grams = gram_hashes(self.hasher.hashes(us), n)
        if len(grams) == 0:
            return False
        self.modes.add("char" if cjk else "word")
        self._pending.append((int(owner), grams))
        return True

    def add_grams(self, owners: Sequence[int], grams: Sequence[np.ndarray]) -> None:
        """Add precomputed unique gram-hash arrays as views (empty arrays are skipped).

        The caller is responsible for using one n per script consistently with its
        queries (see :func:`shared_gram_counts`).
        """
        for o, g in zip(owners, grams):
            if len(g):
                self._pending.append((int(o), g))

    def freeze(self) -> None:
        """Turn the added views into the sorted posting arrays."""
        pend, self._pending = self._pending, []
        if not pend:
            return
        owners = np.array([o for o, _ in pend], dtype=np.int32)
        lens = np.array([len(g) for _, g in pend], dtype=np.int64)
        keys = np.concatenate([g for _, g in pend])
        vals = np.repeat(np.arange(len(pend), dtype=np.int32), lens)
        order = np.argsort(keys, kind="stable")
        keys, vals = keys[order], vals[order]
        _, count = np.unique(keys, return_counts=True)
        hot = count > self.max_postings
        if hot.any():
            drop = np.repeat(hot, count)
            keys, vals = keys[~drop], vals[~drop]
        view_len = np.bincount(vals, minlength=len(pend)).astype(np.int32)
        self.keys, self.vals = keys, vals
        self.view_owner, self.view_len = owners, view_len

    @property
    def n_views(self) -> int:
        return len(self.view_len)

    def nbytes(self) -> int:
        """Bytes held by the posting and view arrays."""
        return sum(a.nbytes for a in (self.keys, self.vals, self.view_owner, self.view_len))

    # -- querying ---------------------------------------------------------------
    def query_grams(self, text: str) -> np.ndarray:
        """Unique gram hashes of a query text for each kind of view in the index."""
        us = units(text, self.prefix_re)
        if not us or not self.modes:
            return np.empty(0, dtype=np.uint64)
        parts = []
        if "word" in self.modes:
            parts.append(gram_hashes(self.hasher.hashes(us), self.n_word))
        if "char" in self.modes and has_cjk_unit(us):
            parts.append(gram_hashes(self.hasher.hashes(strip_option_labels(us)), self.n_char))
        if not parts:
            return np.empty(0, dtype=np.uint64)
        return parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))

    def shared_counts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (text, view) pair that shares grams, with the number of shared grams.

        Returns:
            Three equal-length int64 arrays ``(text_idx, view_id, shared)``, sorted by
            text then view. Queries are answered for the whole list at once.
        """
        if not len(self.keys) or not len(texts):
            e = np.empty(0, dtype=np.int64)
            return e, e, e
        return self.shared_gram_counts([self.query_grams(t) for t in texts])

    def shared_gram_counts(self, grams: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`shared_counts` for precomputed unique gram-hash arrays, one per query."""
        empty = np.empty(0, dtype=np.int64)
        if not len(self.keys) or not len(grams):
            return empty, empty, empty
        q = np.concatenate(grams)
        if not len(q):
            return empty, empty, empty
        rec = np.repeat(np.arange(len(grams), dtype=np.int64), [len(g) for g in grams])
        lo = np.searchsorted(self.keys, q, side="left")
        cnt = np.searchsorted(self.keys, q, side="right") - lo
        hit = cnt > 0
        if not hit.any():
            return empty, empty, empty
        lo, cnt, rec = lo[hit], cnt[hit], rec[hit]
        # Expand every (query gram, posting range) into one row per posting.
        offs = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
        pair = np.repeat(rec, cnt) * self.n_views + self.vals[offs].astype(np.int64)
        upair, shared = np.unique(pair, return_counts=True)
        return upair // self.n_views, upair % self.n_views, shared.astype(np.int64)

    def best_matches(self, texts: Sequence[str]) -> list[Match | None]:
        """For each text, the view with the highest coverage (None when nothing is shared).

        Ties go to the lowest view id, so results are deterministic.
        """
        out: list[Match | None] = [None] * len(texts)
        r, v, shared = self.shared_counts(texts)
        if not len(r):
            return out
        vlen = self.view_len[v]
        ok = vlen >= self.min_grams
        r, v, cov = r[ok], v[ok], shared[ok] / np.maximum(vlen[ok], 1)
        # Best per text: sort by text, then coverage descending, then view id.
        order = np.lexsort((v, -cov, r))
        r, v, cov = r[order], v[order], cov[order]
        first = np.ones(len(r), dtype=bool)
        first[1:] = r[1:] != r[:-1]
        for ri, vi, ci in zip(r[first], v[first], cov[first]):
            out[int(ri)] = Match(int(vi), int(self.view_owner[vi]), float(ci))
        return out
