"""The report's sections, in page order, as lists of blocks (see :mod:`pipeline.report.blocks`).

A section fed by stages that did not run is marked "not run" instead of showing
tables; the Markdown and HTML renderers share everything here, so both always show
the same numbers.
"""
from __future__ import annotations

from pipeline.report import stage_sections as st
from pipeline.report.blocks import Block, block, count_rows, pct

SECTION_TITLES = {
    "funnel": "Funnel: what happened to the records",
    "reasons": "Reasons, with examples",
    "distributions": "Distributions of the curated set",
    "diversity": "Diversity",
    "dedup": "Duplicates",
    "leaks": "Leaks and contamination",
    "refusals": "Refusals and injected samples",
    "format": "Format requirements",
    "quality": "Quality and language",
    "run": "The run",
}
# Which stages feed which section (sections without an entry always show).
SECTION_STAGES = {
    "diversity": ("diversity",), "dedup": ("dedup",), "leaks": ("leak", "decontam"),
    "refusals": ("refusal",), "format": ("format",), "quality": ("quality", "language"),
}
LENGTH_KEYS = ("instruction_chars", "output_chars", "instruction_words", "output_words",
               "instruction_tokens", "output_tokens")


def _funnel(report: dict) -> list[Block]:
    rows = [{"stage": s["stage"], "in": s["in"], "dropped": sum(s["dropped"].values()),
             "flagged": sum(s["flagged"].values()), "injected": s.get("injected", 0), "out": s["out"]}
            for s in report["funnel"]]
    reasons = [{"stage": r["stage"], "reason": r["reason"], "action": r["action"], "records": r["records"],
                "share of input": pct(r["share"]), "what it means": r["description"]} for r in report["reasons"]]
    return [block("records per stage", rows, "in − dropped + injected = out; flagged records are kept.",
                  chart="funnel"),
            block("reasons", reasons, "Every drop and flag, by stage. 'share' is of the records read.")]


def _reasons(report: dict) -> list[Block]:
    """Examples per reason (the HTML page shows them as cards; Markdown as tables)."""
    meaning = {r["reason"]: (r["action"], r["records"], r["description"]) for r in report["reasons"]}
    blocks = []
    for code, exs in report.get("examples", {}).items():
        action, n, desc = meaning.get(code, ("", 0, ""))
        rows = [{"where": f"{e['file']}#{e['index']}", "instruction": e["instruction"][:160],
                 "output": e["output"][:160], "detail": e["detail"][:200]} for e in exs]
        blocks.append(block(code, rows, f"{action} · {n} record(s) · {desc}"))
    return blocks


def _distributions(report: dict) -> list[Block]:
    dist = report.get("distributions") or {}
    if not dist.get("records"):
        return [block("curated records", [], "No curated records.")]
    blocks: list[Block] = []
    for key in ("lang", "task", "domain", "complexity", "response_type", "origin"):
        if dist.get(key):
            blocks.append(block(key.replace("_", " "), count_rows(dist[key]), chart="hbar"))
    if dist.get("turns"):
        blocks.append(block("turns per record", count_rows(dist["turns"], ordered=True),
                            "1 = single turn; more = multi-turn chat (history + final turn).", chart="vbar"))
    medians = []
    for key in LENGTH_KEYS:
        if dist.get(key):
            unit = key.split("_")[1]
            note = {"chars": "characters (every record)",
                    "words": "whitespace words (space-delimited languages only; Chinese has no spaces)",
                    "tokens": f"tokens ({(dist.get('tokens') or {}).get('tokenizer', '')}, "
                              f"sample of {(dist.get('tokens') or {}).get('sampled', 0)})"}[unit]
            blocks.append(block(key.replace("_", " ") + " length", _trim(count_rows(dist[key], ordered=True)),
                                f"Length in {note}.", chart="vbar"))
            medians.append({"measure": key.replace("_", " ") + " (median)", "value": dist.get(f"{key}_median")})
    tokens = dist.get("tokens")
    if tokens and not tokens.get("available"):
        medians.append({"measure": "tokens", "value": f"tokenizer {tokens['tokenizer']} not found locally"})
    if medians:
        blocks.insert(0, block("lengths (median)", medians))
    return blocks


def _trim(rows: list[dict]) -> list[dict]:
    """Drop the empty length bins after the last used one (report.json keeps every bin)."""
    last = max((i for i, r in enumerate(rows) if r["count"]), default=0)
    return rows[: last + 1]


def _timing_order(ran: list[str]):
    def key(kv):
        first = kv[0].split("+")[0]
        return (ran.index(first) if first in ran else len(ran), kv[0])
    return key


def _run(report: dict) -> list[Block]:
    run = report["run"]
    inputs = [{"path": i["path"], "format": i["format"], "encoding": i["encoding"], "records": i["records"],
               "sha256": i["sha256"]} for i in run.get("inputs") or []]
    facts = [{"measure": "config hash", "value": run.get("config_hash")}, {"measure": "seed", "value": run.get("seed")}]
    facts += [{"measure": f"{k} version", "value": v} for k, v in (run.get("versions") or {}).items()]
    blocks = [block("inputs", inputs), block("facts", facts)]
    if run.get("timings"):
        timed = sorted(((k, v) for k, v in run["timings"].items() if k != "total"), key=_timing_order(report["ran"]))
        rows = [{"pass": k, "seconds": v} for k, v in timed]
        if "total" in run["timings"]:
            rows.append({"pass": "total (without the report)", "seconds": run["timings"]["total"]})
        blocks.append(block("timings", rows, "Stages joined by '+' ran fused in one pass and share a timing."))
    blocks.append(block("shards", [{"path": s["path"], "rows": s["rows"], "sha256": s["sha256"]}
                                   for s in run.get("shards") or []]))
    if run.get("errors"):
        blocks.append(block("input errors", [dict(e) for e in run["errors"]]))
    return blocks


CORE = {"funnel": _funnel, "reasons": _reasons, "distributions": _distributions, "run": _run}
STAGE = {"diversity": st.diversity, "dedup": st.dedup, "leaks": st.leaks, "refusals": st.refusals,
         "format": st.format_section, "quality": st.quality}


def ran_stages(report: dict, key: str) -> list[str]:
    """The stages feeding section ``key`` that ran (all of them for core sections)."""
    if key not in SECTION_STAGES:
        return ["*"]
    return [s for s in SECTION_STAGES[key] if s in report.get("ran", [])]


def section_blocks(report: dict, key: str) -> list[Block] | None:
    """The blocks of one section, or None when none of its stages ran."""
    if key in CORE:
        return CORE[key](report)
    stages = ran_stages(report, key)
    return STAGE[key](report, stages) if stages else None


# Kept for callers of the first version: (title, rows) pairs.
def section_tables(report: dict, key: str) -> list[tuple[str, list[dict]]] | None:
    blocks = section_blocks(report, key)
    return None if blocks is None else [(b["title"], b["rows"]) for b in blocks]
