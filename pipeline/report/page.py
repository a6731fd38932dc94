"""HTML building blocks shared by ``report.html`` and ``compare.html``.

Safety rule: every piece of data passes through :func:`esc` (or pandas' escaping
``to_html``) before it meets markup; the only tags on the page are written here.
Charts come from :mod:`pipeline.report.charts` (matplotlib SVG, text escaped by its
XML writer). The page is self-contained: inline CSS and SVG, no scripts, no network.
"""
from __future__ import annotations

import html
import re

import pandas as pd

from pipeline.report import charts
from pipeline.report.settings import settings

CSS = """
body{font-family:"Noto Sans","Noto Sans CJK SC","PingFang SC","Microsoft YaHei","Segoe UI",sans-serif;
 margin:0;color:#1d2733;background:#f3f5f8;line-height:1.4}
header{background:#1f3b5c;color:#fff;padding:16px 28px 12px}
header h1{margin:0 0 4px;font-size:22px}
header .sub{color:#cfe0f5;font-size:13px;margin-bottom:8px}
nav a{color:#cfe0f5;margin-right:14px;font-size:13px;white-space:nowrap}
main{padding:8px 28px 40px;max-width:1320px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{background:#fff;border-radius:8px;padding:8px 16px;box-shadow:0 1px 2px #0002;min-width:110px}
.card b{display:block;font-size:22px}
.card.bad b{color:#b03a37}.card.good b{color:#2d7a46}
.problems{background:#fff6e5;border-left:4px solid #e0a030;padding:6px 16px 4px;border-radius:4px;margin:8px 0}
.problems li{margin:4px 0}
section{background:#fff;border-radius:8px;padding:8px 18px 14px;margin:16px 0;box-shadow:0 1px 2px #0002}
section.notrun{background:#f7f8fa;box-shadow:none;border:1px dashed #c9d1da}
h2{font-size:18px;margin:8px 0}
h3{font-size:14px;margin:16px 0 2px;color:#354a60}
.note{color:#5d6b7a;font-size:12.5px;margin:2px 0 6px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(580px,1fr));gap:0 28px}
details.other{margin-top:14px}
.pair{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
.pair>.chart{flex:0 0 auto;max-width:560px}
.pair>.chart svg{max-width:100%;height:auto}
.pair>.numbers{flex:1 1 180px;min-width:0;overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0}
th,td{border-bottom:1px solid #e3e7ec;padding:3px 8px;text-align:left;vertical-align:top;max-width:460px;
 overflow-wrap:anywhere}
th{background:#eef2f6;white-space:nowrap}
.pair td{white-space:nowrap}
td:first-child{white-space:nowrap}
p.notrun{color:#7a8694;font-style:italic;margin:4px 0}
details{margin:4px 0}
summary{cursor:pointer;font-size:13px;padding:2px 0}
.ex{border-left:3px solid #c0504d;padding:4px 10px;margin:6px 0 6px 14px;background:#fbfbfc;font-size:12.5px}
.ex.flag{border-color:#e0a030}
.ex pre{white-space:pre-wrap;margin:2px 0;font-family:inherit;overflow-wrap:anywhere}
.muted{color:#6b7785;font-size:12px}
.tag{display:inline-block;border-radius:3px;padding:0 5px;font-size:11px;color:#fff;background:#c0504d}
.tag.flag{background:#e0a030}.tag.kept{background:#2d7a46}
code{font-size:12px;background:#eef2f6;padding:0 3px;border-radius:3px}
.up{color:#b03a37}.down{color:#2d7a46}
"""


def esc(x) -> str:
    """Data -> text safe inside element content and double-quoted attributes."""
    return html.escape("" if x is None else str(x), quote=True)


def anchor(code: str) -> str:
    """A safe id for a reason code (data never reaches an attribute unescaped)."""
    return "ex-" + re.sub(r"[^a-z0-9_-]", "-", str(code).lower())


def table(rows: list[dict], collapse: bool = True) -> str:
    """An escaped HTML table; long ones fold into <details> when ``collapse``."""
    if not rows:
        return '<p class="muted">(none)</p>'
    cols = list(dict.fromkeys(k for r in rows for k in r))
    frame = pd.DataFrame([{c: r.get(c, "") for c in cols} for r in rows], columns=cols)
    text = frame.to_html(index=False, escape=True, border=0, na_rep="")
    limit = int(settings()["open_table_rows"])
    if collapse and len(rows) > limit:
        return f"<details><summary>{len(rows)} rows (click to show)</summary>{text}</details>"
    return text


def chart_for(block: dict) -> str:
    """The SVG chart of a block, drawn from the same rows its table shows."""
    spec = block.get("chart")
    if not spec or len(block["rows"]) < 2:  # a one-bar chart says nothing its table does not
        return ""
    data = {str(r[spec["label"]]): float(r[spec["value"]]) for r in block["rows"]}
    return charts.bar(data, horizontal=spec["kind"] == "hbar")


def block_html(block: dict, chart: str | None = None, collapse: bool = True) -> str:
    """A block: title, note, then its chart beside its table (or the table alone)."""
    chart = chart_for(block) if chart is None else chart
    head = f"<h3>{esc(block['title'])}</h3>" if block.get("title") else ""
    note = f'<p class="note">{esc(block["note"])}</p>' if block.get("note") else ""
    if chart:
        return (f'{head}{note}<div class="pair"><div class="chart">{chart}</div>'
                f'<div class="numbers">{table(block["rows"], collapse=False)}</div></div>')
    if not block["rows"] and note:
        return head + note
    return head + note + table(block["rows"], collapse)


def section_html(key: str, title: str, body: str | None, missing: str = "") -> str:
    """A section; ``body=None`` marks it "not run" and says which stages were missing."""
    if body is None:
        return (f'<section id="{esc(key)}" class="notrun" data-status="not-run"><h2>{esc(title)}</h2>'
                f'<p class="notrun">not run: {esc(missing)} did not run in this recipe.</p></section>')
    return f'<section id="{esc(key)}" data-status="ran"><h2>{esc(title)}</h2>{body}</section>'


def cards(items: list[tuple[str, object, str]]) -> str:
    """Headline numbers: ``(label, value, css class)``."""
    return '<div class="cards">' + "".join(
        f'<div class="card {esc(cls)}"><span class="muted">{esc(k)}</span><b>{esc(v)}</b></div>'
        for k, v, cls in items) + "</div>"


def page(title: str, subtitle: str, nav: dict[str, str], body: str) -> str:
    """The whole self-contained page."""
    links = "".join(f'<a href="#{esc(k)}">{esc(t)}</a>' for k, t in nav.items())
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f'<header><h1>{esc(title)}</h1><div class="sub">{esc(subtitle)}</div><nav>{links}</nav></header>'
            f"<main>{body}</main></body></html>\n")
