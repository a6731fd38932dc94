"""Loop features: early stopping, gradient checkpointing, TensorBoard, the L2-to-init penalty,
and the best-validation checkpoint with ``final: last|best``."""
from __future__ import annotations

import json
import sys

import pytest
from conftest import FAST, curated_records, write_shards

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")


def _events(run, kind):
    return [e for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if e["event"] == kind]


@pytest.fixture(scope="module")
def memo(tmp_path_factory):
    recs = curated_records(8)
    return write_shards(tmp_path_factory.mktemp("memo"), recs, recs)


# --- early stopping -------------------------------------------------------------------------

def test_early_stopping_triggers_after_patience_evals(memo, tiny_llama, tmp_path):
    """No eval can beat the first by min_delta=100, so patience 2 stops after step 3 of 10."""
    from pipeline.train.api import train
    s = train(memo, str(tiny_llama), tmp_path, max_steps=10, overrides={
        **FAST, "eval_every": 1, "early_stopping_patience": 2, "early_stopping_min_delta": 100.0})
    assert s["stopped_early"] and s["steps"] == 3
    assert [e["step"] for e in _events(tmp_path, "eval")] == [1, 2, 3]
    assert len(_events(tmp_path, "train")) == 3
    assert (tmp_path / "adapter_model.safetensors").exists()  # a stopped run still writes its outputs
    assert _events(tmp_path, "end")[0]["stopped_early"] is True


def test_early_stopping_follows_the_patience_rule(memo, tiny_llama, tmp_path):
    """Replay the rule on the logged validation losses: the loop stops exactly where it says."""
    from pipeline.train.api import train
    patience, delta = 2, 0.05
    s = train(memo, str(tiny_llama), tmp_path, max_steps=12, overrides={
        **FAST, "lr": 0.05, "min_lr_ratio": 1.0, "eval_every": 1,
        "early_stopping_patience": patience, "early_stopping_min_delta": delta})
    best, bad, expect_stop = None, 0, None
    losses = [e["val_loss"] for e in _events(tmp_path, "eval")]
    for step, loss in enumerate(losses, 1):
        if best is None or loss < best - delta:
            bad = 0
        else:
            bad += 1
        best = loss if best is None else min(best, loss)
        if bad >= patience:
            expect_stop = step
            break
    assert s["stopped_early"] == (expect_stop is not None)
    assert s["steps"] == (expect_stop or 12) == len(losses)


# --- gradient checkpointing -----------------------------------------------------------------

def test_gradient_checkpointing_saves_fewer_activations(tiny_llama):
    """With checkpointing on, a training forward keeps far fewer tensors for backward."""
    from pipeline.train.evaluate import token_losses
    from pipeline.train.model import apply_method, checkpointing_enabled, load_base
    from pipeline.train.settings import TrainConfig

    def saved_bytes(gc: bool) -> int:
        cfg = TrainConfig(method="lora", gradient_checkpointing=gc, lora={"dropout": 0.0})
        model = apply_method(load_base(str(tiny_llama), cfg, "cpu"), cfg)
        assert checkpointing_enabled(model) == gc
        model.train()
        ids = torch.randint(10, 700, (2, 64))
        total = [0]

        def pack_hook(t):
            total[0] += t.numel() * t.element_size()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack_hook, lambda t: t):
            token_losses(model, {"input_ids": ids, "targets": torch.roll(ids, -1, 1)})
        return total[0]
    assert saved_bytes(True) < 0.5 * saved_bytes(False)


@pytest.mark.parametrize("method", ["lora", "full"])
def test_gradient_checkpointing_gives_the_same_losses(memo, tiny_llama, tmp_path, method):
    from pipeline.train.api import train
    cfg = {**FAST, "eval_every": 3, "lora": {"dropout": 0.0}}
    runs = {}
    for gc in (False, True):
        run = tmp_path / f"gc{gc}"
        runs[gc] = train(memo, str(tiny_llama), run, method=method, max_steps=3,
                         overrides={**cfg, "gradient_checkpointing": gc})
        assert _events(run, "setup")[0]["gradient_checkpointing"] is gc
    plain = [e["loss"] for e in _events(tmp_path / "gcFalse", "train")]
    ckpt = [e["loss"] for e in _events(tmp_path / "gcTrue", "train")]
    assert len(plain) == 3 and ckpt == pytest.approx(plain, abs=1e-5)
    assert plain[-1] != plain[0]  # the weights really moved between steps
    assert runs[True]["val_loss"] == pytest.approx(runs[False]["val_loss"], abs=1e-5)


# --- TensorBoard ----------------------------------------------------------------------------

def test_tensorboard_scalars_match_metrics(memo, tiny_llama, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from pipeline.train.api import train
    train(memo, str(tiny_llama), tmp_path, max_steps=3, overrides={**FAST, "tensorboard": True, "eval_every": 2})
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"train/loss", "train/lr", "eval/val_loss"} <= set(tags)
    got = [(s.step, s.value) for s in acc.Scalars("train/loss")]
    want = [(e["step"], e["loss"]) for e in _events(tmp_path, "train")]
    assert [g[0] for g in got] == [w[0] for w in want] == [1, 2, 3]
    assert [g[1] for g in got] == pytest.approx([w[1] for w in want], rel=1e-6)
    assert [s.step for s in acc.Scalars("eval/val_loss")] == [2, 3]


