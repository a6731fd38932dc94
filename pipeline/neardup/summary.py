"""The near-duplicate part of the report: JSON-able counts and example clusters."""
from __future__ import annotations

from collections import Counter

_SHOWN_MEMBERS = 20


def cluster_summary(clusters: list[dict], records: int, no_shingle: int, index: dict,
                    limit: int = 10) -> dict:
    """Summarise clusters for ``report.json`` under ``stages.dedup.near``.

    Args:
        clusters: ``{"cluster", "members" (ids, input order), "conflict"}`` per cluster.
        records: Records that went into near-duplicate detection.
        no_shingle: Records whose key gave no shingle (exact fallback).
        index: LSH parameters and candidate counters.
        limit: How many largest and conflicting clusters to list.
    """
    sizes = Counter(len(c["members"]) for c in clusters)
    ordered = sorted(clusters, key=lambda c: (-len(c["members"]), c["cluster"]))
    conflicting = [c for c in ordered if c["conflict"]]

    def show(c: dict) -> dict:
        return {"cluster": c["cluster"], "size": len(c["members"]),
                "members": c["members"][:_SHOWN_MEMBERS], **({"conflict": c["conflict"]} if c["conflict"] else {})}

    in_clusters = sum(len(c["members"]) for c in clusters)
    return {
        "records": records,
        "clusters": len(clusters),
        "records_in_clusters": in_clusters,
        "duplicates": sum(len(c["members"]) - 1 for c in clusters if not c["conflict"]),
        # cluster size (as a string, JSON keys are strings) -> number of clusters
        "size_distribution": {str(size): sizes[size] for size in sorted(sizes)},
        "largest": [show(c) for c in ordered[:limit]],
        "conflicting_clusters": len(conflicting),
        "conflicting": [show(c) for c in conflicting[:limit]],
        "no_shingle_records": no_shingle,
        "index": index,
    }
