"""Per-record format checking: requirements (parsed + schema-bound) and their verification.

:class:`RecordChecker` is what the ``format`` processor calls for every row, both in
``fit`` (for report counts) and in ``process`` (for verdicts).
"""
from __future__ import annotations

from typing import Any, Mapping

from pipeline.formatcheck.requirements import Extractor
from pipeline.formatcheck.schemas import SchemaBook
from pipeline.formatcheck.verify import Verifier

#: Check priority: the first dropping hit becomes the reject reason, so certain,
#: explicit violations come before counted and softer ones.
ORDER = ("json_invalid", "json_schema", "label_set", "option_letter", "yes_no", "single_word", "answer_language",
         "item_count", "sentence_count", "length_limit", "length_target", "structure", "register",
         "inconsistent_style")
SKIP_RESPONSE_TYPES = ("refusal", "clarification")


class RecordChecker:
    """Extract and verify the format requirements of single records.

    Args:
        rules: The whole format rules dict.
    """

    def __init__(self, rules: Mapping[str, Any]):
        self.extractor = Extractor(rules.get("requirements") or {})
        self.book = SchemaBook(rules.get("schemas") or {})
        self.verifier = Verifier(rules, schema_check=self.book.validate)
        prefixes = (rules.get("requirements") or {}).get("refusal_prefixes") or []
        self.refusal_prefixes = tuple(p.lower() for p in prefixes)
        self.option_schema = self.book.for_requirement("option_letter")

    def requirements(self, rec: Mapping[str, Any]) -> list[dict]:
        """Every requirement of a record: parsed ones, then schemas bound by task/source/pattern."""
        reqs = self.extractor.extract(rec.get("instruction") or "", rec.get("system") or "", rec.get("input") or "")
        if self.option_schema:
            for r in reqs:
                if r["kind"] == "option_letter":
                    r["schema"] = self.option_schema
        src = rec.get("source") or {}
        for name in self.book.bound(rec.get("instruction") or "", rec.get("task") or "", src.get("file") or ""):
            inst = self.book.schemas[name].get("x-sftpipe-instance", "json")
            reqs.append({"kind": "schema", "name": name, "instance": inst, "source": "binding"})
        return reqs

    def skip(self, rec: Mapping[str, Any]) -> bool:
        """Empty outputs and refusals are other stages' business, not format violations."""
        out = (rec.get("output") or "").strip()
        if not out or rec.get("response_type") in SKIP_RESPONSE_TYPES:
            return True
        return out.lower().startswith(self.refusal_prefixes)

    def hits(self, reqs: list[dict], output: str) -> list[tuple[str, str]]:
        """``(check, detail)`` violations of ``output`` in :data:`ORDER` priority."""
        found = list(self.verifier.generic(output))
        for req in reqs:
            hit = self.verifier.check(req, output)
            if hit:
                found.append(hit)
        rank = {c: i for i, c in enumerate(ORDER)}
        seen, out = set(), []
        for check, detail in sorted(found, key=lambda h: rank.get(h[0], len(ORDER))):
            if check not in seen:  # one hit per check keeps details readable
                seen.add(check)
                out.append((check, detail))
        return out
