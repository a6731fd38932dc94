"""The summary's "biggest problems", in plain words a curator can act on.

Candidates come from every part of the run: unreadable input, drops and flags per
reason, a skewed or gappy taxonomy, and targets the pipeline could not reach
(refusal injection, rebalancing). Each carries the number of records it touches;
the largest come first (unreadable input always first: it means data is missing).
"""
from __future__ import annotations

from pipeline.report.settings import describe, settings

DIMENSIONS = ("task", "domain", "complexity", "lang")
MIX_KINDS = ("skew", "gap")


def _pct(n: float, total: float) -> str:
    return f"{n / max(1, total):.1%}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _reason_problems(funnel: list[dict], read: int) -> list[dict]:
    items = []
    for step in funnel:
        for code, n in step["dropped"].items():
            items.append({"kind": "drop", "code": code, "records": n, "weight": n, "text": (
                f"{n} record(s) ({_pct(n, read)} of the input) were dropped at the {step['stage']} stage "
                f"because {describe(code)} ({code}).")})
        for code, n in step["flagged"].items():
            # A flag keeps the record: it costs review time, not data, so it weighs half.
            items.append({"kind": "flag", "code": code, "records": n, "weight": n * 0.5, "text": (
                f"{n} record(s) ({_pct(n, read)}) were kept but flagged for review because "
                f"{describe(code)} ({code}).")})
    return items


def _mix_problems(stages: dict) -> list[dict]:
    div = stages.get("diversity") or {}
    measured = div.get("after") or div.get("before") or {}
    limit = float(settings()["dominant_share"])
    items = []
    for dim in DIMENSIONS:
        m = measured.get(dim)
        if not isinstance(m, dict) or not m.get("counts"):
            continue
        total = m.get("total") or sum(m["counts"].values())
        top, n = max(m["counts"].items(), key=lambda kv: kv[1])
        if dim != "lang" and total and n / total > limit:
            what = f"'{top}' (unclassified)" if top == "other" else f"'{top}'"
            items.append({"kind": "skew", "code": f"{dim}:{top}", "records": n,
                          "weight": n - limit * total, "text": (
                              f"The {dim} mix is skewed: {what} makes up {_pct(n, total)} of the curated set "
                              f"(more than {limit:.0%}), so the other {dim} values are under-represented.")})
        empty = [e for e in m.get("empty") or [] if e != "other"]
        if empty and dim in ("task", "complexity"):
            shown = ", ".join(empty[:5]) + (" …" if len(empty) > 5 else "")
            items.append({"kind": "gap", "code": f"{dim}:empty", "records": 0,
                          "weight": 0.02 * total * min(3, len(empty)), "text": (
                              f"No curated record at all has {dim} {shown}: the taxonomy is not covered "
                              f"(coverage {m.get('coverage', 0):.0%}).")})
    bal = div.get("balance") or {}
    if bal.get("shortfall_total"):
        first = (bal.get("shortfalls") or [""])[0]
        items.append({"kind": "shortfall", "code": "diversity_balance", "records": bal["shortfall_total"],
                      "weight": bal["shortfall_total"], "text": (
                          f"Rebalancing could not reach the target mix: {bal['shortfall_total']} record(s) are "
                          f"missing across cells (largest gap: {first}). Add data for those cells.")})
    ref = stages.get("refusal") or {}
    short = ref.get("shortfall") or {}
    if short:
        n = sum(v for v in short.values() if isinstance(v, (int, float)))
        items.append({"kind": "shortfall", "code": "refusal_injection", "records": n, "weight": n, "text": (
            f"Refusal injection fell short of its target by {n} record(s) "
            f"({', '.join(f'{k}: {v}' for k, v in short.items())}): add seed prompts for those kinds.")})
    return items


def problems(manifest: dict, stages: dict) -> list[dict]:
    """The ``top_problems`` biggest problems, each ``{kind, code, records, text}``."""
    read = manifest["counts"]["read"]
    items = []
    for e in manifest.get("errors") or []:
        items.append({"kind": "input_error", "code": e.get("reason", "input_error"), "records": 0,
                      "weight": float("inf"), "text": (
                          f"Input could not be fully read: {e.get('file', '')}"
                          f"{':' + str(e['line']) if e.get('line') else ''} ({e.get('message', '')}). "
                          "Its readable records still count; fix or re-export the file.")})
    items += _reason_problems(manifest["funnel"], read)
    items += _mix_problems(stages)
    items.sort(key=lambda x: (-x["weight"], x["code"]))
    # One mix problem per dimension (a skew and a gap in `complexity` are one issue with one
    # fix), and never only mix problems: the drops say what is wrong with the data itself.
    limit = int(settings()["top_problems"])
    top, dims = [], set()
    for p in items:
        if p["kind"] in MIX_KINDS:
            dim = p["code"].split(":")[0]
            if dim in dims or len(dims) >= limit - 1:
                continue
            dims.add(dim)
        top.append(p)
    top = top[:limit]
    return [{k: (_sentence(v) if k == "text" else v) for k, v in p.items() if k != "weight"} for p in top]
