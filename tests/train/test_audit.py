"""Token-budget audit, truncation policy and the pre-flight lint."""
from __future__ import annotations

import pytest

from pipeline.train.audit import LintError, apply_budget, enforce_lint, lint
from pipeline.train.data import IGNORE, encode_sft
from pipeline.train.templates import CHATML, end_of_turn_ids

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def tok(tiny_llama):
    from pipeline.train.model import load_tokenizer
    return load_tokenizer(str(tiny_llama))


def _ex(tok, prompt, answer, rid):
    return encode_sft({"id": rid, "instruction": prompt, "output": answer}, tok, CHATML)


def test_policies(tok):
    short = _ex(tok, "hi", "ok", "short")
    long_prompt = _ex(tok, "the model data answer " * 20, "ok", "longprompt")
    long_answer = _ex(tok, "hi", "the model data answer " * 20, "longanswer")
    budget = len(short.input_ids) + 10
    assert len(long_prompt.input_ids) > budget and len(long_answer.input_ids) > budget

    kept, rejects, audit = apply_budget([short, long_prompt, long_answer], budget, "drop")
    assert [e.rid for e in kept] == ["short"]
    assert [(r["id"], r["reason"]) for r in rejects] == [("longprompt", "train_too_long"),
                                                         ("longanswer", "train_too_long")]
    assert audit["over_budget"] == 2 and audit["answer_cut_if_right_truncated"] == 2
    assert audit["answer_longer_than_budget"] == 1 and audit["dropped"] == 2

    kept, rejects, audit = apply_budget([short, long_prompt, long_answer], budget, "truncate_prompt")
    assert [e.rid for e in kept] == ["short", "longprompt"]
    assert [(r["id"], r["reason"]) for r in rejects] == [("longanswer", "train_answer_truncated")]
    cut = kept[1]
    assert len(cut.input_ids) == budget and audit["prompt_truncated"] == 1
    # Left truncation keeps the whole answer: its supervised tokens are unchanged.
    assert [t for t in cut.labels if t != IGNORE] == [t for t in long_prompt.labels if t != IGNORE]
    assert cut.input_ids == long_prompt.input_ids[-budget:]

    kept, rejects, audit = apply_budget([short, long_prompt, long_answer], budget, "keep")
    assert len(kept) == 3 and not rejects and audit["kept_long"] == 2
    assert kept[2].input_ids == long_answer.input_ids


def test_cpt_chunks_long_documents():
    from pipeline.train.data import Example
    ex = Example(list(range(25)), list(range(25)), rid="doc")
    kept, rejects, _ = apply_budget([ex], 10, "drop", objective="cpt")
    assert not rejects and [len(e.input_ids) for e in kept] == [10, 10, 5]
    assert [t for e in kept for t in e.input_ids] == list(range(25))


def test_lint_reasons_and_actions(tok):
    good = _ex(tok, "hi", "ok", "good")
    # A template with no end-of-turn marker: the model would never learn to stop.
    no_eot = encode_sft({"id": "noeot", "instruction": "hi", "output": "ok"}, tok,
                        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                        "{% if add_generation_prompt %}assistant: {% endif %}")
    nothing = _ex(tok, "hi", "ok", "nothing")
    nothing.labels = [IGNORE] * len(nothing.labels)
    problems = lint([good, no_eot, nothing], end_of_turn_ids(tok))
    assert [(p["id"], p["reason"]) for p in problems] == [("noeot", "train_eos_not_supervised"),
                                                          ("nothing", "train_no_supervised_tokens")]
    with pytest.raises(LintError, match="train_eos_not_supervised"):
        enforce_lint([good, no_eot, nothing], problems, "fail")
    kept, rejects = enforce_lint([good, no_eot, nothing], problems, "reject")
    assert [e.rid for e in kept] == ["good"] and len(rejects) == 2
