"""Tags computed in ``fit()``, kept compactly by record id for ``process()``.

Tagging is the stage's whole cost, and ``fit`` already tags every live row, so
``process`` looks the tags up instead of computing them again. The cache travels to
worker processes with the pickled stage, so it is plain numpy arrays plus one string
table:

* ``keys``: 12-byte id digests, sorted (``np.searchsorted`` finds a batch at once);
* ``codes``: int32 indices into ``strings`` for the categorical tags;
* ``values``: float32 complexity and task confidence (both rounded in the tagger,
  so rounding back to the same digits restores them exactly).

About 60 bytes per record. An id seen twice in ``fit`` with different tags (same
conversation, different meta or lang) is left out, so ``process`` re-tags it.
"""
from __future__ import annotations

import hashlib
import operator
from array import array
from collections.abc import Sequence

import numpy as np

from pipeline.diversity.tagger import Tags

# Column order of ``codes`` and ``values`` (``get`` spells it out per field).
CATEGORICAL = ("task", "task_rule", "task_subtype", "domain", "bucket", "verb", "obj", "lang")
NUMERIC = (("complexity", 4), ("task_confidence", 3))  # field, digits the tagger rounds to
_CX_DIGITS, _CONF_DIGITS = (d for _, d in NUMERIC)
_CATEGORICAL_OF = operator.attrgetter(*CATEGORICAL)
_NUMERIC_OF = operator.attrgetter(*(f for f, _ in NUMERIC))
KEY_BYTES = 12


def digest(rid: str) -> bytes:
    """A fixed-size key for a record id: its bytes when it is a 24-digit hex digest, else a hash."""
    if len(rid) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(rid)
        except ValueError:
            pass
    return hashlib.blake2b(rid.encode("utf-8"), digest_size=KEY_BYTES).digest()


class TagCache:
    """Append tags during ``fit``, ``freeze()``, then ``get()`` them per batch."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.keys = np.empty(0, dtype=f"S{KEY_BYTES}")
        self.codes = np.empty((0, len(CATEGORICAL)), dtype=np.int32)
        self.values = np.empty((0, len(NUMERIC)), dtype=np.float32)
        self._building()

    def _building(self) -> None:
        self._intern: dict[str, int] = {s: i for i, s in enumerate(self.strings)}
        self._rows: dict[bytes, int] = {}
        self._conflicts: set[int] = set()
        self._keys: list[bytes] = []
        self._codes = array("i")
        self._values = array("f")

    def __len__(self) -> int:
        return len(self.keys)

    def _code(self, s: str) -> int:
        i = self._intern.get(s)
        if i is None:
            i = self._intern[s] = len(self.strings)
            self.strings.append(s)
        return i

    def add(self, rid: str, tags: Tags) -> None:
        """Remember the tags of one row (call before ``freeze``)."""
        key = digest(rid)
        cat = _CATEGORICAL_OF(tags)
        codes = list(map(self._intern.get, cat))
        if None in codes:  # a string not seen before
            codes = [self._code(v) for v in cat]
        vals = list(_NUMERIC_OF(tags))
        row = self._rows.get(key)
        if row is not None:
            # Same id again: fine when the tags agree, unusable when they do not.
            w = len(CATEGORICAL)
            same = list(self._codes[row * w:(row + 1) * w]) == codes and all(
                round(float(self._values[row * len(NUMERIC) + j]), d) == v for j, (v, (_, d)) in
                enumerate(zip(vals, NUMERIC)))
            if not same:
                self._conflicts.add(row)
            return
        self._rows[key] = len(self._keys)
        self._keys.append(key)
        self._codes.extend(codes)
        self._values.extend(vals)

    def freeze(self) -> None:
        """Turn what ``add`` collected into sorted compact arrays and drop the build state."""
        n = len(self._keys)
        keep = np.ones(n, dtype=bool)
        keep[list(self._conflicts)] = False
        keys = np.array(self._keys, dtype=f"S{KEY_BYTES}") if n else np.empty(0, dtype=f"S{KEY_BYTES}")
        codes = np.frombuffer(self._codes, dtype=np.int32).reshape(n, len(CATEGORICAL))
        values = np.frombuffer(self._values, dtype=np.float32).reshape(n, len(NUMERIC))
        keys, codes, values = keys[keep], codes[keep], values[keep]
        order = np.argsort(keys, kind="stable")
        self.keys, self.codes, self.values = keys[order], codes[order].copy(), values[order].copy()
        self._building()

    def get(self, ids: Sequence[str]) -> list[Tags | None]:
        """The cached tags of each id, or None where the id was not seen (or conflicted)."""
        if not len(self.keys) or not ids:
            return [None] * len(ids)
        want = np.array([digest(r) for r in ids], dtype=f"S{KEY_BYTES}")
        pos = np.searchsorted(self.keys, want)
        pos[pos >= len(self.keys)] = 0
        hit = self.keys[pos] == want
        out: list[Tags | None] = []
        s = self.strings
        # One conversion per batch; then per row only string lookups (see CATEGORICAL, NUMERIC).
        codes, values = self.codes[pos].tolist(), self.values[pos].tolist()
        for h, c, v in zip(hit.tolist(), codes, values):
            out.append(Tags(task=s[c[0]], task_rule=s[c[1]], task_confidence=round(v[1], _CONF_DIGITS),
                            task_subtype=s[c[2]], domain=s[c[3]], complexity=round(v[0], _CX_DIGITS),
                            bucket=s[c[4]], verb=s[c[5]], obj=s[c[6]], lang=s[c[7]]) if h else None)
        return out

    def __getstate__(self) -> dict:
        # Only the frozen arrays travel to workers; build state is rebuilt empty.
        return {"strings": self.strings, "keys": self.keys, "codes": self.codes, "values": self.values}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._building()
