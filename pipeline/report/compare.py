"""``sftpipe report A --compare B``: two runs side by side, for tuning rules.

Writes ``A/report/compare.json`` (the data), ``compare.md`` and ``compare.html``:
counts, the funnel, distributions, the reasons whose share of the input moved most,
and the records that changed fate between the runs (joined on ``(source.file,
source.index)``), with sampled examples of each change.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.io.atomic import write_json, write_text
from pipeline.report import fate
from pipeline.report.build import build_report
from pipeline.report.settings import describe, settings

DIST_KEYS = ("lang", "task", "domain", "complexity", "response_type", "origin", "turns",
             "instruction_chars", "output_chars")


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def _share(n: float, total: float) -> float:
    return round(n / total, 6) if total else 0.0


def _counts(a: dict, b: dict) -> list[dict]:
    def flat(c: dict) -> dict:
        splits = c.get("splits") or {}
        return {"read": c["read"], "curated": c["curated"], "rejected": c["rejected"], "injected": c["injected"],
                "flagged": sum(sum(v.values()) for v in (c.get("flagged") or {}).values()),
                "train": splits.get("train", 0), "validation": splits.get("validation", 0)}

    fa, fb = flat(a), flat(b)
    return [{"measure": k, "A": fa[k], "B": fb[k], "delta": fb[k] - fa[k]} for k in fa]


def _funnel(a: list[dict], b: list[dict]) -> list[dict]:
    sa, sb = {s["stage"]: s for s in a}, {s["stage"]: s for s in b}
    order = [s["stage"] for s in a] + [s["stage"] for s in b if s["stage"] not in sa]
    rows = []
    for st in order:
        x, y = sa.get(st), sb.get(st)
        def n(step, key):  # "—": the stage did not run in that run
            return "—" if step is None else (step["out"] if key == "out" else sum(step[key].values()))

        rows.append({"stage": st, "A out": n(x, "out"), "B out": n(y, "out"), "A dropped": n(x, "dropped"),
                     "B dropped": n(y, "dropped"), "A flagged": n(x, "flagged"), "B flagged": n(y, "flagged")})
    return rows


def _reasons(ra: dict, rb: dict) -> list[dict]:
    """Every reason in either run with its share of the input in each; largest move first."""
    def shares(r: dict) -> dict:
        return {(x["reason"], x["action"]): (x["records"], x["share"]) for x in r["reasons"]}

    sa, sb = shares(ra), shares(rb)
    rows = []
    for key in set(sa) | set(sb):
        (na, pa), (nb, pb) = sa.get(key, (0, 0.0)), sb.get(key, (0, 0.0))
        delta = round(pb - pa, 6)
        if abs(delta) >= float(settings()["min_share_delta"]) and (na or nb):
            rows.append({"reason": key[0], "action": key[1], "A records": na, "B records": nb,
                         "A share": pa, "B share": pb, "delta share": delta, "what it means": describe(key[0])})
    return sorted(rows, key=lambda r: (-abs(r["delta share"]), r["reason"], r["action"]))


def _distributions(da: dict, db: dict) -> dict[str, list[dict]]:
    out = {}
    for key in DIST_KEYS:
        ca, cb = da.get(key) or {}, db.get(key) or {}
        if not ca and not cb:
            continue
        ta, tb = sum(ca.values()), sum(cb.values())
        values = list(ca) + [v for v in cb if v not in ca]
        out[key] = [{"value": v, "A": ca.get(v, 0), "B": cb.get(v, 0), "A share": _share(ca.get(v, 0), ta),
                     "B share": _share(cb.get(v, 0), tb),
                     "delta share": round(_share(cb.get(v, 0), tb) - _share(ca.get(v, 0), ta), 6)}
                    for v in values]
    return out


def _fates(out_a: Path, ma: dict, out_b: Path, mb: dict) -> dict:
    cfg = settings()
    per, chars = int(cfg["fate_examples"]), int(cfg["text_chars"])
    fa, flags_a = fate.fates(out_a, ma)
    fb, flags_b = fate.fates(out_b, mb)
    moved = fate.transitions(fa, fb)
    ordered = sorted(moved.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    by_kind: dict[str, int] = {}
    for (a, b), keys in moved.items():
        by_kind[fate.kind(a, b)] = by_kind.get(fate.kind(a, b), 0) + len(keys)
    shown = ordered[: int(cfg["fate_transitions"])]
    sample = {k for _, keys in shown for k in keys[:per]}
    texts_a = fate.texts_for(out_a, ma, sample, chars)
    texts_b = fate.texts_for(out_b, mb, sample, chars)
    changes = []
    for (a, b), keys in shown:
        examples = []
        for k in keys[:per]:
            ta, tb = texts_a.get(k) or {}, texts_b.get(k) or {}
            base = tb if tb.get("instruction") else ta
            examples.append({"file": k.split(fate.SEP)[0], "index": int(k.split(fate.SEP)[1]),
                             "instruction": base.get("instruction", ""), "output": base.get("output", ""),
                             "detail A": ta.get("detail", ""), "detail B": tb.get("detail", "")})
        changes.append({"A": a, "B": b, "kind": fate.kind(a, b), "records": len(keys), "examples": examples})
    return {"records_compared": len(set(fa) | set(fb)), "changed": sum(len(v) for v in moved.values()),
            "by_kind": dict(sorted(by_kind.items())), "transitions": changes,
            "flag_changes": dict(sorted(fate.flag_changes(flags_a, flags_b).items(),
                                        key=lambda kv: (-kv[1], kv[0])))}


def compare_runs(out_a: Path | str, out_b: Path | str) -> dict:
    """The comparison data (what ``compare.json`` holds)."""
    out_a, out_b = Path(out_a), Path(out_b)
    ma, mb = _manifest(out_a), _manifest(out_b)
    ra, rb = build_report(out_a, ma), build_report(out_b, mb)
    return {
        "a": {"out": str(out_a), "config_hash": ma.get("config_hash"), "seed": ma.get("seed"), "ran": ra["ran"]},
        "b": {"out": str(out_b), "config_hash": mb.get("config_hash"), "seed": mb.get("seed"), "ran": rb["ran"]},
        "same_inputs": sorted(i["sha256"] for i in ma["inputs"]) == sorted(i["sha256"] for i in mb["inputs"]),
        "counts": _counts(ma["counts"], mb["counts"]),
        "funnel": _funnel(ma["funnel"], mb["funnel"]),
        "reasons": _reasons(ra, rb),
        "distributions": _distributions(ra["distributions"], rb["distributions"]),
        "fates": _fates(out_a, ma, out_b, mb),
    }


def write_comparison(out_a: Path | str, out_b: Path | str) -> Path:
    """Write compare.json, compare.md and compare.html under ``out_a/report``; returns the HTML path."""
    from pipeline.report.compare_render import render_compare_html, render_compare_md

    data = compare_runs(out_a, out_b)
    folder = Path(out_a) / "report"
    write_json(folder / "compare.json", data)
    write_text(folder / "compare.md", render_compare_md(data))
    write_text(folder / "compare.html", render_compare_html(data))
    return folder / "compare.html"
