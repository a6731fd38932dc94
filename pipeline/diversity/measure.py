"""Diversity measurements: counts, shares, entropy, coverage, verb–object pairs.

Normalised entropy divides by log2 of the size of the *expected* universe (the
whole taxonomy for tasks, every domain, every bucket), not of the observed values,
so a corpus that never touches half the taxonomy cannot score 1.0. Coverage lists
the cells of that universe with no record at all.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

SEP = "/"


def entropy(counts: Iterable[int]) -> float:
    """Shannon entropy in bits of a count vector (zeros ignored).

    Summed with ``math.fsum`` (exactly rounded), so the result does not depend on the
    order of the counts: a profile built from aggregated counts (the ray engine) gives
    the bits of one built row by row.
    """
    counts = [c for c in counts if c > 0]
    total = sum(counts)
    if total == 0:
        return 0.0
    return -math.fsum(c / total * math.log2(c / total) for c in counts)


def distribution(counts: Counter, universe: Sequence[str] | None = None) -> dict:
    """Counts, shares, entropy, normalised entropy and empty cells of one tag.

    Args:
        counts: Value -> count.
        universe: Every value that could occur; values outside it still count.
            Defaults to the observed values.
    """
    universe = list(universe) if universe else sorted(counts)
    total = sum(counts.values())
    keys = list(universe) + sorted(k for k in counts if k not in set(universe))
    h = entropy(counts.values())
    k = len(keys)
    return {
        "total": total,
        "counts": {key: counts.get(key, 0) for key in keys},
        "shares": {key: round(counts.get(key, 0) / total, 6) if total else 0.0 for key in keys},
        "entropy": round(h, 6),
        "normalized_entropy": round(h / math.log2(k), 6) if k > 1 else 0.0,
        "empty": [key for key in keys if counts.get(key, 0) == 0],
        "coverage": round(sum(1 for key in keys if counts.get(key, 0)) / k, 6) if k else 0.0,
    }


class Profile:
    """Accumulates the tags of many records; :meth:`summary` is JSON-able.

    Rows are added one by one (:meth:`add`) or as counts of identical values
    (:meth:`count_tags`, :meth:`count_verb`, :meth:`count_cluster`); the summary only
    depends on the totals, not on the order they were added in.
    """

    def __init__(self, tasks: Sequence[str], domains: Sequence[str], buckets: Sequence[str]):
        self.tasks, self.domains, self.buckets = list(tasks), list(domains), list(buckets)
        self.c: dict[str, Counter] = {k: Counter() for k in
                                      ("task", "lang", "domain", "complexity", "task_x_lang",
                                       "task_x_complexity")}
        self.pairs: Counter = Counter()
        self.verbs: Counter = Counter()
        self.clusters: Counter = Counter()
        self.rows = 0

    def add(self, task: str, lang: str, domain: str, bucket: str, verb: str = "", obj: str = "",
            cluster: str = "") -> None:
        """Count one record."""
        self.count_tags(task, lang, domain, bucket)
        self.count_verb(verb, obj)
        self.count_cluster(cluster)

    def count_tags(self, task: str, lang: str, domain: str, bucket: str, n: int = 1) -> None:
        """Count ``n`` records with these tags (each record once: this sets ``rows``)."""
        if n <= 0:
            return
        self.rows += n
        c = self.c
        c["task"][task] += n
        c["lang"][lang] += n
        c["domain"][domain] += n
        c["complexity"][bucket] += n
        c["task_x_lang"][f"{lang}{SEP}{task}"] += n
        c["task_x_complexity"][f"{task}{SEP}{bucket}"] += n

    def count_verb(self, verb: str, obj: str, n: int = 1) -> None:
        """Count ``n`` records with this verb–object pair (no-op without a verb)."""
        if verb and n > 0:
            self.verbs[verb] += n
            if obj:
                self.pairs[(verb, obj)] += n

    def count_cluster(self, cluster: str, n: int = 1) -> None:
        """Count ``n`` records of a near-duplicate cluster (no-op without one)."""
        if cluster and n > 0:
            self.clusters[cluster] += n

    def summary(self, top_pairs: int = 30, top_verbs: int = 20) -> dict:
        """Every measurement, ready for report.json."""
        langs = sorted(self.c["lang"]) or ["en", "zh"]
        out = {
            "rows": self.rows,
            "task": distribution(self.c["task"], self.tasks),
            "lang": distribution(self.c["lang"], langs),
            "domain": distribution(self.c["domain"], self.domains),
            "complexity": distribution(self.c["complexity"], self.buckets),
            "task_x_lang": distribution(self.c["task_x_lang"],
                                        [f"{lg}{SEP}{t}" for lg in langs for t in self.tasks]),
            "task_x_complexity": distribution(self.c["task_x_complexity"],
                                              [f"{t}{SEP}{b}" for t in self.tasks for b in self.buckets]),
            "verb_object": {
                "with_verb": sum(self.verbs.values()),
                "with_pair": sum(self.pairs.values()),
                "distinct_verbs": len(self.verbs),
                "distinct_pairs": len(self.pairs),
                "top_pairs": [[v, o, n] for (v, o), n in _top(self.pairs, top_pairs)],
                "top_verbs": [[v, n] for v, n in _top(self.verbs, top_verbs)],
            },
        }
        if self.clusters:
            sizes = Counter(self.clusters.values())
            out["near_dup_clusters"] = {
                "clusters": len(self.clusters),
                "records_in_clusters": sum(self.clusters.values()),
                "size_histogram": {str(s): n for s, n in sorted(sizes.items())},
                "largest": max(self.clusters.values()),
            }
        return out


def _top(counter: Counter, n: int) -> list:
    # Sorted by count, then key, so ties do not depend on insertion order.
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
