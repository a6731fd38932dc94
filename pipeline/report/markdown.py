"""``report.md``: the report's content as Markdown tables, for pull requests and terminals."""
from __future__ import annotations

from pipeline.report.sections import SECTION_TITLES, section_tables


def _md_table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["_(none)_"]
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [str(r.get(c, "")).replace("|", "\\|").replace("\n", " ") for c in cols]
        out.append("| " + " | ".join(cells) + " |")
    return out


def render_markdown(report: dict) -> str:
    """The whole report as Markdown."""
    c = report["counts"]
    lines = ["# sftpipe quality report", "",
             f"**read** {c['read']} · **curated** {c['curated']} · **rejected** {c['rejected']} · "
             f"**injected** {c['injected']}", ""]
    if report.get("problems"):
        lines += ["## Biggest problems", ""] + [f"{i}. {p}" for i, p in enumerate(report["problems"], 1)] + [""]
    for key, title in SECTION_TITLES.items():
        lines += [f"## {title}", ""]
        tables = section_tables(report, key)
        if tables is None:
            lines += ["_not run_", ""]
            continue
        for name, rows in tables:
            if name:
                lines += [f"### {name}", ""]
            lines += _md_table(rows) + [""]
    return "\n".join(lines)
