"""Resume equality, the forgetting probe and replay mixing, merge equality, CPT, and the CLI."""
from __future__ import annotations

import json

import pytest
from fast_settings import FAST

from pipeline.errors import ConfigError

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")


def _train_losses(run):
    return [e["loss"] for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if e["event"] == "train"]


def test_resume_reproduces_the_uninterrupted_loss_curve(curated, tiny_llama, tmp_path):
    from pipeline.train.api import train
    # Dropout on, two epochs' worth of steps: RNG state and data position both matter.
    cfg = {**FAST, "lora": {"dropout": 0.1}, "micro_batch_size": 2, "eval_every": 3, "save_every": 100}
    full = train(curated, str(tiny_llama), tmp_path / "a", max_steps=8, overrides=cfg)
    part = train(curated, str(tiny_llama), tmp_path / "b", max_steps=8, overrides=cfg, stop_at=3)
    assert part["steps"] == 3 and not part["finished"]
    assert not (tmp_path / "b" / "adapter_model.safetensors").exists()
    resumed = train(curated, str(tiny_llama), tmp_path / "b", max_steps=8, overrides=cfg, resume=True)
    a, b = _train_losses(tmp_path / "a"), _train_losses(tmp_path / "b")
    assert len(a) == len(b) == 8
    assert b == pytest.approx(a, abs=1e-5)
    assert resumed["val_loss"] == pytest.approx(full["val_loss"], abs=1e-5)


def test_forgetting_probe_and_mix(curated, tiny_llama, tmp_path):
    import pyarrow.parquet as pq
    from transformers import AutoModelForCausalLM

    from pipeline.train.api import train
    from pipeline.train.data import encode_text
    from pipeline.train.evaluate import evaluate
    from pipeline.train.model import load_tokenizer
    from pipeline.train.packing import pack

    probe = tmp_path / "probe.jsonl"
    probe.write_text("".join(json.dumps({"text": t}) + "\n" for t in
                             ["water boils at degrees.", "巴黎是法国的首都。", "the city has a long list."]))
    replay = tmp_path / "replay.jsonl"
    replay.write_text("".join(json.dumps({"instruction": f"say {w}", "output": w}) + "\n"
                              for w in ("good", "short", "long")))
    s = train(curated, str(tiny_llama), tmp_path / "r", max_steps=4, probe=str(probe),
              mix=[f"{replay}:0.25"], overrides={**FAST, "lr": 2e-2})
    # The "before" number is the untouched base model's loss on the probe, computed independently.
    tok = load_tokenizer(str(tiny_llama))
    exs = [encode_text({"text": json.loads(ln)["text"]}, tok) for ln in probe.read_text().splitlines()]
    base = AutoModelForCausalLM.from_pretrained(tiny_llama)
    before = evaluate(base, pack(exs, 128), exs, tok.pad_token_id, True, 4)["loss"]
    assert s["probe_before"] == pytest.approx(before, abs=1e-5)
    assert s["forgetting_delta"] == pytest.approx(s["probe_after"] - s["probe_before"], abs=1e-6)
    assert s["probe_after"] != s["probe_before"]
    evals = [e for e in map(json.loads, (tmp_path / "r" / "metrics.jsonl").read_text().splitlines())
             if e["event"] == "eval"]
    assert all("probe_loss" in e and "forgetting_delta" in e for e in evals)
    rows = pq.read_table(tmp_path / "r" / "record_losses.parquet").to_pylist()
    mixed = [r for r in rows if r["origin"] == "mixed"]
    assert len(mixed) == round(0.25 * 24)
    with pytest.raises(ConfigError, match="PATH:RATIO"):
        train(curated, str(tiny_llama), tmp_path / "x", mix=["nope"], overrides=FAST)


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_merge_equals_adapter(curated, tiny_llama, tmp_path, method, capsys):
    from transformers import AutoModelForCausalLM

    from pipeline.train.api import merge, train
    train(curated, str(tiny_llama), tmp_path / "run", method=method, max_steps=3,
          overrides={**FAST, "lr": 2e-2})
    report = merge(tmp_path / "run", tmp_path / "merged")
    assert report["max_abs_diff"] <= 1e-4
    assert "merge check" in capsys.readouterr().out
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert (tmp_path / "merged" / "model.safetensors").exists()
    assert all(type(m).__name__ != "Linear4bit" for m in merged.modules())
    if method == "qlora":  # merging into the original fp32 base would have drifted
        assert report["drift_if_merged_into_original"] > 10 * report["max_abs_diff"]


def test_merge_refuses_prompt_adapters(curated, tiny_llama, tmp_path):
    from pipeline.train.api import merge, train
    train(curated, str(tiny_llama), tmp_path / "run", method="prompt", max_steps=1, overrides=FAST)
    with pytest.raises(ConfigError, match="cannot be\\s+merged"):
        merge(tmp_path / "run", tmp_path / "merged")


def test_cpt_on_plain_text(tiny_llama, tmp_path):
    from pipeline.train.api import train
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("water boils at degrees.\n\n巴黎是法国的首都。\n\nthe model writes code.\n")
    s = train(corpus, str(tiny_llama), tmp_path / "run", objective="cpt", max_steps=6,
              overrides={**FAST, "lr": 2e-2, "eval_every": 100})
    losses = _train_losses(tmp_path / "run")
    assert s["train_loss"] < losses[0]
    golden = json.loads((tmp_path / "run" / "template_contract.json").read_text())["golden"]
    assert golden["labels"] == golden["input_ids"]  # every token carries loss


def test_cli_train_and_merge(curated, tiny_llama, tmp_path):
    from click.testing import CliRunner

    from pipeline.train.commands import merge_cmd, train_cmd
    runner = CliRunner()
    res = runner.invoke(train_cmd, ["--data", str(curated), "--model", str(tiny_llama), "--out",
                                    str(tmp_path / "run"), "--max-steps", "2", "--max-seq-len", "128", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "adapter and run files" in res.output
    res = runner.invoke(merge_cmd, ["--adapter", str(tmp_path / "run"), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "merged model saved" in res.output
    bad = runner.invoke(train_cmd, ["--data", str(curated), "--model", str(tiny_llama), "--out",
                                    str(tmp_path / "x"), "--config", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 1 and "file not found" in bad.output and "Traceback" not in bad.output
