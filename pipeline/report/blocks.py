"""The building block shared by the Markdown and HTML renderers: a titled table.

A block is a plain dict ``{title, rows, note, chart}``. ``rows`` is a list of dicts (one
per table row); ``chart`` (optional) says which two columns to plot, so the HTML page
can draw the chart from exactly the numbers in the table beside it.
"""
from __future__ import annotations

from typing import Any

Block = dict


def block(title: str, rows: list[dict], note: str = "", chart: str | None = None,
          label: str = "value", value: str = "count") -> Block:
    """A table block; ``chart`` is ``"hbar"`` (largest first) or ``"vbar"`` (keep row order)."""
    spec = {"kind": chart, "label": label, "value": value} if chart and rows else None
    return {"title": title, "rows": rows, "note": note, "chart": spec}


def pct(x: float) -> str:
    return f"{x:.1%}"


def count_rows(counts: dict, ordered: bool = False, total: int | None = None) -> list[dict]:
    """``{value: n}`` -> rows with value, count and share; largest first unless ``ordered``."""
    total = total or sum(v for v in counts.values() if is_num(v)) or 1
    items = list(counts.items()) if ordered else sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return [{"value": str(k), "count": v, "share": pct(v / total)} for k, v in items]


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def generic_blocks(summary: dict, prefix: str = "", max_rows: int = 40) -> list[Block]:
    """Tables for any stage summary: scalars -> one key/value table, ``{name: number}`` ->
    count tables, lists of dicts -> row tables. New summary keys show up without code here."""
    scalars: list[dict] = []
    blocks: list[Block] = []

    def walk(obj: dict, path: str) -> None:
        for k, v in obj.items():
            name = f"{path}.{k}" if path else str(k)
            if isinstance(v, dict) and v and all(is_num(x) for x in v.values()):
                blocks.append(block(f"{prefix}{name}", count_rows(v)[:max_rows]))
            elif isinstance(v, dict):
                walk(v, name)
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                rows = [{kk: _cell(vv) for kk, vv in x.items()} for x in v[:max_rows]]
                blocks.append(block(f"{prefix}{name}", rows))
            elif isinstance(v, list):
                scalars.append({"measure": name, "value": _cell(v, 12) or "(none)"})
            else:
                scalars.append({"measure": name, "value": round(v, 4) if isinstance(v, float) else v})

    walk(summary, "")
    return ([block(f"{prefix}measures", scalars)] if scalars else []) + blocks


def _cell(v: Any, n: int = 5) -> Any:
    if isinstance(v, list):
        shown = ", ".join("/".join(map(str, x)) if isinstance(x, list) else str(x) for x in v[:n])
        return shown + (f" … ({len(v)} in all)" if len(v) > n else "")
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x}" for k, x in list(v.items())[:n])
    return v
