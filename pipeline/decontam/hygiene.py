"""Split hygiene: near-duplicate prompts that ended up on both sides of a split.

The `split` stage calls :func:`cross_split_groups` after assigning sides. Every
group it returns holds ids from more than one side whose prompts are near
duplicates (directly or through a chain of near duplicates); the caller moves each
whole group to one side (see :func:`sides_after_move` for a ready-made policy).

Similarity is the Jaccard similarity of the prompts' n-gram sets (word n-grams for
space-delimited text, character n-grams for CJK, same units as decontamination).
The smaller side (usually validation) is indexed with
:class:`pipeline.decontam.index.NgramIndex` and the other side is queried against
it, so only pairs that share a gram are ever compared; there are no false
negatives from hashing or LSH banding.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence

import numpy as np

from pipeline.decontam.index import NgramIndex
from pipeline.decontam.text import UnitHasher, gram_hashes, is_cjk_units, units

Row = tuple[Hashable, str, str]


def prompt_grams(text: str, n_word: int = 3, n_char: int = 4, hasher: UnitHasher | None = None) -> np.ndarray:
    """The n-gram hashes :func:`cross_split_groups` compares for one prompt.

    Pure function of the text (the unit hashes are xxh3), so it can be computed in
    any process and handed over as ``grams``.
    """
    us = units(text)
    n = n_char if is_cjk_units(us) else n_word
    # A prompt shorter than n is one gram: the whole prompt.
    return gram_hashes((hasher or UnitHasher()).hashes(us), min(n, len(us))) if us else np.empty(0, np.uint64)


def cross_split_groups(rows: Iterable[Row], threshold: float = 0.8, n_word: int = 3,
                       n_char: int = 4, batch_rows: int = 4096,
                       grams: Sequence[np.ndarray] | None = None) -> list[list[Hashable]]:
    """Groups of ids whose prompts are near duplicates across different splits.

    Args:
        rows: ``(id, prompt text, split name)`` triples, e.g. ``(rid, prompt_text(rec),
            "train")``. Any number of split names is allowed.
        threshold: Minimum Jaccard similarity of the two prompts' n-gram sets
            (0 < threshold <= 1); 1.0 means same n-gram set.
        n_word: n for word n-grams (space-delimited prompts).
        n_char: n for character n-grams (prompts that are mostly CJK).
        batch_rows: Query batch size (bounds peak memory).
        grams: Each row's :func:`prompt_grams` (same ``n_word``/``n_char``), when the
            caller computed them already (e.g. in parallel); the texts are then unused.

    Returns:
        Connected components (by near-duplicate pairs between *different* splits)
        that contain at least two split names. Ids within a group keep input order;
        groups are ordered by their first id's input position. Pairs within one
        split are not reported: they do not leak across the split.
    """
    rows = list(rows)
    if not rows:
        return []
    splits = sorted({s for _, _, s in rows}, key=lambda s: sum(1 for r in rows if r[2] == s))
    if len(splits) < 2:
        return []
    if grams is None:
        hasher = UnitHasher()
        grams = [prompt_grams(t, n_word, n_char, hasher) for _, t, _ in rows]
    elif len(grams) != len(rows):
        raise ValueError(f"{len(grams)} gram arrays for {len(rows)} rows")
    size = np.array([len(g) for g in grams], dtype=np.int64)
    # Index the smallest split; query everything else against it.
    small = [i for i, r in enumerate(rows) if r[2] == splits[0]]
    index = NgramIndex(max_postings=len(small) + 1, min_grams=1)
    index.add_grams(small, [grams[i] for i in small])
    index.freeze()
    others = [i for i, r in enumerate(rows) if r[2] != splits[0]]
    parent = list(range(len(rows)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for start in range(0, len(others), batch_rows):
        chunk = others[start:start + batch_rows]
        q, v, shared = index.shared_gram_counts([grams[i] for i in chunk])
        a = np.array(chunk, dtype=np.int64)[q]
        b = index.view_owner[v].astype(np.int64)
        jac = shared / np.maximum(size[a] + size[b] - shared, 1)
        for x, y in zip(a[jac >= threshold], b[jac >= threshold]):
            parent[find(int(x))] = find(int(y))
    comps: dict[int, list[int]] = defaultdict(list)
    for i in range(len(rows)):
        comps[find(i)].append(i)
    groups = [m for m in comps.values() if len(m) > 1 and len({rows[i][2] for i in m}) > 1]
    groups.sort(key=lambda m: m[0])
    return [[rows[i][0] for i in m] for m in groups]


def sides_after_move(groups: Sequence[Sequence[Hashable]], side_of: dict, prefer: str = "train") -> dict:
    """Policy helper: the new side of every id that must move.

    Each group goes to ``prefer`` (so the held-out side stays unseen), which is what
    the `split` stage does. Returns ``{id: new_side}`` for ids not already there.
    """
    return {rid: prefer for g in groups for rid in g if side_of.get(rid) != prefer}
