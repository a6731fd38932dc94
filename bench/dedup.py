"""Near-duplicate benchmark: signature throughput vs datasketch, estimate quality, memory.

Usage:
    .venv/bin/python bench/dedup.py --quick            # 100k records, about a minute
    .venv/bin/python bench/dedup.py                    # 1M records
    .venv/bin/python bench/dedup.py --records 300000 --index-records 300000 --json out.json

What it measures, all in one run on the same records and the same ``num_perm``:

1. ``ours``: :func:`pipeline.neardup.shingle.hash_batch` + :class:`MinHasher` over
   every record, from raw text (normalise, shingle, hash, sign) in batches of 10k.
2. On a sample of the same records, the datasketch baselines get the *same*
   shingles (``reference_shingles``, as bytes) and their time excludes making them:
   ``naive`` builds one ``MinHash`` per record and calls ``update()`` per shingle;
   ``bulk`` is ``MinHash.bulk``. ``ours`` is also timed on that sample.
3. Estimate quality: for sample records paired with an edited copy (1-10 edits, so
   true Jaccard spans a range), |estimate - true Jaccard| for ours and for bulk.
4. The whole detector (signatures + datasketch LSH insert + clustering) on
   ``--index-records`` records with planted duplicates, in a fresh process, with its
   peak RSS above the process baseline, scaled per million records.

Records: real Alpaca (EN) and Chinese instruction data from /work/shared/data when
present (read at run time, cycled with one random edit per repeat so repeats are
distinct), else synthetic (``--source synthetic``).
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.neardup.config import NearDupConfig
from pipeline.neardup.detector import NearDupDetector, key_parts
from pipeline.neardup.minhash import MinHasher, estimate_jaccard
from pipeline.neardup.shingle import hash_batch, reference_shingles
from pipeline.neardup.synth import _edit, _Vocab, make_corpus

DATA = Path("/work/shared/data")
REAL_FILES = ["alpaca_raw_en/*.json", "llama_factory/alpaca_zh_demo.json", "belle/dev1K.json",
              "zh_supplementary/code_questions.json"]
BATCH = 10_000


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class PeakRSS:
    """Samples this process's resident memory every 20 ms; ``peak`` is the highest seen."""

    def __init__(self):
        self.peak = current_rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, current_rss_mb())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, current_rss_mb())


def real_pool() -> list[dict]:
    rows: list[dict] = []
    for pattern in REAL_FILES:
        for path in sorted(DATA.glob(pattern)):
            text = path.read_text(encoding="utf-8")
            items = json.loads(text) if text.lstrip().startswith("[") else \
                [json.loads(line) for line in text.splitlines() if line.strip()]
            rows += [{"instruction": str(r.get("instruction", "")), "input": str(r.get("input", "")),
                      "output": str(r.get("output", ""))} for r in items]
    return rows


def synthetic(n: int, seed: int) -> list[dict]:
    """``n`` synthetic records with planted near-duplicates (about 1.6 records per group)."""
    recs: list[dict] = []
    while len(recs) < n:
        recs += make_corpus(int((n - len(recs)) / 1.6) + 1, seed=seed + len(recs)).records
    return recs[:n]


def corpus(n: int, source: str, seed: int = 0) -> tuple[list[dict], str]:
    """``n`` records: the real pool cycled (one edit per repeat) or synthetic groups."""
    pool = real_pool() if source in ("auto", "real") and DATA.exists() else []
    if not pool:
        if source == "real":
            raise SystemExit(f"no real data under {DATA}")
        return synthetic(n, seed), "synthetic"
    rng = random.Random(seed)
    vocab_en, vocab_zh = _Vocab(rng, False, 4000), _Vocab(rng, True, 0)
    out = []
    for i in range(n):
        r = pool[i % len(pool)]
        if i >= len(pool) and r["output"]:
            zh = any("\u4e00" <= ch <= "\u9fff" for ch in r["output"][:50])
            r = dict(r, output=_edit(rng, r["output"], vocab_zh if zh else vocab_en, zh))
        out.append(r)
    return out, f"real ({len(pool)} distinct records, cycled)"


