"""Read inputs into canonical records: one :class:`Ingested` per raw record, always.

:func:`read_file` streams one input: the container yields raw records, the format is
detected from the first records (or forced), and each raw record becomes either a
canonical record or a reject with an ``ingest_*`` reason. Reasons:

- ``ingest_invalid_json``: the raw text is not JSON (NUL bytes included: detail says so)
- ``ingest_undecodable``: bytes not valid in the file's encoding, or a lone ``\\ud800`` escape
- ``ingest_invalid_row``: a CSV row whose cell count differs from the header
- ``ingest_wrong_type``: a non-string where text belongs, or a record that is not an object
- ``ingest_missing_field``: no instruction / output (or the format's equivalent)
- ``ingest_preference_record``: chosen/rejected pairs, a list as output, KTO ``label: false``
- ``ingest_roles_not_alternating``, ``ingest_tool_turn``, ``ingest_unknown_role``: chat turns

File-level problems (empty, not JSON, truncated, unknown format, unreadable) become
:class:`~pipeline.errors.InputError` entries in :attr:`FileReport.errors`; so does every
``ingest_invalid_json`` / ``ingest_undecodable`` / ``ingest_invalid_row`` line. A file
whose format is unknown yields no records at all: its records are not "read".
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.io.containers import EXTENSIONS, HF_PREFIX, is_dataset_dir, open_container
from pipeline.io.fields import Reject, type_name
from pipeline.io.formats import FORMAT_NAMES, FORMATS, apply_field_map, detect
from pipeline.record import FIELDS, record_id

#: Raw records examined to detect a file's format.
SAMPLE = 32
#: File errors listed per file; the rest are summarised in one final entry.
MAX_ERRORS = 100
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_REASONS = frozenset({"ingest_invalid_json", "ingest_undecodable", "ingest_invalid_row"})


@dataclass
class FileReport:
    """What reading one input found. ``records``, ``format`` and ``errors`` are final
    once the iterator returned by :func:`read_file` is exhausted."""

    path: str
    sha256: str
    records: int = 0
    format: str = ""
    encoding: str = ""
    errors: list[InputError] = field(default_factory=list)
    _dropped_errors: int = field(default=0, repr=False)

    def error(self, line: int | None, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(InputError(self.path, message, line))
        else:
            self._dropped_errors += 1


@dataclass(slots=True)
class Ingested:
    """The fate of one raw record: a canonical ``record``, or a ``reason`` to reject it."""

    index: int
    record: dict | None
    reason: str | None = None
    detail: str = ""
    raw: Any = None


def _known_file(name: str) -> bool:
    low = name.lower()
    low = low.removesuffix(".gz")
    return os.path.splitext(low)[1] in EXTENSIONS


def _walk(root: Path, above: frozenset = frozenset()) -> Iterator[str]:
    """Input files under a folder, sorted; a ``save_to_disk`` folder counts as one input.

    ``above`` holds the real paths of the folders being walked, so a symlink back to one
    of them (a loop) is not followed again and again.
    """
    if is_dataset_dir(root):
        yield str(root)
        return
    above = above | {os.path.realpath(root)}
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if os.path.realpath(entry) not in above:
                yield from _walk(entry, above)
        elif entry.is_file() and _known_file(entry.name):
            yield str(entry)


def expand_inputs(paths: Iterable[str]) -> tuple[list[str], list[InputError]]:
    """Files, folders (walked recursively, known extensions only) and globs -> input list.

    Returns:
        The sorted, de-duplicated inputs (a file named twice, or reached through a symlink,
        is read once), and an error for each path that matches nothing.
        ``hf:NAME[:SPLIT]`` entries pass through unchanged.
    """
    found: dict[str, str] = {}
    errors: list[InputError] = []
    for raw in paths:
        p = str(raw)
        if p.startswith(HF_PREFIX):
            found.setdefault(p, p)
            continue
        matches = sorted(glob.glob(p, recursive=True)) if glob.has_magic(p) else [p]
        if not matches or not any(os.path.exists(m) for m in matches):
            errors.append(
                InputError(
                    display_path(p),
                    "no such file or directory" if not glob.has_magic(p) else "no file matches this pattern",
                )
            )
            continue
        for m in matches:
            items = _walk(Path(m)) if os.path.isdir(m) else iter([m])
            for item in items:
                found.setdefault(os.path.realpath(item), item)
    return sorted(found.values()), errors


def display_path(path: str) -> str:
    """``path`` as text that can be written anywhere: records, the manifest, messages.

    A file name whose bytes are not UTF-8 reaches Python with lone surrogates
    (``os.fsdecode``). Arrow, JSON and terminals refuse those, so they are shown as
    ``\\xff`` escapes here; the file itself is still opened by its real name.
    """
    if _SURROGATE.search(path) is None:
        return path
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file-system byte maps to
        return path.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _sha256(path: str) -> str:
    if path.startswith(HF_PREFIX):
        return ""
    h = hashlib.sha256()
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def read_file(
    path: str, fmt: str | None = None, field_map: dict | None = None
) -> tuple[FileReport, Iterator[Ingested]]:
    """Open one input and stream its raw records as :class:`Ingested` items.

    Args:
        path: A file, a ``save_to_disk`` folder, or ``hf:NAME[:SPLIT]``.
        fmt: Force a format (a name in :data:`~pipeline.io.formats.FORMAT_NAMES`);
            None or "auto" detects it from the first records.
        field_map: ``{canonical_name: source_name}`` renames applied to every raw
            record before detection and mapping, e.g. ``{"instruction": "prompt"}``.

    Returns:
        The report (sha256 and encoding known now; records, format and errors filled in
        as the iterator is consumed) and the iterator. Bad content never raises.
    """
    if fmt == "auto":
        fmt = None
    try:
        report = FileReport(path=display_path(path), sha256=_sha256(path))
    except OSError as e:
        report = FileReport(path=display_path(path), sha256="")
        report.error(None, f"cannot read: {e.strerror or e}")
        return report, iter(())
    if fmt is not None and fmt not in FORMATS:
        report.error(None, f"unknown format {fmt!r}; known formats: {', '.join(FORMAT_NAMES)}")
        return report, iter(())
    try:
        _, report.encoding, items = open_container(path, report.error)
    except (OSError, EOFError, zlib.error) as e:
        report.error(None, f"cannot read: {getattr(e, 'strerror', None) or e}")
        return report, iter(())
    return report, _ingest(report, items, fmt, dict(field_map or {}))


def _unknown_format(samples: list[dict]) -> str:
    keys = sorted({str(k) for s in samples for k in s})
    shown = ", ".join(keys[:20]) + (", ..." if len(keys) > 20 else "")
    return (
        f"unknown format: no known format matches the keys seen ({shown}); "
        f"pass --format NAME (one of {', '.join(FORMAT_NAMES)}) or a field_map such as "
        '{"instruction": "prompt", "output": "completion"}'
    )


def _ingest(report: FileReport, items: Iterator, fmt: str | None, field_map: dict) -> Iterator[Ingested]:
    try:
        head: list = []
        if fmt is None:
            dicts = []
            for item in items:
                head.append(item)
                if isinstance(item[1], dict) and item[2] is None:
                    dicts.append(apply_field_map(item[1], field_map) if field_map else item[1])
                    if len(dicts) >= SAMPLE:
                        break
                if len(head) >= 4 * SAMPLE:
                    break
            fmt = detect(dicts)
            if fmt is None and dicts:
                report.error(None, _unknown_format(dicts))
                return
        report.format = fmt or ""
        yield from _convert(report, chain(head, items), FORMATS.get(fmt or ""), field_map)
    except (OSError, zlib.error) as e:  # e.g. a corrupt gzip stream discovered half-way
        report.error(None, f"read error after {report.records} records: {type(e).__name__}: {e}")
    except EOFError as e:
        report.error(None, f"truncated compressed stream after {report.records} records: {e}")
    finally:
        if report._dropped_errors:
            report.errors.append(InputError(report.path, f"{report._dropped_errors} more errors not listed"))
            report._dropped_errors = 0


def _convert(report: FileReport, items: Iterable, mapper, field_map: dict) -> Iterator[Ingested]:
    source_file, fmt_name = report.path, report.format
    index = -1
    for line, obj, problem in items:
        index += 1
        report.records = index + 1
        if problem is not None:
            if problem[0] in _LINE_REASONS:
                report.error(line, problem[1])
            yield Ingested(index, None, problem[0], problem[1], obj)
            continue
        if not isinstance(obj, dict):
            yield Ingested(
                index, None, "ingest_wrong_type", f"record is {type_name(obj)}, expected object", obj
            )
            continue
        d = apply_field_map(obj, field_map) if field_map else obj
        try:
            if "chosen" in d or "rejected" in d:
                raise Reject("ingest_preference_record", "fields 'chosen'/'rejected' (preference pair)")
            if d.get("label") is False:
                raise Reject("ingest_preference_record", "field 'label' is false (KTO undesirable example)")
            if mapper is None:
                raise Reject("ingest_wrong_type", "no record format could be detected for this file")
            system, instruction, inp, output, history, meta = mapper(d)
            rec = _record(
                system,
                instruction,
                inp,
                output,
                history,
                meta,
                {"file": source_file, "index": index, "format": fmt_name},
            )
        except Reject as r:
            yield Ingested(index, None, r.reason, r.detail, obj)
            continue
        except (
            UnicodeEncodeError
        ) as e:  # a lone surrogate escape ("\\ud800") that the stdlib parser let through
            # Reported like undecodable bytes; the raw record goes to the rejects file as escaped
            # JSON text, because it cannot be UTF-8 encoded.
            detail = f"{f'line {line}: ' if line else ''}lone surrogate escape ({e.reason})"
            report.error(line, detail)
            yield Ingested(index, None, "ingest_undecodable", detail, json.dumps(obj))
            continue
        except Exception as e:  # noqa: BLE001 - a shape no mapper foresaw must not end the run
            yield Ingested(
                index, None, "ingest_wrong_type", f"unexpected record shape: {type(e).__name__}: {e}", obj
            )
            continue
        yield Ingested(index, rec)


def _record(
    system: str, instruction: str, inp: str, output: str, history: list, meta: dict, source: dict
) -> dict:
    """``new_record(...)`` for the hot path: the same dict, built without its generic checks.

    tests/io check that both give identical records, so the two cannot drift apart.
    """
    rec = {
        "id": "",
        "system": system,
        "instruction": instruction,
        "input": inp,
        "output": output,
        "history": history,
        "source": source,
        "origin": "raw",
        "lang": "",
        "task": "",
        "domain": "",
        "complexity": "",
        "cluster": "",
        "response_type": "",
        "flags": [],
        "scores": {},
        "meta": meta,
    }
    rec["id"] = record_id(rec)
    return rec


assert tuple(_record("", "", "", "", [], {}, {})) == FIELDS, "reader's record shape is out of date"
