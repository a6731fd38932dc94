"""Chat templates and the rendering that decides which tokens carry loss.

A conversation is rendered turn by turn: for every assistant message we render the
conversation before it with ``add_generation_prompt=True`` (the prompt, ending in the
assistant header) and the conversation including it (the prompt plus the answer and its
end-of-turn marker). The difference between the two is exactly what the model must
produce, so that span - and nothing else - is supervised. This works for any template
that is *prefix-stable* (rendering more turns only appends text); one that is not
(e.g. a template that rewrites earlier turns) is refused with a clear error rather than
silently mis-masked.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import ConfigError

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Qwen2 is ChatML plus a default system prompt when the conversation has none.
QWEN2 = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}" + CHATML
)
LLAMA3 = (
    "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
ALPACA = (
    "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n\n{% else %}"
    "Below is an instruction that describes a task. Write a response that appropriately completes "
    "the request.\n\n{% endif %}"
    "{% for m in messages if m['role'] != 'system' %}{% if m['role'] == 'user' %}"
    "### Instruction:\n{{ m['content'] }}\n\n{% else %}### Response:\n{{ m['content'] }}{{ eos_token }}\n\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}### Response:\n{% endif %}"
)

NAMED: dict[str, str] = {"chatml": CHATML, "qwen2": QWEN2, "llama3": LLAMA3, "alpaca": ALPACA}

#: Special tokens used by the named templates (the tiny tokenizer registers them all).
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
)
# Markers that end an assistant turn in common templates; the lint checks one is supervised.
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>", "<|endoftext|>")


@dataclass(frozen=True)
class Segment:
    """A contiguous piece of rendered text.

    Attributes:
        text: The rendered text.
        assistant: True when the model must produce it (answer + end-of-turn marker).
        last: True for the final assistant turn of the conversation.
    """

    text: str
    assistant: bool
    last: bool = False


def resolve_template(tokenizer, name: str) -> tuple[str, str]:
    """Pick the chat template.

    Args:
        tokenizer: A HF tokenizer.
        name: ``"auto"`` (the model's own template, else chatml) or a key of :data:`NAMED`.

    Returns:
        ``(template_name, jinja_source)``; the name is ``"model"`` for the model's own.
    """
    if name == "auto":
        own = getattr(tokenizer, "chat_template", None)
        if isinstance(own, str) and own:
            return "model", own
        return "chatml", CHATML
    if name not in NAMED:
        raise ConfigError(f"template: unknown template {name!r}; use auto or one of {sorted(NAMED)}")
    return name, NAMED[name]


def _render(tokenizer, template: str, messages: list[dict], gen: bool) -> str:
    return tokenizer.apply_chat_template(
        messages, chat_template=template, tokenize=False, add_generation_prompt=gen
    )


def render_segments(tokenizer, template: str, messages: list[dict]) -> list[Segment]:
    """Split a rendered conversation into prompt and assistant segments.

    Args:
        tokenizer: The tokenizer whose ``apply_chat_template`` renders the Jinja source.
        template: Jinja chat template source.
        messages: OpenAI-style messages (system?, user, assistant, ...).

    Returns:
        Segments whose concatenation equals the full rendered conversation.

    Raises:
        ConfigError: The template is not prefix-stable, so masks cannot be derived.
    """
    segments: list[Segment] = []
    done = ""
    last_asst = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = _render(tokenizer, template, messages[:i], gen=True)
        full = _render(tokenizer, template, messages[: i + 1], gen=False)
        if not prompt.startswith(done) or not full.startswith(prompt):
            raise ConfigError(
                "template: the chat template is not prefix-stable (rendering a later turn changes "
                "earlier text), so assistant tokens cannot be located; pick a named template with --template"
            )
        if len(prompt) > len(done):
            segments.append(Segment(prompt[len(done):], assistant=False))
        segments.append(Segment(full[len(prompt):], assistant=True, last=i == last_asst))
        done = full
    tail = _render(tokenizer, template, messages, gen=False)
    if len(tail) > len(done) and tail.startswith(done):
        segments.append(Segment(tail[len(done):], assistant=False))
    return segments


def end_of_turn_ids(tokenizer) -> set[int]:
    """Token ids that may close an assistant turn: EOS plus known end-of-turn markers in the vocab."""
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    for t in END_OF_TURN:
        if t in vocab:
            ids.add(int(vocab[t]))
    return ids
