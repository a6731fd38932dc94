"""Data parallelism: 2 gloo processes on CPU give the same loss curve as 1 process with grad_accum=2."""
from __future__ import annotations

import json
import socket

import pytest
from fast_settings import FAST

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")

CFG = {**FAST, "micro_batch_size": 2, "lora": {"dropout": 0.0}, "eval_every": 100}


def _worker(rank: int, port: int, data: str, model: str, out: str) -> None:
    import os

    import torch.distributed as dist

    from pipeline.train.api import train
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    train(data, model, out, max_steps=4, overrides={**CFG, "grad_accum": 1})
    dist.destroy_process_group()


def _losses(run):
    return [e["loss"] for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if e["event"] == "train"]


def test_two_gloo_processes_match_single_process(curated, tiny_llama, tmp_path):
    import torch.multiprocessing as mp

    from pipeline.train.api import train
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(port, str(curated), str(tiny_llama), str(tmp_path / "ddp")), nprocs=2, join=True)
    train(curated, str(tiny_llama), tmp_path / "single", max_steps=4, overrides={**CFG, "grad_accum": 2})
    ddp, single = _losses(tmp_path / "ddp"), _losses(tmp_path / "single")
    assert len(ddp) == 4
    assert ddp == pytest.approx(single, abs=1e-5)
    assert (tmp_path / "ddp" / "adapter_model.safetensors").exists()
