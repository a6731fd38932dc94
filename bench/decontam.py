"""Benchmark: decontaminate N training records against an index of M eval items.

Reports index build time, index memory (posting arrays and RSS growth), records/s
of the n-gram coverage index, and, in the same run, a brute-force baseline: for a
sample of records, ``item in text`` substring tests against every eval item (after
casefolding and whitespace collapsing, which is the least a fair baseline needs).
The baseline is extrapolated to N records to give the speed ratio. 1% of the
training records get an eval item planted (with case/punctuation changes that the
index tolerates and the baseline does not), so recall is reported for both.

Text comes from shared/data/alpaca_raw_en when present (read at run time, never
stored), otherwise from a synthetic Zipf vocabulary.

    .venv/bin/python bench/decontam.py                 # 1M records, 100k items, 10k-record baseline
    .venv/bin/python bench/decontam.py --quick         # < 2 min: 50k records, 100k items, 200-record baseline
    .venv/bin/python bench/decontam.py --records 200000 --eval-items 50000 --brute-sample 2000
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.config import stage_rules
from pipeline.decontam.index import NgramIndex
from pipeline.decontam.text import prefix_pattern

ALPACA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "alpaca_raw_en"


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def word_streams(rng: random.Random) -> tuple[list[str], list[str], str]:
    """(prompt words, answer words, source name) to cut records and eval items from."""
    if ALPACA.is_dir():
        prompts, answers = [], []
        for f in sorted(ALPACA.glob("*.json")):
            for r in json.loads(f.read_text(encoding="utf-8")):
                prompts += f"{r['instruction']} {r['input']}".split()
                answers += r["output"].split()
        return prompts, answers, "alpaca_raw_en"
    vocab = [f"w{i}" for i in range(50_000)]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    return (rng.choices(vocab, weights, k=1_000_000), rng.choices(vocab, weights, k=1_000_000), "synthetic zipf")


def window(words: list[str], rng: random.Random, lo: int, hi: int) -> str:
    k = rng.randint(lo, hi)
    i = rng.randrange(0, len(words) - k)
    return " ".join(words[i:i + k])


def perturb(text: str, rng: random.Random) -> str:
    text = re.sub(r"[.,;:!?]", lambda _: rng.choice([" ", " ;", "!!"]), text)
    return ("Question: " + text.upper()) if rng.random() < 0.5 else text.replace(" ", "  ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--eval-items", type=int, default=100_000)
    ap.add_argument("--brute-sample", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--quick", action="store_true", help="50k records, 200-record baseline (< 2 min)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.quick:
        a.records, a.brute_sample = min(a.records, 50_000), min(a.brute_sample, 200)
    rng = random.Random(a.seed)
    prompts, answers, src = word_streams(rng)
    items = [window(answers, rng, 12, 50) for _ in range(a.eval_items)]

    rules = stage_rules("decontam")
    rss0, t0 = rss_bytes(), time.perf_counter()
    index = NgramIndex(rules["n_word"], rules["n_char"], rules["min_item_words"], rules["min_item_chars"],
                       rules["max_postings"], rules["min_grams"], prefix_pattern(rules["prefixes"]))
    indexed = sum(index.add(i, t) for i, t in enumerate(items))
    index.freeze()
    build_s, rss_delta = time.perf_counter() - t0, rss_bytes() - rss0

    planted: dict[int, int] = {}
    def record(i: int) -> str:
        text = window(prompts, rng, 8, 80)
        if rng.random() < 0.01:
            planted[i] = rng.randrange(len(items))
            text = f"{text}\n{perturb(items[planted[i]], rng)}\nPlease answer."
        return text

    thr = float(rules["min_coverage"])
    hits = found = exact = 0
    gen_s = gen_cpu = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, a.records, a.batch):
        g0, gc0 = time.perf_counter(), time.process_time()
        texts = [record(i) for i in range(start, min(start + a.batch, a.records))]
        gen_s += time.perf_counter() - g0
        gen_cpu += time.process_time() - gc0
        for j, m in enumerate(index.best_matches(texts)):
            if m is not None and m.coverage >= thr:
                hits += 1
                found += (start + j) in planted
                exact += planted.get(start + j) == m.owner
    index_s = time.perf_counter() - t0 - gen_s
    index_cpu = time.process_time() - c0 - gen_cpu

    # Brute force on a sample of the same kind of records (fresh draws, same plant rate).
    norm_items = [" ".join(t.casefold().split()) for t in items]
    sample = [record(a.records + i) for i in range(a.brute_sample)]
    t0, c0 = time.perf_counter(), time.process_time()
    brute_hits = brute_found = 0
    for i, text in enumerate(sample):
        t = " ".join(text.casefold().split())
        for k, it in enumerate(norm_items):
            if it in t:
                brute_hits += 1
                brute_found += (a.records + i) in planted
                break
    brute_s = time.perf_counter() - t0
    brute_cpu = time.process_time() - c0
    n_planted = sum(1 for i in planted if i < a.records)
    n_planted_sample = sum(1 for i in planted if i >= a.records)
    idx_rps, idx_cpu_rps = a.records / index_s, a.records / index_cpu
    brute_rps, brute_cpu_rps = a.brute_sample / brute_s, a.brute_sample / brute_cpu
    out = {
        "source": src, "records": a.records, "eval_items": a.eval_items, "views_indexed": indexed,
        "index_build_s": round(build_s, 2), "index_postings": len(index.keys),
        "index_array_mb": round(index.nbytes() / 2**20, 1), "index_rss_delta_mb": round(rss_delta / 2**20, 1),
        "index_records_per_s": round(idx_rps), "index_records_per_cpu_s": round(idx_cpu_rps),
        "index_total_s": round(index_s, 1),
        "index_hits": hits, "planted": n_planted, "planted_flagged": found, "planted_named_item": exact,
        "brute_sample": a.brute_sample, "brute_records_per_s": round(brute_rps, 1),
        "brute_records_per_cpu_s": round(brute_cpu_rps, 1),
        "brute_extrapolated_s_for_all_records": round(a.records / brute_rps),
        "brute_planted_in_sample": n_planted_sample, "brute_planted_flagged": brute_found,
        "speedup_index_vs_brute_cpu": round(idx_cpu_rps / brute_cpu_rps, 1),
        "note": "records/s excludes generating the synthetic records; *_cpu_s uses process CPU "
                "time, which is robust to other jobs sharing the machine",
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
