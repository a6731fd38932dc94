"""Load evaluation sets (JSONL, JSON, CSV, Parquet; optionally gzipped) as question texts.

Each row of an eval file becomes an :class:`EvalItem` with one or more *views*, the
texts a training prompt must not contain:

- the question, found under the first configured key present (``question``,
  ``prompt``, ``instruction``, ``input``, ``problem``, ``text``, ``query``, ``turns``);
  a list value (MT-Bench ``turns``) gives one view per element;
- when the row has option columns (CMMLU's ``A``..``D``), the question joined with its
  options is a view too, so generic stems ("下列说法正确的是") are matched with their
  options while specific stems also match on their own;
- an ``instruction`` is joined with ``input``/``context`` when present, and with the
  first of Self-Instruct's ``instances[].input``.

Views too short to be specific are discarded later by the index (``min_item_*``).
"""
from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.io.encoding import SNIFF_BYTES, detect

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


@dataclass(frozen=True)
class EvalItem:
    """One eval row: ``name#index`` identifies it in reject details."""

    name: str
    index: int
    views: tuple[str, ...]


def eval_files(path: str | Path) -> list[tuple[str, Path]]:
    """``(display name, file)`` for a file, or every supported file under a directory.

    A file is named by its base name; files found under a directory by their path
    relative to that directory's parent (``cmmlu_dev/agronomy.csv``).
    """
    p = Path(path)
    if p.is_file():
        return [(p.name, p)]
    if p.is_dir():
        found = sorted(f for f in p.rglob("*") if f.is_file() and _kind(f))
        return [(str(f.relative_to(p.parent)), f) for f in found]
    raise ConfigError(f"eval_sets: {path}: no such file or directory")


def _kind(f: Path) -> str | None:
    name = f.name.lower()
    name = name.removesuffix(".gz")
    for s in SUFFIXES:
        if name.endswith(s):
            return s
    return None


def _read_text(f: Path) -> str:
    """The file's text in the encoding the readers detect (UTF-8/16/32, BOM, GBK/GB18030):
    Chinese benchmarks are often published as GBK CSV. Undecodable bytes still raise."""
    data = f.read_bytes()
    if f.name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    encoding = detect(data[:SNIFF_BYTES], complete=len(data) <= SNIFF_BYTES)
    return data.decode(encoding).lstrip("\ufeff")


def read_rows(f: Path) -> list[dict]:
    """Rows of one eval file as dicts with lower-cased keys.

    Raises:
        ConfigError: naming the file when it cannot be read or parsed.
    """
    kind = _kind(f)
    try:
        if kind == ".parquet":
            import pyarrow.parquet as pq

            rows = pq.read_table(f).to_pylist()
        elif kind == ".csv":
            rows = list(csv.DictReader(io.StringIO(_read_text(f))))
        else:
            text = _read_text(f)
            rows = _json_rows(text) if kind == ".json" else _jsonl_rows(text, f)
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as e:
        raise ConfigError(f"eval_sets: {f}: cannot read: {e}") from None
    except RecursionError:  # the stdlib JSON parser recurses once per nesting level
        raise ConfigError(f"eval_sets: {f}: cannot read: JSON nested too deeply") from None
    return [{str(k).strip().lower(): v for k, v in r.items()} for r in rows if isinstance(r, dict)]


def _jsonl_rows(text: str, f: Path) -> list[Any]:
    rows = []
    for ln, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"line {ln}: {e}") from None
    return rows


def _json_rows(text: str) -> list[Any]:
    try:
        data = json.loads(text)
    except ValueError:
        # Many ".json" eval files are really JSON Lines.
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else [data]
    return data if isinstance(data, list) else []


def _text(v: Any) -> str:
    return v.strip() if isinstance(v, str) else ""


def row_views(row: dict, question_keys: Sequence[str], option_keys: Sequence[str]) -> tuple[str, ...]:
    """The texts of one eval row that a training prompt must not contain."""
    views: list[str] = []
    key = next((k for k in question_keys if row.get(k)), None)
    if key is None:
        return ()
    val = row[key]
    if isinstance(val, list):
        views += [_text(t) for t in val if _text(t)]
    elif _text(val):
        q = _text(val)
        if key == "instruction":
            ctx = _text(row.get("input")) or _text(row.get("context")) or _first_instance(row)
            if ctx:
                views.append(f"{q}\n{ctx}")
                q = ""  # a bare generic instruction is not the eval prompt
        if q:
            views.append(q)
        opts = [_text(row.get(k)) for k in option_keys]
        if q and any(opts):
            views.append(" ".join([q] + [o for o in opts if o]))
    return tuple(dict.fromkeys(views))


def _first_instance(row: dict) -> str:
    inst = row.get("instances")
    if isinstance(inst, list) and inst and isinstance(inst[0], dict):
        return _text(inst[0].get("input"))
    return ""


def load_eval_sets(paths: Iterable[str | Path], question_keys: Sequence[str],
                   option_keys: Sequence[str]) -> list[EvalItem]:
    """Every item of every eval file under ``paths``, in a stable order.

    Raises:
        ConfigError: listing every path or file that cannot be read, not just the first.
    """
    qk = [k.lower() for k in question_keys]
    ok = [k.lower() for k in option_keys]
    items: list[EvalItem] = []
    problems: list[str] = []
    for path in paths:
        try:
            files = eval_files(path)
        except ConfigError as e:
            problems += e.problems
            continue
        for name, f in files:
            try:
                rows = read_rows(f)
            except ConfigError as e:
                problems += e.problems
                continue
            for i, row in enumerate(rows):
                views = row_views(row, qk, ok)
                if views:
                    items.append(EvalItem(name, i, views))
    if problems:
        raise ConfigError(problems)
    return items
