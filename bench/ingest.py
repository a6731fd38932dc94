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

It also measures ``arrow_only``: pyarrow alone parsing the file and writing the text and
``messages`` columns as zstd parquet shards with the same number of processes. That is
not a pipeline (no ids, checks, dedup, rejects, manifest or report); it shows how close to
the floor any pipeline writing these shards can get on the machine at hand.
"""
from __future__ import annotations

import argparse
import json
import random
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


def _write_slices(job: tuple) -> None:
    """In a fork()ed worker: write rows [a, b) of the inherited table as zstd parquet shards of 50k rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    a, b, folder = job
    for start in range(a, b, 50_000):
        t = _TABLE.slice(start, min(50_000, b - start))
        n = t.num_rows
        ins, inp, out = (t.column(c).combine_chunks() for c in ("instruction", "input", "output"))
        user = pc.if_else(pc.equal(inp, ""), ins, pc.binary_join_element_wise(ins, inp, "\n\n"))
        order = np.empty(2 * n, np.int64)
        order[0::2], order[1::2] = np.arange(n), np.arange(n) + n
        content = pa.concat_arrays([user, out]).take(pa.array(order))
        roles = pa.array(["user", "assistant"] * n, pa.string())
        msgs = pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)),
                                        pa.StructArray.from_arrays([roles, content], names=["role", "content"]))
        pq.write_table(pa.table({"instruction": ins, "input": inp, "output": out, "messages": msgs}),
                       f"{folder}/{start:09d}.parquet", compression="zstd")


_TABLE = None


def arrow_only(path: Path, work: Path, num_proc: int) -> float:
    """Records/s of pyarrow alone doing the unavoidable part of the job: parse the file
    (pyarrow.json, threaded) and write the text and messages columns as zstd parquet shards
    in ``num_proc`` processes. No ids, checks, dedup, rejects, manifest or report: it shows
    what this machine allows, not a target."""
    import multiprocessing

    import pyarrow.json as pj

    global _TABLE
    folder = work / "arrow-only"
    folder.mkdir()
    t = time.perf_counter()
    _TABLE = pj.read_json(str(path))
    n = _TABLE.num_rows
    step = -(-n // num_proc)
    with multiprocessing.get_context("fork").Pool(num_proc) as pool:
        pool.map(_write_slices, [(a, min(n, a + step), str(folder)) for a in range(0, n, step)])
    rate = n / (time.perf_counter() - t)
    _TABLE = None
    return rate


CHILD = """
import sys, time, json, resource
from pipeline.runner import run
t = time.perf_counter()
s = run([sys.argv[1]], config=sys.argv[2], out=sys.argv[3], num_proc=int(sys.argv[4]), progress=False)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "read": s.counts["read"], "curated": s.counts["curated"],
                  "timings": {k: round(v, 2) for k, v in s.timings.items()}}))
"""


def _mem(pid: int) -> tuple[int, int]:
    """(RSS, anonymous RSS) of one process in KiB, from /proc."""
    rss = anon = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                rss = int(line.split()[1])
            elif line.startswith("RssAnon"):
                anon = int(line.split()[1])
    return rss, anon


def sftpipe(path: Path, work: Path, num_proc: int) -> dict:
    """Run the pipeline in a child process, sampling the memory of its whole process tree.

    Two peaks are reported, each the largest single process: RSS, which also counts pages
    of memory-mapped Arrow files the workers have touched (page cache, reclaimable), and
    anonymous RSS, the process's own heap, which is what runs a machine out of memory.
    """
    import psutil

    recipe = work / "recipe.yaml"
    recipe.write_text("stages: [normalize, schema, dedup]\nrules:\n  dedup:\n    checks:\n"
                      "      near: {action: \"off\"}\n      conflict: {action: \"off\"}\n")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(recipe), str(work / "out"), str(num_proc)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_rss = peak_anon = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            for p in [root, *root.children(recursive=True)]:
                rss, anon = _mem(p.pid)
                peak_rss, peak_anon = max(peak_rss, rss), max(peak_anon, anon)
        except (psutil.Error, OSError):
            pass
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"sftpipe run failed:\n{err[-3000:]}")
    stats = json.loads(out.strip().splitlines()[-1])
    stats["peak_rss_mb"] = peak_rss / 1024
    stats["peak_anon_mb"] = peak_anon / 1024
    return stats


def measure(n: int, num_proc: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        corpus = work / "corpus.jsonl"
        make_corpus(corpus, n)
        base = floor(corpus)
        ours = sftpipe(corpus, work, num_proc)
        rate = ours["read"] / ours["seconds"]
        bound = arrow_only(corpus, work, num_proc)
        return {"records": n, "floor_rps": round(base), "sftpipe_rps": round(rate),
                "ratio": round(rate / base, 3), "arrow_only_rps": round(bound),
                "arrow_only_ratio": round(bound / base, 3), "peak_rss_mb": round(ours["peak_rss_mb"]),
                "peak_anon_mb": round(ours["peak_anon_mb"]),
                "timings": ours["timings"], "mb": round(corpus.stat().st_size / 2**20)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--compare", type=int, default=0, help="also run this smaller size first (RSS growth)")
    a = ap.parse_args()
    sizes = ([a.compare] if a.compare else []) + [a.records]
    for n in sizes:
        print(json.dumps(measure(n, a.num_proc)), flush=True)


if __name__ == "__main__":
    main()
