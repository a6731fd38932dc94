"""Packing: no attention or prediction across record boundaries."""
from __future__ import annotations

import pytest

from pipeline.train.data import IGNORE, Example, encode_sft
from pipeline.train.packing import batch_plan, collate, pack, padding_efficiency
from pipeline.train.templates import CHATML

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")


def test_packed_logits_equal_unpacked(tiny_llama):
    from transformers import AutoModelForCausalLM

    from pipeline.train.model import load_tokenizer
    tok = load_tokenizer(str(tiny_llama))
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    exs = [encode_sft({"instruction": "hi " * i + "你好", "output": "ok " * (4 - i)}, tok, CHATML) for i in range(4)]
    rows = pack(exs, 200)
    assert len(rows) == 1 and len(rows[0].spans) == 4
    batch = collate(rows, tok.pad_token_id, packed=True)
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        for idx, s, e in rows[0].spans:
            alone = model(input_ids=torch.tensor([exs[idx].input_ids]), use_cache=False).logits
            assert torch.allclose(packed[0, s:e], alone[0], atol=1e-5)
        # Sanity: without position resets the later records do see their neighbours.
        leaky = model(input_ids=batch["input_ids"], use_cache=False).logits
    idx, s, e = rows[0].spans[1]
    assert not torch.allclose(leaky[0, s:e], packed[0, s:e], atol=1e-3)


def test_targets_never_cross_records():
    a = Example([1, 2, 3], [IGNORE, 2, 3])
    b = Example([4, 5], [4, 5])
    rows = pack([a, b], 10)
    assert list(rows[0].input_ids) == [1, 2, 3, 4, 5]
    assert list(rows[0].targets) == [2, 3, IGNORE, 5, IGNORE]
    assert rows[0].position_ids == [0, 1, 2, 0, 1]
    batch = collate(rows + [pack([Example([9], [9])], 10)[0]], pad_id=0, packed=True)
    assert batch["position_ids"][1].tolist() == [0, 0, 1, 2, 3]  # padding is its own segment
    assert batch["targets"][1].tolist() == [IGNORE] * 5


def test_best_fit_and_efficiency():
    exs = [Example([1] * n, [1] * n) for n in (6, 5, 4, 3, 2)]
    rows = pack(exs, 8)
    assert sorted(len(r.input_ids) for r in rows) == [4, 8, 8]  # best fit: 6+2, 5+3, 4
    assert sum(len(r.spans) for r in rows) == 5
    unpacked = pack(exs, 8, enabled=False)
    plan = [[0, 1, 2, 3, 4]]
    assert padding_efficiency(unpacked, plan) == pytest.approx(20 / 30)
    assert padding_efficiency(rows, [[0, 1, 2]]) == pytest.approx(20 / 24)


def test_batch_plan_is_a_function_of_seed_and_epoch():
    rows = pack([Example([1] * n, [1] * n) for n in range(1, 30)], 4, enabled=False)
    p0 = batch_plan(rows, 3, seed=1, epoch=0)
    assert p0 == batch_plan(rows, 3, seed=1, epoch=0)
    assert p0 != batch_plan(rows, 3, seed=1, epoch=1)
    assert sorted(i for b in p0 for i in b) == list(range(len(rows)))
