"""`refusal`: detect refusals and over-refusals; inject negative samples at a controlled ratio.

Wiring only; the logic lives in :mod:`pipeline.refusal`. The stage is global: ``fit``
counts the live rows and their language mix, measures detection over them (so the
summary has counts even when ``process`` runs in worker processes), notes which
template instructions the corpus already contains, and collects real records whose
instruction needs its input (seeds of derived clarifications). ``inject`` then adds
exactly enough records for the configured share of the final set.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections import Counter
from collections.abc import Iterable
from typing import ClassVar

from pipeline.processor import Stage, iter_rows, judge
from pipeline.record import Batch, Verdict, prompt_text
from pipeline.refusal import cues as C
from pipeline.refusal.detect import CLASSES, Detection, Detector, script_lang
from pipeline.refusal.inject import Derived, Injector, _rng, norm_key
from pipeline.refusal.intent import Intent, missing_noun
from pipeline.refusal.ratio import plan, share
from pipeline.registry import register


def row_lang(row: dict) -> str:
    """The record's language tag folded to en/zh/other; script detection when untagged."""
    lang = (row.get("lang") or "").lower()
    if not lang:
        lang = script_lang(f"{row.get('instruction', '')}\n{row.get('output', '')}")
    if lang.startswith("zh"):
        return "zh"
    if lang.startswith("en"):
        return "en"
    return lang or "other"


_PLAIN_SCORES = (("refusal_score", 0.0), ("clarification_score", 0.0), ("correction_score", 0.0))


def _row_key(row: dict) -> bytes:
    """Digest of everything :meth:`Refusal.assess` reads (instruction, output, prompt)."""
    try:
        text = "\x00".join((row.get("instruction") or "", row.get("output") or "", prompt_text(row)))
    except TypeError:  # non-text fields: never cached, assess() decides what happens
        return b""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@register
