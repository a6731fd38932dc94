"""Single-process speed of the ``quality`` stage on real records, optionally checked
byte for byte against a baseline copy of the stage.

Records come from the shared corpora (read at run time, never copied): every Alpaca
(EN) record plus BELLE dev1K, the LLaMA-Factory Chinese demo and the Chinese code
questions. They go through ``normalize`` first, as in the default recipe.

Times are CPU seconds of this process (robust on a shared machine).

Usage::

    python bench/quality_speed.py                       # time fit + process
    python bench/quality_speed.py --baseline /tmp/orig  # also compare with a copy

``--baseline DIR`` names a folder holding a package ``qorig`` (a copy of
``pipeline/quality`` with imports rewritten to ``qorig.`` and the processor module as
``qorig/proc.py`` without its ``@register`` line). Both versions run on identical
copies of the batches, alternating, and every verdict, every rewritten field and the
fit results must be equal; the speed ratio is reported.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline.config import stage_rules  # noqa: E402
from pipeline.processors.normalize import Normalize  # noqa: E402
from pipeline.processors.quality import Quality  # noqa: E402
from pipeline.record import from_rows, new_record  # noqa: E402
from shared_texts import DATA, load_triples  # noqa: E402

PATTERNS = ("alpaca_raw_en/*.json", "belle/dev1K.json", "llama_factory/alpaca_zh_demo.json",
            "zh_supplementary/code_questions.json")
BATCH = 1000


def load_records() -> list[dict]:
    return [new_record(instruction=i, input=x, output=o) for i, x, o in load_triples(PATTERNS)]


def batches(records: list[dict]) -> list[dict]:
    norm = Normalize(stage_rules("normalize"))
    out = []
    for i in range(0, len(records), BATCH):
        b, _ = norm.process(from_rows(records[i:i + BATCH]))
        out.append(b)
    return out


def run(cls, rules: dict, data: list[dict]) -> tuple[float, float, list, list, dict]:
    stage = cls(rules, seed=42)
    data = copy.deepcopy(data)
    t0 = time.process_time()
    stage.fit(iter(data))
    t1 = time.process_time()
    stage.setup()
    verdicts = []
    for b in data:
        _, v = stage.process(b)
        verdicts += v
    t2 = time.process_time()
    fit = {"clusters": dict(stage.conflicts.clusters), "summary": stage.summary()}
    return t1 - t0, t2 - t1, verdicts, data, fit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="folder holding the qorig package (see module docstring)")
    ap.add_argument("--repeat", type=int, default=1, help="timed rounds per version (best is reported)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N records")
    args = ap.parse_args()
    records = load_records()
    if args.limit:
        records = records[:args.limit]
    if not records:
        print(f"no data under {DATA}; nothing to measure")
        return
    data = batches(records)
    rules = stage_rules("quality")
    versions = [("new", Quality)]
    if args.baseline:
        sys.path.insert(0, args.baseline)
        versions.insert(0, ("baseline", importlib.import_module("qorig.proc").Quality))
    best: dict[str, tuple[float, float]] = {}
    results = {}
    for _ in range(args.repeat):
        for name, cls in versions:
            fit_s, proc_s, verdicts, out, fit = run(cls, rules, data)
            prev = best.get(name)
            if prev is None or fit_s + proc_s < sum(prev):
                best[name] = (fit_s, proc_s)
            results[name] = (verdicts, out, fit)
    n = len(records)
    for name, (fit_s, proc_s) in best.items():
        print(f"{name:8s} fit {fit_s:6.2f}s  process {proc_s:6.2f}s  total {fit_s + proc_s:6.2f}s  "
              f"{1e6 * (fit_s + proc_s) / n:6.0f} us/record  ({n} records)")
    if args.baseline:
        (va, oa, fa), (vb, ob, fb) = results["baseline"], results["new"]
        assert fa == fb, "fit results differ"
        assert len(va) == len(vb)
        bad = [i for i, (x, y) in enumerate(zip(va, vb)) if x != y or repr(x) != repr(y)]
        assert not bad, f"{len(bad)} verdicts differ, first at {bad[0]}: {va[bad[0]]!r} != {vb[bad[0]]!r}"
        assert json.dumps(oa, ensure_ascii=False, sort_keys=True) == json.dumps(ob, ensure_ascii=False, sort_keys=True), \
            "rewritten batches differ"
        dropped = sum(not v.keep for v in va)
        flagged = sum(bool(v.flags) for v in va)
        print(f"identical: {n} verdicts ({dropped} dropped, {flagged} flagged), batches and fit results")
        b, w = sum(best["baseline"]), sum(best["new"])
        print(f"speed-up {b / w:.2f}x (fit {best['baseline'][0] / best['new'][0]:.2f}x, "
              f"process {best['baseline'][1] / best['new'][1]:.2f}x)")


if __name__ == "__main__":
    main()