def test_tensorboard_missing_falls_back_to_jsonl(memo, tiny_llama, tmp_path, monkeypatch, capsys):
    from pipeline.train.api import train
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # makes the import fail
    s = train(memo, str(tiny_llama), tmp_path, max_steps=1, overrides={**FAST, "tensorboard": True})
    assert s["steps"] == 1 and _events(tmp_path, "train")
    assert "tensorboard is not installed" in capsys.readouterr().out
    assert not (tmp_path / "tensorboard").exists()


# --- L2 pull towards the initial weights ----------------------------------------------------

def test_l2_init_penalty_is_in_the_objective_and_holds_weights_near_init(memo, tiny_llama, tmp_path):
    from safetensors.torch import load_file

    from pipeline.train.api import train
    lam = 10.0
    cfg = {**FAST, "lr": 3e-3, "eval_every": 100}
    train(memo, str(tiny_llama), tmp_path / "free", method="full", max_steps=3, overrides=cfg)
    train(memo, str(tiny_llama), tmp_path / "l2", method="full", max_steps=3, overrides={**cfg, "l2_init": lam})
    train(memo, str(tiny_llama), tmp_path / "one", method="full", max_steps=3, stop_at=1,
          overrides={**cfg, "l2_init": lam})
    init = load_file(str(tiny_llama / "model.safetensors"))
    after_one = load_file(str(tmp_path / "one" / "checkpoints" / "last" / "trainable.safetensors"))
    assert after_one.keys() == init.keys()

    ev = _events(tmp_path / "l2", "train")
    assert ev[0]["l2_penalty"] == 0.0  # at step 1 the weights are the initial ones
    # Step 2's penalty is lambda * ||w1 - w0||^2, with w1 the weights after step 1.
    want = lam * sum(float(((after_one[k] - init[k]) ** 2).sum()) for k in init)
    assert want > 0 and ev[1]["l2_penalty"] == pytest.approx(want, rel=1e-4)
    for e in ev:
        assert e["objective"] == pytest.approx(e["loss"] + e["l2_penalty"], abs=2e-6)
    free = _events(tmp_path / "free", "train")
    assert "l2_penalty" not in free[0]
    assert ev[0]["loss"] == pytest.approx(free[0]["loss"], abs=1e-6)  # same data loss before any update

    def dist(run):
        w = load_file(str(run / "model.safetensors"))
        return sum(float(((w[k] - init[k]) ** 2).sum()) for k in init)
    assert dist(tmp_path / "l2") < 0.5 * dist(tmp_path / "free")


# --- best checkpoint and final: last|best ---------------------------------------------------

def _lora_weights(path):
    """Adapter tensors keyed like peft's saved file (no adapter name in the key)."""
    from safetensors.torch import load_file
    return {k.replace(".default", ""): v for k, v in load_file(str(path)).items()}


def test_best_checkpoint_and_final_best(tiny_llama, tmp_path):
    from pipeline.train.api import train
    # Constant, high lr on a held-out split: the validation loss bounces, and is lowest mid-run.
    data = write_shards(tmp_path / "d", curated_records(24), curated_records(8, seed=3))
    s = train(data, str(tiny_llama), tmp_path / "r", max_steps=6, overrides={
        **FAST, "lr": 0.05, "min_lr_ratio": 1.0, "eval_every": 1, "final": "best"})
    evals = _events(tmp_path / "r", "eval")
    best = min(evals, key=lambda e: e["val_loss"])
    assert s["best_step"] == best["step"] < s["steps"] == 6
    assert s["final_weights"] == "best" and s["final_step"] == best["step"]
    state = json.loads((tmp_path / "r" / "checkpoints" / "best" / "state.json").read_text())
    assert state["step"] == best["step"]
    # The saved adapter is the best checkpoint's, not the last one's, and the final
    # validation loss is measured with it.
    saved = _lora_weights(tmp_path / "r" / "adapter_model.safetensors")
    ckpt = {n: _lora_weights(tmp_path / "r" / "checkpoints" / n / "trainable.safetensors") for n in ("best", "last")}
    assert saved.keys() == ckpt["best"].keys()
    assert all(torch.equal(saved[k], ckpt["best"][k]) for k in saved)
    assert any(not torch.equal(saved[k], ckpt["last"][k]) for k in saved)
    assert s["val_loss"] == pytest.approx(best["val_loss"], abs=1e-5)
    assert s["val_loss"] != pytest.approx(evals[-1]["val_loss"], abs=1e-3)


def test_final_best_without_validation_keeps_last(tiny_llama, tmp_path):
    from pipeline.train.api import train
    data = write_shards(tmp_path / "d", curated_records(8), [])
    s = train(data, str(tiny_llama), tmp_path / "r", max_steps=2, overrides={**FAST, "final": "best"})
    assert s["final_weights"] == "last" and s["final_step"] == 2 and s["best_step"] is None
    assert not (tmp_path / "r" / "checkpoints" / "best").exists()
