"""`decontam` on hand-written eval sets in every supported format, plus split hygiene."""
from __future__ import annotations

import csv
import gzip
import json
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import stage_rules
from pipeline.decontam.evalsets import load_eval_sets
from pipeline.decontam.hygiene import cross_split_groups, sides_after_move
from pipeline.errors import ConfigError
from pipeline.processors.decontam import Decontam
from pipeline.record import from_rows, new_record

EN_Q = "Sara bakes twelve lemon cookies and gives five of them to her neighbour Tom."  # 14 words
SHORT_Q = "Name three rivers that flow through the city of Paris"                     # 10 words
ZH_Q = "秦始皇统一六国后在全国推行的文字是哪一种字体"                                         # 22 chars
MT_Q = ["Compose an engaging travel blog post about a recent trip to the island of Hokkaido.",
        "Rewrite your previous response."]


@pytest.fixture
def eval_dir(tmp_path):
    d = tmp_path / "evals"
    d.mkdir()
    (d / "math.jsonl").write_text(json.dumps({"question": "Unrelated filler question about nothing in particular at all"}) + "\n"
                                  + json.dumps({"question": EN_Q, "answer": "7"}) + "\n", encoding="utf-8")
    with gzip.open(d / "short.json.gz", "wt", encoding="utf-8") as f:
        json.dump([{"prompt": SHORT_Q}], f)
    with (d / "history.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["", "Question", "A", "B", "C", "D", "Answer"])
        w.writerow([0, ZH_Q, "小篆", "隶书", "楷书", "草书", "A"])
        w.writerow([1, "下列说法正确的是", "地球是平的", "太阳绕地球转", "水往低处流", "月亮会发光", "C"])
    pq.write_table(pa.table({"turns": [MT_Q], "category": ["writing"]}), d / "mt.parquet")
    return d


def make_stage(paths) -> Decontam:
    rules = stage_rules("decontam")
    rules["eval_sets"] = [str(p) for p in paths]
    return Decontam(rules, seed=0)


def check(stage: Decontam, recs: list[dict]):
    batch = from_rows(recs)
    stage.fit([from_rows(recs)])
    _, verdicts = stage.process(batch)
    return verdicts


def test_loader_reads_every_format(eval_dir):
    rules = stage_rules("decontam")
    items = load_eval_sets([eval_dir], rules["question_keys"], rules["option_keys"])
    names = {i.name for i in items}
    assert names == {"evals/math.jsonl", "evals/short.json.gz", "evals/history.csv", "evals/mt.parquet"}
    cm = [i for i in items if i.name.endswith("history.csv")]
    assert cm[0].views == (ZH_Q, f"{ZH_Q} 小篆 隶书 楷书 草书")
    mt = next(i for i in items if i.name.endswith("mt.parquet"))
    assert mt.views == tuple(MT_Q)


PERTURBED = [
    ("exact", f"Please solve this.\n{EN_Q}", "evals/math.jsonl#1"),
    ("prefix+case", f"Question: {EN_Q.upper()}", "evals/math.jsonl#1"),
    ("whitespace+punct", "  sara   bakes twelve lemon cookies; and gives five of them\n to her neighbour tom!!", "evals/math.jsonl#1"),
    ("fullwidth", "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in EN_Q), "evals/math.jsonl#1"),
    ("10 words embedded", f"I am planning a trip. {SHORT_Q}? Also suggest a good bakery nearby.", "evals/short.json.gz#0"),
    ("20-char zh", f"问题：{ZH_Q}？请简要说明理由。", "evals/history.csv#0"),
    ("zh with lettered options", "下列说法正确的是\nA．地球是平的\nB．太阳绕地球转\nC．水往低处流\nD．月亮会发光", "evals/history.csv#1"),
    ("mt-bench turn", f"{MT_Q[0]} Make it funny.", "evals/mt.parquet#0"),
]


@pytest.mark.parametrize("kind,text,where", PERTURBED, ids=[p[0] for p in PERTURBED])
def test_contaminated_prompts_are_dropped_with_item_and_coverage(eval_dir, kind, text, where):
    rec = new_record(instruction="Answer the following.", input=text, output="ok")
    (v,) = check(make_stage([eval_dir]), [rec])
    assert not v.keep and v.reason == "decontam_eval_overlap", (kind, v)
    assert v.detail.startswith(f"{where} coverage "), v.detail
    assert v.scores["decontam_coverage"] >= 0.8


def test_history_user_turns_are_checked_but_not_assistant_turns(eval_dir):
    user = new_record(history=[{"instruction": EN_Q, "output": "Seven."}], instruction="Thanks! And now?", output="ok")
    assistant = new_record(history=[{"instruction": "Tell me a story.", "output": EN_Q}], instruction="Thanks!", output="ok")
    v_user, v_asst = check(make_stage([eval_dir]), [user, assistant])
    assert v_user.reason == "decontam_eval_overlap"
    assert v_asst.keep


CLEAN = [
    "Write a short poem about autumn leaves and the smell of rain.",
    "Sara bakes bread.",                                   # shares words, not the item
    "Give three tips for staying healthy during the winter.",
    "秦始皇是中国历史上第一个皇帝吗？",                      # shares a few characters only
    "Rewrite your previous response.",                     # MT-Bench turn 2: too short to be indexed
    "下列说法正确的是哪一个？",                               # generic stem without the options
]


@pytest.mark.parametrize("text", CLEAN)
def test_unrelated_or_generic_prompts_are_kept(eval_dir, text):
    (v,) = check(make_stage([eval_dir]), [new_record(instruction=text, output="ok")])
    assert v.keep and not v.flags, v.detail


def test_summary_lists_hits_per_eval_set(eval_dir):
    stage = make_stage([eval_dir])
    recs = [new_record(instruction=EN_Q, output="a"), new_record(instruction=f"{EN_Q} again", output="b"),
            new_record(instruction=ZH_Q, output="c"), new_record(instruction="hello there", output="d")]
    check(stage, recs)
    s = stage.summary()
    assert s["enabled"] is True and s["records_checked"] == 4 and s["hits"] == 3
    assert s["eval_sets"]["evals/math.jsonl"] == {"items": 2, "indexed": 2, "hits": 2}
    assert s["eval_sets"]["evals/history.csv"]["hits"] == 1
    assert s["eval_sets"]["evals/mt.parquet"]["hits"] == 0


def test_no_eval_sets_means_disabled():
    stage = Decontam(stage_rules("decontam"), 0)
    recs = [new_record(instruction=EN_Q, output="x")]
    stage.fit([from_rows(recs)])
    _, vs = stage.process(from_rows(recs))
    assert vs[0].keep and not vs[0].flags and not vs[0].scores
    assert stage.summary() == {"enabled": False}


def test_pickled_copy_and_unseen_rows_and_no_fit(eval_dir):
    stage = make_stage([eval_dir])
    stage.fit([from_rows([new_record(instruction="hello", output="x")])])
    copy = pickle.loads(pickle.dumps(stage))
    # a row fit() never saw is checked against the index directly
    _, (v,) = copy.process(from_rows([new_record(instruction=EN_Q, output="x")]))
    assert v.reason == "decontam_eval_overlap"
    lazy = make_stage([eval_dir])  # process() without fit() builds the index itself
    _, (v,) = lazy.process(from_rows([new_record(instruction=ZH_Q, output="x")]))
    assert v.reason == "decontam_eval_overlap"
    _, vs = lazy.process(from_rows([]))
    assert vs == []


def test_flag_action_keeps_the_record(eval_dir):
    stage = make_stage([eval_dir])
    stage.rules["checks"] = {"eval_overlap": {"action": "flag"}}
    (v,) = check(stage, [new_record(instruction=EN_Q, output="x")])
    assert v.keep and v.flags == ("decontam_eval_overlap",)


def test_bad_eval_paths_are_config_errors(tmp_path):
    rules = dict(stage_rules("decontam"), eval_sets=[str(tmp_path / "missing.jsonl")])
    assert any("missing.jsonl" in p for p in Decontam.validate_rules(rules))
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"question": "fine"}\n{not json\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.jsonl"):
        make_stage([bad]).build_index()
    assert any("min_coverage" in p for p in Decontam.validate_rules(dict(stage_rules("decontam"), min_coverage=2)))


# -- split hygiene ------------------------------------------------------------------
def test_cross_split_groups_finds_near_duplicates_across_sides_only():
    rows = [
        ("t1", "Write a short poem about the sea and the moon tonight.", "train"),
        ("v1", "write a short poem about the sea and the moon tonight!!", "validation"),
        ("t2", "Write a short poem about the sea and the moon tonight, please", "train"),
        ("t3", "Translate this sentence into French for me please.", "train"),
        ("t4", "Translate this sentence into French for me please!", "train"),   # same side only
        ("t5", "请写一首关于春天的诗，要求是七言绝句。", "train"),
        ("v2", "请写一首关于春天的诗，要求是七言绝句", "validation"),
        ("v3", "Explain quantum entanglement to a child.", "validation"),
    ]
    groups = cross_split_groups(rows, 0.8)
    assert [sorted(g) for g in groups] == [["t1", "t2", "v1"], ["t5", "v2"]]
    side = {r[0]: r[2] for r in rows}
    assert sides_after_move(groups, side) == {"v1": "train", "v2": "train"}


def test_cross_split_groups_threshold_and_trivial_inputs():
    rows = [("a", "Give me three tips for better sleep at night", "train"),
            ("b", "Give me three tips for better sleep during the day", "validation")]
    assert cross_split_groups(rows, 0.95) == []
    assert cross_split_groups(rows, 0.3) == [["a", "b"]]
    assert cross_split_groups([], 0.8) == []
    assert cross_split_groups([("a", "x y z", "train")], 0.8) == []
