"""Ingest benchmark: read -> normalize -> schema -> exact dedup -> write, vs a plain orjson parse.

Usage:
    .venv/bin/python bench/ingest.py [--records 1000000] [--num-proc 2] [--compare 100000]

It generates Alpaca-sized JSONL records (English and Chinese, ~5% exact duplicates),
then measures in the same run:
  * the floor: a plain loop of ``orjson.loads`` over every line of the same file;
  * sftpipe: ``pipeline.run`` with only normalize, schema and dedup (exact) plus writing
    shards, rejects and the manifest; run in a child process so its peak RSS is measured.
It prints records/s for both and their ratio, and the peak RSS. With --compare N it also
runs N records first, to show that peak RSS does not grow with corpus size.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

WORDS = ("data model train answer question summary list explain write code value table city river music "
         "history science number color animal plant energy market health travel language story").split()
ZH = "数据模型训练答案问题总结列表解释编写代码数值表格城市河流音乐历史科学数字颜色动物植物能源市场健康旅行语言故事"


def make_corpus(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as f:
        for i in range(n):
            j = i if rng.random() > 0.05 else rng.randrange(max(1, i))  # ~5% exact duplicates
            r = random.Random(j)
            if j % 4 == 0:
                ins = "请" + "".join(r.choice(ZH) for _ in range(r.randint(8, 30))) + "？"
                out = "".join(r.choice(ZH) for _ in range(r.randint(60, 300))) + "。"
                inp = ""
            else:
                ins = " ".join(r.choice(WORDS) for _ in range(r.randint(6, 20))).capitalize() + "?"
                inp = " ".join(r.choice(WORDS) for _ in range(r.randint(0, 30)))
                out = " ".join(r.choice(WORDS) for _ in range(r.randint(30, 120))).capitalize() + "."
            f.write(orjson.dumps({"instruction": ins, "input": inp, "output": out}) + b"\n")


def floor(path: Path) -> float:
    t = time.perf_counter()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            orjson.loads(line)
            n += 1
    return n / (time.perf_counter() - t)


CHILD = """
import sys, time, json, resource
from pipeline.runner import run
t = time.perf_counter()
s = run([sys.argv[1]], config=sys.argv[2], out=sys.argv[3], num_proc=int(sys.argv[4]), progress=False)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "read": s.counts["read"], "curated": s.counts["curated"],
                  "timings": {k: round(v, 2) for k, v in s.timings.items()}}))
"""


def sftpipe(path: Path, work: Path, num_proc: int) -> dict:
    recipe = work / "recipe.yaml"
    recipe.write_text("stages: [normalize, schema, dedup]\nrules:\n  dedup:\n    checks:\n"
                      "      near: {action: off}\n      conflict: {action: off}\n")
    res = subprocess.run([sys.executable, "-c", CHILD, str(path), str(recipe), str(work / "out"), str(num_proc)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"sftpipe run failed:\n{res.stderr[-3000:]}")
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    stats["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return stats


def measure(n: int, num_proc: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        corpus = work / "corpus.jsonl"
        make_corpus(corpus, n)
        base = floor(corpus)
        ours = sftpipe(corpus, work, num_proc)
        rate = ours["read"] / ours["seconds"]
        return {"records": n, "floor_rps": round(base), "sftpipe_rps": round(rate),
                "ratio": round(rate / base, 3), "peak_rss_mb": round(ours["peak_rss_mb"]),
                "timings": ours["timings"], "mb": round(corpus.stat().st_size / 2**20)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--compare", type=int, default=0, help="also run this smaller size first (RSS growth)")
    a = ap.parse_args()
    sizes = ([a.compare] if a.compare else []) + [a.records]
    for n in sizes:
        # Each size in a fresh interpreter would be cleaner for RSS; ru_maxrss of children is a
        # running maximum, so run the small size first.
        print(json.dumps(measure(n, a.num_proc)), flush=True)


if __name__ == "__main__":
    main()
