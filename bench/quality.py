"""Throughput of the ``language`` + ``quality`` stages next to a naive ``langdetect`` loop.

Records are sampled with replacement from the shared EN/ZH corpora (read at run time,
never copied), or generated from small built-in templates when those files are absent.
The baseline calls ``langdetect.detect`` on instruction + output of every record; it is
measured on a subsample and extrapolated (it is far too slow to run on 200k rows).
Ours runs ``quality.fit`` once in the main process (it is a global stage), then
``language`` + ``quality`` on batches across a process pool.

Usage::

    python bench/quality.py --n 200000 --procs 2          # full run
    SFTPIPE_BENCH_N=20000 python bench/quality.py         # quick run (< 2 min)

Targets (issue 3): >= 5x the baseline's records/s on 2 processes, >= 2,000 records/s.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline.config import stage_rules
from pipeline.processors.language import Language
from pipeline.processors.quality import Quality
from pipeline.record import from_rows, new_record
from shared_texts import DATA, load_triples  # noqa: E402

PATTERNS = ("alpaca_raw_en/*.json", "belle/dev1K.json", "zh_supplementary/*.json", "dolly/*.json", "code_alpaca/*.json")
BATCH = 1000


def _templates(rng: random.Random, n: int) -> list[tuple[str, str, str]]:
    topics_en = ["the ocean", "machine learning", "healthy sleep", "the French Revolution", "solar power"]
    topics_zh = ["长城", "人工智能", "健康饮食", "唐诗", "新能源汽车"]
    out = []
    for i in range(n):
        if i % 2:
            t = rng.choice(topics_zh)
            out.append((f"请简要介绍{t}。", "", f"{t}是一个重要的话题。它有很长的历史，也影响着我们的生活。" * rng.randint(1, 6)))
        else:
            t = rng.choice(topics_en)
            out.append((f"Write a short paragraph about {t}.", "",
                        f"{t.capitalize()} is an important topic that many people study. " * rng.randint(1, 6)))
    return out


def make_records(n: int, seed: int = 0) -> tuple[list[dict], str]:
    rng = random.Random(seed)
    pool = load_triples(PATTERNS) if DATA.exists() else []
    source = f"sampled with replacement from {len(pool)} shared records" if pool else "built-in templates"
    if not pool:
        pool = _templates(rng, 2000)
    recs = []
    for _ in range(n):
        ins, inp, out = rng.choice(pool)
        recs.append(new_record(instruction=ins, input=inp, output=out))
    return recs, source


def baseline(recs: list[dict], k: int) -> tuple[float, float]:
    """(records/s wall, records per CPU-second) of a plain seeded ``langdetect.detect`` loop."""
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    sample = recs[:k]
    detect("warm up the profiles")
    t0, c0 = time.perf_counter(), time.process_time()
    for r in sample:
        try:
            detect(f"{r['instruction']}\n{r['output']}")
        except LangDetectException:
            pass
    return len(sample) / (time.perf_counter() - t0), len(sample) / (time.process_time() - c0)


_STAGES: tuple | None = None


def _init(quality: Quality) -> None:
    global _STAGES
    lang = Language(stage_rules("language"), 0)
    lang.setup()
    quality.setup()
    lang._detector().detect("warm up the langdetect profiles with a longer sentence here")
    _STAGES = (lang, quality)


def _work(chunk: list[dict]) -> tuple[int, float]:
    lang, quality = _STAGES
    c0 = time.process_time()
    batch = from_rows(chunk)
    batch, _ = lang.process(batch)
    _, verdicts = quality.process(batch)
    return sum(1 for v in verdicts if not v.keep), time.process_time() - c0


def ours(recs: list[dict], procs: int) -> tuple[float, float, float, float, float, int]:
    """(records/s wall incl. fit, records per CPU-s incl. fit, fit wall s, fit CPU s, worker CPU s, dropped)."""
    quality = Quality(stage_rules("quality"), 0)
    chunks = [recs[i:i + BATCH] for i in range(0, len(recs), BATCH)]
    t0, c0 = time.perf_counter(), time.process_time()
    quality.fit(from_rows(c) for c in chunks)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    # Workers receive the fitted stage once (pickled through the initializer).
    with Pool(procs, initializer=_init, initargs=(quality,)) as pool:
        pool.map(_work, [[new_record(instruction="warm", output="up")]] * procs)  # start-up not timed
        t1 = time.perf_counter()
        results = list(pool.imap(_work, chunks, chunksize=1))
        run_s = time.perf_counter() - t1
    work_cpu = sum(c for _, c in results)
    return (len(recs) / (fit_s + run_s), len(recs) / (fit_cpu + work_cpu), fit_s, fit_cpu, work_cpu,
            sum(d for d, _ in results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=int(os.environ.get("SFTPIPE_BENCH_N", "200000")))
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--baseline-n", type=int, default=1000, help="records the naive loop is timed on")
    args = ap.parse_args()
    recs, source = make_records(args.n)
    base, base_cpu = baseline(recs, min(args.baseline_n, len(recs)))
    rate, rate_cpu, fit_s, fit_cpu, work_cpu, dropped = ours(recs, args.procs)
    k = min(args.baseline_n, len(recs))
    print(f"records: {len(recs)} ({source})")
    print(f"naive langdetect loop (1 process, {k} records): {base:,.0f} rec/s wall, "
          f"{base_cpu:,.0f} rec per CPU-s -> {len(recs) / base:,.0f} s extrapolated")
    print(f"language+quality ({args.procs} processes, incl. quality.fit {fit_s:.1f}s): {rate:,.0f} rec/s wall "
          f"({len(recs) / rate:.1f} s), {rate_cpu:,.0f} rec per CPU-s, dropped by quality: {dropped}")
    print(f"speed-up vs naive (wall): {rate / base:.1f}x (target >= 5x); per CPU-second: {rate_cpu / base_cpu:.1f}x")
    # On a shared machine wall time depends on other load; CPU time shows what the code costs.
    # The fit is serial (main process), the work is split over the pool.
    idle = len(recs) / (fit_cpu + work_cpu / args.procs)
    print(f"CPU: fit {fit_cpu:.1f}s (serial), workers {work_cpu:.1f}s -> on {args.procs} idle cores "
          f"{idle:,.0f} rec/s = {idle / base_cpu:.1f}x the naive loop's CPU rate")
    print(f"overall >= 2,000 rec/s: measured wall {'met' if rate >= 2000 else 'NOT met'}, "
          f"idle-core projection {'met' if idle >= 2000 else 'NOT met'}")


if __name__ == "__main__":
    main()
