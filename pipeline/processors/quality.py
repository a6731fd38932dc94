"""The ``quality`` stage: wire the signal modules of :mod:`pipeline.quality` into one processor.

Each check is a named score in ``scores`` and a hit ``quality_<check>`` whose action comes
from ``rules/quality.yaml``: drop, flag or off, plus ``redact`` (pii), ``strip``
(boilerplate, identity_leak) and ``keep_first`` (conflicting_answers). Rewrites happen
before measuring, so every other signal sees the text that will be kept.

The stage is global for one check only: conflicting duplicates need the whole dataset,
so ``fit`` indexes prompt hashes -> output fingerprints (hashes, never texts).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar, Iterable, Mapping

from pipeline.processor import Stage, judge
from pipeline.quality.answers import Answers
from pipeline.quality.arithmetic import Arithmetic
from pipeline.quality.conflicts import ConflictIndex
from pipeline.quality.context import Ctx
from pipeline.quality.garbage import Garbage
from pipeline.quality.length import Length
from pipeline.quality.phrases import Phrases
from pipeline.quality.pii import Pii
from pipeline.quality.prompt_checks import PromptChecks
from pipeline.quality.repetition import Repetition
from pipeline.quality.verify import Verify
from pipeline.record import Batch, Verdict, batch_len
from pipeline.registry import register

#: Checks in priority order: when several drop, the first one is the reason.
CHECKS: tuple[str, ...] = (
    "empty_output", "mojibake", "replacement_char", "non_answer", "echo", "code_syntax",
    "json_syntax", "arithmetic", "missing_input", "impossible_task", "looping", "identity_leak",
    "boilerplate", "toxic", "pii", "repetition", "truncated", "too_short", "too_long",
    "symbol_ratio", "escapes", "restates_question", "conflicting_answers",
)
_RANK = {c: i for i, c in enumerate(CHECKS)}
_TEXT = ("system", "instruction", "input", "output")
_STRIP_ONLY = {"strip": ("boilerplate", "identity_leak"), "redact": ("pii",), "keep_first": ("conflicting_answers",)}


@register
class Quality(Stage):
    """Bilingual quality checks with per-check actions; see ``rules/quality.yaml``."""

    name: ClassVar[str] = "quality"
    is_global: ClassVar[bool] = True
    #: Fields fit() reads (the engine converts only these to Python): the conflict index.
    fit_columns: ClassVar[tuple[str, ...]] = ("id", "system", "history", "instruction", "input", "output")
    extra_actions: ClassVar[tuple[str, ...]] = ("redact", "strip", "keep_first")

    def __init__(self, rules: Mapping[str, Any] | None = None, seed: int = 0):
        super().__init__(rules, seed)
        cfg = self.check("conflicting_answers")
        self.conflicts = ConflictIndex(int(cfg.get("short_tokens", 10)), int(cfg.get("min_hamming", 12)))
        self.conflict_stats: dict[str, int] = {"clusters": 0, "members": 0}

    @classmethod
    def validate_rules(cls, rules: Mapping[str, Any]) -> list[str]:
        probs = []
        checks = rules.get("checks") or {}
        for act, allowed in _STRIP_ONLY.items():
            for check, block in checks.items():
                if isinstance(block, Mapping) and block.get("action") == act and check not in allowed:
                    probs.append(f"checks.{check}.action: {act!r} only applies to {', '.join(allowed)}")
        unknown = set(checks) - set(CHECKS)
        if unknown:
            probs.append(f"checks: unknown checks {sorted(unknown)}; known: {', '.join(CHECKS)}")
        return probs

    def setup(self) -> None:
        self._signals = [Length(self.rules), Garbage(self.rules), Answers(self.rules), Verify(self.rules),
                         Arithmetic(self.rules), PromptChecks(self.rules), Repetition(self.rules)]
        self._phrases = Phrases(self.rules)
        self._pii = Pii(self.rules)
        # Actions are looked up several times per row (judge, redact, strip): resolve
        # them once per worker, like the signals' thresholds above.
        self._actions: dict[str, str] = {}

    def action(self, name: str) -> str:
        cache = self.__dict__.get("_actions")
        if cache is None:
            return super().action(name)
        act = cache.get(name)
        if act is None:
            act = cache[name] = super().action(name)
        return act

    def fit_features(self, batch: Batch) -> list[tuple]:
        """The per-row part of ``fit`` (prompt key, output fingerprint); the engine may run it in parallel."""
        if not self.enabled("conflicting_answers"):
            return [()] * batch_len(batch)
        keys = [k for k in ("id", "system", "history", "instruction", "input", "output") if k in batch]
        return self.conflicts.features([{k: batch[k][i] for k in keys} for i in range(batch_len(batch))])

    def fit(self, batches: Iterable[Batch]) -> None:
        """Index prompt -> output fingerprints to find conflicting duplicates."""
        if not self.enabled("conflicting_answers"):
            return
        def items() -> Iterable[tuple]:
            for b in batches:
                feats = b.pop("_fit", None)
                if feats is None:
                    feats = self.fit_features(b)
                yield from zip(b["id"], *zip(*feats)) if feats else ()

        self.conflicts.fit_features(items())
        self.conflict_stats = {"clusters": len(self.conflicts.clusters),
                               "members": sum(m for _, m in self.conflicts.clusters.values())}

    def summary(self) -> dict:
        return {"conflicting_answers": dict(self.conflict_stats)}

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        if getattr(self, "_signals", None) is None:
            self.setup()
        return batch, [self._row(batch, i) for i in range(batch_len(batch))]

    def _row(self, batch: Batch, i: int) -> Verdict:
        hits: list[tuple[str, str]] = []
        scores: dict[str, float] = {}
        pii = self._redact(batch, i) if self.enabled("pii") else ""
        scores["pii"] = float(pii.count(",") + 1 if pii else 0)
        if pii:
            hits.append(("pii", pii))
        row = {k: batch[k][i] for k in ("instruction", "input", "output", "lang", "response_type")}
        s, h = self._phrases(Ctx(row["instruction"] or "", row["input"] or "", row["output"] or ""))
        scores.update(s)
        for check, detail in h:
            if self.action(check) == "strip":
                row["output"] = batch["output"][i] = self._phrases.strip(row["output"], check)
                detail += " (sentence stripped)"
            hits.append((check, detail))
        ctx = Ctx.of(row)
        for sig in self._signals:
            s, h = sig(ctx)
            scores.update(s)
            hits += h
        keep_first_drop = self._conflict(batch, i, hits, scores)
        hits.sort(key=lambda hd: _RANK.get(hd[0], len(CHECKS)))
        verdict = judge(self, hits, scores)
        if keep_first_drop and verdict.keep:
            return Verdict(keep=False, reason="quality_conflicting_answers", detail=keep_first_drop, scores=scores)
        return verdict

    def _redact(self, batch: Batch, i: int) -> str:
        """Find (and with action ``redact``, replace) PII in every text field; return a summary."""
        redact = self.action("pii") == "redact"
        kinds: list[str] = []
        for f in _TEXT:
            text = batch[f][i] or ""
            if redact:
                new, found = self._pii.redact(text)
                if found:
                    batch[f][i] = new
            else:
                found = [k for k, _, _ in self._pii.find(text)]
            kinds += found
        turns = []
        for turn in batch["history"][i] or []:
            t = dict(turn)
            for f in ("instruction", "output"):
                if redact:
                    t[f], found = self._pii.redact(t.get(f, ""))
                else:
                    found = [k for k, _, _ in self._pii.find(t.get(f, ""))]
                kinds += found
            turns.append(t)
        if redact and kinds:
            batch["history"][i] = turns
        if not kinds:
            return ""
        what = ", ".join(f"{n} {k}" for k, n in sorted(Counter(kinds).items()))
        return f"{'redacted' if redact else 'found'} {what}"

    def _conflict(self, batch: Batch, i: int, hits: list, scores: dict) -> str:
        """Add the conflicting_answers hit and meta; return a drop detail for keep_first losers."""
        found = self.conflicts.lookup({k: batch[k][i] for k in ("id", "system", "history", "instruction", "input")}) \
            if self.enabled("conflicting_answers") else None
        scores["conflicting_answers"] = float(found is not None)
        if found is None:
            return ""
        cluster, first, size = found
        meta = dict(batch["meta"][i] or {})
        meta["conflict_cluster"] = cluster
        batch["meta"][i] = meta
        detail = f"cluster {cluster}: {size} records share this prompt with different answers"
        hits.append(("conflicting_answers", detail))
        if self.action("conflicting_answers") == "keep_first" and not first:
            return detail + " (not the first member)"
        return ""
