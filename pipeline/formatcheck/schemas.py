"""Output-format JSON schemas (``schemas/formats/*.json``) and their bindings to records.

A binding in ``rules.schemas.bindings`` attaches a schema to a record by task tag
(``task: [...]``), by source file (``source_file: [fnmatch patterns]``), by an
instruction pattern (``instruction_regex``), or to a requirement kind
(``requirement: option_letter``: the schema then verifies that requirement). Each schema
says how the output becomes an instance in ``x-sftpipe-instance``: ``json`` (parse the
output as JSON), ``label`` (lower-cased text without quotes/emphasis/final period) or
``option`` (text without quotes/parentheses/final period, a single letter upper-cased).
"""
from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any, Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from pipeline.formatcheck.verify import parse_json_output

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_KINDS = ("json", "label", "option")


def load_schemas(directory: Path) -> dict[str, dict]:
    """Every ``*.json`` directly under ``directory`` by file stem (sub-folders are not formats)."""
    out = {}
    for path in sorted(directory.glob("*.json")):
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out


def coerce(kind: str, output: str) -> tuple[bool, Any]:
    """The instance a schema validates, from the raw output; ``(False, why)`` when there is none."""
    if kind == "json":
        return parse_json_output(output)
    core = output.strip().strip("\"'“”‘’*`").strip()
    if kind == "label":
        return True, core.rstrip(".。!！").strip().lower()
    core = core.strip("()（）[]").rstrip(".。)").strip()
    return True, core.upper() if len(core) == 1 else core


class SchemaBook:
    """Loaded schemas plus the bindings that attach them to records.

    Args:
        rules: The ``schemas`` block of the format rules (``dir``, ``bindings``).
    """

    def __init__(self, rules: Mapping[str, Any]):
        directory = Path(rules.get("dir") or "schemas/formats")
        if not directory.is_absolute():
            directory = REPO_ROOT / directory
        self.schemas = load_schemas(directory) if directory.is_dir() else {}
        self.validators = {n: Draft202012Validator(s) for n, s in self.schemas.items()}
        self.bindings = [dict(b) for b in rules.get("bindings") or []]
        self._regex = [re.compile(b["instruction_regex"], re.I) if b.get("instruction_regex") else None
                       for b in self.bindings]

    @staticmethod
    def problems(rules: Mapping[str, Any]) -> list[str]:
        """Config problems: unknown schema names, bad regexes, bindings with no selector."""
        probs = []
        try:
            book = SchemaBook(rules)
        except (OSError, ValueError, re.error) as e:
            return [f"schemas: {e}"]
        for i, b in enumerate(book.bindings):
            if b.get("schema") not in book.schemas:
                probs.append(f"schemas.bindings[{i}]: unknown schema {b.get('schema')!r}; known: {sorted(book.schemas)}")
            if not any(b.get(k) for k in ("task", "source_file", "instruction_regex", "requirement")):
                probs.append(f"schemas.bindings[{i}]: needs task, source_file, instruction_regex or requirement")
        for name, schema in book.schemas.items():
            if schema.get("x-sftpipe-instance", "json") not in INSTANCE_KINDS:
                probs.append(f"schemas/{name}.json: x-sftpipe-instance must be one of {INSTANCE_KINDS}")
        return probs

    def for_requirement(self, kind: str) -> str | None:
        """The schema bound to a requirement kind (e.g. option_letter), if any."""
        for b in self.bindings:
            if b.get("requirement") == kind and b.get("schema") in self.schemas:
                return b["schema"]
        return None

    def bound(self, instruction: str, task: str, source_file: str) -> list[str]:
        """Names of schemas bound to a record by task, source file or instruction pattern."""
        names: list[str] = []
        for b, rx in zip(self.bindings, self._regex):
            name = b.get("schema")
            if name not in self.schemas or name in names or b.get("requirement"):
                continue
            if (task and task in (b.get("task") or [])) or \
                    (source_file and any(fnmatch.fnmatch(source_file, p) for p in b.get("source_file") or [])) or \
                    (rx is not None and rx.search(instruction)):
                names.append(name)
        return names

    def validate(self, name: str, output: str) -> str | None:
        """Validate ``output`` against schema ``name``; the error message, or None when valid."""
        schema = self.schemas[name]
        ok, instance = coerce(schema.get("x-sftpipe-instance", "json"), output)
        if not ok:
            return f"not JSON ({instance})"
        err = best_match(self.validators[name].iter_errors(instance))
        if err is None:
            return None
        where = "/".join(str(p) for p in err.absolute_path)
        msg = err.message if len(err.message) <= 120 else err.message[:119] + "…"
        return f"{where + ': ' if where else ''}{msg}"
