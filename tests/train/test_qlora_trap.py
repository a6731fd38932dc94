"""Regression test for the bitsandbytes AVX512-BF16 CPU trap (see model.disable_cpu_bf16_repack)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")
bnb = pytest.importorskip("bitsandbytes")


def _lora_grads(model, batch, interleave_eval: bool, mode: str = "no_grad"):
    from pipeline.train.evaluate import token_losses
    if interleave_eval:  # evaluate() runs under inference_mode; plain no_grad is the documented trigger
        model.eval()
        with torch.inference_mode() if mode == "inference_mode" else torch.no_grad():
            token_losses(model, batch)
        model.train()
    model.zero_grad(set_to_none=True)
    losses, mask = token_losses(model, batch)
    (losses.sum() / mask.sum()).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad and "lora_B" in n}


def _qlora_model(path, keep_fix: bool):
    from pipeline.train.model import apply_method, load_base
    from pipeline.train.settings import TrainConfig
    cfg = TrainConfig(method="qlora", lora={"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"})
    base = load_base(str(path), cfg, "cpu")
    if not keep_fix:  # what bitsandbytes does by default on an AVX512-BF16 CPU
        for m in base.modules():
            if isinstance(m, bnb.nn.Linear4bit):
                m.support_avx512bf16_for_cpu = True
    torch.manual_seed(0)
    model = apply_method(base, cfg)
    # LoRA B starts at zero; give it values so gradients reach the A side and earlier layers.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    return model


def _batch():
    torch.manual_seed(1)
    ids = torch.randint(10, 700, (2, 24))
    return {"input_ids": ids, "targets": torch.roll(ids, -1, 1)}


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_lora_grads_identical_with_interleaved_eval(tiny_llama, mode):
    model = _qlora_model(tiny_llama, keep_fix=True)
    assert all(not m.support_avx512bf16_for_cpu for m in model.modules() if isinstance(m, bnb.nn.Linear4bit))
    batch = _batch()
    plain = _lora_grads(model, batch, interleave_eval=False)
    after_eval = _lora_grads(model, batch, interleave_eval=True, mode=mode)
    assert plain and plain.keys() == after_eval.keys()
    for n in plain:
        assert torch.equal(plain[n], after_eval[n]), n
    assert any(float(g.abs().sum()) > 0 for g in plain.values())


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_the_trap_is_real_on_this_cpu(tiny_llama, mode):
    """Shows the regression test above can fail: without the fix an eval pass repacks the weights."""
    from bitsandbytes.functional import has_avx512bf16
    if not has_avx512bf16():
        pytest.skip("this CPU has no AVX512-BF16; bitsandbytes never repacks here")
    model = _qlora_model(tiny_llama, keep_fix=False)
    batch = _batch()
    plain = _lora_grads(model, batch, interleave_eval=False)
    after_eval = _lora_grads(model, batch, interleave_eval=True, mode=mode)
    assert any(not torch.equal(plain[n], after_eval[n]) for n in plain)
