"""Report settings and plain-words descriptions of reason codes (``rules/report.yaml``)."""
from __future__ import annotations

from functools import lru_cache

from pipeline.config import RULES_DIR, read_yaml

DEFAULTS = {
    "examples_per_reason": 5, "text_chars": 300, "open_table_rows": 12, "max_table_rows": 40,
    "top_problems": 3, "dominant_share": 0.4, "largest_clusters": 5, "fate_examples": 5,
    "fate_transitions": 25, "min_share_delta": 0.0, "tokenizer": None, "reasons": {},
}


@lru_cache(maxsize=1)
def settings() -> dict:
    """``rules/report.yaml`` over the built-in defaults (read once per process)."""
    path = RULES_DIR / "report.yaml"
    loaded = read_yaml(path) if path.exists() else {}
    return {**DEFAULTS, **loaded}


def describe(code: str) -> str:
    """What a reason code means; unknown codes get a generic ``<stage> check: <what>``."""
    text = (settings().get("reasons") or {}).get(code)
    if text:
        return str(text)
    stage, _, what = code.partition("_")
    return f"{stage} check: {what.replace('_', ' ')}" if what else code
