"""Load a causal LM and make the right parameters trainable for each method.

- ``lora`` / ``dora``: peft LoRA (DoRA = weight-decomposed LoRA) on all linear layers
  of the attention and MLP blocks unless ``lora.target_modules`` says otherwise.
- ``qlora``: the base is loaded in 4-bit NF4 with double quantisation through
  ``BitsAndBytesConfig``, prepared with ``prepare_model_for_kbit_training``, then LoRA.
- ``prompt`` / ``prefix``: peft prompt tuning / prefix tuning (virtual tokens).
- ``full``: every weight trains. ``bitfit``: only the biases train.
"""
from __future__ import annotations

from contextlib import contextmanager

from pipeline.errors import ConfigError, MissingExtraError
from pipeline.train.settings import TrainConfig

PEFT_METHODS = ("lora", "qlora", "dora", "prompt", "prefix")


def _need(pkg: str):
    try:
        return __import__(pkg)
    except ImportError:
        raise MissingExtraError(pkg, "train") from None


def device_and_dtype(cfg: TrainConfig):
    """``(device, autocast_dtype_or_None)``: bf16 autocast on a GPU that supports it, unless turned off."""
    torch = _need("torch")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    use_bf16 = cfg.bf16 == "on" or (cfg.bf16 == "auto" and device == "cuda" and torch.cuda.is_bf16_supported())
    return device, (torch.bfloat16 if use_bf16 else None)


def load_tokenizer(path: str, trust_remote_code: bool = False):
    """The model's tokenizer, with a pad token (EOS when it has none)."""
    _need("transformers")
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def disable_cpu_bf16_repack(model) -> int:
    """Turn off bitsandbytes' AVX512-BF16 weight repacking on every 4-bit layer.

    On a CPU with AVX512-BF16, bitsandbytes >= 0.49 repacks a ``Linear4bit`` weight in
    place the first time it runs in eval mode without grad; from then on no gradient
    flows through that layer and nothing raises, so LoRA silently stops learning after
    the first evaluation. Returns how many layers were changed.
    """
    import bitsandbytes as bnb
    n = 0
    for m in model.modules():
        if isinstance(m, bnb.nn.Linear4bit):
            m.support_avx512bf16_for_cpu = False
            n += 1
    return n


def load_base(path: str, cfg: TrainConfig, device: str):
    """Load the base model: full precision, or 4-bit NF4 for ``qlora``."""
    torch = _need("torch")
    _need("transformers")
    from transformers import AutoModelForCausalLM
    kwargs = {"trust_remote_code": cfg.trust_remote_code, "dtype": torch.float32}
    if cfg.method == "qlora":
        _need("bitsandbytes")
        from transformers import BitsAndBytesConfig
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=cfg.quant.get("quant_type", "nf4"),
            bnb_4bit_use_double_quant=bool(cfg.quant.get("double_quant", True)),
            # bf16 compute on GPU; CPU kernels want fp32.
            bnb_4bit_compute_dtype=torch.bfloat16 if device == "cuda" else torch.float32,
        )
        kwargs["device_map"] = {"": device}
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as e:
        raise ConfigError(f"model: cannot load {path!r}: {e}") from None
    if cfg.method == "qlora" and device == "cpu":
        disable_cpu_bf16_repack(model)
    elif cfg.method != "qlora":
        model.to(device)
    return model


def _enable_checkpointing(model) -> None:
    kw = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(kw)
    else:  # transformers < 5
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kw)


def apply_method(model, cfg: TrainConfig):
    """Freeze/wrap ``model`` for ``cfg.method``; returns the model to train."""
    if cfg.method == "qlora":
        from peft import prepare_model_for_kbit_training
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    elif cfg.gradient_checkpointing:
        _enable_checkpointing(model)
    if cfg.method in ("full", "bitfit"):
        biases = 0
        for name, p in model.named_parameters():
            is_bias = name.endswith(".bias")
            biases += is_bias
            p.requires_grad = cfg.method == "full" or is_bias
        if cfg.method == "bitfit" and biases == 0:
            raise ConfigError("method bitfit: this model has no bias parameters, so BitFit has nothing to "
                              "train; use lora or a model with biases (e.g. Qwen2 attention biases)")
        return model
    _need("peft")
    from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, get_peft_model
    if cfg.method in ("lora", "qlora", "dora"):
        lc = cfg.lora
        extra = ["embed_tokens", "lm_head"] if lc.get("train_embeddings") else None
        pc = LoraConfig(
            r=int(lc.get("r", 16)), lora_alpha=int(lc.get("alpha", 32)), lora_dropout=float(lc.get("dropout", 0.0)),
            target_modules=lc.get("target_modules", "all-linear"), modules_to_save=extra,
            use_dora=cfg.method == "dora", task_type="CAUSAL_LM",
        )
    elif cfg.method == "prompt":
        pc = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=cfg.virtual_tokens)
    else:
        pc = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=cfg.virtual_tokens)
    return get_peft_model(model, pc)


@contextmanager
def merged_for_eval(model, method: str):
    """Inside the block, LoRA/DoRA weights are merged into the full-precision base.

    A merged forward skips the adapter's extra matmuls (about half the forward time of a
    small model with LoRA on every linear layer) and gives the same logits to float
    rounding. Only for passes after training: unmerging subtracts the update again, which
    does not restore the base weights bit for bit. A 4-bit base (QLoRA) is never merged
    into, because that would round the update to 4 bits.
    """
    merge = method in ("lora", "dora") and hasattr(model, "merge_adapter")
    if merge:
        model.merge_adapter()
    try:
        yield
    finally:
        if merge:
            model.unmerge_adapter()


def checkpointing_enabled(model) -> bool:
    """Whether activation (gradient) checkpointing is on for ``model`` (or the model peft wraps)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    for attr in ("is_activation_checkpointing", "is_gradient_checkpointing"):  # transformers 5 / 4 name
        if hasattr(type(base), attr):
            return bool(getattr(base, attr))
    return False


def trainable_summary(model) -> dict:
    """Counts of trainable and total parameters (4-bit weights counted by element)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_params": trainable, "total_params": total}
