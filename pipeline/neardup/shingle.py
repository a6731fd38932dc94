"""Normalisation and vectorised shingle hashing for English, Chinese and mixed text.

A document is a tuple of *parts* (e.g. prompt, input, output). Each part is
normalised (NFKC folds full-width to half-width, ``casefold`` folds case) and cut
into *units*: a maximal run of letters/digits is one unit (a word), while every
character of a script written without spaces (Han, kana, Thai, ...) is a unit of its
own. Punctuation, symbols and whitespace only separate units, so they never change
the shingles. Shingles are n-grams of consecutive units inside one part: word
n-grams for space-delimited parts, character n-grams for CJK-dominant parts (with a
smaller n for short ones), and mixed parts are simply n-grams over their units.

Everything after normalisation runs on numpy arrays for a whole batch at once:
the batch text becomes one array of code points, units are hashed with a segmented
sum, and n-grams are combined with shifted array arithmetic. There is no Python
loop over characters, units or shingles. :func:`reference_shingles` is the slow,
readable definition the vectorised code must agree with (tests check both).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

U64 = np.uint64
#: Bits 62-63 of a shingle hash carry the index of the part it came from.
PART_SHIFT = U64(62)
MAX_PARTS = 4
_LOW62 = U64((1 << 62) - 1)
# Odd 64-bit multipliers, one per n-gram position (order-sensitive combination),
# and one salt per part so equal n-grams in different parts never collide.
_POS_MUL = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                     0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9],
                    dtype=U64)
_PART_SALT = np.array([0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89],
                      dtype=U64)
MAX_N = len(_POS_MUL)
# Powers of an odd constant for the position-weighted unit hash (positions wrap at 4096).
_POW = np.cumprod(np.concatenate(([1], np.full(4095, 0x100000001B3, dtype=U64))), dtype=U64)

# Scripts written without spaces: every letter is its own unit.
_CHAR_UNIT_RANGES = (
    (0x0E00, 0x0EFF),    # Thai, Lao
    (0x1000, 0x109F),    # Myanmar
    (0x1780, 0x17FF),    # Khmer
    (0x2E80, 0x2FDF),    # CJK radicals
    (0x3005, 0x3007),    # 々 〆 〇
    (0x3021, 0x3029),    # Hangzhou numerals
    (0x3040, 0x30FF),    # Hiragana, Katakana
    (0x3100, 0x312F),    # Bopomofo
    (0x31F0, 0x31FF),    # Katakana extensions
    (0x3400, 0x4DBF),    # CJK extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK extensions B-H and compatibility supplement
)
SEP, WORD, CHAR = 0, 1, 2


@dataclass(frozen=True)
class ShingleConfig:
    """Shingle sizes. See ``rules/dedup.yaml`` for the reasoning behind the defaults.

    Attributes:
        word_n: n for parts written mostly with space-delimited words.
        char_n: n for CJK-dominant parts with at least ``short_units`` units.
        char_n_short: n for shorter CJK-dominant parts.
        short_units: Unit count below which a CJK-dominant part is short.
    """

    word_n: int = 3
    char_n: int = 3
    char_n_short: int = 2
    short_units: int = 6

    def __post_init__(self) -> None:
        for n in (self.word_n, self.char_n, self.char_n_short):
            if not 1 <= n <= MAX_N:
                raise ValueError(f"shingle sizes must be in 1..{MAX_N}, got {n}")


@dataclass
class ShingleBatch:
    """Shingle hashes of a batch of documents, grouped by document.

    Attributes:
        hashes: uint64 shingle hashes; the top two bits hold the part index. Documents
            are contiguous and in input order; a document may repeat a hash.
        offsets: int64, length ``docs + 1``; document ``i`` owns
            ``hashes[offsets[i]:offsets[i + 1]]``.
        units: int64 unit count per document (0 means: nothing to shingle).
    """

    hashes: np.ndarray
    offsets: np.ndarray
    units: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def doc(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i]:self.offsets[i + 1]]


def normalize_text(text: str) -> str:
    """Full/half width and case folded, whitespace collapsed; punctuation kept.

    This is the exact-match key for texts that give no shingle at all.
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """uint8 class (SEP, WORD or CHAR) of every code point, built once per process."""
    table = np.zeros(0x110000, dtype=np.uint8)
    # Planes 0-1 hold every script we classify by Unicode category; planes 2-3 are
    # CJK ideographs, set below; everything else is a separator.
    for cp in range(0x20000):
        if unicodedata.category(chr(cp))[0] in "LNM":
            table[cp] = WORD
    for lo, hi in _CHAR_UNIT_RANGES:
        seg = table[lo:hi + 1]
        if lo >= 0x20000:
            seg[:] = CHAR
        else:
            seg[seg == WORD] = CHAR
    table[0] = SEP  # the part separator of hash_batch
    return table


