"""The id-keyed tag cache: fit() tags once, process() reuses, unseen or conflicting ids are re-tagged."""
import copy
import pickle

import numpy as np

from pipeline.config import stage_rules
from pipeline.diversity.cache import TagCache, digest
from pipeline.diversity.tagger import Tagger, Tags
from pipeline.record import from_rows, new_record
from pipeline.registry import get

Diversity = get("diversity")


def tags(task="open_qa", cx=0.4123, conf=0.667, verb="write"):
    return Tags(task, "rule_a", conf, "", "science", cx, "medium", verb, "poem", "en")


def test_roundtrip_is_exact_and_pickles_compactly():
    c = TagCache()
    ids = [new_record(instruction=f"q{i}").get("id") for i in range(50)] + ["not-a-hex-id"]
    for i, rid in enumerate(ids):
        c.add(rid, tags(cx=round(i / 51, 4), conf=round(i / 77, 3), verb=f"v{i % 3}"))
    c.freeze()
    back = pickle.loads(pickle.dumps(c))
    got = back.get(ids + ["unknown"])
    assert got[-1] is None
    for i, t in enumerate(got[:-1]):
        assert t == tags(cx=round(i / 51, 4), conf=round(i / 77, 3), verb=f"v{i % 3}")
    assert back.codes.dtype == np.int32 and back.values.dtype == np.float32
    assert len(back.strings) < 12  # repeated tag strings stored once


def test_conflicting_duplicate_id_is_left_out_and_agreeing_one_kept():
    c = TagCache()
    c.add("a", tags(task="open_qa"))
    c.add("a", tags(task="closed_qa"))
    c.add("b", tags())
    c.add("b", tags())
    c.freeze()
    assert c.get(["a", "b"]) == [None, tags()]
    assert len(digest("a")) == len(digest("0" * 24)) == 12


def _records():
    return [
        new_record(instruction="Summarize the following paragraph.", input="The council met and agreed on the "
                   "budget after a long debate about taxes and roads.", output="The council agreed a budget.",
                   lang="en"),
        new_record(instruction="用Python写一个函数计算斐波那契数列", output="```python\ndef fib(n):\n    return n\n```",
                   lang="zh"),
        new_record(instruction="Write a short poem about the sea.", output="Waves roll in, waves roll out."),
    ]


def test_process_uses_fit_tags_and_retags_only_unseen_ids(monkeypatch):
    rules = stage_rules("diversity")
    fitted = Diversity(rules, 1)
    fitted.fit([from_rows(copy.deepcopy(_records()))])
    assert len(fitted.cache) == 3
    cold = Diversity(rules, 1)
    expected = cold.process(from_rows(copy.deepcopy(_records())))

    worker = pickle.loads(pickle.dumps(fitted))  # as the engine ships it
    worker.setup()
    assert getattr(worker, "_tagger", None) is None  # the cache has every fitted row: nothing to build
    calls = []
    real = Tagger.tag
    monkeypatch.setattr(Tagger, "tag", lambda self, rec: calls.append(rec["id"]) or real(self, rec))
    extra = new_record(instruction="Translate into French: I love cats.", output="J'aime les chats.")
    batch, verdicts = worker.process(from_rows(copy.deepcopy(_records()) + [extra]))
    assert calls == [extra["id"]]  # only the row fit() never saw
    n = len(_records())
    for f in ("task", "domain", "complexity", "meta"):
        assert batch[f][:n] == expected[0][f]
    assert [v.scores for v in verdicts[:n]] == [v.scores for v in expected[1]]
    assert batch["task"][n] == "translation"
