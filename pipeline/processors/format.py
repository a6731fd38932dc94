"""`format`: output-format requirements are stated, followed, and consistent across a task.

Per record: explicit requirements are parsed from the instruction, system prompt and
(short) input, EN + ZH (item/sentence counts, length limits, JSON and its keys, yes/no,
option letter, one word, answer language, register, table/list/code structure), plus
output schemas bound in ``rules.schemas``; the output is verified against each
(``format_<check>`` reasons, detail "asked for 3 items, found 1"). The requirements are
stored in ``meta["format"]["requirements"]``.

Dataset level (global stage): ``fit`` groups records into task families by masked
instruction template and counts style features per family; ``process`` flags a
minority style (``format_inconsistent_style``) or, with ``consistency.normalize``,
rewrites it to the majority style where that is mechanical.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping

from pipeline.formatcheck.checker import RecordChecker
from pipeline.formatcheck.consistency import (
    MECHANICAL,
    DeferredStyles,
    FamilyStats,
    Styler,
    family_key,
    template,
)
from pipeline.formatcheck.schemas import SchemaBook
from pipeline.processor import Stage, iter_rows, judge
from pipeline.record import Batch, Verdict
from pipeline.registry import register

#: At most this many rows keep their fit-time template and styles for process() to reuse
#: (memory bound only: rows beyond it are recomputed, with the same results).
_MAX_FIT_CACHE = 500_000


@register
class Format(Stage):
    """Verify stated output formats and keep each task family's style consistent."""

    name = "format"
    is_global = True

    def __init__(self, rules: Mapping[str, Any] | None = None, seed: int = 0):
        super().__init__(rules, seed)
        self.stats = FamilyStats(self.rules.get("consistency") or {})
        self.requirement_counts: dict[str, int] = {}
        self.violation_counts: dict[str, int] = {}

    @classmethod
    def validate_rules(cls, rules: Mapping[str, Any]) -> list[str]:
        """Schema bindings must name shipped schemas; regexes must compile."""
        return SchemaBook.problems(rules.get("schemas") or {})

    def setup(self) -> None:
        self._checker = RecordChecker(self.rules)
        self._styler = Styler(self.rules.get("consistency") or {}, self._checker.verifier.register_of)

    def _ready(self) -> None:
        if getattr(self, "_checker", None) is None:
            self.setup()

    @staticmethod
    def _texts_hash(rec: Mapping[str, Any]) -> int:
        # Checked on reuse, so a row whose texts changed between fit and process (or an id
        # seen twice with other texts) misses the cache instead of reusing stale styles.
        return hash((rec.get("instruction"), rec.get("output")))

    def _fit_styles(self, rid: Any, rec: Mapping[str, Any]) -> tuple[str, dict[str, str] | None]:
        """``(template, styles or None when not needed)``, reusing what fit computed for the row."""
        cache = getattr(self, "_fit_cache", None)
        hit = cache.get(rid) if cache else None
        if hit is not None and hit[0] == self._texts_hash(rec):
            return hit[1], hit[2]
        return template(rec.get("instruction") or ""), None

    def _count_mode(self) -> bool:
        return bool((self.rules.get("summary") or {}).get("count_violations", False))

    @property
    def fit_columns(self) -> list[str] | None:
        """What fit reads: four fields, or whole rows when it counts violations."""
        return None if self._count_mode() else ["id", "instruction", "output", "response_type"]

    def _rows(self, batch: Batch, count: bool):
        return iter_rows(batch) if count else (
            {"id": d, "instruction": i, "output": o, "response_type": t}
            for d, i, o, t in zip(batch["id"], batch["instruction"], batch["output"], batch["response_type"]))

    def _fit_row(self, rec: Mapping[str, Any], tmpl: str, styled: bool, count: bool) -> tuple:
        """What ``fit`` measures on one row: (template, styles or None, counted)."""
        styles = self._styler.styles(rec["output"]) if tmpl and styled else None
        counted = None
        if count:
            reqs = self._checker.requirements(rec)
            counted = ([r["kind"] for r in reqs], [check for check, _ in self._checker.hits(reqs, rec["output"])])
        return tmpl, styles, counted

    def fit_features(self, batch: Batch) -> list[tuple | None]:
        """The per-row part of ``fit``, which the engine may run in parallel: None for a skipped
        row, else (template, styles, counted).

        Styles only matter in families of ``min_family`` records or more, which most rows
        are not in; ``fit`` styles the rows of such families (see ``DeferredStyles``). Rows
        whose template repeats within the batch are styled here already, so that datasets
        made of few task templates keep that work in parallel.
        """
        self._ready()
        count = self._count_mode()
        rows = [None if self._checker.skip(rec) else rec for rec in self._rows(batch, count)]
        tmpls = [template(rec.get("instruction") or "") if rec is not None else None for rec in rows]
        seen = Counter(tmpls)
        return [None if rec is None else self._fit_row(rec, tmpl, seen[tmpl] > 1, count)
                for rec, tmpl in zip(rows, tmpls)]

    def fit(self, batches: Iterable[Batch]) -> None:
        self._ready()
        count = self._count_mode()
        # process() needs each row's template again, and its output styles where fit_features
        # computed them; keep them (interned, not pickled to workers: "_" attributes are
        # transient) instead of recomputing.
        self._fit_cache: dict[Any, tuple[int, str, dict[str, str] | None]] = {}
        cache, shared = self._fit_cache, {}
        family = DeferredStyles(self.stats, self._styler.styles)
        for batch in batches:
            feats = batch.pop("_fit", None)
            if feats is None:
                feats = self.fit_features(batch)
            for i, rec in enumerate(self._rows(batch, count)):
                got = feats[i]
                if got is None:
                    continue
                tmpl, styles, counted = got
                if tmpl:
                    family.add(family_key(tmpl), tmpl, styles, rec["output"])
                if len(cache) < _MAX_FIT_CACHE:
                    tmpl = shared.setdefault(tmpl, tmpl)
                    if styles is not None:
                        styles = shared.setdefault(tuple(styles.items()), styles)
                    cache[rec.get("id")] = (self._texts_hash(rec), tmpl, styles)
                if counted:
                    for kind in counted[0]:
                        self.requirement_counts[kind] = self.requirement_counts.get(kind, 0) + 1
                    for check in counted[1]:
                        self.violation_counts[check] = self.violation_counts.get(check, 0) + 1

    def summary(self) -> dict:
        """Requirement kinds found, violations per check (before actions), family statistics."""
        return {"requirements": dict(sorted(self.requirement_counts.items())),
                "violations": dict(sorted(self.violation_counts.items())),
                "consistency": self.stats.summary()}

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        self._ready()
        normalize = bool((self.rules.get("consistency") or {}).get("normalize", False))
        verdicts = []
        for i, rec in enumerate(iter_rows(batch)):
            if self._checker.skip(rec):
                # Refusals and empty outputs are other stages' business; record what was asked.
                info = {"requirements": self._checker.requirements(rec), "verified": False}
                batch["meta"][i] = {**(rec.get("meta") or {}), "format": info}
                verdicts.append(Verdict())
                continue
            style_hits, changed = self._consistency(rec, normalize, *self._fit_styles(batch["id"][i], rec))
            if changed:
                batch["output"][i] = rec["output"]
            reqs = self._checker.requirements(rec)
            hits = self._checker.hits(reqs, rec["output"]) + style_hits
            info: dict[str, Any] = {"requirements": reqs}
            if changed:
                info["normalized"] = changed
            batch["meta"][i] = {**(rec.get("meta") or {}), "format": info}
            verdicts.append(judge(self, hits))
        return batch, verdicts

    def _consistency(self, rec: dict, normalize: bool, tmpl: str,
                     styles: dict[str, str] | None) -> tuple[list[tuple[str, str]], list[str]]:
        if not tmpl or not self.stats.counts:
            return [], []
        key = family_key(tmpl)
        if not self.stats.matters(key):
            return [], []  # too small a family for a minority style (the styles were not computed)
        hits, changed = [], []
        if styles is None:
            styles = self._styler.styles(rec["output"])
        for feat, value in styles.items():
            found = self.stats.minority(key, feat, value)
            if not found:
                continue
            major, major_n, total = found
            if normalize and feat in MECHANICAL:
                new = self._styler.normalize(rec["output"], feat, major)
                if new is not None and new != rec["output"]:
                    rec["output"] = new
                    changed.append(f"{feat}: {value} -> {major}")
                    continue
            hits.append(("inconsistent_style", f"task family '{tmpl[:60]}': {major_n}/{total} use {feat}={major}, "
                                               f"this output uses {value}"))
        return hits[:1], changed