_COMPLEX = np.uint32(0xFFFFFFFF)


@lru_cache(maxsize=1)
def fold_table() -> np.ndarray:
    """``casefold(NFKC(c))`` per code point, or ``_COMPLEX`` where that is context-dependent.

    A character is *complex* when its folded form is not exactly one character, when
    it is a combining mark (canonical reordering), or when it (or its folded form) can
    be the second character of a canonical composition, Hangul jamo included. Text
    without complex characters folds character by character to exactly
    ``unicodedata.normalize("NFKC", text).casefold()``; any other slice takes that
    slow path. Only planes 0-3 can change under NFKC, so the rest maps to itself.
    """
    top = 0x30000
    table = np.arange(0x110000, dtype=np.uint32)
    seconds: set[int] = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V, T
    for cp in range(top):
        dec = unicodedata.decomposition(chr(cp)).split()
        if len(dec) == 2 and not dec[0].startswith("<"):
            seconds.add(int(dec[1], 16))
    for cp in range(top):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        folded = unicodedata.normalize("NFKC", ch).casefold()
        if (len(folded) != 1 or unicodedata.category(ch)[0] == "M" or unicodedata.combining(folded)
                or cp in seconds or ord(folded) in seconds or 0x3131 <= cp <= 0x318E or 0xFFA0 <= cp <= 0xFFDC):
            table[cp] = _COMPLEX
        else:
            table[cp] = ord(folded)
    return table


def fold_codepoints(text: str) -> np.ndarray:
    """Code points of ``unicodedata.normalize("NFKC", text).casefold()``, fast when possible.

    NFKC on a whole string costs ~100x more than a table lookup as soon as the string
    holds one full-width comma, which nearly every Chinese text does. So characters
    are folded by table, and only the NUL-delimited runs that hold a complex
    character ("½", "…", a combining mark) go through ``unicodedata``. NUL never
    composes with anything, so folding runs separately gives the same result.
    """
    raw = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    out = fold_table()[raw]
    bad = np.flatnonzero(out == _COMPLEX)
    if bad.size == 0:
        return out
    nuls = np.flatnonzero(raw == 0)
    pieces, done = [], 0
    for run in np.unique(np.searchsorted(nuls, bad)).tolist():
        start = int(nuls[run - 1]) + 1 if run > 0 else 0
        end = int(nuls[run]) if run < nuls.size else raw.size
        norm = unicodedata.normalize("NFKC", text[start:end]).casefold()
        pieces += [out[done:start], np.frombuffer(norm.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)]
        done = end
    pieces.append(out[done:])
    return np.concatenate(pieces)


def mix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, element-wise (uint64 arithmetic wraps)."""
    x = x ^ (x >> U64(33))
    x = x * U64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> U64(33))
    x = x * U64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> U64(33))


def _segment_n(units: np.ndarray, cjk: np.ndarray, cfg: ShingleConfig) -> np.ndarray:
    """Shingle size per part: words, long CJK or short CJK; never more than its units."""
    cjk_major = 2 * cjk > units
    n = np.where(cjk_major, np.where(units >= cfg.short_units, cfg.char_n, cfg.char_n_short), cfg.word_n)
    return np.minimum(n, units)


def _ragged_arange(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for each (s, c), without a Python loop."""
    total = int(counts.sum())
    before = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) + np.repeat(starts - before, counts)


def hash_batch(docs: Sequence[Sequence[str]], cfg: ShingleConfig = ShingleConfig(),
               slice_docs: int = 256) -> ShingleBatch:
    """Shingle and hash a batch of documents with numpy, a slice of documents at a time.

    Args:
        docs: One tuple of part texts per document; every document has the same
            number of parts (at most :data:`MAX_PARTS`). An empty part is allowed.
        cfg: Shingle sizes.
        slice_docs: Documents per vectorised slice. Slices keep the temporary arrays
            small enough to stay in cache and to be reused by the allocator; fresh
            multi-megabyte arrays would spend more time in page faults than in work.
            The result does not depend on it.

    Returns:
        The shingle hashes of every document, tagged with their part index.
    """
    ndocs = len(docs)
    nparts = len(docs[0]) if ndocs else 1
    if nparts > MAX_PARTS:
        raise ValueError(f"at most {MAX_PARTS} parts per document, got {nparts}")
    pieces = [_hash_slice(docs[i:i + slice_docs], nparts, cfg) for i in range(0, ndocs, slice_docs)]
    if not pieces:
        return ShingleBatch(np.zeros(0, U64), np.zeros(1, np.int64), np.zeros(0, np.int64))
    counts = np.concatenate([np.diff(p.offsets) for p in pieces])
    return ShingleBatch(
        np.concatenate([p.hashes for p in pieces]),
        np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        np.concatenate([p.units for p in pieces]),
    )


