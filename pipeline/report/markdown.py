"""``report.md``: the report's content as Markdown tables, for pull requests and terminals.

Same sections and numbers as the HTML page (both come from :mod:`sections`); charts
are left out because their tables carry the same numbers.
"""
from __future__ import annotations

from pipeline.report.sections import SECTION_STAGES, SECTION_TITLES, section_blocks


def _cell(v) -> str:
    # Escape what would break a Markdown table or start inline HTML in a renderer.
    return (str(v).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")
            .replace(">", "&gt;"))


def md_table(rows: list[dict]) -> list[str]:
    """Rows as a GitHub-flavoured Markdown table."""
    if not rows:
        return ["_(none)_"]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    out = ["| " + " | ".join(_cell(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return out


def md_blocks(blocks: list[dict]) -> list[str]:
    lines: list[str] = []
    for b in blocks:
        if b["title"]:
            lines += [f"### {_cell(b['title'])}", ""]
        if b.get("note"):
            lines += [f"_{_cell(b['note'])}_", ""]
        if b["rows"] or not b.get("note"):
            lines += md_table(b["rows"]) + [""]
    return lines


def render_markdown(report: dict) -> str:
    """The whole report as Markdown."""
    c = report["counts"]
    head = (f"**read** {c['read']} · **curated** {c['curated']} · **rejected** {c['rejected']} · "
            f"**injected** {c['injected']} · stages: {', '.join(report['ran'])}")
    lines = ["# sftpipe quality report", "", head, ""]
    if report.get("problems"):
        lines += ["## Biggest problems", ""]
        lines += [f"{i}. {_cell(p['text'])}" for i, p in enumerate(report["problems"], 1)] + [""]
    for key, title in SECTION_TITLES.items():
        lines += [f"## {title}", ""]
        blocks = section_blocks(report, key)
        if blocks is None:
            lines += [f"_not run: the {' and '.join(SECTION_STAGES[key])} stage did not run in this recipe._", ""]
            continue
        lines += md_blocks(blocks)
    return "\n".join(lines)
