"""Label masks, token by token, for every chat template."""
from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.train.data import IGNORE, encode_sft, render_marked
from pipeline.train.templates import NAMED, render_segments, resolve_template

pytestmark = pytest.mark.train

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi 你好"},
        {"role": "assistant", "content": "hello world"}, {"role": "user", "content": "again"},
        {"role": "assistant", "content": "ok 好的"}]
# What the model must produce for each assistant turn: the answer and its end-of-turn marker.
EXPECTED = {
    "chatml": ["hello world<|im_end|>", "ok 好的<|im_end|>"],
    "qwen2": ["hello world<|im_end|>", "ok 好的<|im_end|>"],
    "llama3": ["hello world<|eot_id|>", "ok 好的<|eot_id|>"],
    "alpaca": ["hello world<|endoftext|>", "ok 好的<|endoftext|>"],
}


@pytest.fixture(scope="module")
def tok(tiny_llama):
    from pipeline.train.model import load_tokenizer
    return load_tokenizer(str(tiny_llama))


def _supervised_runs(tok, ex):
    runs, cur = [], []
    for tid, lab in zip(ex.input_ids, ex.labels):
        if lab != IGNORE:
            assert lab == tid  # a label is always the token itself
            cur.append(tid)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


@pytest.mark.parametrize("name", sorted(NAMED))
@pytest.mark.parametrize("supervise", ["all", "last"])
def test_labels_token_by_token(tok, name, supervise):
    ex = encode_sft({"messages": MSGS}, tok, NAMED[name], supervise)
    # Expected label vector built independently: tokenise the expected answer strings and
    # locate them in the id sequence; everything else must be IGNORE.
    want = [IGNORE] * len(ex.input_ids)
    answers = EXPECTED[name] if supervise == "all" else EXPECTED[name][-1:]
    start = 0
    for ans in answers:
        ids = tok(ans, add_special_tokens=False)["input_ids"]
        pos = next(i for i in range(start, len(ex.input_ids)) if ex.input_ids[i:i + len(ids)] == ids)
        want[pos:pos + len(ids)] = ids
        start = pos + len(ids)
    if supervise == "last":
        first = tok(EXPECTED[name][0], add_special_tokens=False)["input_ids"]
        assert any(ex.input_ids[i:i + len(first)] == first for i in range(len(ex.input_ids)))
    assert ex.labels == want
    assert [tok.decode(r) for r in _supervised_runs(tok, ex)] == answers
    # The segments concatenate to exactly what the template renders for the whole chat.
    full = tok.apply_chat_template(MSGS, chat_template=NAMED[name], tokenize=False)
    assert "".join(s.text for s in render_segments(tok, NAMED[name], MSGS)) == full


def test_model_own_template_is_used_and_marked(tok):
    name, src = resolve_template(tok, "auto")
    assert name == "model" and src == tok.chat_template
    ex = encode_sft({"messages": MSGS}, tok, src)
    marked = render_marked(tok, ex)
    assert "[[hello world<|im_end|>]]" in marked and "[[ok 好的<|im_end|>]]" in marked
    assert "[[" not in marked.split("[[hello world")[0]  # prompt and system are masked


def test_no_template_falls_back_to_chatml(tiny_qwen):
    from pipeline.train.model import load_tokenizer
    tq = load_tokenizer(str(tiny_qwen))
    assert resolve_template(tq, "auto")[0] == "chatml"
    with pytest.raises(ConfigError, match="unknown template"):
        resolve_template(tq, "vicuna")


def test_record_fields_build_messages_with_history_and_input(tok):
    rec = {"system": "sys", "instruction": "translate", "input": "cat", "output": "猫",
           "history": [{"instruction": "hi", "output": "hey"}]}
    ex = encode_sft(rec, tok, NAMED["chatml"])
    text = tok.decode(ex.input_ids)
    assert text.index("sys") < text.index("hi") < text.index("hey") < text.index("translate") < text.index("cat")
    assert [tok.decode(r) for r in _supervised_runs(tok, ex)] == ["hey<|im_end|>", "猫<|im_end|>"]


def test_template_that_rewrites_history_is_refused(tok):
    # Renders earlier assistant turns differently once a later turn exists: masks would be wrong.
    bad = ("{% for m in messages %}{% if m['role'] == 'assistant' and not loop.last %}[old]{% endif %}"
           "{{ m['content'] }}<|im_end|>{% endfor %}")
    with pytest.raises(ConfigError, match="prefix-stable"):
        render_segments(tok, bad, MSGS)
