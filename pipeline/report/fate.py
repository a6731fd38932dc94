"""What happened to each input record of a run, keyed by ``(source.file, source.index)``.

Two runs over the same inputs can then be joined record by record: which records one
recipe keeps and the other drops, and which drop reason changed. Injected records
have no input position and are left out.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.report import collect

KEPT = "kept"
ABSENT = "(not in this run)"
SEP = "\x00"


def _key(source: dict | None) -> str | None:
    if not source or source.get("index") is None:
        return None
    return f"{source.get('file', '')}{SEP}{source['index']}"


def _curated_keys(table: pa.Table | None) -> tuple[list[str], list[list[str]]]:
    """Keys and flags of the curated rows that came from an input (not injected)."""
    if table is None or table.num_rows == 0:
        return [], []
    if "origin" in table.column_names:
        table = table.filter(pc.not_equal(pc.fill_null(table.column("origin"), ""), "injected"))
    src = table.column("source")
    files = pc.fill_null(pc.struct_field(src, "file"), "")
    idx = pc.cast(pc.struct_field(src, "index"), pa.string())
    keys = pc.binary_join_element_wise(files, idx, SEP).to_pylist()
    flags = table.column("flags").to_pylist() if "flags" in table.column_names else [[]] * len(keys)
    return keys, flags


def fates(out: Path, manifest: dict) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """``({key: "kept" or reason code}, {key: flags of kept records})`` for every input record."""
    table = collect.curated_table(out, manifest, columns=("source", "flags", "origin"))
    keys, flags = _curated_keys(table)
    fate = dict.fromkeys((k for k in keys if k is not None), KEPT)
    flagged = {k: tuple(sorted(f or ())) for k, f in zip(keys, flags) if k is not None}
    for r in collect.reject_lines(out, manifest):
        rec = r["record"] if isinstance(r["record"], dict) else {}
        if rec.get("origin") == "injected":
            continue
        k = _key(r.get("source"))
        if k is not None:
            fate.setdefault(k, r["reason"])
    return fate, flagged


def transitions(fa: dict[str, str], fb: dict[str, str]) -> dict[tuple[str, str], list[str]]:
    """``{(fate in A, fate in B): [keys, in sorted order]}`` for records whose fate differs."""
    moved: dict[tuple[str, str], list[str]] = {}
    for k in sorted(set(fa) | set(fb)):
        a, b = fa.get(k, ABSENT), fb.get(k, ABSENT)
        if a != b:
            moved.setdefault((a, b), []).append(k)
    return moved


def kind(a: str, b: str) -> str:
    """The family of a fate change, in words."""
    if ABSENT in (a, b):
        return "input differs"
    if a == KEPT:
        return "kept → dropped"
    if b == KEPT:
        return "dropped → kept"
    return "reason changed"


def flag_changes(flags_a: dict, flags_b: dict) -> Counter:
    """Records kept by both runs whose flags differ: ``{"+code" / "-code": records}``."""
    changes: Counter = Counter()
    for k in set(flags_a) & set(flags_b):
        a, b = set(flags_a[k]), set(flags_b[k])
        changes.update(f"+{c}" for c in b - a)
        changes.update(f"-{c}" for c in a - b)
    return changes


def texts_for(out: Path, manifest: dict, keys: set[str], chars: int) -> dict[str, dict]:
    """Examples (instruction, output, detail) of the records at ``keys`` in one run."""
    found: dict[str, dict] = {}
    if not keys:
        return found
    for r in collect.reject_lines(out, manifest):
        k = _key(r.get("source"))
        if k in keys and k not in found:
            rec = r["record"] if isinstance(r["record"], dict) else {"raw": r["record"]}
            found[k] = collect.example(rec, r.get("detail", ""), r["stage"], r.get("source"), chars)
    table = collect.curated_table(out, manifest, columns=("instruction", "output", "source"))
    if table is not None and table.num_rows:
        src = table.column("source")
        col = pc.binary_join_element_wise(pc.fill_null(pc.struct_field(src, "file"), ""),
                                          pc.cast(pc.struct_field(src, "index"), pa.string()), SEP)
        sub = table.filter(pc.is_in(col, value_set=pa.array(sorted(keys), pa.string())))
        for row in sub.to_pylist():
            k = _key(row["source"])
            found.setdefault(k, collect.example(row, "", "", row["source"], chars))
    return found
