"""Benchmark: our trainer vs TRL ``SFTTrainer`` + peft, same data, same model, same run, CPU.

Builds a ~4-layer, hidden-256 Llama-style model and a synthetic bilingual curated set
locally, then trains the same LoRA (r=16, all linear layers, lr, warmup, cosine) for one
epoch over the same records with each trainer, each in its own child process, so peak
RSS (``ru_maxrss``) is per trainer and includes everything each one imports. Both run
with the same intra-op thread count. tokens/s counts the real (non-padding) tokens TRL
trains on (records cut at ``max_length``) divided by the wall time of the whole train
call (imports, data prep, training, saving), for both.

Same work per optimiser step: TRL's micro-batch is MB records padded to the longest;
ours is packed rows of up to SEQ tokens, so we take as many rows per micro-batch as give
about TRL's number of optimiser steps (about MB records a step). The step counts of both
are printed.

    .venv/bin/python bench/train.py --records 128 --repeat 3

Each trainer runs ``--repeat`` times, alternating; its fastest wall time and its highest
peak RSS are reported (a shared machine only ever adds time).

TRL is pip-installed into the venv with ``--no-deps`` when missing, so the venv's
transformers/peft versions stay as they are.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEQ, MB, LR, R = 256, 4, 2e-4, 16


def build(work: Path, n: int) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.record import new_record, to_messages
    from pipeline.train.tiny import _EN_WORDS, _ZH_CHARS, build_model

    model = build_model(work / "model", layers=4, hidden=256, heads=4, kv_heads=4)
    rng = random.Random(0)
    rows = []
    for i in range(n):
        zh = i % 2
        def text(k, zh=zh):
            return "".join(rng.choice(_ZH_CHARS) for _ in range(k)) if zh else \
                " ".join(rng.choice(_EN_WORDS) for _ in range(k))
        rec = new_record(instruction=text(rng.randint(5, 60)), output=text(rng.randint(5, 120)),
                         lang="zh" if zh else "en", task="qa" if i % 3 else "generation")
        rec["meta"] = "{}"
        rec["scores"] = {"x": 0.0}
        rec["messages"] = to_messages(rec)
        rows.append(rec)
    cur = work / "data" / "curated"
    cur.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), cur / "train-00000-of-00001.parquet")
    return model, work / "data"


def token_stats(model: Path, data: Path) -> tuple[int, int]:
    """``(real tokens TRL trains on, packed rows our trainer builds)`` for one epoch."""
    from pipeline.train.data import encode_sft, load_split
    from pipeline.train.model import load_tokenizer
    from pipeline.train.packing import pack
    from pipeline.train.templates import CHATML
    tok = load_tokenizer(str(model))
    exs = [encode_sft(r, tok, CHATML) for r in load_split(data, "train")]
    return sum(min(SEQ, len(e.input_ids)) for e in exs), len(pack(exs, SEQ))


def worker_ours(model: Path, data: Path, out: Path, epochs: float, mb: int) -> int:
    from pipeline.train.api import train
    return train(data, str(model), out, method="lora", epochs=epochs, overrides={
        "max_seq_len": SEQ, "micro_batch_size": mb, "grad_accum": 1, "lr": LR, "warmup_steps": 2,
        "lora": {"r": R, "alpha": 2 * R, "dropout": 0.0, "target_modules": "all-linear"},
        "progress": False, "eval_every": 10**6, "save_every": 10**6, "truncation": "keep"})["steps"]


def worker_trl(model: Path, data: Path, out: Path, epochs: float, mb: int) -> int:
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    ds = load_dataset("parquet", data_files=str(data / "curated" / "train-*.parquet"), split="train")
    ds = ds.select_columns(["messages"])
    tok = AutoTokenizer.from_pretrained(model)
    args = SFTConfig(output_dir=str(out), num_train_epochs=epochs, per_device_train_batch_size=mb,
                     learning_rate=LR, warmup_steps=2, max_length=SEQ, logging_steps=10**6,
                     save_strategy="no", report_to=[], use_cpu=True, bf16=False, disable_tqdm=True,
                     lr_scheduler_type="cosine", dataloader_num_workers=0)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(model), args=args, train_dataset=ds,
                         processing_class=tok, peft_config=LoraConfig(
                             r=R, lora_alpha=2 * R, lora_dropout=0.0, target_modules="all-linear",
                             task_type="CAUSAL_LM"))
    trainer.train()
    return trainer.state.global_step


def run_worker(kind: str, model: Path, data: Path, work: Path, epochs: float, threads: int, mb: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--model", str(model), "--data", str(data),
           "--out", str(work / f"run-{kind}"), "--epochs", str(epochs), "--mb", str(mb)]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1",
                                                                     "OMP_NUM_THREADS": str(threads)})
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{res.stderr[-3000:]}")
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    stats["subprocess_wall_s"] = round(wall, 2)
    return stats


def ensure_trl() -> None:
    try:
        import trl  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "trl"], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=int(os.environ.get("BENCH_TRAIN_RECORDS", "256")))
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--work", default="/tmp/sftpipe-bench-train")
    ap.add_argument("--threads", type=int, default=1,
                    help="intra-op threads for both trainers (1 avoids OpenMP spin-waits on a shared box)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per trainer, alternated; best time is kept")
    ap.add_argument("--worker", choices=["ours", "trl"])
    ap.add_argument("--model")
    ap.add_argument("--data")
    ap.add_argument("--out")
    ap.add_argument("--mb", type=int, default=MB)
    a = ap.parse_args()
    if a.worker:
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        fn = worker_ours if a.worker == "ours" else worker_trl
        t0 = time.perf_counter()
        steps = fn(Path(a.model), Path(a.data), Path(a.out), a.epochs, a.mb)
        print(json.dumps({"train_s": round(time.perf_counter() - t0, 3), "steps": steps,
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
        return
    ensure_trl()
    work = Path(a.work)
    model, data = build(work, a.records)
    real, rows = token_stats(model, data)
    tokens = real * a.epochs
    # Same work per optimiser step (see the module doc): MB packed rows against MB records
    # would be ~2x the records and tokens a step and half the steps - not the same training.
    trl_steps = math.ceil(a.records / MB)
    ours_mb = max(1, round(rows / trl_steps))
    # Alternate the two trainers a.repeat times and keep each one's fastest run (a shared
    # machine only ever adds time) and its highest peak RSS (the conservative side).
    runs: dict[str, list[dict]] = {"ours": [], "trl": []}
    for _ in range(a.repeat):
        for k, mb in (("ours", ours_mb), ("trl", MB)):
            runs[k].append(run_worker(k, model, data, work, a.epochs, a.threads, mb))
    results = {k: {**min(rs, key=lambda r: r["train_s"]), "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                   "all_train_s": [r["train_s"] for r in rs]} for k, rs in runs.items()}
    for k, r in results.items():
        r["tokens_per_s"] = round(tokens / r["train_s"], 1)
        print(f"{k:5s} train {r['train_s']:7.2f}s  {r['tokens_per_s']:8.1f} tok/s  peak RSS {r['peak_rss_mb']:7.1f} MB"
              f"  steps {r['steps']}  (all runs: {r['all_train_s']} s)")
    o, t = results["ours"], results["trl"]
    print(f"threads={a.threads} records={a.records} epochs={a.epochs} repeat={a.repeat} real tokens={tokens:.0f} seq={SEQ} "
          f"micro-batch: trl {MB} records, ours {ours_mb} packed rows ({rows} rows) LoRA r={R}")
    print(f"speed ratio ours/trl: {o['tokens_per_s'] / t['tokens_per_s']:.2f}x   "
          f"peak memory ratio ours/trl: {o['peak_rss_mb'] / t['peak_rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
