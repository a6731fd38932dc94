"""`schema`: validate every record against ``schemas/record.schema.json`` with jsonschema.

Reason codes name the kind of failure; the detail names the failing field path.
"""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema

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
_FIELDS = ("id", "system", "instruction", "input", "output", "history", "source", "origin",
           "lang", "task", "domain", "complexity", "cluster", "response_type", "flags", "scores", "meta")


def load_validator() -> jsonschema.protocols.Validator:
    """The compiled validator for the canonical record schema."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def explain(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(reason code, detail naming the field) for one validation error."""
    path = ".".join(str(p) for p in error.absolute_path) or "<record>"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return _REASONS["required"], f"field '{missing}' is missing"
    reason = _REASONS.get(str(error.validator), "schema_invalid")
    if reason == "schema_empty_field":
        return reason, f"field '{path}' is empty or whitespace only"
    return reason, f"field '{path}': {error.message[:200]}"


@register
class Schema(Stage):
    """Reject records that do not match the canonical schema."""

    name = "schema"

    def setup(self) -> None:
        self._validator = load_validator()

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        if getattr(self, "_validator", None) is None:
            self.setup()
        n = len(batch.get("id", []))
        keys = [k for k in _FIELDS if k in batch]
        verdicts = []
        for i in range(n):
            rec = {k: batch[k][i] for k in keys}
            # best_match picks the most relevant error deterministically.
            err = jsonschema.exceptions.best_match(self._validator.iter_errors(rec))
            if err is None:
                verdicts.append(Verdict())
            else:
                reason, detail = explain(err)
                verdicts.append(Verdict(keep=False, reason=reason, detail=detail))
        return batch, verdicts
