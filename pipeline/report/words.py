"""Whitespace word counts of a string column, as ``utf8_split_whitespace`` counts them.

The report's word lengths are defined by Arrow:
``list_value_length(utf8_split_whitespace(col))``. That kernel builds every piece as a
new string, which costs more than the rest of the report together at 1M records, so
:func:`word_counts` counts the same pieces from the UTF-8 bytes with numpy.

What the kernel does (a separator is a run of whitespace code points, those of Python's
``str.isspace``): it finds each run and continues after it, but a run that reaches the
end of the string stops one code point short, so its last code point is found as a
second separator. Hence, for a string with ``r`` whitespace runs::

    pieces = 1 + r + (1 if it ends in two or more whitespace code points else 0)

("" gives 1, " " gives 2, "   " gives 3). To see that a run reaches the end, the kernel
decodes the code point *after* the string: the next string's first one or, for the last
string, whatever lies past the data (uninitialised in a freshly taken array, where an
invalid byte hides the trailing separator). The count here takes the string's end as
its end, as the kernel does when any valid byte follows.

Counting bytes is exact for valid UTF-8 whose whitespace is ASCII (a multi-byte code
point holds no ASCII byte). Rows holding a multi-byte whitespace code point (U+0085,
U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) are counted by
the kernel itself, and a chunk that is not a valid, null-free ``string`` array goes to
the kernel whole.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_BYTES = 1 << 20  # bytes per numpy step: temporaries stay small and are reused
_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
# Whitespace code points above ASCII; in UTF-8 their lead bytes are 0xC2..0xE3.
WIDE_SPACE = (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_WIDE_LUT = np.zeros(0x3002, dtype=bool)  # code point (capped at 0x3001) -> whitespace
_WIDE_LUT[list(WIDE_SPACE)] = True


def generic_word_counts(col) -> np.ndarray:
    """The definition: pieces of ``utf8_split_whitespace`` per row (int32; nulls become garbage as before)."""
    return pc.list_value_length(pc.utf8_split_whitespace(col)).to_numpy(zero_copy_only=False).astype(np.int32)


def word_counts(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Same values as :func:`generic_word_counts` (int32, one per row), computed from the bytes."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    parts = [_chunk_counts(c) for c in chunks]
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)


def _chunk_counts(arr: pa.Array) -> np.ndarray:
    if arr.type != pa.string() or arr.null_count or not _valid(arr):
        return generic_word_counts(arr)
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], np.int32, n + 1, arr.offset * 4)
    data = arr.buffers()[2]
    counts = np.ones(n, np.int32)
    if data is None or offsets[n] == offsets[0]:
        return counts
    data = np.frombuffer(data, np.uint8)
    work = _Work()
    wide: list[np.ndarray] = []
    i = 0
    while i < n:
        # Rows [i, j) holding about CHUNK_BYTES bytes (at least one row).
        j = max(i + 1, min(n, int(np.searchsorted(offsets, offsets[i] + CHUNK_BYTES, side="right")) - 1))
        rel = offsets[i:j + 1] - offsets[i]
        chunk = data[offsets[i]:offsets[j]]
        if len(chunk):  # (empty strings count 1, as set)
            counts[i:j] += _runs_and_tail(chunk, rel, work)
            rows = _wide_space_rows(chunk, rel, work)
            if len(rows):
                wide.append(rows + i)
        i = j
    if wide:
        rows = np.concatenate(wide)
        # A sentinel row keeps a valid byte after the last picked one (see the module docstring).
        counts[rows] = generic_word_counts(pa.concat_arrays([arr.take(pa.array(rows)), pa.array(["x"])]))[:-1]
    return counts


class _Work:
    """Scratch arrays reused from chunk to chunk (fresh memory costs more than the arithmetic)."""

    def __init__(self):
        self.size = 0

    def get(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A bool mask, a byte array and a bool mask of ``size`` elements."""
        if size > self.size:
            self.size = max(size, CHUNK_BYTES)
            self.a, self.b, self.c = np.empty(self.size, bool), np.empty(self.size, np.uint8), np.empty(self.size, bool)
        return self.a[:size], self.b[:size], self.c[:size]


def _valid(arr: pa.Array) -> bool:
    try:
        arr.validate(full=True)  # checks UTF-8 too
    except pa.ArrowInvalid:
        return False
    return True


def _runs_and_tail(chunk: np.ndarray, rel: np.ndarray, work: _Work) -> np.ndarray:
    """Per row: whitespace runs, plus one when the row ends in two whitespace bytes."""
    space, shifted, begins = work.get(len(chunk))
    np.less_equal(chunk, np.uint8(32), out=space)
    # Control bytes 0..8 and 14..27 are not whitespace (b - 14 wraps around below 14).
    lowest = chunk.min()
    if lowest < 9 or (lowest < 28 and np.add(chunk, np.uint8(256 - 14), out=shifted).min() < 14):
        low = np.flatnonzero(chunk < 28)
        space[low] = _ASCII_SPACE[chunk[low]]
    begins[0] = space[0]
    np.greater(space[1:], space[:-1], out=begins[1:])  # space here, none just before
    first, end = rel[:-1], rel[1:]
    runs = np.zeros(len(first), np.int32)
    filled = np.flatnonzero(end > first)
    if len(filled):
        # Each sum runs from a filled row's start to the next one's, past empty rows between.
        runs[filled] = np.add.reduceat(begins.view(np.uint8), first[filled], dtype=np.int32)
    # A row that starts with whitespace right after one that ends with it begins a run too.
    inner = filled[first[filled] > 0]
    runs[inner] += space[first[inner]] & space[first[inner] - 1]
    two = np.flatnonzero(end - first >= 2)
    runs[two] += space[end[two] - 1] & space[end[two] - 2]
    return runs


def _wide_space_rows(chunk: np.ndarray, rel: np.ndarray, work: _Work) -> np.ndarray:
    """Rows (relative) that hold a multi-byte whitespace code point (valid UTF-8 assumed)."""
    _, shifted, _ = work.get(len(chunk))
    # Leads of 2- and 3-byte code points 0xC2..0xE3 (b - 0xC2 wraps around below 0x22).
    if np.add(chunk, np.uint8(256 - 0xC2), out=shifted).min() >= 0x22:
        return np.zeros(0, np.intp)
    at = _sparse_nonzero(np.less(shifted, 0x22, out=work.get(len(chunk))[2]))
    last = len(chunk) - 1
    lead = chunk[at].astype(np.int32)
    b1 = chunk[np.minimum(at + 1, last)].astype(np.int32) & 0x3F
    b2 = chunk[np.minimum(at + 2, last)].astype(np.int32) & 0x3F
    cp = np.where(lead < 0xE0, ((lead & 0x1F) << 6) | b1, ((lead & 0x0F) << 12) | (b1 << 6) | b2)
    rows = np.searchsorted(rel, at[_WIDE_LUT[np.minimum(cp, len(_WIDE_LUT) - 1)]], side="right") - 1
    return np.unique(rows)


def _sparse_nonzero(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` for a mostly-False mask: whole 8-byte words are skipped first."""
    whole = len(mask) // 8 * 8
    words = np.flatnonzero(mask[:whole].view(np.uint64) != 0)
    at = (words[:, None] * 8 + np.arange(8))[mask[:whole].reshape(-1, 8)[words]]
    return np.concatenate([at, whole + np.flatnonzero(mask[whole:])])
