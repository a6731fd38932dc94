"""Merge a LoRA-family adapter into its base weights: W' = W + (alpha/r)·BA.

After merging, inference runs the plain model with no adapter overhead. For QLoRA
the adapter was trained against the *dequantised NF4* weights, not the original
full-precision ones, so we dequantise the 4-bit base first and merge into that;
merging into the original base (or re-quantising after the merge) drifts. Either way we
check that the merged model's logits equal the adapter model's on sample prompts.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import ConfigError, SftpipeError
from pipeline.train.outputs import CONTRACT


class MergeError(SftpipeError):
    """The merged model's logits differ from the adapter model's beyond tolerance."""


def _run_info(adapter: Path, base: str | None) -> tuple[str, str]:
    cfg_path = adapter / "adapter_config.json"
    if not cfg_path.exists():
        raise ConfigError(f"{adapter}: no adapter_config.json; merge needs a PEFT LoRA adapter "
                          "(full and BitFit runs already save full weights)")
    peft_cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    if peft_cfg.get("peft_type") != "LORA":
        raise ConfigError(f"{adapter}: a {peft_cfg.get('peft_type')} adapter adds virtual tokens and cannot be "
                          "merged into the weights; only LoRA/DoRA/QLoRA adapters merge")
    run = adapter / "train_config.json"
    method = json.loads(run.read_text(encoding="utf-8")).get("method", "lora") if run.exists() else "lora"
    return base or peft_cfg.get("base_model_name_or_path"), method


def _sample_inputs(adapter: Path, tokenizer):
    import torch
    samples = []
    contract = adapter / CONTRACT
    if contract.exists():
        samples.append(json.loads(contract.read_text(encoding="utf-8"))["golden"]["input_ids"])
    for text in ("Hello, how are you?", "写一首关于春天的诗。"):
        samples.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return [torch.tensor([s]) for s in samples if s]


def _logits(model, inputs):
    import torch
    model.eval()
    with torch.no_grad():
        return [model(input_ids=x, use_cache=False).logits.float() for x in inputs]


def _max_diff(a, b) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def merge_adapter(adapter: Path, out: Path, base: str | None = None, atol: float = 1e-4) -> dict:
    """Merge ``adapter`` into its base, verify logits, save safetensors to ``out``.

    Args:
        adapter: A run folder (or any PEFT LoRA adapter folder).
        out: Where the merged model (+ tokenizer) is saved.
        base: Base model path; defaults to the one recorded in ``adapter_config.json``.
        atol: Largest allowed absolute logit difference between merged and adapter model.

    Returns:
        ``{"max_abs_diff", "atol", "method", "out", ...}``; QLoRA also reports
        ``drift_if_merged_into_original`` (what the naive merge would have cost).

    Raises:
        MergeError: The merged logits differ beyond ``atol`` (nothing is written).
    """
    from peft import PeftModel

    from pipeline.train.model import load_base, load_tokenizer
    from pipeline.train.settings import TrainConfig

    base_path, method = _run_info(adapter, base)
    tokenizer = load_tokenizer(str(adapter) if (adapter / "tokenizer_config.json").exists() else base_path)
    inputs = _sample_inputs(adapter, tokenizer)
    report: dict = {"method": method, "base": base_path, "atol": atol, "out": str(out)}
    if method == "qlora":
        import torch
        quant = TrainConfig(method="qlora")
        ref_model = PeftModel.from_pretrained(load_base(base_path, quant, "cpu"), str(adapter))
        reference = _logits(ref_model, inputs)
        del ref_model
        # Same deterministic NF4 quantisation, then back to fp32: the weights the adapter saw.
        merged_base = load_base(base_path, quant, "cpu").dequantize(dtype=torch.float32)
        naive = PeftModel.from_pretrained(load_base(base_path, TrainConfig(method="lora"), "cpu"), str(adapter))
        report["drift_if_merged_into_original"] = _max_diff(_logits(naive.merge_and_unload(), inputs), reference)
        del naive
    else:
        merged_base = load_base(base_path, TrainConfig(method="lora"), "cpu")
    peft_model = PeftModel.from_pretrained(merged_base, str(adapter))
    if method != "qlora":
        reference = _logits(peft_model, inputs)
    merged = peft_model.merge_and_unload()
    diff = _max_diff(_logits(merged, inputs), reference)
    report["max_abs_diff"] = diff
    print(f"merge check: max |logits(merged) - logits(adapter)| = {diff:.3g} (tolerance {atol:g})"
          + (f"; merging into the original base instead would drift by "
             f"{report['drift_if_merged_into_original']:.3g}" if "drift_if_merged_into_original" in report else ""))
    if not diff <= atol:
        raise MergeError(f"merged model differs from the adapter model by {diff:.3g} > {atol:g}; not saved")
    if getattr(merged.config, "quantization_config", None) is not None:
        del merged.config.quantization_config
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "merge_report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report
