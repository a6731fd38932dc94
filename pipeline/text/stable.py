"""Which strings ``normalize_text`` provably leaves unchanged, decided with Arrow kernels.

The test is conservative: a string counts as *stable* only when it is empty, or when every
character is in :data:`STABLE_CHARS` and no whitespace sits at either end or before a newline.
Each stable character

- is not one that normalisation removes or rewrites (controls other than tab and newline,
  invisible and bidi characters, the BOM, joiners, newline variants);
- is not whitespace for ``str.strip`` (except space, tab and newline, checked at the edges);
- is a starter in NFC that nothing composes with: canonical combining class 0, its own NFC
  form, and never the second half of a canonical composition (so a run of them is NFC).

``tests/processors/test_normalize_arrow.py`` checks these properties for every character in
the set, so extending it cannot silently break the guarantee. Strings that are not stable may
still be unchanged; the caller sends them through ``normalize_text`` to find out.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

#: Ranges of stable characters besides printable ASCII, tab and newline: Latin-1 letters and
#: signs (no NBSP, no soft hyphen), Greek and Cyrillic letters, general punctuation, CJK
#: punctuation, kana, CJK ideographs (unified and extension A), Hangul syllables, full-width forms.
STABLE_RANGES: tuple[tuple[str, str], ...] = (
    ("\u00a1", "\u00ac"), ("\u00ae", "\u00ff"),
    ("\u0391", "\u03a1"), ("\u03a3", "\u03a9"), ("\u03b1", "\u03c9"), ("\u0410", "\u044f"),
    ("\u2010", "\u2027"), ("\u2030", "\u205e"),
    ("\u3001", "\u3029"), ("\u3041", "\u3096"), ("\u30a1", "\u30fa"),
    ("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uac00", "\ud7a3"), ("\uff01", "\uff5e"),
)
_CLASS = "\t\n\x20-\x7e" + "".join(f"{a}-{b}" for a, b in STABLE_RANGES)
# A character outside the set, or whitespace at an edge or before a newline.
_UNSTABLE = f"[^{_CLASS}]|^[ \t\n]|[ \t\n]$|[ \t]\n"


def stable_chars() -> frozenset[str]:
    """Every character :func:`stable` accepts (for tests)."""
    chars = {"\t", "\n", *map(chr, range(0x20, 0x7F))}
    for a, b in STABLE_RANGES:
        chars.update(map(chr, range(ord(a), ord(b) + 1)))
    return frozenset(chars)


def stable(texts: pa.Array | pa.ChunkedArray):
    """Boolean mask: True where ``normalize_text(text) == text`` is certain. Nulls are not stable.

    One-line printable ASCII (most text) is settled by two cheap kernels; only the rest is
    scanned with the regular expression.
    """
    empty = pc.equal(pc.binary_length(texts), 0)
    ascii_line = pc.and_(pc.ascii_is_printable(texts),
                         pc.invert(pc.or_(pc.starts_with(texts, " "), pc.ends_with(texts, " "))))
    settled = pc.fill_null(pc.or_(empty, ascii_line), False)
    if isinstance(settled, pa.ChunkedArray):
        settled = settled.combine_chunks()
    rest = pc.and_(pc.invert(settled), pc.is_valid(texts))
    if isinstance(rest, pa.ChunkedArray):
        rest = rest.combine_chunks()
    if not pc.any(rest).as_py():
        return settled
    scanned = pc.invert(pc.match_substring_regex(texts.filter(rest), _UNSTABLE))
    if isinstance(scanned, pa.ChunkedArray):
        scanned = scanned.combine_chunks()
    return pc.replace_with_mask(settled, rest, scanned)
