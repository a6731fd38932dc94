"""Sections fed by one stage's summary (``report.json`` → ``stages.<name>``).

Each builder shows the measures a curator asks about first, then hands every summary
key it did not use to :func:`generic_blocks`, so nothing a stage reports is hidden.
"""
from __future__ import annotations

from pipeline.report.blocks import Block, block, count_rows, generic_blocks, pct

DIMENSIONS = ("lang", "task", "domain", "complexity")


def _reason_block(report: dict, stages: list[str], title: str = "drops and flags") -> Block:
    rows = [{"stage": r["stage"], "reason": r["reason"], "action": r["action"], "records": r["records"],
             "share of input": pct(r["share"]), "what it means": r["description"]}
            for r in report["reasons"] if r["stage"] in stages]
    return block(title, rows, "" if rows else "No record was dropped or flagged here.")


def _rest(summary: dict, used: set[str], prefix: str = "") -> list[Block]:
    rest = {k: v for k, v in summary.items() if k not in used}
    return [dict(b, title="other measures: " + b["title"]) for b in generic_blocks(rest, prefix)]


def diversity(report: dict, stages: list[str]) -> list[Block]:
    s = report["stages"].get("diversity") or {}
    measured = s.get("after") or s.get("before") or {}
    when = "after rebalancing" if s.get("after") else "before refusal injection and split"
    rows = []
    for dim in (*DIMENSIONS, "task_x_lang", "task_x_complexity"):
        m = measured.get(dim)
        if isinstance(m, dict) and "entropy" in m:
            rows.append({"dimension": dim, "values": len(m.get("counts") or {}), "entropy (bits)": m["entropy"],
                         "normalised entropy": m.get("normalized_entropy"), "coverage": pct(m.get("coverage", 0)),
                         "empty cells": ", ".join(m.get("empty") or []) or "—"})
    blocks = [block("entropy and coverage", rows,
                    f"Measured {when}. Normalised entropy 1.0 = perfectly even; coverage = share of the taxonomy's "
                    "values that have at least one record.")]
    vo = measured.get("verb_object") or {}
    if vo.get("top_pairs"):
        pairs = [{"verb": p[0], "object": p[1], "count": p[2]} for p in vo["top_pairs"]]
        blocks.append(block("top verb–object pairs", pairs,
                            f"{vo.get('distinct_pairs', 0)} distinct pairs over {vo.get('with_pair', 0)} "
                            "instructions; a few dominant pairs mean templated, repetitive prompts."))
    bal = s.get("balance") or {}
    tva = bal.get("target_vs_achieved") or {}
    for dim, cells in tva.items():
        # A dimension without a target mix has target None: shown as "none", sorted last.
        rows = [{"value": v, "target": pct(c["target"]) if c.get("target") is not None else "none",
                 "achieved": pct(c.get("achieved") or 0), "rows": c.get("rows", 0)}
                for v, c in sorted(cells.items(), key=lambda kv: -(kv[1].get("target") or 0))]
        blocks.append(block(f"target mix vs achieved: {dim}", rows))
    if bal.get("shortfalls"):
        blocks.append(block("shortfalls", [{"missing": x} for x in bal["shortfalls"]],
                            f"{bal.get('shortfall_total', 0)} records short of the target mix in all."))
    if not s.get("enabled", bool(bal)):
        blocks.append(block("rebalancing", [], "Rebalancing is off in this recipe: records are tagged and "
                                                "measured, none is dropped for the mix."))
    blocks.append(_reason_block(report, stages))
    return blocks + _rest(s, {"before", "after", "balance", "enabled"})


