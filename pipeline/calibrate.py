"""Per-language threshold calibration for the quality stage (``sftpipe calibrate INPUT...``).

Runs ``language`` and ``quality`` over the records (measuring only: every check's outcome
is ignored, and the global conflict index is not built), collects every numeric signal
per language, prints percentiles and suggests thresholds at a chosen quantile: the
``q`` quantile for "too high" limits (``max_*``), the ``1 - q`` quantile for "too low"
ones. :func:`write_overrides` turns the suggestions into a recipe fragment that
``sftpipe run --config`` merges over ``rules/quality.yaml``.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping

import click
import numpy as np
import yaml

from pipeline.config import stage_rules
from pipeline.processors.language import Language
from pipeline.processors.quality import Quality
from pipeline.record import from_rows

PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
#: Calibratable thresholds: (score, check, rule key, "high" = values above are bad).
THRESHOLDS: tuple[tuple[str, str, str, str], ...] = (
    ("length", "too_long", "max_tokens", "high"),
    ("length", "too_short", "min_tokens", "low"),
    ("dup_line_frac", "repetition", "max_dup_line_frac", "high"),
    ("ngram_rep", "repetition", "max_ngram_rep", "high"),
    ("symbol_ratio", "symbol_ratio", "max_ratio", "high"),
)
_BATCH = 1000


def _measuring_stages() -> tuple[Language, Quality]:
    lang = Language(stage_rules("language"), 0)
    rules = stage_rules("quality")
    for block in rules["checks"].values():
        if block.get("action") in ("drop", "strip", "redact", "keep_first"):
            block["action"] = "flag"  # measure every row as it is; rewrite nothing
    rules["checks"]["conflicting_answers"]["action"] = "off"
    quality = Quality(rules, 0)
    lang.setup()
    quality.setup()
    return lang, quality


def collect(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Every score of every record, grouped by language: ``{lang: {score: [values]}}``."""
    lang, quality = _measuring_stages()
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    chunk: list[dict] = []

    def flush() -> None:
        batch, lv = lang.process(from_rows(chunk))
        batch, qv = quality.process(batch)
        for i, (a, b) in enumerate(zip(lv, qv)):
            by = out[batch["lang"][i] or "und"]
            for name, value in {**a.scores, **b.scores}.items():
                by[name].append(float(value))
        chunk.clear()

    for rec in records:
        chunk.append(dict(rec))
        if len(chunk) >= _BATCH:
            flush()
    if chunk:
        flush()
    return out


def calibrate(records: Iterable[Mapping[str, Any]], quantile: float = 0.99, min_count: int = 50) -> dict:
    """Percentiles of every signal per language and thresholds suggested at ``quantile``.

    Args:
        records: Canonical records.
        quantile: Share of records a suggested threshold keeps, e.g. 0.99.
        min_count: Languages with fewer records get percentiles but no suggestions.

    Returns:
        ``{"records": n, "quantile": q, "languages": {lang: {"count": n, "signals":
        {score: {"p1": .., ..., "p99": .., "mean": ..}}}}, "suggested": {check: {key:
        {lang: value}}}}``.
    """
    if not 0.5 <= quantile < 1:
        raise ValueError(f"quantile must be in [0.5, 1), got {quantile}")
    data = collect(records)
    langs: dict[str, dict] = {}
    suggested: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    total = 0
    for lang in sorted(data):
        sig = data[lang]
        count = max((len(v) for v in sig.values()), default=0)
        total += count
        stats = {}
        for name in sorted(sig):
            arr = np.asarray(sig[name], dtype=float)
            stats[name] = {f"p{p}": round(float(np.percentile(arr, p)), 4) for p in PERCENTILES}
            stats[name]["mean"] = round(float(arr.mean()), 4)
        langs[lang] = {"count": count, "signals": stats}
        if count < min_count or lang == "und":
            continue
        for score, check, key, direction in THRESHOLDS:
            if score not in sig:
                continue
            q = quantile if direction == "high" else 1 - quantile
            value = float(np.quantile(np.asarray(sig[score], dtype=float), q))
            suggested[check][key][lang] = round(value, 4) if key.endswith(("frac", "rep", "ratio")) else int(round(value))
    return {"records": total, "quantile": quantile, "languages": langs,
            "suggested": {c: {k: dict(v) for k, v in keys.items()} for c, keys in suggested.items()}}


def overrides(result: Mapping[str, Any]) -> dict:
    """A recipe fragment ``{"rules": {"quality": {"checks": ...}}}`` from :func:`calibrate`'s result.

    Languages not calibrated keep the shipped per-language values (and ``default``).
    """
    base = stage_rules("quality")["checks"]
    checks: dict[str, dict] = {}
    for check, keys in result["suggested"].items():
        for key, per_lang in keys.items():
            shipped = base.get(check, {}).get(key)
            merged = dict(shipped) if isinstance(shipped, Mapping) else {"default": shipped}
            merged.update(per_lang)
            checks.setdefault(check, {})[key] = merged
    return {"rules": {"quality": {"checks": checks}}}


def write_overrides(result: Mapping[str, Any], path: str | Path) -> Path:
    """Write :func:`overrides` as YAML to ``path`` (atomically: temp file, then rename)."""
    p = Path(path)
    header = (f"# Quality thresholds calibrated by `sftpipe calibrate` at quantile {result['quantile']} "
              f"over {result['records']} records.\n# Use with: sftpipe run --config {p.name}\n")
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(header + yaml.safe_dump(overrides(result), allow_unicode=True, sort_keys=True), encoding="utf-8")
    tmp.replace(p)
    return p


def format_table(result: Mapping[str, Any]) -> str:
    """Percentiles per language and signal as aligned text."""
    cols = [f"p{p}" for p in PERCENTILES] + ["mean"]
    lines = []
    for lang, info in result["languages"].items():
        lines.append(f"[{lang}] {info['count']} records")
        lines.append(f"  {'signal':<20}" + "".join(f"{c:>10}" for c in cols))
        for name, stats in info["signals"].items():
            lines.append(f"  {name:<20}" + "".join(f"{stats[c]:>10.4g}" for c in cols))
    for check, keys in result["suggested"].items():
        for key, per_lang in keys.items():
            lines.append(f"suggested {check}.{key}: {per_lang}")
    return "\n".join(lines)


def _read_records(inputs: Iterable[str]) -> Iterable[dict]:
    from pipeline.io.readers import expand_inputs, read_file

    paths, errors = expand_inputs(list(inputs))
    for e in errors:
        click.echo(f"input error: {e}", err=True)
    for path in paths:
        _, items = read_file(path)
        for item in items:
            if item.record is not None:
                yield item.record


@click.command("calibrate")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--quantile", default=0.99, show_default=True, type=float, help="Share of records each suggested threshold keeps.")
@click.option("--min-count", default=50, show_default=True, type=int, help="Fewest records a language needs for suggestions.")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help="Write the suggested rules override YAML here.")
def calibrate_cmd(inputs: tuple[str, ...], quantile: float, min_count: int, out: str | None) -> None:
    """Print per-language percentiles of every quality signal and suggest thresholds."""
    if not 0.5 <= quantile < 1:
        raise click.BadParameter("must be in [0.5, 1)", param_hint="--quantile")
    result = calibrate(_read_records(inputs), quantile=quantile, min_count=min_count)
    click.echo(format_table(result))
    if out:
        click.echo(f"wrote {write_overrides(result, out)}")
