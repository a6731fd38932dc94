"""Throughput of the `diversity` stage (tagging + measuring) next to a trivial baseline.

Records are real instruction data from ``../shared/data`` when present (Alpaca EN,
BELLE / alpaca-zh / zh supplementary, Dolly, Code Alpaca), cycled up to ``--n``;
otherwise a small synthetic bilingual set is cycled. Cycled copies get a distinct
suffix so nothing is cached by accident.

Measured in the same run, on the same rows:

* baseline: one pass that computes the bilingual length of every record (about what
  the cheapest per-record stage costs);
* ``fit`` (tag + measure every row, main process; keeps the tags in the id cache);
* ``process`` after ``fit`` (cache lookups + write fields, as a worker does);
* ``process`` without ``fit`` (every row re-tagged: the cost before the cache);
* the tagger's parts separately (task rules, domain, complexity, verb-object).

Usage: ``python bench/diversity.py [--n 200000] [--batch 1000]`` (or ``BENCH_N=...``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import stage_rules
from pipeline.diversity.text import units
from pipeline.record import FIELDS, from_rows, new_record
from pipeline.registry import get

DATA = ROOT.parent / "shared" / "data"
FILES = ["alpaca_raw_en/alpaca_data_30186-33190.json", "llama_factory/alpaca_zh_demo.json", "belle/dev1K.json",
         "dolly/dolly_3k.json", "code_alpaca/code_alpaca_2k.json", "zh_supplementary/code_questions.json"]
SYNTH = [
    ("Write a short poem about the sea.", "", "Waves roll in, waves roll out."),
    ("用Python写一个函数计算斐波那契数列", "", "```python\ndef fib(n):\n    return n\n```"),
    ("Summarize the following paragraph.", "The council met and agreed on the budget.", "Budget agreed."),
    ("请把下面这句话翻译成英文。", "今天天气很好。", "The weather is nice today."),
    ("小明有5个苹果，又买了3个，一共有多少个？", "", "5+3=8，一共8个。"),
]


def load(n: int) -> list[dict]:
    base: list[tuple[str, str, str]] = []
    for rel in FILES:
        p = DATA / rel
        if not p.exists():
            continue
        text = p.read_text(encoding="utf-8")
        items = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x]
        base += [(x.get("instruction", ""), x.get("input", "") or x.get("context", ""), x.get("output", ""))
                 for x in items if isinstance(x, dict)]
    source = "shared/data" if base else "synthetic"
    base = base or SYNTH
    out = []
    for i in range(n):
        ins, inp, outp = base[i % len(base)]
        k = i // len(base)
        out.append(new_record(instruction=ins if not k else f"{ins} ({k})", input=inp, output=outp))
    print(f"{n} records from {source} ({len(base)} distinct before cycling)")
    return out


def batches(records: list[dict], size: int):
    for i in range(0, len(records), size):
        yield from_rows(records[i:i + size])


def timed(label: str, fn, n: int, base: float | None = None) -> float:
    t = time.perf_counter()
    fn()
    dt = time.perf_counter() - t
    ratio = f"  ({dt / base:.1f}x baseline)" if base else ""
    print(f"{label:<34} {dt:8.2f} s  {n / dt:10.0f} rec/s{ratio}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=int(os.environ.get("BENCH_N", "200000")))
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    records = load(args.n)
    n = len(records)
    cols = [from_rows(records[i:i + args.batch], FIELDS) for i in range(0, n, args.batch)]

    def baseline():
        for b in cols:
            for ins, inp, out in zip(b["instruction"], b["input"], b["output"]):
                units(ins) + units(inp) + units(out)

    proc = get("diversity")(stage_rules("diversity"), 42)
    t0 = time.perf_counter()
    proc.setup()
    print(f"{'setup (regex compile; jieba lazy)':<34} {time.perf_counter() - t0:8.2f} s")
    base = timed("baseline: bilingual length", baseline, n)
    t_fit = timed("diversity fit (tag + measure)", lambda: proc.fit(iter(cols)), n, base)
    t_proc = timed("diversity process (cached tags)", lambda: [proc.process(b) for b in cols], n, base)
    cold = get("diversity")(stage_rules("diversity"), 42)
    cold.setup()
    t_cold = timed("process without fit (re-tags)", lambda: [cold.process(b) for b in cols], n, base)
    print(f"{'stage total fit + process':<34} {t_fit + t_proc:8.2f} s  ({(t_fit + t_proc) / base:.1f}x baseline; "
          f"without the cache it would be fit + re-tag = {(t_fit + t_cold) / base:.1f}x)")
    tg = proc._tagger
    sample = records[: min(n, 20_000)]
    m = len(sample)
    print(f"-- parts, on {m} records --")
    timed("task rules", lambda: [tg.tasks.classify(r["instruction"], r["input"], r["output"]) for r in sample], m)
    timed("domain lexicon", lambda: [tg.domains.tag(r["instruction"] + r["input"] + r["output"][:400])
                                     for r in sample], m)
    timed("complexity", lambda: [tg.complexity.score(r["instruction"], r["input"], r["output"], 0)
                                 for r in sample], m)
    timed("verb-object (jieba for zh)", lambda: [tg.verbobj(r["instruction"]) for r in sample], m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