def _hash_slice(docs: Sequence[Sequence[str]], nparts: int, cfg: ShingleConfig) -> ShingleBatch:
    ndocs = len(docs)
    segs = [p for d in docs for p in d]
    if len(segs) != ndocs * nparts:
        raise ValueError("every document needs the same number of parts")
    nseg = len(segs)
    joined = "\x00".join(segs)
    if joined.count("\x00") != nseg - 1:  # a part contains NUL itself: neutralise it
        joined = "\x00".join(s.replace("\x00", " ") for s in segs)
    # NFKC and casefold never merge across NUL, so part boundaries survive them.
    cp = fold_codepoints(joined)
    cls = char_classes()[cp]
    word = cls == WORD
    start = (cls == CHAR) | (word & ~np.concatenate(([False], word[:-1])))
    in_unit = np.flatnonzero(cls != SEP)
    if in_unit.size == 0:
        return ShingleBatch(np.zeros(0, U64), np.zeros(ndocs + 1, np.int64), np.zeros(ndocs, np.int64))
    # Unit hash: polynomial in the unit's code points (position-weighted), then mixed.
    st = start[in_unit]
    ustart = np.flatnonzero(st)
    rel = np.arange(in_unit.size) - ustart[np.cumsum(st) - 1]
    v = (cp[in_unit].astype(U64) + U64(1)) * _POW[rel & (_POW.size - 1)]
    t = mix64(np.add.reduceat(v, ustart))
    upos = in_unit[ustart]
    useg = np.searchsorted(np.flatnonzero(cp == 0), upos)
    seg_units = np.bincount(useg, minlength=nseg)
    seg_cjk = np.bincount(useg, weights=cls[upos] == CHAR, minlength=nseg).astype(np.int64)
    seg_n = _segment_n(seg_units, seg_cjk, cfg)
    seg_first = np.cumsum(seg_units) - seg_units
    # n-gram k of a part combines units k..k+n-1 with position multipliers; parts are
    # processed in order, so the output is grouped by document without sorting.
    counts = np.where(seg_units > 0, seg_units - seg_n + 1, 0)
    pos = _ragged_arange(seg_first, counts)
    pseg = np.repeat(np.arange(nseg), counts)
    pn = seg_n[pseg]
    last = t.size - 1
    g = t[pos] * _POS_MUL[0]
    for j in range(1, int(seg_n.max())):
        g += np.where(j < pn, t[np.minimum(pos + j, last)] * _POS_MUL[j], U64(0))
    part = pseg % nparts
    g = (mix64(g + _PART_SALT[part]) & _LOW62) | (part.astype(U64) << PART_SHIFT)
    doc_counts = np.bincount(pseg // nparts, minlength=ndocs)
    offsets = np.concatenate(([0], np.cumsum(doc_counts))).astype(np.int64)
    units = seg_units.reshape(ndocs, nparts).sum(axis=1).astype(np.int64)
    return ShingleBatch(g, offsets, units)


def units_of(text: str) -> list[tuple[str, bool]]:
    """Reference tokeniser: ``(unit, is_char_unit)`` pairs of one normalised text."""
    table = char_classes()
    out: list[tuple[str, bool]] = []
    word = ""
    for ch in unicodedata.normalize("NFKC", text.replace("\x00", " ")).casefold():
        c = table[ord(ch)]
        if c == WORD:
            word += ch
            continue
        if word:
            out.append((word, False))
            word = ""
        if c == CHAR:
            out.append((ch, True))
    if word:
        out.append((word, False))
    return out


def reference_shingles(parts: Sequence[str], cfg: ShingleConfig = ShingleConfig()) -> set[bytes]:
    """The shingle set of one document as byte strings: the slow, readable definition.

    Benchmarks feed these to datasketch's own MinHash; tests check that
    :func:`hash_batch` yields exactly one distinct hash per distinct shingle here.
    """
    out: set[bytes] = set()
    for p, text in enumerate(parts):
        units = units_of(text)
        nu = len(units)
        if nu == 0:
            continue
        n = int(_segment_n(np.array([nu]), np.array([sum(c for _, c in units)]), cfg)[0])
        for k in range(nu - n + 1):
            out.add(f"{p}\x1f".encode() + "\x1f".join(u for u, _ in units[k:k + n]).encode())
    return out
