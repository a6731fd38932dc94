"""The report's sections as named tables, shared by the Markdown and HTML renderers.

Each section belongs to the stage(s) that feed it; a section whose stages did not
run is ``None`` and is shown as "not run". Stage summaries are turned into tables
generically (scalars -> a key/value table, dicts of numbers -> count tables, lists of
records -> row tables), so a stage that grows its summary shows up without changes here.
"""
from __future__ import annotations

from typing import Any

SECTION_TITLES = {
    "funnel": "Funnel",
    "reasons": "Reasons and examples",
    "distributions": "Distributions",
    "diversity": "Diversity",
    "dedup": "Duplicates",
    "leaks": "Leaks and contamination",
    "refusals": "Refusals and injected samples",
    "format": "Format requirements",
    "quality": "Quality and language",
    "run": "The run",
}
# Which stages feed which section.
SECTION_STAGES = {
    "diversity": ("diversity",), "dedup": ("dedup",), "leaks": ("leak", "decontam"),
    "refusals": ("refusal",), "format": ("format",), "quality": ("quality", "language"),
}
Tables = list[tuple[str, list[dict]]]
MAX_ROWS = 40


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def summary_tables(summary: dict, prefix: str = "") -> Tables:
    """Generic tables for one stage summary."""
    scalars: list[dict] = []
    tables: Tables = []

    def walk(obj: dict, path: str) -> None:
        for k, v in obj.items():
            name = f"{path}.{k}" if path else str(k)
            if isinstance(v, dict) and v and all(_is_num(x) for x in v.values()):
                total = sum(v.values()) or 1
                rows = [{"value": key, "count": n, "share": f"{n / total:.1%}"}
                        for key, n in sorted(v.items(), key=lambda kv: -kv[1])[:MAX_ROWS]]
                tables.append((f"{prefix}{name}", rows))
            elif isinstance(v, dict):
                walk(v, name)
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                rows = [{kk: (", ".join(map(str, vv[:5])) + (" …" if len(vv) > 5 else "")
                              if isinstance(vv, list) else vv) for kk, vv in x.items()} for x in v[:MAX_ROWS]]
                tables.append((f"{prefix}{name}", rows))
            elif isinstance(v, list):
                shown = ", ".join(map(str, v[:12])) + (f" … ({len(v)} in all)" if len(v) > 12 else "")
                scalars.append({"measure": name, "value": shown or "(none)"})
            else:
                scalars.append({"measure": name, "value": round(v, 4) if isinstance(v, float) else v})

    walk(summary, "")
    return ([(f"{prefix}summary", scalars)] if scalars else []) + tables


def _funnel(report: dict) -> Tables:
    rows = [{"stage": s["stage"], "in": s["in"], "out": s["out"], "dropped": sum(s["dropped"].values()),
             "flagged": sum(s["flagged"].values()), "injected": s.get("injected", 0)} for s in report["funnel"]]
    return [("", rows)]


def reason_rows(report: dict) -> list[dict]:
    read = max(1, report["counts"]["read"])
    rows = []
    for s in report["funnel"]:
        for r, n in s["dropped"].items():
            rows.append({"stage": s["stage"], "reason": r, "action": "drop", "records": n, "share": f"{n / read:.2%}"})
        for r, n in s["flagged"].items():
            rows.append({"stage": s["stage"], "reason": r, "action": "flag", "records": n, "share": f"{n / read:.2%}"})
    return rows


def _reasons(report: dict) -> Tables:
    tables: Tables = [("", reason_rows(report))]
    for reason, ex in report.get("examples", {}).items():
        rows = [{"where": f"{e['file']}#{e['index']}", "instruction": e["instruction"][:160],
                 "output": e["output"][:160], "detail": e["detail"][:200]} for e in ex]
        tables.append((f"examples: {reason}", rows))
    return tables


def _distributions(report: dict) -> Tables:
    dist = report.get("distributions") or {}
    tables: Tables = []
    for key in ("lang", "task", "domain", "complexity", "response_type", "origin", "turns",
                "instruction_chars", "output_chars", "instruction_words", "output_words"):
        counts = dist.get(key)
        if counts:
            total = sum(counts.values()) or 1
            ordered = counts.items() if key.endswith(("_chars", "_words")) or key == "turns" else \
                sorted(counts.items(), key=lambda kv: -kv[1])
            tables.append((key, [{"value": k, "count": v, "share": f"{v / total:.1%}"} for k, v in ordered]))
    return tables


def _run(report: dict) -> Tables:
    run = report["run"]
    tables: Tables = [("inputs", [{"path": i["path"], "format": i["format"], "encoding": i["encoding"],
                                   "records": i["records"], "sha256": i["sha256"][:16]} for i in run["inputs"]])]
    facts = [{"measure": "config hash", "value": run["config_hash"]}, {"measure": "seed", "value": run["seed"]}]
    facts += [{"measure": f"version {k}", "value": v} for k, v in (run.get("versions") or {}).items()]
    tables.append(("facts", facts))
    if run.get("timings"):
        tables.append(("timings (seconds)", [{"step": k, "seconds": v} for k, v in run["timings"].items()]))
    tables.append(("shards", [{"path": s["path"], "rows": s["rows"], "sha256": s["sha256"][:16]}
                              for s in run["shards"]]))
    if run.get("errors"):
        tables.append(("input errors", [dict(e) for e in run["errors"]]))
    return tables


def section_tables(report: dict, key: str) -> Tables | None:
    """The tables of one section, or None when its stages did not run."""
    if key == "funnel":
        return _funnel(report)
    if key == "reasons":
        return _reasons(report)
    if key == "distributions":
        return _distributions(report)
    if key == "run":
        return _run(report)
    stages = [s for s in SECTION_STAGES[key] if s in report.get("ran", [])]
    if not stages:
        return None
    tables: Tables = []
    for s in stages:
        summary = report["stages"].get(s) or {}
        prefix = f"{s}: " if len(SECTION_STAGES[key]) > 1 else ""
        tables += summary_tables(summary, prefix) or [(f"{prefix}summary", [{"measure": "stage ran",
                                                                             "value": "no summary"}])]
    if key == "leaks":
        tables.insert(0, ("hits per reason", [r for r in reason_rows(report) if r["stage"] in stages]))
    return tables