def phase_signatures(args) -> dict:
    recs, source = corpus(args.records, args.source)
    cfg = NearDupConfig(num_perm=args.num_perm)
    docs = [key_parts(r, cfg)[0] for r in recs]
    del recs
    mh = MinHasher(args.num_perm, cfg.minhash_seed)
    base = current_rss_mb()
    meter = PeakRSS()
    t0, c0 = time.perf_counter(), time.process_time()
    shingles = 0
    for i in range(0, len(docs), BATCH):
        sb = hash_batch(docs[i:i + BATCH], cfg.shingle)
        mh.signatures(sb.hashes, sb.offsets)
        shingles += sb.hashes.size
    ours_all, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = meter.stop()
    res = {"source": source, "records": len(docs), "num_perm": args.num_perm,
           "avg_shingles": round(shingles / len(docs), 1),
           "ours_docs_per_s": round(len(docs) / ours_all), "ours_seconds": round(ours_all, 2),
           "ours_docs_per_cpu_s": round(len(docs) / ours_cpu),
           "ours_peak_rss_above_baseline_mb": round(peak - base, 1)}
    res.update(compare(docs[:args.sample], cfg, mh, args))
    res["quality"] = quality(docs[:args.quality_pairs], cfg, mh)
    return res


def compare(sample: list, cfg: NearDupConfig, mh: MinHasher, args, rounds: int = 10) -> dict:
    """Ours vs datasketch on the same records, interleaved in rounds.

    The machine may be shared, so the methods alternate chunk by chunk and each
    sees the same load on average; ratios are also given per round (median).
    Baselines get ready-made shingle lists; ours starts from raw text, and its
    signature step alone (``kernel``) is timed too.
    """
    from datasketch import MinHash

    t0 = time.perf_counter()
    ref = [sorted(reference_shingles(d, cfg.shingle)) for d in sample]
    out = {"sample": len(sample),
           "reference_shingling_docs_per_s": round(len(sample) / (time.perf_counter() - t0))}
    spent = {"ours": 0.0, "kernel": 0.0, "bulk": 0.0, "naive": 0.0}
    done = {"ours": 0, "kernel": 0, "bulk": 0, "naive": 0}
    ratios = []
    step = -(-len(sample) // rounds)
    naive_step = max(1, args.naive_sample // rounds)
    for i in range(0, len(sample), step):
        chunk, shingles = sample[i:i + step], ref[i:i + step]
        t0 = time.perf_counter()
        MinHash.bulk(shingles, num_perm=cfg.num_perm, seed=cfg.minhash_seed)
        t_bulk = time.perf_counter() - t0
        t0 = time.perf_counter()
        sb = hash_batch(chunk, cfg.shingle)
        t1 = time.perf_counter()
        mh.signatures(sb.hashes, sb.offsets)
        t2 = time.perf_counter()
        for sh in shingles[:naive_step]:
            m = MinHash(num_perm=cfg.num_perm, seed=cfg.minhash_seed)
            for x in sh:
                m.update(x)
        t_naive = time.perf_counter() - t2
        for key, t, n in (("ours", t2 - t0, len(chunk)), ("kernel", t2 - t1, len(chunk)),
                          ("bulk", t_bulk, len(chunk)), ("naive", t_naive, len(shingles[:naive_step]))):
            spent[key] += t
            done[key] += n
        ratios.append(t_bulk / (t2 - t0))
    for key, seconds in spent.items():
        out[f"{key}_docs_per_s"] = round(done[key] / seconds)
    out["speedup_vs_bulk"] = round(out["ours_docs_per_s"] / out["bulk_docs_per_s"], 2)
    out["speedup_vs_bulk_median_round"] = round(float(np.median(ratios)), 2)
    out["kernel_speedup_vs_bulk"] = round(out["kernel_docs_per_s"] / out["bulk_docs_per_s"], 2)
    out["speedup_vs_naive"] = round(out["ours_docs_per_s"] / out["naive_docs_per_s"], 2)
    out["bulk_vs_naive"] = round(out["bulk_docs_per_s"] / out["naive_docs_per_s"], 2)
    return out


def quality(docs: list, cfg: NearDupConfig, mh: MinHasher) -> dict:
    """|estimate - true Jaccard| for ours and MinHash.bulk on (record, edited copy) pairs."""
    from datasketch import MinHash

    rng = random.Random(1)
    vocab_en, vocab_zh = _Vocab(rng, False, 4000), _Vocab(rng, True, 0)
    pairs = []
    for d in docs:
        out = d[-1]
        if len(out) < 40:
            continue
        zh = any("\u4e00" <= ch <= "\u9fff" for ch in out[:50])
        for _ in range(rng.randint(1, 10)):
            out = _edit(rng, out, vocab_zh if zh else vocab_en, zh)
        pairs.append((d, list(d[:-1]) + [out]))
    flat = [p for pair in pairs for p in pair]
    sb = hash_batch(flat, cfg.shingle)
    sig = mh.signatures(sb.hashes, sb.offsets)
    refs = [reference_shingles(d, cfg.shingle) for d in flat]
    bulk = MinHash.bulk([sorted(r) for r in refs], num_perm=cfg.num_perm, seed=cfg.minhash_seed)
    true, err_ours, err_bulk = [], [], []
    for k in range(len(pairs)):
        a, b = refs[2 * k], refs[2 * k + 1]
        j = len(a & b) / len(a | b)
        true.append(j)
        err_ours.append(estimate_jaccard(sig[2 * k], sig[2 * k + 1]) - j)
        err_bulk.append(bulk[2 * k].jaccard(bulk[2 * k + 1]) - j)
    eo, eb = np.array(err_ours), np.array(err_bulk)
    return {"pairs": len(pairs), "true_jaccard_range": [round(min(true), 2), round(max(true), 2)],
            "ours_mean_abs_error": round(float(np.abs(eo).mean()), 4),
            "bulk_mean_abs_error": round(float(np.abs(eb).mean()), 4),
            "ours_bias": round(float(eo.mean()), 4), "bulk_bias": round(float(eb.mean()), 4),
            "ours_rmse": round(float(np.sqrt((eo ** 2).mean())), 4),
            "bulk_rmse": round(float(np.sqrt((eb ** 2).mean())), 4)}


def phase_detector(args) -> dict:
    recs = synthetic(args.index_records, seed=7)
    base = current_rss_mb()
    meter = PeakRSS()
    det = NearDupDetector(NearDupConfig(num_perm=args.num_perm))
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(recs), BATCH):
        det.add(recs[i:i + BATCH], list(range(i, min(i + BATCH, len(recs)))))
    t_add, c_add = time.perf_counter() - t0, time.process_time() - c0
    after_add = current_rss_mb() - base
    t0, c0 = time.perf_counter(), time.process_time()
    members = det.finish()
    t_finish, c_finish = time.perf_counter() - t0, time.process_time() - c0
    peak = meter.stop() - base
    s = det.summary()
    n = len(recs)
    return {"records": n, "add_docs_per_s": round(n / t_add), "add_seconds": round(t_add, 2),
            "finish_seconds": round(t_finish, 2), "add_cpu_seconds": round(c_add, 2),
            "finish_cpu_seconds": round(c_finish, 2), "clusters": s["clusters"],
            "records_in_clusters": len(members), "bands": s["index"]["bands"], "rows": s["index"]["rows"],
            "peak_rss_above_baseline_mb": round(peak, 1),
            "rss_after_add_mb": round(after_add, 1),
            "peak_rss_mb_per_million_records": round(peak * 1e6 / n)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000, help="records for the throughput run")
    ap.add_argument("--sample", type=int, default=20_000, help="records for bulk and ours-on-sample")
    ap.add_argument("--naive-sample", type=int, default=2_000, help="records for the naive loop")
    ap.add_argument("--quality-pairs", type=int, default=2_000, help="pairs for the estimate error")
    ap.add_argument("--index-records", type=int, default=None, help="records for the detector run "
                    "(default: --records; 0 skips it)")
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--source", choices=("auto", "real", "synthetic"), default="auto")
    ap.add_argument("--quick", action="store_true", help="100k records, 5k sample, 50k detector run")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--phase", choices=("signatures", "detector"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.records, args.sample, args.naive_sample, args.quality_pairs = 100_000, 5_000, 1_000, 1_000
        args.index_records = 50_000 if args.index_records is None else args.index_records
    if args.index_records is None:
        args.index_records = args.records
    if args.phase:  # child process: one phase, JSON on stdout
        print(json.dumps(phase_signatures(args) if args.phase == "signatures" else phase_detector(args)))
        return
    results = {"command": " ".join(["python", "bench/dedup.py", *sys.argv[1:]])}
    phases = ["signatures"] + (["detector"] if args.index_records else [])
    for phase in phases:  # a fresh process per phase, so peak memory is that phase's own
        cmd = [sys.executable, __file__, "--phase", phase, *sys.argv[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"phase {phase} failed:\n{done.stderr}")
        results[phase] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"[{phase}]", json.dumps(results[phase], indent=1, ensure_ascii=False), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
