"""`schema`: validate every record against ``schemas/record.schema.json`` with jsonschema.

Reason codes name the kind of failure; the detail names the failing field path.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.engines.arrow_apply import all_items, python_rows
from pipeline.processor import Stage
from pipeline.record import Batch, Verdict
from pipeline.registry import register

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "record.schema.json"

# jsonschema validator keyword -> our reason code.
_REASONS = {
    "required": "schema_missing_field",
    "type": "schema_wrong_type",
    "minLength": "schema_empty_field",
    "pattern": "schema_empty_field",
    "enum": "schema_invalid_value",
    "minimum": "schema_invalid_value",
    "additionalProperties": "schema_unexpected_field",
}

#: sha256 of the canonical JSON of the record schema that :func:`surely_valid` was written for.
#: When ``schemas/record.schema.json`` changes, the Arrow path turns itself off until the checks
#: are reviewed and this digest updated (a test fails as a reminder).
ARROW_CHECKED_SCHEMA = "4acd9dd715262177650c86d7f73db08c6dc7bf37bd2535dad135ea1f50b00494"


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_digest(schema: dict) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


def load_validator() -> jsonschema.protocols.Validator:
    """The validator for the canonical record schema."""
    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


_WORD = "x"


def verbatim_fields(schema: dict) -> frozenset[str]:
    """Top-level fields whose string values matter beyond "empty / blank / has text".

    A field is verbatim when its sub-schema has an ``enum``, a ``maxLength`` or a
    ``pattern`` other than ``\\S``; every other string only meets type, ``minLength: 1``
    and ``\\S`` constraints.
    """
    out = set()
    for name, sub in schema.get("properties", {}).items():
        blob = json.dumps(sub)
        patterns = set(re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', blob))
        if '"enum"' in blob or '"maxLength"' in blob or patterns - {"\\\\S"}:
            out.add(name)
    return frozenset(out)


def _skeleton(value, verbatim: bool):
    """A hashable stand-in of ``value`` that validates exactly like it against the record schema.

    Non-verbatim strings are reduced to their class (empty, blank, or has text) and
    non-negative numbers to their type (the schema only has ``minimum: -1``). Records with
    the same skeleton share one jsonschema validation: on real corpora almost every
    record has the same shape, which makes this stage an order of magnitude faster.
    """
    if isinstance(value, str):
        if verbatim:
            return value
        return "" if not value else (_WORD if not value.isspace() else " ")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return type(value)(0)
    if isinstance(value, dict):
        return ("d", tuple((k, _skeleton(v, verbatim)) for k, v in value.items()))
    if isinstance(value, list):
        return ("l", tuple(_skeleton(v, verbatim) for v in value))
    return value


def _unskeleton(sk):
    if isinstance(sk, tuple) and sk and sk[0] == "d":
        return {k: _unskeleton(v) for k, v in sk[1]}
    if isinstance(sk, tuple) and sk and sk[0] == "l":
        return [_unskeleton(v) for v in sk[1]]
    return sk


def explain(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(reason code, detail naming the field) for one validation error."""
    path = ".".join(str(p) for p in error.absolute_path) or "<record>"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return _REASONS["required"], f"field '{missing}' is missing"
    reason = _REASONS.get(str(error.validator), "schema_invalid")
    if error.validator == "pattern" and error.validator_value != "\\S":
        reason = "schema_invalid_value"
    if reason == "schema_empty_field":
        return reason, f"field '{path}' is empty or whitespace only"
    return reason, f"field '{path}': {error.message[:200]}"


