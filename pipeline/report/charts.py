"""Charts for the HTML report: matplotlib figures rendered to inline SVG.

Text stays text in the SVG (``svg.fonttype: none``), so the browser draws labels with
its own fonts, Chinese included; matplotlib's XML writer escapes every label, so data
never becomes markup. The SVG hash salt and metadata are fixed: the same data gives
the same bytes. Figures are built with the object API (no pyplot state to leak).
"""
from __future__ import annotations

import glob
import io
import logging
from collections.abc import Mapping

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Noto Sans CJK (fonts-noto-cjk) when the system has it: labels are then *measured* with
# real CJK glyph widths, so long Chinese labels do not overlap the axes.
_CJK = sorted(glob.glob("/usr/share/fonts/**/NotoSansCJK-Regular.ttc", recursive=True))
_FAMILY = ["DejaVu Sans"]
for _path in _CJK[:1]:
    try:
        font_manager.fontManager.addfont(_path)
        _FAMILY.append(font_manager.FontProperties(fname=_path).get_name())
    except (OSError, RuntimeError):  # an unreadable font file only costs label widths
        pass
# Missing-glyph warnings are noise here: the browser, not matplotlib, draws the text.
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

STYLE = {
    "svg.hashsalt": "sftpipe", "svg.fonttype": "none", "font.size": 9, "font.family": _FAMILY,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "axes.grid.axis": "x",
    "grid.color": "#e3e7ec", "axes.axisbelow": True,
}
COLOR = "#3b6ea8"
DROP = "#c0504d"
INJECT = "#6aa56a"
MAX_LABEL = 28


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype for inline use


def _label(s: str) -> str:
    return s if len(s) <= MAX_LABEL else s[: MAX_LABEL - 1] + "…"


def bar(data: Mapping[str, float], title: str = "", horizontal: bool = True, max_items: int = 20) -> str:
    """A bar chart of label -> value: horizontal sorts largest first, vertical keeps the order."""
    items = list(data.items())
    if horizontal:
        items = sorted(items, key=lambda kv: -kv[1])[:max_items][::-1]
    labels = [_label(str(k)) for k, _ in items]
    values = [float(v) for _, v in items]
    with matplotlib.rc_context(STYLE):
        if horizontal:
            fig = Figure(figsize=(3.6, max(1.2, 0.22 * len(items) + 0.6)))
            ax = fig.subplots()
            ax.barh(range(len(values)), values, color=COLOR, height=0.7)
            ax.set_yticks(range(len(values)), labels)
        else:
            fig = Figure(figsize=(min(3.9, max(2.2, 0.36 * len(items) + 0.9)), 1.9))
            ax = fig.subplots()
            ax.bar(range(len(values)), values, color=COLOR, width=0.7)
            ax.set_xticks(range(len(values)), labels, rotation=40 if len(items) > 5 else 0, ha="right"
                          if len(items) > 5 else "center")
            ax.grid(axis="x", visible=False)
            ax.grid(axis="y", visible=True)
        # Counts are whole records: no 0.5 ticks on small numbers.
        (ax.xaxis if horizontal else ax.yaxis).set_major_locator(MaxNLocator(integer=True, nbins=5))
        if title:
            ax.set_title(title, loc="left")
    return _svg(fig)


def funnel(steps: list[dict]) -> str:
    """Records out of each stage (blue), that stage's drops (red) and injections (green)."""
    labels = [s["stage"] for s in steps][::-1]
    kept = [s["out"] - s.get("injected", 0) for s in steps][::-1]
    injected = [s.get("injected", 0) for s in steps][::-1]
    dropped = [sum(s["dropped"].values()) for s in steps][::-1]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(5.0, max(1.6, 0.24 * len(steps) + 0.8)))
        ax = fig.subplots()
        y = range(len(labels))
        ax.barh(y, kept, color=COLOR, label="kept", height=0.7)
        ax.barh(y, injected, left=kept, color=INJECT, label="injected", height=0.7)
        ax.barh(y, dropped, left=[k + i for k, i in zip(kept, injected)], color=DROP, label="dropped",
                height=0.7)
        ax.set_yticks(list(y), labels)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    return _svg(fig)