class Refusal(Stage):
    """Tag ``response_type``, flag over-refusals and unhelpful refusals, inject negative samples."""

    name = "refusal"
    is_global = True
    #: Fields fit() reads (the engine converts only these to Python): assess(), row_lang()
    #: and the derived-clarification scan.
    fit_columns: ClassVar[tuple[str, ...]] = ("id", "system", "instruction", "input", "output", "history", "lang")

    def __init__(self, rules=None, seed: int = 0):
        super().__init__(rules, seed)
        self.n_live = 0
        self.langs: Counter = Counter()
        self.detected: Counter = Counter()
        self.hits: Counter = Counter()
        self.derived_counts: dict[str, int] = {}
        self.plan: dict[str, int] = {}
        self.injected: list[tuple[str, str]] = []
        self.shortfall: dict[str, int] = {}
        # What fit() measured, reused by process() (which sees the same rows): a row key
        # (digest of the fields assess() reads) -> compact result; plain answers with zero
        # scores (most rows) only go in a set. Plain data, so it travels to workers.
        self.plain: set[bytes] = set()
        self.found: dict[bytes, tuple] = {}

    @property
    def _ratio(self) -> dict:
        return dict(self.rules.get("ratio") or {})

    def setup(self) -> None:
        # Compiling the cue groups (regexes and prefilters) takes a while; a worker forked
        # after the main process compiled them keeps them.
        if getattr(self, "_det", None) is None:
            self._det = Detector(self.rules)
            self._intent = Intent(self.rules)

    def assess(self, row: dict) -> tuple[Detection, list[tuple[str, str]]]:
        """Classify one row and list the checks it fails (``(check, detail)``)."""
        self.setup()
        det = self._det.classify(row.get("instruction", ""), row.get("output", ""))
        hits: list[tuple[str, str]] = []
        if det.response_type != "refusal":
            return det, hits
        out = row.get("output", "")
        if not self._intent.harmful(prompt_text(row)):
            benign = self._intent.benign_sense(row.get("instruction", ""))
            if benign:
                hits.append(("over_refusal", f"benign request {benign!r} refused ({det.cue!r})"))
            elif why := self._intent.safety_reason(out):
                hits.append(("over_refusal", f"refused on safety grounds ({why!r}) with no harmful cue in the request"))
        if not self._det.refusal_has_reason(out) and not self._det.refusal_has_alternative(out):
            hits.append(("unhelpful", f"refusal ({det.cue!r}) gives no reason and no alternative"))
        return det, hits

    def _remember(self, key: bytes, det: Detection, hits: list[tuple[str, str]]) -> None:
        sc = det.scores
        if det.response_type == "answer" and not hits and not any(sc.values()):
            self.plain.add(key)
        else:
            self.found[key] = (det.response_type, det.cue, tuple(sc.items()), tuple(hits))

    def _recall(self, key: bytes) -> tuple[Detection, list[tuple[str, str]]] | None:
        if key in self.plain:
            return Detection("answer", "", dict(_PLAIN_SCORES)), []
        got = self.found.get(key)
        if got is None:
            return None
        rtype, cue, scores, hits = got
        return Detection(rtype, cue, dict(scores)), list(hits)

    def _features(self, row: dict, max_chars: int) -> tuple:
        """What ``fit`` measures on one row: ``assess()``, ``needs_input`` where the scan needs it,
        the row's cache key and language."""
        det, hits = self.assess(row)
        instr = row.get("instruction", "")
        plain = not row.get("input") and not row.get("history")
        needs = self._intent.needs_input(instr) if plain or len(instr) <= max_chars and not row.get("history") \
            else ("", "")
        return det, hits, needs, _row_key(row), row_lang(row)

    def fit_features(self, batch: Batch) -> list[tuple]:
        """The per-row part of ``fit``, which the engine may run in parallel."""
        self.setup()
        max_chars = int(self._ratio.get("derived_max_instruction_chars", 200))
        return [self._features(row, max_chars) for row in iter_rows(batch)]

    def fit(self, batches: Iterable[Batch]) -> None:
        self.setup()
        ratio = self._ratio
        langs = [str(x) for x in ratio.get("languages", ["en", "zh"])]
        injector = Injector(self.rules, self.seed)
        # Read the first batch before the serial candidate keys: an engine computing
        # features in worker processes starts them on it, and they go on meanwhile.
        batches = iter(batches)
        first = next(batches, None)
        keys = injector.candidate_keys(langs)
        batches = itertools.chain([first] if first is not None else [], batches)
        self._taken: set[int] = set()
        cap = int(ratio.get("max_candidates", 20000))
        max_chars = int(ratio.get("derived_max_instruction_chars", 200))
        reservoir = _rng(self.seed, "reservoir")
        seen: Counter = Counter()
        self._derived: dict[str, list[Derived]] = {lang: [] for lang in langs}
        for batch in batches:
            feats = batch.pop("_fit", None)
            for i, row in enumerate(iter_rows(batch)):
                self.n_live += 1
                det, hits, needs, key, lang = feats[i] if feats is not None else self._features(row, max_chars)
                self.langs[lang] += 1
                if key:
                    self._remember(key, det, hits)
                self.detected[det.response_type] += 1
                self.hits.update(check for check, _ in hits if self.enabled(check))
                instr = row.get("instruction", "")
                if not row.get("input") and not row.get("history"):
                    key = norm_key(instr)
                    if key in keys:
                        self._taken.add(key)
                    cue, _ = needs
                    if cue:  # a derived clarification with this instruction would duplicate the row
                        self._taken.add(key)
                    continue
                if row.get("history") or len(instr) > max_chars:
                    continue
                cue, noun = needs
                lang = script_lang(instr)
                if not cue or lang not in self._derived:
                    continue
                cand = Derived(row.get("id", ""), instr, cue, missing_noun(noun), lang)
                seen[lang] += 1
                pool = self._derived[lang]
                if len(pool) < cap:  # reservoir sampling keeps memory bounded
                    pool.append(cand)
                elif (j := reservoir.randrange(seen[lang])) < cap:
                    pool[j] = cand
        # Candidates stay in the main process ("_" attributes are not pickled to workers).
        self.derived_counts = {lang: len(pool) for lang, pool in sorted(self._derived.items())}

    def _lang_mix(self) -> dict[str, float]:
        langs = [str(x) for x in self._ratio.get("languages", ["en", "zh"])]
        mix = {lang: float(self.langs.get(lang, 0)) for lang in langs}
        if not any(mix.values()):
            mix = {str(self._ratio.get("default_lang", "en")): 1.0}
        return mix

    def inject(self, summary=None) -> list[dict]:
        """New records so that injections reach their target shares of the final set."""
        ratio = self._ratio
        cells = plan(self.n_live, float(ratio.get("target", 0.03)), float(ratio.get("safety_contrast", 0.0)),
                     dict(ratio.get("kinds") or {}), self._lang_mix())
        self.plan = {f"{k}/{lang}": n for (k, lang), n in sorted(cells.items())}
        taken = getattr(self, "_taken", set())
        records, self.shortfall = Injector(self.rules, self.seed).generate(cells, taken, getattr(self, "_derived", {}))
        self.injected = [(r["meta"]["kind"], r["lang"]) for r in records]
        return records

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        self.setup()
        verdicts = []
        for i, row in enumerate(iter_rows(batch)):
            got = self._recall(_row_key(row)) if self.plain or self.found else None
            det, hits = got if got is not None else self.assess(row)
            if row.get("origin") == "injected":
                # The generator knows the true class; our own injections are never judged.
                if not batch["response_type"][i]:
                    batch["response_type"][i] = det.response_type
                verdicts.append(Verdict(scores=dict(det.scores)))
                continue
            batch["response_type"][i] = det.response_type
            if det.cue:
                meta = dict(batch["meta"][i] or {})
                meta["refusal_cue"] = det.cue
                batch["meta"][i] = meta
            v = judge(self, hits, det.scores)
            if v.keep and not v.detail and det.cue:
                v = dataclasses.replace(v, detail=f"{det.response_type}: {det.cue!r}")
            verdicts.append(v)
        return batch, verdicts

    def summary(self) -> dict:
        ratio = self._ratio
        kinds = Counter(k for k, _ in self.injected)
        neg = sum(n for k, n in kinds.items() if k != "safety_contrast")
        total = len(self.injected)
        return {
            "live_rows": self.n_live,
            "languages": dict(sorted(self.langs.items())),
            "detected": {c: self.detected.get(c, 0) for c in CLASSES},
            "over_refusal": self.hits.get("over_refusal", 0),
            "unhelpful": self.hits.get("unhelpful", 0),
            "derived_candidates": self.derived_counts,
            "plan": self.plan,
            "injected": {
                "total": total,
                "by_kind": dict(sorted(kinds.items())),
                "by_lang": dict(sorted(Counter(lang for _, lang in self.injected).items())),
                "by_kind_lang": dict(sorted(Counter(f"{k}/{lang}" for k, lang in self.injected).items())),
            },
            "shortfall": dict(sorted(self.shortfall.items())),
            "ratio": {
                "target": float(ratio.get("target", 0.03)),
                "achieved": round(share(neg, self.n_live, total), 6),
                "safety_contrast_target": float(ratio.get("safety_contrast", 0.0)),
                "safety_contrast_achieved": round(share(kinds.get("safety_contrast", 0), self.n_live, total), 6),
            },
        }

    @classmethod
    def validate_rules(cls, rules) -> list[str]:
        probs = C.problems(rules)
        ratio = rules.get("ratio") or {}
        t, c = ratio.get("target", 0.03), ratio.get("safety_contrast", 0.0)
        numeric = isinstance(t, (int, float)) and isinstance(c, (int, float))
        if numeric and (t < 0 or c < 0 or t + c >= 1):
            probs.append(f"ratio: target ({t}) and safety_contrast ({c}) must be >= 0 and sum to < 1")
        for k in ratio.get("kinds") or {}:
            if k not in ("out_of_bounds", "ambiguous", "false_premise"):
                probs.append(f"ratio.kinds.{k}: unknown kind; kinds: out_of_bounds, ambiguous, false_premise")
        ds = ratio.get("derived_share", 0.5)
        if isinstance(ds, (int, float)) and not 0 <= ds <= 1:
            probs.append(f"ratio.derived_share: must be in [0, 1], got {ds}")
        return probs
