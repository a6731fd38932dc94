"""`diversity`: tag task / domain / complexity / verb–object, measure the mix, rebalance it.

A global stage. ``fit`` tags every live row in the main process (input order),
measures the distributions and, only when ``balance.enabled`` is set, plans which
rows to drop as ``diversity_over_quota`` (and which to copy when upsampling).
``process`` applies that plan in the workers. Tagging is the stage's whole cost, so
``fit`` keeps every row's tags in a compact id-keyed cache (pipeline/diversity/cache.py)
that travels with the pickled stage; ``process`` re-tags only rows whose id ``fit``
did not see (e.g. when it is called without ``fit``). Injected rows are never dropped.

Upsampled copies: the engine can only add rows through ``inject()``, and the
manifest invariant ``read = curated + rejected - injected`` must hold, so copies
are injected records (``origin="injected"``) with ``meta.generator =
"diversity_upsample"``, ``meta.upsampled_from`` (the source id) and ``meta.copy``
(1, 2, ...), and an id derived from both. They are repeats of real data, not
synthetic text; readers filtering on ``origin`` should check ``meta.generator``.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

from pipeline.diversity.balance import Plan, Row, balance_problems, plan
from pipeline.diversity.cache import TagCache, digest
from pipeline.diversity.complexity import complexity_problems
from pipeline.diversity.domain import domain_problems
from pipeline.diversity.measure import Profile
from pipeline.diversity.tagger import READS, Tags, load_taxonomy, tagger_for
from pipeline.diversity.task import taxonomy_problems
from pipeline.errors import ConfigError
from pipeline.processor import Stage, iter_rows
from pipeline.record import Batch, Verdict, new_record
from pipeline.registry import register

BUCKETS = ("easy", "medium", "hard")
REASON = "diversity_over_quota"


def _tag_value(tags: Tags, dim: str) -> str:
    return {"task": tags.task, "lang": tags.lang, "complexity": tags.bucket, "domain": tags.domain}[dim]


def quality_of(rec: dict, keys: list[str]) -> float | None:
    """The first of ``balance.quality_keys`` the record has a score for (None: no score)."""
    scores = rec.get("scores") or {}
    return next((float(scores[k]) for k in keys if scores.get(k) is not None), None)


def balance_row(rec: dict, tags: Tags, dims: list[str], keys: list[str]) -> Row:
    """What balancing needs of one live row (its cell, origin and quality)."""
    return Row(rec["id"], tuple(_tag_value(tags, d) for d in dims), rec.get("origin") == "injected",
               quality_of(rec, keys))


@register
class Diversity(Stage):
    """Tag every record, measure diversity, and optionally rebalance to a target mix."""

    name = "diversity"
    is_global = True

    def __init__(self, rules=None, seed: int = 0):
        super().__init__(rules, seed)
        # Plain data, so it travels to workers; compiled in setup().
        self.taxonomy = load_taxonomy(self.rules)
        # id digest (bytes) -> cell index into self.cells; compact for large corpora.
        self.drops: dict[bytes, int] = {}
        self.cells: list[tuple[str, int]] = []
        # Tags computed in fit(), reused by process(); empty until fit() runs.
        self.cache = TagCache()
        self._copies: list[dict] = []
        self._summary: dict = {}
        # What fit() reads: the tagged fields, plus what balancing and upsampled copies need.
        bal = self.rules.get("balance") or {}
        if bal.get("enabled") and (bal.get("upsample") or {}).get("enabled"):
            self.fit_columns = None  # copies carry every field
        else:
            self.fit_columns = READS + ("id", "cluster") + (("origin", "scores") if bal.get("enabled") else ())

    @classmethod
    def validate_rules(cls, rules) -> list[str]:
        try:
            tax = load_taxonomy(rules)
        except ConfigError as e:
            return [str(e)]
        probs = taxonomy_problems(tax) + domain_problems(tax.get("domains"))
        probs += complexity_problems(rules.get("complexity") or {})
        tasks = [t.get("name") for t in tax.get("tasks") or []]
        probs += balance_problems(rules.get("balance") or {}, tasks)
        for label, task in ((rules.get("source_labels") or {}).get("map") or {}).items():
            if task not in tasks:
                probs.append(f"source_labels.map.{label}: unknown task {task!r}")
        return probs

    def setup(self) -> None:
        # Once fit() has run, process() takes every row's tags from the cache, so a worker
        # needs no tagger; _tags() builds one for a row the cache lacks.
        if not len(self.cache):
            self._tagger = tagger_for(self.rules, self.taxonomy)

    def _tags(self, rec: dict) -> Tags:
        tagger = getattr(self, "_tagger", None)
        if tagger is None:
            tagger = self._tagger = tagger_for(self.rules, self.taxonomy)
        return tagger.tag(rec)

    def _profile(self) -> Profile:
        tasks = [t["name"] for t in self.taxonomy["tasks"]]
        domains = list(self.taxonomy.get("domains") or {}) + [str((self.rules.get("domain") or {}).get("other", "other"))]
        return Profile(tasks, domains, BUCKETS)

    def fit_features(self, batch: Batch) -> list[Tags]:
        """The per-row part of ``fit`` (tagging), which the engine may run in parallel."""
        return [self._tags(rec) for rec in iter_rows(batch)]

    def fit(self, batches: Iterable[Batch]) -> None:
        bal = self.rules.get("balance") or {}
        dims = list(bal.get("dimensions") or ["task"])
        before = self._profile()
        rows: list[Row] = []
        kept_tags: list[Tags] = []
        records: list[dict] = []
        keys = list(bal.get("quality_keys") or [])
        cache = TagCache()
        for batch in batches:
            feats = batch.pop("_fit", None)
            ids, clusters = batch["id"], batch.get("cluster")
            for i, rid in enumerate(ids):
                # A record dict only where one is needed (building it is the costly part).
                rec = {k: v[i] for k, v in batch.items()} if feats is None or bal.get("enabled") else None
                t = feats[i] if feats is not None else self._tags(rec)
                cache.add(rid, t)
                cluster = clusters[i] if clusters is not None else None
                before.add(t.task, t.lang, t.domain, t.bucket, t.verb, t.obj, cluster or "")
                if bal.get("enabled"):
                    rows.append(balance_row(rec, t, dims, keys))
                    kept_tags.append(t)
                    if (bal.get("upsample") or {}).get("enabled"):
                        records.append(rec)
        cache.freeze()
        self.cache = cache
        top = self.top()
        self._summary = {"enabled": bool(bal.get("enabled")), "before": before.summary(*top)}
        if not bal.get("enabled"):
            return
        p: Plan = plan(rows, dims, bal, self.seed)
        drops = {digest(rows[i].id): c for i, c in p.drop.items()}
        after = self._profile()
        dropped = set(p.drop)
        for i, t in enumerate(kept_tags):
            if i not in dropped:
                after.add(t.task, t.lang, t.domain, t.bucket, t.verb, t.obj)
        for i, k in p.copies:
            t = kept_tags[i]
            after.add(t.task, t.lang, t.domain, t.bucket, t.verb, t.obj)
        copies = [_copy(records[i], k) for i, k in p.copies] if records else []
        self.install(self._summary, p.cells, drops, copies, after.summary(*top), p.report)

    def top(self) -> tuple[int, int]:
        """(top pairs, top verbs) the summary lists (``measure`` rules)."""
        m = self.rules.get("measure") or {}
        return int(m.get("top_pairs", 30)), int(m.get("top_verbs", 20))

    def install(self, summary: dict, cells: list[tuple[str, int]] | None = None, drops: dict | None = None,
                copies: list[dict] | None = None, after: dict | None = None, report: dict | None = None) -> None:
        """Set what ``fit`` decides, computed elsewhere (the ray engine fits from aggregates).

        Args:
            summary: ``{"enabled", "before"}``; ``after`` and ``report`` are added when given.
            cells: (cell name, quota) per cell index.
            drops: id digest -> cell index of the rows over their quota.
            copies: Upsampled copies (from :func:`_copy`).
        """
        self.cells, self.drops, self._copies = list(cells or []), dict(drops or {}), list(copies or [])
        self._summary = dict(summary)
        if after is not None:
            self._summary.update({"after": after, "balance": report})

    def inject(self) -> list[dict]:
        """Upsampled copies (empty unless ``balance.upsample.enabled``)."""
        return list(self._copies)

    def summary(self) -> dict:
        return self._summary

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        verdicts: list[Verdict] = []
        ids = batch.get("id") or []
        cached = self.cache.get(ids) if len(self.cache) else [None] * len(ids)
        metas, origins = batch["meta"], batch.get("origin")
        for i, t in enumerate(cached):
            # Only a row fit() did not tag is made into a record dict (the costly part).
            t = t or self._tags({k: v[i] for k, v in batch.items()})
            batch["task"][i], batch["domain"][i], batch["complexity"][i] = t.task, t.domain, t.bucket
            meta = dict(metas[i] or {})
            meta["task_rule"] = t.task_rule
            if t.task_subtype:
                meta["task_subtype"] = t.task_subtype
            meta["verb_object"] = [t.verb, t.obj] if t.verb else []
            batch["meta"][i] = meta
            scores = {"complexity": t.complexity, "task_confidence": t.task_confidence}
            cell = self.drops.get(digest(ids[i])) if self.drops else None
            if cell is not None and (origins[i] if origins is not None else None) != "injected":
                name, quota = self.cells[cell]
                verdicts.append(Verdict(keep=False, reason=REASON, scores=scores,
                                        detail=f"cell {name} over its quota of {quota}"))
            else:
                verdicts.append(Verdict(scores=scores))
        return batch, verdicts


def _copy(rec: dict, k: int) -> dict:
    """A marked upsampled copy of ``rec``: origin injected, distinct id, provenance in meta."""
    meta = dict(rec.get("meta") or {})
    meta.update({"generator": "diversity_upsample", "upsampled_from": rec["id"], "copy": k})
    fields = {f: rec[f] for f in ("system", "instruction", "input", "output", "history", "source", "lang",
                                  "response_type", "cluster")}
    rid = hashlib.blake2b(f"{rec['id']}#copy{k}".encode(), digest_size=12).hexdigest()
    return new_record(id=rid, origin="injected", meta=meta, flags=list(rec.get("flags") or []),
                      scores=dict(rec.get("scores") or {}), **fields)
