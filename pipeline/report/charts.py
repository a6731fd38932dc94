"""Charts for the HTML report: matplotlib figures rendered to inline SVG.

Labels are escaped by matplotlib's SVG writer, so data never becomes markup. SVG
hash salts and dates are fixed so the same data gives the same bytes.
"""
from __future__ import annotations

import io
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.rcParams.update({
    "svg.hashsalt": "sftpipe", "svg.fonttype": "none", "font.size": 9,
    # Text stays text in the SVG (fonttype none): the browser draws it, CJK included.
    "font.family": ["DejaVu Sans"],
    "axes.spines.top": False, "axes.spines.right": False,
})
COLOR = "#3b6ea8"
DROP = "#c0504d"
FLAG = "#e0a030"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype for inline use


def bar(data: Mapping[str, float], title: str = "", horizontal: bool = True, max_items: int = 20) -> str:
    """A bar chart of label -> value, largest first when horizontal."""
    items = list(data.items())
    if horizontal:
        items = sorted(items, key=lambda kv: -kv[1])[:max_items][::-1]
    labels = [str(k) for k, _ in items]
    values = [float(v) for _, v in items]
    height = max(1.6, 0.28 * len(items) + 0.8) if horizontal else 2.6
    fig, ax = plt.subplots(figsize=(5.2, height))
    if horizontal:
        ax.barh(labels, values, color=COLOR)
    else:
        ax.bar(labels, values, color=COLOR)
        ax.tick_params(axis="x", labelrotation=45)
    if title:
        ax.set_title(title, loc="left")
    return _svg(fig)


def funnel(steps: list[dict]) -> str:
    """Records out of each stage, with that stage's drops stacked in red."""
    labels = [s["stage"] for s in steps]
    kept = [s["out"] for s in steps]
    dropped = [sum(s["dropped"].values()) for s in steps]
    fig, ax = plt.subplots(figsize=(6.4, max(1.8, 0.3 * len(steps) + 0.8)))
    ax.barh(labels[::-1], kept[::-1], color=COLOR, label="kept")
    ax.barh(labels[::-1], dropped[::-1], left=kept[::-1], color=DROP, label="dropped")
    ax.legend(loc="lower right", frameon=False)
    ax.set_title("Records through the pipeline", loc="left")
    return _svg(fig)
