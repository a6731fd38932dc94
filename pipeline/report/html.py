"""``report.html``: one self-contained page (inline CSS and SVG charts, no network).

All data passes through :func:`html.escape` or pandas' escaping ``to_html``; the
only markup is ours. Every chart sits beside the table holding its numbers.
"""
from __future__ import annotations

import html
from urllib.parse import quote

import pandas as pd

from pipeline.report import charts
from pipeline.report.sections import SECTION_TITLES, section_tables

CSS = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;
 margin:0;color:#1d2733;background:#f6f7f9}
header{background:#1f3b5c;color:#fff;padding:18px 28px}
header h1{margin:0 0 6px;font-size:22px}
main{padding:8px 28px 40px;max-width:1250px}
nav a{color:#cfe0f5;margin-right:14px;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{background:#fff;border-radius:8px;padding:10px 16px;box-shadow:0 1px 2px #0002;min-width:120px}
.card b{display:block;font-size:22px}
.problems{background:#fff6e5;border-left:4px solid #e0a030;padding:8px 16px;border-radius:4px}
section{background:#fff;border-radius:8px;padding:10px 18px 16px;margin:16px 0;box-shadow:0 1px 2px #0002}
h2{font-size:18px;margin:8px 0}
h3{font-size:14px;margin:14px 0 6px;color:#354a60}
.pair{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}
.pair>div{flex:1 1 420px;min-width:0;overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0}
th,td{border-bottom:1px solid #e3e7ec;padding:3px 8px;text-align:left;vertical-align:top;max-width:420px;
 overflow-wrap:anywhere}
th{background:#eef2f6}
.notrun{color:#8a96a3;font-style:italic}
details{margin:4px 0}
summary{cursor:pointer;font-size:13px}
.ex{border-left:3px solid #c0504d;padding:4px 10px;margin:6px 0;background:#fbfbfc;font-size:12.5px}
.ex.flag{border-color:#e0a030}
.ex pre{white-space:pre-wrap;margin:2px 0;font-family:inherit}
.muted{color:#6b7785;font-size:12px}
"""
CHART_KEYS = {"lang", "task", "domain", "complexity", "response_type", "origin", "turns", "output_chars",
              "instruction_chars"}


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _table(rows: list[dict]) -> str:
    if not rows:
        return '<p class="muted">(none)</p>'
    return pd.DataFrame(rows).to_html(index=False, escape=True, border=0, na_rep="")


def _chart_for(name: str, rows: list[dict]) -> str:
    if name not in CHART_KEYS or not rows:
        return ""
    data = {str(r["value"]): r["count"] for r in rows}
    ordered = name in ("turns", "output_chars", "instruction_chars")
    return charts.bar(data, title=name.replace("_", " "), horizontal=not ordered)


def _examples(report: dict) -> str:
    flagged = {r for s in report["funnel"] for r in s["flagged"]}
    parts = []
    for reason, exs in report.get("examples", {}).items():
        cls = "ex flag" if reason in flagged else "ex"
        items = []
        for e in exs:
            where = f"{e['file']}#{e['index']}"
            items.append(
                f'<div class="{cls}"><a class="muted" href="{_e(quote(e["file"]))}" title="source record">'
                f'{_e(where)}</a><pre><b>instruction:</b> {_e(e["instruction"])}</pre>'
                f'<pre><b>output:</b> {_e(e["output"])}</pre><pre class="muted">{_e(e["detail"])}</pre></div>')
        parts.append(f"<details><summary><code>{_e(reason)}</code> — {len(exs)} example(s)</summary>"
                     + "".join(items) + "</details>")
    return "".join(parts)


def _section(report: dict, key: str) -> str:
    title = SECTION_TITLES[key]
    tables = section_tables(report, key)
    body = []
    if tables is None:
        body.append('<p class="notrun">not run: the stage(s) for this section were not in the recipe</p>')
    elif key == "funnel":
        body.append(f'<div class="pair"><div>{charts.funnel(report["funnel"])}</div>'
                    f'<div>{_table(tables[0][1])}</div></div>')
    elif key == "reasons":
        body.append(_table(tables[0][1]))
        body.append("<h3>Examples</h3>" + _examples(report))
    else:
        for name, rows in tables:
            chart = _chart_for(name, rows)
            head = f"<h3>{_e(name)}</h3>" if name else ""
            if chart:
                body.append(f'{head}<div class="pair"><div>{chart}</div><div>{_table(rows)}</div></div>')
            else:
                body.append(head + _table(rows))
    return f'<section id="{key}"><h2>{_e(title)}</h2>{"".join(body)}</section>'


def render_html(report: dict) -> str:
    """The whole report as one HTML page."""
    c = report["counts"]
    read = max(1, c["read"])
    cards = [("read", c["read"]), ("curated", c["curated"]), ("rejected", c["rejected"]),
             ("injected", c["injected"]), ("kept", f"{(c['curated'] - c['injected']) / read:.1%}")]
    card_html = "".join(f'<div class="card"><span class="muted">{_e(k)}</span><b>{_e(v)}</b></div>'
                        for k, v in cards)
    problems = "".join(f"<li>{_e(p)}</li>" for p in report.get("problems", []))
    nav = "".join(f'<a href="#{k}">{_e(t)}</a>' for k, t in SECTION_TITLES.items())
    sections = "".join(_section(report, k) for k in SECTION_TITLES)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>sftpipe quality report</title>"
        f"<style>{CSS}</style></head><body><header><h1>sftpipe quality report</h1><nav>{nav}</nav></header>"
        f'<main><div class="cards">{card_html}</div>'
        + (f'<div class="problems"><b>Biggest problems</b><ol>{problems}</ol></div>' if problems else "")
        + sections + "</main></body></html>\n"
    )
