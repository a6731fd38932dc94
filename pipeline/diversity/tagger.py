"""All diversity tags of one record: task, domain, complexity, verb–object.

The tagger is a pure function of the record and the rules, so the main process
(``fit``) and the workers (``process``) tag every row identically.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import RULES_DIR, read_yaml
from pipeline.diversity.complexity import ComplexityScorer
from pipeline.diversity.domain import DomainTagger
from pipeline.diversity.task import TaskClassifier
from pipeline.diversity.text import guess_lang, list_items, units
from pipeline.diversity.verbobj import VerbObject

# The record fields ``Tagger.tag`` reads.
READS = ("instruction", "input", "output", "history", "meta", "response_type", "system", "lang")


@dataclass(frozen=True)
class Tags:
    """The tags of one record, plus the evidence behind them."""

    task: str
    task_rule: str
    task_confidence: float
    task_subtype: str
    domain: str
    complexity: float
    bucket: str
    verb: str
    obj: str
    lang: str


def load_taxonomy(rules: Mapping[str, Any]) -> dict:
    """Read the taxonomy file named by ``rules['taxonomy_file']`` (relative to rules/)."""
    path = Path(str(rules.get("taxonomy_file", "taxonomy.yaml")))
    if not path.is_absolute():
        path = RULES_DIR / path
    return read_yaml(path)


def requirement_count(meta: Mapping[str, Any]) -> int:
    """Number of format requirements the format stage stored in ``meta.format.requirements``."""
    fmt = meta.get("format") if isinstance(meta, Mapping) else None
    reqs = fmt.get("requirements") if isinstance(fmt, Mapping) else None
    return len(reqs) if isinstance(reqs, list) else 0


_BUILT: dict[str, Tagger] = {}  # rules content -> tagger, see tagger_for()
_BUILT_MAX = 4


def tagger_for(rules: Mapping[str, Any], taxonomy: Mapping[str, Any]) -> Tagger:
    """The tagger of these rules, built once per process (and inherited by forked workers).

    A stage is copied to workers and set up again in each, and a run may set up the
    same stage for ``fit`` and for ``process``; compiling the rules is the costly part of
    setting up, and the result depends only on their content, so it is kept by content.
    A tagger holds no state that changes its results, so copies can share one.
    """
    key = repr((rules, taxonomy))  # plain YAML data: equal reprs, equal rules
    tagger = _BUILT.get(key)
    if tagger is None:
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.clear()
        tagger = _BUILT[key] = Tagger(rules, taxonomy)
    return tagger


class Tagger:
    """Compiled classifiers of the stage; build once per process (see ``tagger_for``)."""

    def __init__(self, rules: Mapping[str, Any], taxonomy: Mapping[str, Any]):
        # jieba is loaded lazily by the verb-object tagger on the first Chinese
        # instruction (it is only needed there); an English corpus never pays for it.
        self.tasks = TaskClassifier(taxonomy)
        dom = rules.get("domain") or {}
        self.domains = DomainTagger(taxonomy.get("domains") or {}, int(dom.get("min_hits", 1)),
                                    str(dom.get("other", "other")))
        self.output_chars = int(dom.get("output_chars", 400))
        self.complexity = ComplexityScorer(rules.get("complexity") or {})
        self.verbobj = VerbObject(rules.get("verb_object") or {})
        src = rules.get("source_labels") or {}
        self.label_keys = list(src.get("keys") or []) if src.get("enabled", False) else []
        self.label_map = {str(k).lower(): str(v) for k, v in (src.get("map") or {}).items()}

    def _source_label(self, meta: Mapping[str, Any]) -> tuple[str, str] | None:
        for key in self.label_keys:
            label = meta.get(key)
            if isinstance(label, str) and label.strip().lower() in self.label_map:
                return self.label_map[label.strip().lower()], f"source_label:{key}={label.strip()}"
        return None

    def tag(self, rec: Mapping[str, Any]) -> Tags:
        """Tag one canonical record (a row dict)."""
        instr, inp, out = rec.get("instruction") or "", rec.get("input") or "", rec.get("output") or ""
        history = rec.get("history") or []
        meta = rec.get("meta") or {}
        labelled = self._source_label(meta)
        # The output's length and list shape feed both the task cues and the complexity score.
        out_units, out_items = units(out), list_items(out)
        t = self.tasks.classify(instr, inp, out, history_len=len(history),
                                response_type=rec.get("response_type") or "", system=rec.get("system") or "",
                                out_units=out_units, out_items=out_items)
        task, rule, conf, sub = t.task, t.rule, t.confidence, t.subtype
        if labelled:
            task, rule, conf = labelled[0], labelled[1], 1.0
            sub = t.subtype if task == t.task else ""
        domain, _ = self.domains.tag("\n".join((instr, inp, out[: self.output_chars])))
        cx = self.complexity.score(instr, inp, out, len(history), requirement_count(meta),
                                   out_units=out_units, out_items=out_items)
        verb, obj = self.verbobj(instr)
        lang = rec.get("lang") or guess_lang(f"{instr}\n{out[:200]}")
        return Tags(task, rule, conf, sub, domain, cx.score, cx.bucket, verb, obj, lang)
