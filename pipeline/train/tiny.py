"""Build tiny Llama/Qwen-style causal LMs and a matching tokenizer, entirely offline.

Tests, the demo and the benchmark need a real ``transformers`` model but no hub is
reachable, so we train a byte-level BPE tokenizer with ``tokenizers`` on generated
bilingual sample sentences, attach a chat template, and initialise a small model from a
config. Everything is saved with ``save_pretrained`` (safetensors) so it loads through
the same ``AutoModelForCausalLM``/``AutoTokenizer`` path as a real checkpoint.
"""
from __future__ import annotations

import random
from pathlib import Path

from pipeline.train.templates import CHATML, SPECIAL_TOKENS

_EN_WORDS = ["the", "a", "model", "data", "answer", "question", "list", "write", "explain", "summary", "translate", "code", "python", "function", "number", "three", "five", "seven", "list", "item", "first", "second", "because", "therefore", "good", "bad", "short", "long", "format", "json", "table", "capital", "city", "france", "paris", "water", "boils", "at", "degrees", "please", "give", "me", "an", "example", "of", "how", "to", "sort", "reverse", "string", "hello", "world", "thank", "you"]
_ZH_CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理"


def sample_corpus(n: int = 600, seed: int = 0) -> list[str]:
    """Generated English and Chinese sentences for training the tiny tokenizer.

    Args:
        n: Number of sentences of each language.
        seed: Seed for the generator, so the tokenizer is reproducible.
    """
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        lines.append(" ".join(rng.choice(_EN_WORDS) for _ in range(rng.randint(4, 14))) + ".")
        lines.append("".join(rng.choice(_ZH_CHARS) for _ in range(rng.randint(6, 24))) + "。")
    return lines


def build_tokenizer(out_dir: Path | str, vocab_size: int = 800, chat_template: str | None = CHATML):
    """Train a byte-level BPE tokenizer and save it as a fast HF tokenizer.

    Every special token any of our named templates uses is registered, so each
    template renders to clean single-token markers.

    Args:
        out_dir: Where to save (``tokenizer.json`` + ``tokenizer_config.json``).
        vocab_size: Target BPE vocabulary size.
        chat_template: Jinja chat template to store; ``None`` stores none, which makes
            the trainer fall back to a named template.

    Returns:
        The loaded ``PreTrainedTokenizerFast``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(sample_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>",
        bos_token="<|begin_of_text|>", additional_special_tokens=[t for t in SPECIAL_TOKENS
                                                                if t not in ("<|endoftext|>", "<|pad|>",
                                                                             "<|begin_of_text|>")],
    )
    if chat_template is not None:
        fast.chat_template = chat_template
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out)
    return fast


def build_model(out_dir: Path | str, arch: str = "llama", layers: int = 2, hidden: int = 64,
                heads: int = 4, kv_heads: int = 2, chat_template: str | None = CHATML,
                seed: int = 0, init_range: float = 0.2) -> Path:
    """Build and save a tiny randomly initialised causal LM plus its tokenizer.

    Args:
        out_dir: Target directory (model safetensors + config + tokenizer).
        arch: ``"llama"`` (no biases) or ``"qwen2"`` (q/k/v biases, so BitFit has work).
        layers: Number of decoder layers.
        hidden: Hidden size. Keep it ≥ 64: bitsandbytes 4-bit layers need in-features ≥ 64.
        heads: Attention heads.
        kv_heads: Key/value heads (grouped-query attention when < heads).
        chat_template: Chat template stored with the tokenizer (``None`` for none).
        seed: Torch seed for the weight initialisation.
        init_range: Std of the normal weight initialisation.

    Returns:
        ``out_dir`` as a Path.
    """
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    out = Path(out_dir)
    tok = build_tokenizer(out, chat_template=chat_template)
    common = {
        "vocab_size": len(tok), "hidden_size": hidden, "intermediate_size": hidden * 2,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
        "max_position_embeddings": 2048, "tie_word_embeddings": False,
        # A wider init than the 0.02 default: with a 0.02 lm_head a frozen random base cannot
        # express confident predictions, so LoRA could barely lower the loss in a few steps.
        "initializer_range": init_range,
        "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id,
    }
    if arch == "llama":
        cfg = LlamaConfig(**common)
    elif arch == "qwen2":
        cfg = Qwen2Config(**common)
    else:
        raise ValueError(f"unknown tiny arch {arch!r}; use llama or qwen2")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(out)
    return out
