"""`normalize`: Unicode NFC, strip invisible/control characters, unify newlines, trim.

NFKC is deliberately not applied: it would turn full-width Chinese punctuation
(，。：) into ASCII, which changes meaning and style in Chinese text.
"""
from __future__ import annotations

import re
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.engines.arrow_apply import all_items, python_rows
from pipeline.processor import Stage
from pipeline.record import Batch, Verdict, record_id
from pipeline.registry import register
from pipeline.text.stable import stable

# C0/C1 controls except \t and \n, plus zero-width and bidi-control characters and the BOM.
# The joiners U+200C/U+200D are handled by _STRAY_JOINER below.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]"
)
# ZWJ/ZWNJ carry meaning between two characters of scripts that use them: emoji sequences
# (family, flags with modifiers, "heart on fire"), Indic conjuncts, Persian/Arabic word
# forms. Removing them there changes the text (one family emoji becomes four people).
# Next to ASCII, CJK, whitespace or text edges they only hide text (e.g. splitting a
# word to slip past a filter), so they go there.
_JOINABLE = "[^\x00-\x7f\\s\u200c\u200d\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
_STRAY_JOINER = re.compile(f"(?<!{_JOINABLE})[\u200c\u200d]|[\u200c\u200d](?!{_JOINABLE})")
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_KEEP = Verdict()  # verdicts are immutable: one instance serves every row


def normalize_text(text: str) -> str:
    """NFC, unify newlines, drop invisible characters, strip trailing spaces per line and trim."""
    if not text:
        return ""
    if text.isascii() and text.isprintable():
        return text.strip()  # one line of printable ASCII: nothing else can apply
    text = _NEWLINES.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    if "\u200c" in text or "\u200d" in text:
        text = _STRAY_JOINER.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if " \n" in text or "\t\n" in text:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return text.strip()


@register
class Normalize(Stage):
    """Normalise every text field; rows whose text changed get their content id recomputed.

    Ids are content hashes from the moment a record is made (ingest, injection), so a row
    whose text normalisation leaves as it is keeps its id.
    """

    name = "normalize"

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        n = len(batch.get("id", []))
        changed = [False] * n
        for f in TEXT_FIELDS:
            old, new = batch[f], [normalize_text(t) for t in batch[f]]
            changed = [c or a != b for c, a, b in zip(changed, old, new)]
            batch[f] = new
        old = batch["history"]
        batch["history"] = [
            [{"instruction": normalize_text(t["instruction"]), "output": normalize_text(t["output"])} for t in h or []]
            for h in old
        ]
        ids = batch["id"]
        for i in range(n):
            if changed[i] or batch["history"][i] != old[i] or not ids[i]:
                ids[i] = record_id({k: batch[k][i] for k in ("system", "history", "instruction", "input", "output")})
        return batch, [_KEEP] * n

    def process_arrow(self, table: pa.Table) -> pa.Table:
        """The Python path, run only on rows that are not provably left unchanged (see text.stable)."""
        mask = pc.invert(all_items(table.column("history"), _turn_stable))
        mask = pc.or_(mask, pc.invert(pc.fill_null(pc.greater(pc.binary_length(table.column("id")), 0), False)))
        for f in TEXT_FIELDS:
            mask = pc.or_(mask, pc.invert(stable(table.column(f))))
        return python_rows(table, mask, self.name, self)


TEXT_FIELDS = ("system", "instruction", "input", "output")


def _turn_stable(turns: pa.Array) -> pa.Array:
    return pc.and_(stable(pc.struct_field(turns, "instruction")), stable(pc.struct_field(turns, "output")))
