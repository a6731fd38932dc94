"""Throughput of the ``format`` stage next to a trivial baseline, plus the other stages.

Records are sampled with replacement from the shared EN/ZH corpora (read at run time,
never copied), or generated from small built-in templates when those files are absent.
The baseline is a plain loop computing ``len()`` of every output, measured in the same
run. ``format`` is global: ``fit`` (family statistics and report counts) runs once in
the main process, then ``process`` runs on batches of 1,000. With ``--compare-n`` every
stage of the default recipe is timed (fit + process) on a subsample of that size, so the
table shows whether ``format`` is the slowest stage.

Usage::

    python bench/format.py --n 200000 --compare-n 5000   # full run
    SFTPIPE_BENCH_N=20000 python bench/format.py         # quick run
"""
from __future__ import annotations

import argparse
import copy
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import registry  # noqa: E402
from pipeline.config import load, stage_rules  # noqa: E402
from pipeline.record import from_rows, new_record  # noqa: E402
from shared_texts import load_triples  # noqa: E402

PATTERNS = ("alpaca_raw_en/*.json", "belle/dev1K.json", "zh_supplementary/*.json", "dolly/*.json",
            "code_alpaca/*.json", "llama_factory/alpaca_*_demo.json")
BATCH = 1000


def _generated(n: int) -> list[tuple[str, str, str]]:
    base = [("List three primary colors.", "", "1. Red\n2. Blue\n3. Yellow"),
            ("用一句话解释光合作用。", "", "植物利用光能把二氧化碳和水变成有机物。"),
            ("Return the person as JSON.", "Ada, 36", '{"name": "Ada", "age": 36}'),
            ("给出三个学习方法。", "", "1. 多读\n2. 多写"),
            ("Summarize the text in under 20 words.", "Long text here.", "A short summary of the text."),
            ("Classify the sentiment: I love it.", "", "Positive.")]
    return [base[i % len(base)] for i in range(n)]


def sample(n: int, seed: int = 0) -> list[dict]:
    pool = load_triples(PATTERNS) or _generated(1000)
    rng = random.Random(seed)
    picks = [pool[rng.randrange(len(pool))] for _ in range(n)]
    return [new_record(instruction=i, input=x, output=o, id=f"r{k}",
                       source={"file": "bench", "index": k, "format": "alpaca"}) for k, (i, x, o) in enumerate(picks)]


def batches(recs: list[dict]) -> list[dict]:
    return [from_rows(recs[i:i + BATCH]) for i in range(0, len(recs), BATCH)]


def time_stage(name: str, rules: dict, recs: list[dict]) -> float:
    """Seconds for fit (global stages) + process over ``recs``."""
    proc = registry.create(name, rules, seed=0)
    work = batches(copy.deepcopy(recs))
    t = time.perf_counter()
    if getattr(proc, "is_global", False):
        proc.fit(iter(work))
    proc.setup()
    for b in work:
        proc.process(b)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=int(os.environ.get("SFTPIPE_BENCH_N", 200_000)))
    ap.add_argument("--compare-n", type=int, default=0, help="time every default-recipe stage on this many records")
    args = ap.parse_args()
    recs = sample(args.n)

    t = time.perf_counter()
    total = 0
    for r in recs:
        total += len(r["output"])
    base = time.perf_counter() - t

    proc = registry.create("format", stage_rules("format"), seed=0)
    work = batches(recs)
    t = time.perf_counter()
    proc.fit(iter(work))
    fit_s = time.perf_counter() - t
    proc.setup()
    t = time.perf_counter()
    drops = flags = 0
    for b in work:
        _, vs = proc.process(b)
        drops += sum(not v.keep for v in vs)
        flags += sum(bool(v.flags) for v in vs)
    proc_s = time.perf_counter() - t
    n = len(recs)
    print(f"records: {n}  (dropped {drops}, flagged {flags})")
    print(f"baseline len() loop:     {n / max(base, 1e-9):>12,.0f} records/s")
    print(f"format fit:              {n / fit_s:>12,.0f} records/s  ({fit_s:.1f}s)")
    print(f"format process:          {n / proc_s:>12,.0f} records/s  ({proc_s:.1f}s)")
    print(f"format fit+process:      {n / (fit_s + proc_s):>12,.0f} records/s  "
          f"(baseline/format = {(fit_s + proc_s) / max(base, 1e-9):,.0f}x slower)")
    if args.compare_n:
        cfg = load()
        sub = recs[: args.compare_n]
        print(f"\nall default-recipe stages on {len(sub)} records (fit + process, 1 process):")
        for name in cfg.stages:
            try:
                secs = time_stage(name, cfg.rules[name], sub)
                print(f"  {name:<10} {len(sub) / secs:>10,.0f} records/s")
            except Exception as e:  # a stage still under construction must not break the table
                print(f"  {name:<10} error: {type(e).__name__}: {str(e)[:80]}")


if __name__ == "__main__":
    main()
