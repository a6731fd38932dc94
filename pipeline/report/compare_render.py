"""Render ``compare.json`` data as ``compare.md`` and ``compare.html`` (shared blocks)."""
from __future__ import annotations

from pipeline.report.blocks import block, pct
from pipeline.report.markdown import md_blocks
from pipeline.report.page import block_html, cards, page, section_html

TITLES = {"runs": "The two runs", "counts": "Counts", "fates": "Records that changed fate",
          "reasons": "Reasons whose share moved", "funnel": "Funnel", "distributions": "Distributions"}


def _signed(x: float) -> str:
    return f"{x:+.2%}"


def _fate_label(x: str) -> str:
    return x if x in ("kept", "(not in this run)") else f"dropped: {x}"


def sections(data: dict) -> dict[str, list[dict]]:
    """Section key -> blocks (the same for both renderers)."""
    a, b = data["a"], data["b"]
    runs = [{"run": name, "folder": r["out"], "config hash": r["config_hash"], "seed": r["seed"],
             "stages": ", ".join(r["ran"])} for name, r in (("A", a), ("B", b))]
    note = "" if data["same_inputs"] else "The runs read different inputs: fate changes include records only one run saw."
    reasons = [{**{k: r[k] for k in ("reason", "action", "A records", "B records")},
                "A share": pct(r["A share"]), "B share": pct(r["B share"]), "Δ share": _signed(r["delta share"]),
                "what it means": r["what it means"]} for r in data["reasons"]]
    f = data["fates"]
    trans = [{"A": _fate_label(t["A"]), "B": _fate_label(t["B"]), "change": t["kind"], "records": t["records"]}
             for t in f["transitions"]]
    fate_blocks = [block("by kind", [{"change": k, "records": n} for k, n in f["by_kind"].items()],
                         f"{f['changed']} of {f['records_compared']} input records changed fate "
                         "(joined on source file and index; injected records are left out)."),
                   block("changes", trans, "Largest first. Examples of each change follow.")]
    for t in f["transitions"]:
        rows = [{"where": f"{e['file']}#{e['index']}", "instruction": e["instruction"][:160],
                 "output": e["output"][:120], "detail A": e["detail A"][:120], "detail B": e["detail B"][:120]}
                for e in t["examples"]]
        fate_blocks.append(block(f"{_fate_label(t['A'])} → {_fate_label(t['B'])} ({t['records']})", rows))
    if f["flag_changes"]:
        fate_blocks.append(block("flags changed on records kept by both",
                                 [{"flag": k, "records": n} for k, n in f["flag_changes"].items()],
                                 "+code: flagged in B only; -code: flagged in A only."))
    dists = [block(key.replace("_", " "), [{**{k: r[k] for k in ("value", "A", "B")}, "A share": pct(r["A share"]),
                                            "B share": pct(r["B share"]), "Δ share": _signed(r["delta share"])}
                                           for r in rows]) for key, rows in data["distributions"].items()]
    return {"runs": [block("", runs, note)],
            "counts": [block("", [{**r, "delta": f"{r['delta']:+d}"} for r in data["counts"]])],
            "fates": fate_blocks,
            "reasons": [block("", reasons, "Share of the records read, per reason; sorted by |Δ share|.")],
            "funnel": [block("", data["funnel"])],
            "distributions": dists}


def render_compare_md(data: dict) -> str:
    lines = ["# sftpipe run comparison", "", f"**A** {data['a']['out']} · **B** {data['b']['out']}", ""]
    for key, blocks in sections(data).items():
        lines += [f"## {TITLES[key]}", ""] + md_blocks(blocks)
    return "\n".join(lines)


def render_compare_html(data: dict) -> str:
    body = []
    for key, blocks in sections(data).items():
        keep_open = key in ("counts", "fates", "reasons", "funnel")  # the tables a tuner reads first
        body.append(section_html(key, TITLES[key], "".join(block_html(b, "", collapse=not keep_open)
                                                           for b in blocks)))
    f = data["fates"]
    counts = {r["measure"]: r for r in data["counts"]}
    head = cards([("curated A → B", f"{counts['curated']['A']} → {counts['curated']['B']}", ""),
                  ("rejected A → B", f"{counts['rejected']['A']} → {counts['rejected']['B']}", ""),
                  ("records changed fate", f["changed"], "bad" if f["changed"] else "good")]
                 + [(k, n, "") for k, n in f["by_kind"].items()])
    sub = f"A: {data['a']['out']} · B: {data['b']['out']}"
    return page("sftpipe run comparison", sub, TITLES, head + "".join(body))
