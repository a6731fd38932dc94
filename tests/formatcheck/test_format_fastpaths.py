"""The format stage's shortcuts give exactly what the plain computations give.

Literal prefilters before regex searches (code requests, sentence and Chinese count
phrases), the case-sensitive number pattern of templates, and deferred styling of
outputs whose task family is too small to matter.
"""
from __future__ import annotations

import copy
import json
import random

import pytest

from pipeline import registry
from pipeline.config import stage_rules
from pipeline.formatcheck import consistency, countphrases, requirements
from pipeline.formatcheck.consistency import DeferredStyles, FamilyStats, Styler, family_key, template
from pipeline.formatcheck.countphrases import CountPhrases
from pipeline.formatcheck.verify import Verifier
from pipeline.record import from_rows, new_record

TRICKY = [
    "Write a Python function that adds two numbers.", "WRITE A SCRIPT to rename files", "Wrıte a ſcript in bash",
    "Implement the algorithm described below.", "Explain how a class works.", "Fix the SQL query: SELECT * FROM t",
    "用Python编写一个函数，计算阶乘。", "写一个程序打印你好", "这段代码有什么问题？", "函数来计算平均值", "",
    "Describe the capital of France in one sentence.", "Summarize it in ONE SENTENCE.", "In two ſentences, explain.",
    "用一句话概括下文。", "用三句话描述春天。", "List three primary colors.", "List fıve fruits.", "Name ſix animals.",
    "Give me Twenty reasons.", "给出三个学习方法。", "列举5个中国的城市。", "请给我两点建议。", "前十名是谁？",
    "Rewrite the sentence: 'The cat sat.'", "Classify these 3 items: Apple, Tesla, Nike", "Translate “Hello” into Chinese.",
    "Five Guys or In-N-Out?", "what is 3.5 + 2,000?", "三国演义讲了什么", "Convert 5 km to miles in 1 sentence.",
]


def _shared_texts(shared_data, limit=3000):
    texts = []
    for name in ("belle/dev1K.json", "dolly/dolly_3k.json", "code_alpaca/code_alpaca_2k.json",
                 "zh_supplementary/academic.json"):
        path = shared_data / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            try:
                items = json.loads(text)
            except json.JSONDecodeError:  # JSON Lines
                items = [json.loads(line) for line in text.splitlines() if line.strip()]
            for d in items[:limit]:
                texts += [d.get(k) or "" for k in ("instruction", "input", "output")]
    return texts


def _code_reference(text):
    return bool(requirements._CODE_REQUEST.search(text))


