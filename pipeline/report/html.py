"""``report.html``: one self-contained page a curator reads top to bottom.

Summary first (headline numbers and the biggest problems in plain words), then one
section per part of the pipeline. Every chart sits beside the table holding its
numbers; sections whose stages did not run say so. All data is escaped (see
:mod:`pipeline.report.page`).
"""
from __future__ import annotations

from pathlib import Path

from pipeline.report import charts
from pipeline.report.page import anchor, block_html, cards, esc, page, section_html
from pipeline.report.sections import SECTION_STAGES, SECTION_TITLES, section_blocks


def _source_link(file: str, index) -> str:
    """A link to the example's source file when it exists here, else to the inputs table."""
    path = Path(file) if file else None
    href = path.resolve().as_uri() if path is not None and path.is_file() else "#run"
    label = f"{file} · record {index}" if index is not None else file
    return f'<a class="muted" href="{esc(href)}" title="{esc(label)}">{esc(label)}</a>'


def _examples(report: dict) -> str:
    meaning = {r["reason"]: r for r in report["reasons"]}
    # The reason behind the biggest drop/flag problem starts open: the summary links to it.
    first = next((p["code"] for p in report.get("problems", []) if p["kind"] in ("drop", "flag")), None)
    parts = []
    for code, exs in report.get("examples", {}).items():
        r = meaning.get(code, {"action": "drop", "records": len(exs), "description": ""})
        cls = "flag" if r["action"] == "flag" else ""
        items = "".join(
            f'<div class="ex {cls}">{_source_link(e["file"], e["index"])}'
            f'<pre><b>instruction:</b> {esc(e["instruction"])}</pre>'
            f'<pre><b>output:</b> {esc(e["output"])}</pre>'
            + (f'<pre class="muted"><b>detail:</b> {esc(e["detail"])}</pre>' if e["detail"] else "") + "</div>"
            for e in exs)
        parts.append(
            f'<details id="{anchor(code)}"{" open" if code == first else ""}><summary><span class="tag {cls}">{esc(r["action"])}</span> '
            f'<code>{esc(code)}</code> — {esc(r["records"])} record(s): {esc(r["description"])} '
            f'<span class="muted">({len(exs)} example(s))</span></summary>{items}</details>')
    return "".join(parts) or '<p class="muted">No record was dropped or flagged.</p>'


def _body(report: dict, key: str) -> str | None:
    blocks = section_blocks(report, key)
    if blocks is None:
        return None
    if key == "reasons":
        return ('<p class="note">Each reason with its real examples (the first ones in input order). '
                "Click a reason to open it; the link above each example points to its source file and "
                "record index.</p>" + _examples(report))
    out, grid, other = [], [], []
    for b in blocks:
        spec = b.get("chart") or {}
        if spec.get("kind") == "funnel":
            out.append(block_html(b, charts.funnel(report["funnel"]), collapse=False))
        elif b["title"].startswith("other measures"):
            other.append(block_html(b))  # raw stage measures: useful, but not what a curator reads first
        elif spec and len(b["rows"]) >= 2:
            grid.append(f'<div class="cell">{block_html(b, collapse=False)}</div>')
        else:
            _flush(out, grid)
            out.append(block_html(b, collapse=key != "funnel"))
    _flush(out, grid)
    if other:
        out.append(f'<details class="other"><summary>other measures reported by the stage ({len(other)} '
                   f'table(s))</summary>{"".join(other)}</details>')
    return "".join(out)


def _flush(out: list[str], grid: list[str]) -> None:
    """Charts with their tables go two to a row."""
    if grid:
        out.append(f'<div class="grid">{"".join(grid)}</div>')
        grid.clear()


def _summary(report: dict) -> str:
    c = report["counts"]
    read = max(1, c["read"])
    flagged = sum(sum(v.values()) for v in (c.get("flagged") or {}).values())
    splits = c.get("splits") or {}
    items = [("records read", c["read"], ""), ("curated", c["curated"], "good"),
             ("rejected", c["rejected"], "bad"), ("flagged (kept)", flagged, ""),
             ("injected", c["injected"], ""), ("kept of read", f"{(c['curated'] - c['injected']) / read:.1%}", ""),
             ("train / validation", f"{splits.get('train', 0)} / {splits.get('validation', 0)}", "")]
    probs = "".join(
        f'<li>{esc(p["text"])}' + (f' <a class="muted" href="#{anchor(p["code"])}">examples</a>'
                                  if p["kind"] in ("drop", "flag") else "") + "</li>"
        for p in report.get("problems", []))
    ptext = (f'<div class="problems" id="problems"><b>Biggest problems</b><ol>{probs}</ol></div>' if probs else
             '<div class="problems" id="problems"><b>No problem found.</b></div>')
    return f'<div id="summary">{cards(items)}{ptext}</div>'


def render_html(report: dict) -> str:
    """The whole report as one HTML page."""
    sections = []
    for key, title in SECTION_TITLES.items():
        missing = " and ".join(SECTION_STAGES.get(key, ()))
        sections.append(section_html(key, title, _body(report, key), f"the {missing} stage"))
    run = report["run"]
    sub = (f"{report['counts']['read']} records from {len(run.get('inputs') or [])} input file(s) · "
           f"config {run.get('config_hash')} · seed {run.get('seed')} · "
           f"{len(report['ran'])} stages ran: {', '.join(report['ran'])}")
    nav = {"summary": "Summary", **{k: t.split(":")[0].split(",")[0] for k, t in SECTION_TITLES.items()}}
    return page("sftpipe quality report", sub, nav, _summary(report) + "".join(sections))
