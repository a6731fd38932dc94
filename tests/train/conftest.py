"""Fixtures for the trainer tests: tiny local models and curated shards built with pyarrow."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
# One intra-op thread: these models are tiny, and on a shared 2-core box OpenMP spin-waiting
# with 2 threads made the suite 10-20x slower than running single-threaded.
torch.set_num_threads(1)

from pipeline.record import new_record, to_messages

_EN = [("name a colour", "blue"), ("say hello", "hello world"), ("count to three", "one two three"),
       ("what boils at 100 degrees", "water boils at 100 degrees"), ("capital of france", "paris"),
       ("reverse the word abc", "cba"), ("give a short list", "first second"), ("thank you", "you are welcome")]
_ZH = [("说一个颜色", "蓝色"), ("你好", "你好世界"), ("数到三", "一二三"), ("法国的首都", "巴黎")]


def curated_records(n: int, seed: int = 0) -> list[dict]:
    """Bilingual canonical records with task/lang tags and some multi-turn history."""
    recs = []
    en = [(q, a, "en") for q, a in _EN]
    zh = [(q, a, "zh") for q, a in _ZH]
    pool = [x for pair in zip(en, zh) for x in pair] + en[len(zh):]  # interleaved: every slice is bilingual
    for i in range(n):
        q, a, lang = pool[(i + seed) % len(pool)]
        hist = [{"instruction": "hi", "output": "hello"}] if i % 5 == 4 else []
        recs.append(new_record(instruction=f"{q} #{i}", output=a, lang=lang, history=hist,
                               system="be brief" if i % 3 == 0 else "",
                               task="qa" if i % 2 else "generation", domain="general"))
    return recs


def write_shards(out: Path, train: list[dict], val: list[dict], manifest: bool = True) -> Path:
    """Write OUT/curated/{train,validation}-00000-of-00001.parquet (+ manifest.json) like the pipeline."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cur = out / "curated"
    cur.mkdir(parents=True, exist_ok=True)
    for split, recs in (("train", train), ("validation", val)):
        rows = []
        for r in recs:
            row = dict(r)
            row["meta"] = json.dumps(r.get("meta") or {})
            row["scores"] = {"repetition": None, "lang_score": 0.9}
            row["messages"] = to_messages(r)
            rows.append(row)
        pq.write_table(pa.Table.from_pylist(rows), cur / f"{split}-00000-of-00001.parquet")
    if manifest:
        (out / "manifest.json").write_text(json.dumps({
            "config_hash": "cafebabe1234", "counts": {"read": len(train) + len(val) + 3, "curated":
                                                     len(train) + len(val), "rejected": 3, "injected": 0}}))
    return out


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    from pipeline.train.tiny import build_model
    return build_model(tmp_path_factory.mktemp("tiny_llama"), arch="llama")


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory) -> Path:
    from pipeline.train.tiny import build_model
    return build_model(tmp_path_factory.mktemp("tiny_qwen"), arch="qwen2", chat_template=None)


@pytest.fixture(scope="session")
def curated(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("curated"), curated_records(24), curated_records(8, seed=3))


from fast_settings import FAST  # noqa: F401  (re-exported for the tests)