def _template_reference(text, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(consistency, "plain_lower", lambda _: False)  # always the IGNORECASE pattern
        return template(text)


@pytest.mark.parametrize("text", TRICKY)
def test_code_request_prefilter(text):
    assert requirements._asks_code(text) == _code_reference(text)


@pytest.mark.parametrize("text", TRICKY)
def test_template_numbers_fast_pattern(text, monkeypatch):
    assert template(text) == _template_reference(text, monkeypatch)


def test_template_of_dotless_i_and_long_s_uses_ignorecase(monkeypatch):
    # "fıve" is a number word to IGNORECASE; the case-sensitive pattern must not be used on it.
    assert template("list fıve fruits please") == _template_reference("list fıve fruits please", monkeypatch)
    assert "<n>" in template("list fıve fruits please")


@pytest.fixture(scope="module")
def counts():
    return CountPhrases(stage_rules("format")["requirements"])


def _find_reference(cp, text, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(countphrases, "fold", lambda _: "sentence")  # every English sentence pattern is tried
        m.setattr(cp, "_zh_needs_cjk", False)  # the Chinese patterns run on ASCII text too
        return cp.find(text)


@pytest.mark.parametrize("text", TRICKY)
def test_count_phrase_prefilters(text, counts, monkeypatch):
    assert counts.find(text) == _find_reference(counts, text, monkeypatch)


def test_ascii_chinese_list_verbs_keep_the_chinese_patterns_on():
    lex = dict(stage_rules("format")["requirements"], zh_list_verbs=["liechu"], zh_classifiers=["ge"])
    cp = CountPhrases(lex)
    assert not cp._zh_needs_cjk
    assert cp.find("liechu 3ge") == [{"kind": "item_count", "n": 3, "op": "eq", "span": "liechu 3ge"}]


def test_prefilters_on_real_texts(shared_data, counts, monkeypatch):
    texts = _shared_texts(shared_data)
    assert texts
    for t in texts:
        assert requirements._asks_code(t) == _code_reference(t), t
        assert template(t) == _template_reference(t, monkeypatch), t
        assert counts.find(t) == _find_reference(counts, t, monkeypatch), t


# -- deferred styling -------------------------------------------------------------
@pytest.fixture(scope="module")
def styler():
    rules = stage_rules("format")
    return Styler(rules["consistency"], Verifier(rules).register_of)


OUTPUTS = ["Positive.", "Negative", "Answer: yes", "1. a\n2. b", "- a\n- b", '{"a": 1}', '{"b": 2}', '{"a": 1, "c": 3}',
           "Hey guys, that's awesome, can't wait!", "Furthermore, we hereby confirm. Sincerely, Bob.", "好的。", "答案：是"]


def _records(rng, n, families):
    return [(rng.randrange(families), rng.choice(OUTPUTS), rng.random() < 0.3) for _ in range(n)]


def _state(stats):
    big = [k for k in stats.counts if stats.matters(k)]
    return ({k: stats.counts[k] for k in big}, {k: list(stats.json_keys.get(k, {}).items()) for k in big},
            dict(stats.templates), stats.summary())


@pytest.mark.parametrize("seed,max_families,max_chars", [(0, 500_000, 10**9), (1, 500_000, 0), (2, 500_000, 40),
                                                          (3, 7, 10**9), (4, 5, 30)])
def test_deferred_styles_count_what_eager_counting_counts(styler, seed, max_families, max_chars):
    rng = random.Random(seed)
    rules = {"min_family": 3, "max_families": max_families}
    eager, lazy = FamilyStats(rules), FamilyStats(rules)
    deferred = DeferredStyles(lazy, styler.styles, max_chars=max_chars)
    for fam, out, known in _records(rng, 400, 25):
        tmpl = f"task {fam}"
        eager.add(family_key(tmpl), tmpl, styler.styles(out))
        deferred.add(family_key(tmpl), tmpl, styler.styles(out) if known else None, out)
    assert _state(lazy) == _state(eager)
    if max_families < 25:
        assert lazy.prunes > 0


def test_deferred_styles_skip_single_record_families(styler):
    calls = []
    stats = FamilyStats({"min_family": 3})
    deferred = DeferredStyles(stats, lambda o: calls.append(o) or styler.styles(o))
    for i, out in enumerate(["a.", "b.", "c", "d."]):
        deferred.add(family_key(f"single {i}"), f"single {i}", None, out)
    assert calls == []
    for out in ["x.", "y.", "z"]:
        deferred.add(family_key("shared"), "shared", None, out)
    assert calls == ["x.", "y.", "z"]


def _family_records():
    recs = []
    for i in range(7):  # families spread over batches: some repeat inside a batch, some never
        recs.append(new_record(instruction=f'Classify the sentiment of "{i}".', output="Positive." if i != 5 else "Negative"))
        recs.append(new_record(instruction=f"Extract the entity from sentence {i}.",
                               output='{"name": "x"}' if i != 2 else '{"entity": "x"}'))
        recs.append(new_record(instruction=f"Give steps for task {i}.", output="1. a\n2. b" if i != 6 else "- a\n- b"))
        recs.append(new_record(instruction=f"Some unique request number {i} about topic {chr(65 + i)}.", output="Fine."))
    return recs


def _run_format(recs, batch_rows, eager, monkeypatch):
    with monkeypatch.context() as m:
        if eager:  # the reference: every row styled, counted at once
            m.setattr(DeferredStyles, "add", lambda self, key, tmpl, styles, output: self.stats.add(
                key, tmpl, self.styles_of(output) if styles is None else styles))
        proc = registry.create("format", stage_rules("format"), seed=0)
        batches = [from_rows(copy.deepcopy(recs[i:i + batch_rows])) for i in range(0, len(recs), batch_rows)]
        for b in batches:
            b["_fit"] = proc.fit_features(b)
        proc.fit(iter(batches))
        verdicts = [v for b in batches for v in proc.process(b)[1]]
        return verdicts, proc.summary()


@pytest.mark.parametrize("batch_rows", [1, 3, 8, 100])
def test_format_verdicts_and_summary_match_eager_styling(batch_rows, monkeypatch):
    recs = _family_records()
    got, summ = _run_format(recs, batch_rows, False, monkeypatch)
    want, want_summ = _run_format(recs, batch_rows, True, monkeypatch)
    assert got == want and summ == want_summ
    flagged = [recs[i]["output"] for i, v in enumerate(got) if "format_inconsistent_style" in v.flags]
    assert flagged == ['{"entity": "x"}', "Negative", "- a\n- b"]
