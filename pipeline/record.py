"""The canonical record, the columnar ``Batch`` and the ``Verdict`` a processor returns.

Nothing else in the code base defines record shapes. A record is a plain dict with
exactly the keys in :data:`FIELDS`; a batch is the columnar form (``dict[str, list]``)
that HF ``datasets`` batched map and Ray Data ``map_batches`` both use.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

Batch = dict[str, list]

#: Canonical fields, in the order they are written to shards.
FIELDS: tuple[str, ...] = (
    "id", "system", "instruction", "input", "output", "history", "source", "origin",
    "lang", "task", "domain", "complexity", "cluster", "response_type",
    "flags", "scores", "meta",
)


@dataclass(frozen=True)
class Verdict:
    """What one processor concluded about one row.

    Attributes:
        keep: False rejects the row; the engine writes it to the rejects file.
        reason: Stable ``<stage>_<what>`` code; required when ``keep`` is False.
        flags: Reason codes of checks whose action is ``flag``; they are appended to
            the record's ``flags`` and the row is kept.
        scores: Named measurements merged into the record's ``scores``.
        detail: Human-readable evidence for the reason or flags, e.g. the failing field
            or "asked for 3 items, found 1".
        duplicate_of: For duplicate drops, the id of the record that was kept.
    """

    keep: bool = True
    reason: str | None = None
    flags: tuple[str, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""
    duplicate_of: str | None = None

    def __post_init__(self) -> None:
        if not self.keep and not self.reason:
            raise ValueError("a dropping verdict needs a reason code")



def new_record(**values: Any) -> dict:
    """Build a canonical record with every field present, defaults filled in.

    Args:
        **values: Field values; unknown keys raise ``KeyError``.

    Returns:
        A dict with exactly the keys of :data:`FIELDS`. ``id`` is computed from the
        content when not given.
    """
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise KeyError(f"not canonical fields: {sorted(unknown)}")
    rec: dict[str, Any] = {
        "id": "", "system": "", "instruction": "", "input": "", "output": "",
        "history": [], "source": {"file": "", "index": -1, "format": ""}, "origin": "raw",
        "lang": "", "task": "", "domain": "", "complexity": "", "cluster": "",
        "response_type": "", "flags": [], "scores": {}, "meta": {},
    }
    rec.update(values)
    if not rec["id"]:
        rec["id"] = record_id(rec)
    return rec


def record_id(rec: Mapping[str, Any]) -> str:
    """Stable content hash of the conversation (system, history, instruction, input, output).

    Two records with the same normalised conversation get the same id, which is what
    exact dedup keys on. The separator characters cannot occur in normalised text
    (control characters are stripped), so field boundaries cannot be forged.
    """
    hist = rec.get("history") or []
    s = rec.get("system", "") + "".join(f"\x1e{t.get('instruction', '')}\x1f{t.get('output', '')}" for t in hist)
    s = f"{s}\x1d{rec.get('instruction', '')}\x1d{rec.get('input', '')}\x1d{rec.get('output', '')}"
    return hashlib.blake2b(s.encode("utf-8"), digest_size=12).hexdigest()


def prompt_text(rec: Mapping[str, Any]) -> str:
    """Everything the model sees before the answer: system, earlier turns, instruction, input."""
    parts = [rec.get("system", "")]
    for turn in rec.get("history") or []:
        parts += [turn.get("instruction", ""), turn.get("output", "")]
    parts += [rec.get("instruction", ""), rec.get("input", "")]
    return "\n".join(p for p in parts if p)


def to_messages(rec: Mapping[str, Any]) -> list[dict[str, str]]:
    """OpenAI-style ``messages`` for a record; Alpaca ``input`` is appended to the user turn."""
    msgs: list[dict[str, str]] = []
    if rec.get("system"):
        msgs.append({"role": "system", "content": rec["system"]})
    for turn in rec.get("history") or []:
        msgs.append({"role": "user", "content": turn.get("instruction", "")})
        msgs.append({"role": "assistant", "content": turn.get("output", "")})
    user = rec.get("instruction", "")
    if rec.get("input"):
        user = f"{user}\n\n{rec['input']}" if user else rec["input"]
    msgs.append({"role": "user", "content": user})
    msgs.append({"role": "assistant", "content": rec.get("output", "")})
    return msgs


def rows(batch: Batch) -> list[dict]:
    """Columnar batch -> list of row dicts (a convenience for per-row processors)."""
    if not batch:
        return []
    keys = list(batch)
    n = len(batch[keys[0]])
    return [{k: batch[k][i] for k in keys} for i in range(n)]


def batch_len(batch: Batch) -> int:
    """Number of rows in a columnar batch (0 for an empty dict)."""
    for col in batch.values():
        return len(col)
    return 0


def from_rows(records: list[dict], keys: tuple[str, ...] | list[str] = FIELDS) -> Batch:
    """List of row dicts -> columnar batch with the given keys."""
    return {k: [r[k] for r in records] for k in keys}
