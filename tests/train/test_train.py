"""End-to-end runs on tiny local models: loss falls, outputs are complete, adapters reload."""
from __future__ import annotations

import json

import pytest
from conftest import curated_records, write_shards
from fast_settings import FAST

from pipeline.errors import ConfigError

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")


def _events(run, kind):
    return [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()
            if json.loads(ln)["event"] == kind]


@pytest.fixture(scope="module")
def memo(tmp_path_factory):
    """A small memorisation set: the same 8 records for train and validation."""
    recs = curated_records(8)
    return write_shards(tmp_path_factory.mktemp("memo"), recs, recs)


@pytest.fixture(scope="module")
def runs(memo, tiny_llama, tmp_path_factory):
    from pipeline.train.api import train
    out = {}
    for method, lr in (("lora", 2e-2), ("qlora", 2e-2), ("full", 3e-3)):
        run = tmp_path_factory.mktemp(method)
        out[method] = (run, train(memo, str(tiny_llama), run, method=method, max_steps=10,
                                  overrides={**FAST, "lr": lr, "lora": {"dropout": 0.0}}))
    return out


@pytest.mark.parametrize("method", ["lora", "qlora", "full"])
def test_loss_falls_on_memorisation_set(runs, method):
    run, summary = runs[method]
    assert summary["steps"] == 10
    losses = [e["loss"] for e in _events(run, "train")]
    assert len(losses) == 10
    assert summary["train_loss"] < 0.5 * losses[0]
    evals = _events(run, "eval")
    assert evals[-1]["val_loss"] < evals[0]["val_loss"]
    assert set(evals[0]["by_task"]) == {"qa", "generation"} and set(evals[0]["by_lang"]) == {"en", "zh"}


def test_run_outputs(runs, memo):
    run, summary = runs["lora"]
    assert summary["tasks"] == ["generation", "qa"] and summary["out"] == str(run)
    for name in ("adapter_config.json", "adapter_model.safetensors", "train_config.json", "README.md",
                 "template_contract.json", "record_losses.parquet", "rejected.jsonl"):
        assert (run / name).exists(), name
    card = (run / "README.md").read_text()
    assert "cafebabe1234" in card and "- curated: 16" in card and "- rejected: 3" in card
    contract = json.loads((run / "template_contract.json").read_text())
    assert contract["chat_template"] and "[[" in contract["golden"]["marked"]
    assert sorted(p.stem for p in (run / "examples").glob("*.txt")) == ["generation", "qa"]
    audit = _events(run, "audit")[0]
    assert audit["records"] == 8 and audit["over_budget"] == 0
    setup = _events(run, "setup")[0]
    assert setup["packed"] and 0 < setup["padding_efficiency"] <= 1
    assert 0 < setup["trainable_params"] < setup["total_params"]
    cfg = json.loads((run / "train_config.json").read_text())
    assert cfg["method"] == "lora" and cfg["max_steps"] == 10
    import pyarrow.parquet as pq
    rl = pq.read_table(run / "record_losses.parquet").to_pylist()
    assert {r["split"] for r in rl} == {"train", "validation"} and len(rl) == 16
    assert {r["task"] for r in rl} == {"qa", "generation"}
    assert all(r["loss"] is not None and r["tokens"] > 0 for r in rl)


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_adapter_reloads_with_peft_and_gives_identical_losses(runs, method, tiny_llama):
    """Reload base + saved adapter; per-record losses equal the ones the trainer wrote."""
    import pyarrow.parquet as pq
    from peft import PeftModel

    from pipeline.train.data import encode_sft, load_split
    from pipeline.train.evaluate import evaluate
    from pipeline.train.model import load_base, load_tokenizer
    from pipeline.train.packing import pack
    from pipeline.train.settings import TrainConfig
    run, _ = runs[method]
    tok = load_tokenizer(str(run))
    model = PeftModel.from_pretrained(load_base(str(tiny_llama), TrainConfig(method=method), "cpu"), str(run))
    cfg = json.loads((run / "train_config.json").read_text())
    exs = [encode_sft(r, tok, json.loads((run / "template_contract.json").read_text())["chat_template"])
           for r in load_split(cfg["data"], "train")]
    ev = evaluate(model, pack(exs, 128), exs, tok.pad_token_id, True, 4)
    want = {r["id"]: r["loss"] for r in pq.read_table(run / "record_losses.parquet").to_pylist()
            if r["split"] == "train"}
    got = {exs[i].rid: s / n for i, (s, n) in ev["records"].items()}
    assert got.keys() == want.keys()
    for rid, loss in want.items():
        assert got[rid] == pytest.approx(loss, abs=1e-5)


def test_bitfit_trains_only_biases(tiny_qwen, memo, tmp_path):
    from safetensors.torch import load_file

    from pipeline.train.api import train
    train(memo, str(tiny_qwen), tmp_path, method="bitfit", max_steps=2, overrides=FAST)
    after = load_file(str(tmp_path / "model.safetensors"))
    before = load_file(str(tiny_qwen / "model.safetensors"))
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith(".bias") for k in changed)


def test_bitfit_without_biases_is_a_clear_error(tiny_llama, memo, tmp_path):
    from pipeline.train.api import train
    with pytest.raises(ConfigError, match="no bias parameters"):
        train(memo, str(tiny_llama), tmp_path, method="bitfit", max_steps=1, overrides=FAST)


@pytest.mark.parametrize("method", ["dora", "prompt", "prefix"])
def test_other_peft_methods_train_and_save(method, tiny_llama, memo, tmp_path):
    from pipeline.train.api import train
    s = train(memo, str(tiny_llama), tmp_path, method=method, max_steps=2, overrides=FAST)
    assert s["steps"] == 2 and (tmp_path / "adapter_model.safetensors").exists()
    peft_type = json.loads((tmp_path / "adapter_config.json").read_text())["peft_type"]
    assert peft_type == {"dora": "LORA", "prompt": "PROMPT_TUNING", "prefix": "PREFIX_TUNING"}[method]
    setup = _events(tmp_path, "setup")[0]
    assert setup["packed"] == (method == "dora")  # virtual tokens cannot pack


def test_missing_manifest_and_lint_reject(tiny_llama, tmp_path):
    from pipeline.train.api import train
    recs = curated_records(6)
    recs[2]["output"] = "the model data answer " * 40  # answer longer than the budget
    data = write_shards(tmp_path / "d", recs, [], manifest=False)
    s = train(data, str(tiny_llama), tmp_path / "r", max_steps=1, overrides={**FAST, "max_seq_len": 64})
    assert s["val_loss"] is None
    rej = [json.loads(ln) for ln in (tmp_path / "r" / "rejected.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reason"]) for r in rej] == [(recs[2]["id"], "train_answer_truncated")]
    assert "no manifest.json" in (tmp_path / "r" / "README.md").read_text()


def test_pipeline_train_is_the_library_call_before_and_after_submodule_imports(monkeypatch):
    import pipeline
    import pipeline.train.api as api

    calls = []
    monkeypatch.setattr(api, "train", lambda *a, **k: calls.append((a, k)) or "ran")
    assert pipeline.train("data", "model", "out", method="lora") == "ran"
    assert calls == [(("data", "model", "out"), {"method": "lora"})]