def dedup(report: dict, stages: list[str]) -> list[Block]:
    s = report["stages"].get("dedup") or {}
    near = s.get("near") or {}
    facts = [{"measure": "exact duplicates dropped", "value": s.get("exact_duplicates", 0)},
             {"measure": "near-duplicate clusters", "value": near.get("clusters", 0)},
             {"measure": "records in clusters", "value": near.get("records_in_clusters", 0)},
             {"measure": "near duplicates dropped", "value": near.get("duplicates", 0)},
             {"measure": "conflicting-answer clusters", "value": near.get("conflicting_clusters", 0)}]
    blocks = [block("summary", facts)]
    if near.get("size_distribution"):
        rows = [{"value": k, "count": v} for k, v in sorted(near["size_distribution"].items(), key=lambda kv: int(kv[0]))]
        blocks.append(block("cluster size distribution", rows, "Records per cluster → number of clusters.",
                            chart="vbar"))
    for c in report.get("clusters") or []:
        rows = [{"member": m["id"], "fate": m.get("fate", ""), "where": f"{m.get('file', '')}#{m.get('index', '')}",
                 "instruction": (m.get("instruction") or "")[:160], "output": (m.get("output") or "")[:120]}
                for m in c["members"]]
        blocks.append(block(f"cluster {c['cluster']} ({c['size']} records)", rows))
    if near.get("conflicting"):
        blocks.append(generic_blocks({"conflicting clusters": near["conflicting"]})[-1])
    blocks.append(_reason_block(report, stages))
    return blocks + _rest(s, {"exact_duplicates", "near"}) + _rest(
        near, {"clusters", "records_in_clusters", "duplicates", "conflicting_clusters", "size_distribution",
               "largest", "conflicting"}, "near.")


def leaks(report: dict, stages: list[str]) -> list[Block]:
    blocks = [_reason_block(report, stages, "hits per reason")]
    dc = report["stages"].get("decontam") or {}
    if "decontam" in stages:
        if dc.get("eval_sets"):
            rows = [{"eval set": k, "items": v.get("items"), "indexed": v.get("indexed"), "hits": v.get("hits")}
                    for k, v in dc["eval_sets"].items()]
            blocks.append(block("hits per eval set", rows, f"Action on a hit: {dc.get('action', '')}; "
                                f"{dc.get('records_checked', 0)} records checked."))
        elif not dc.get("enabled", True):
            blocks.append(block("decontamination", [], "No evaluation set was configured, so nothing was "
                                                        "checked (add --eval-sets or eval_sets in the recipe)."))
        blocks += _rest(dc, {"eval_sets", "enabled", "action", "records_checked"}, "decontam: ")
    if "leak" in stages:
        blocks += _rest(report["stages"].get("leak") or {}, set(), "leak: ")
    return blocks


def refusals(report: dict, stages: list[str]) -> list[Block]:
    s = report["stages"].get("refusal") or {}
    blocks = []
    if s.get("detected"):
        blocks.append(block("detected response type", count_rows(s["detected"]),
                            f"Over-refusals (harmless request refused): {s.get('over_refusal', 0)}; "
                            f"unhelpful dodges: {s.get('unhelpful', 0)}.", chart="hbar"))
    inj = s.get("injected") or {}
    for key, title in (("by_kind", "injected per kind"), ("by_lang", "injected per language"),
                       ("by_kind_lang", "injected per kind and language")):
        if inj.get(key):
            blocks.append(block(title, count_rows(inj[key]), chart="hbar" if key != "by_kind_lang" else None))
    ratio = s.get("ratio") or {}
    if ratio:
        rows = [{"measure": k.replace("_", " "), "value": pct(v) if isinstance(v, float) else v}
                for k, v in ratio.items()]
        blocks.append(block("injected share: target vs achieved", rows,
                            f"{inj.get('total', 0)} injected record(s) in all."))
    blocks.append(_reason_block(report, stages))
    return blocks + _rest(s, {"detected", "injected", "ratio", "over_refusal", "unhelpful"})


def format_section(report: dict, stages: list[str]) -> list[Block]:
    s = report["stages"].get("format") or {}
    req, bad = s.get("requirements") or {}, s.get("violations") or {}
    kinds = sorted(set(req) | {k for k in bad if k in req}, key=lambda k: -req.get(k, 0))
    rows = [{"value": k, "count": req.get(k, 0), "violations": sum(v for b, v in bad.items() if b.startswith(k)),
             "violation rate": pct(sum(v for b, v in bad.items() if b.startswith(k)) / max(1, req.get(k, 0)))}
            for k in kinds]
    blocks = [block("requirements found and violated", rows,
                    "count = records whose instruction states this requirement; violations = answers that "
                    "break it.", chart="hbar")]
    other = {k: v for k, v in bad.items() if not any(k.startswith(r) for r in req)}
    if other:
        blocks.append(block("other violations", count_rows(other)))
    blocks.append(_reason_block(report, stages))
    return blocks + _rest(s, {"requirements", "violations"})


def quality(report: dict, stages: list[str]) -> list[Block]:
    blocks = [_reason_block(report, stages)]
    for name in stages:
        blocks += _rest(report["stages"].get(name) or {}, set(), f"{name}: ")
    return blocks