@register
class Schema(Stage):
    """Reject records that do not match the canonical schema."""

    name = "schema"

    def setup(self) -> None:
        self._validator = load_validator()
        self._cache: dict = {}
        schema = load_schema()
        self._verbatim = verbatim_fields(schema)
        self._arrow = schema_digest(schema) == ARROW_CHECKED_SCHEMA

    def process_arrow(self, table: pa.Table) -> pa.Table | None:
        """jsonschema runs only on rows that :func:`surely_valid` cannot vouch for."""
        if not self._arrow:
            return None
        return python_rows(table, pc.invert(surely_valid(table)), self.name, self)

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        if getattr(self, "_validator", None) is None:
            self.setup()
        keys = list(batch)
        # ids differ per record but only their length matters to the schema.
        columns = [_column_skeleton(batch[k], k in self._verbatim) for k in keys]
        cache = self._cache
        verdicts = []
        for key in zip(*columns):
            verdict = cache.get(key)
            if verdict is None:
                verdict = self._validate({k: _unskeleton(v) for k, v in zip(keys, key)})
                if len(cache) < 100_000:
                    cache[key] = verdict
            verdicts.append(verdict)
        return batch, verdicts

    def _validate(self, rec: dict) -> Verdict:
        # best_match picks the most relevant error deterministically.
        err = jsonschema.exceptions.best_match(self._validator.iter_errors(rec))
        if err is None:
            return Verdict()
        reason, detail = explain(err)
        return Verdict(keep=False, reason=reason, detail=detail)


def _sk(v):
    """``_skeleton(v, verbatim=False)``, inlined for the common types (this runs per value)."""
    cls = v.__class__
    if cls is str:
        return "" if not v else (" " if v.isspace() else _WORD)
    if cls is dict:
        return ("d", tuple([(k, _sk(x)) for k, x in v.items()]))
    if cls is list:
        return ("l", tuple([_sk(x) for x in v]))
    return _skeleton(v, False)


def _column_skeleton(values: list, verbatim: bool) -> list:
    """``_skeleton`` of every value of one column."""
    if verbatim:
        return [v if v.__class__ is str else _skeleton(v, True) for v in values]
    return [_sk(v) for v in values]


# What surely_valid accepts is a subset of what the record schema accepts; anything else goes
# through jsonschema. Non-whitespace for Python's \S is approximated by ASCII graphics and
# CJK ideographs (a text with neither is checked by jsonschema).
_HAS_TEXT = "[\x21-\x7e]|[\u4e00-\u9fff]"
_FLAG = "^[a-z][a-z0-9_]*$"
_ORIGINS = pa.array(["raw", "injected", "mixed"])
_RESPONSE_TYPES = pa.array(["", "answer", "refusal", "clarification", "correction"])
_STRINGS = ("system", "input", "lang", "task", "domain", "complexity", "cluster")


def surely_valid(table: pa.Table) -> pa.Array:
    """Rows of an engine table that certainly match the record schema (see ARROW_CHECKED_SCHEMA)."""
    col = table.column
    conds = [pc.greater(pc.binary_length(col("id")), 0),
             pc.match_substring_regex(col("instruction"), _HAS_TEXT),
             pc.match_substring_regex(col("output"), _HAS_TEXT),
             pc.is_in(col("origin"), value_set=_ORIGINS),
             pc.is_in(col("response_type"), value_set=_RESPONSE_TYPES),
             pc.or_(pc.equal(col("scores"), ""), pc.equal(col("scores"), "{}")),
             pc.or_(pc.equal(col("meta"), ""), pc.starts_with(col("meta"), "{")),
             pc.is_valid(col("source"))]
    conds += [pc.is_valid(col(c)) for c in _STRINGS]
    src = col("source")
    conds += [pc.is_valid(pc.struct_field(src, "file")), pc.is_valid(pc.struct_field(src, "format")),
              pc.greater_equal(pc.struct_field(src, "index"), -1)]
    ok = conds[0]
    for c in conds[1:]:
        ok = pc.and_(ok, c)
    ok = pc.fill_null(ok, False)
    return pc.and_(ok, pc.and_(all_items(col("history"), _turn_ok), all_items(col("flags"), _flag_ok)))


def _turn_ok(turns: pa.Array) -> pa.Array:
    return pc.and_(pc.greater(pc.binary_length(pc.struct_field(turns, "instruction")), 0),
                   pc.greater(pc.binary_length(pc.struct_field(turns, "output")), 0))


def _flag_ok(flags: pa.Array) -> pa.Array:
    return pc.match_substring_regex(flags, _FLAG)
