"""The start-of-match guard of cue patterns changes speed only, never matches."""
import re

import pytest

from pipeline.config import stage_rules
from pipeline.refusal import cues as C

TEXTS = [
    "I'm sorry, but I can't help with that.", "İ'M SORRY, I CANNOT DO THAT", "Kelvin \u212a test",
    "Actually, the Great Wall is not visible from space.", "Dear Sir, thank you.", "dear",
    "  Dear Sir", "请提供文章内容。", "这是一个常见的误解。", "其实并不是这样", "How do I kill -9 a process?",
    "Could you please clarify which city you mean?", "", "x", "'quoted' text \"I can't\"",
    "Summarize the following article.", "以下文章的摘要", "mixed 中文 and English: I cannot 提供",
]


def _plain(block):
    pats = [p for lang in sorted(block) for p in block[lang] or []]
    return re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)


@pytest.mark.parametrize("section", ["cues", "intent"])
def test_guarded_groups_match_exactly_like_plain_alternations(section):
    rules = stage_rules("refusal")
    for name, block in rules[section].items():
        guarded, plain = C.compile_group(block).regex, _plain(block)
        assert guarded.pattern.startswith("(?="), name  # the default cue lists are all guardable
        for t in TEXTS + [t[i:] for t in TEXTS for i in (1, 3)]:
            assert [(m.span(), m.groups()) for m in guarded.finditer(t)] == \
                   [(m.span(), m.groups()) for m in plain.finditer(t)], (name, t)


def test_guarded_quote_blanking_is_the_plain_one():
    from pipeline.refusal import detect as D

    plain = re.compile(D._QUOTES)
    assert D._QUOTED.pattern != D._QUOTES  # the guard applies
    texts = TEXTS + ["He said 'I can't help you' and left.", "\u201cquoted\u201d and \u300cCJK\u300d \u300ealso\u300f",
                     "it's Bob's 'x' \"y\" 'unclosed", "'a''b' \"\"", "x'y' 'z'w", "\"" + "a" * 500 + "\""]
    for t in texts:
        assert D.strip_quotes(t) == plain.sub(lambda m: " " * len(m.group(0)), t), t


def test_guard_leaves_unanalysable_patterns_alone():
    assert C.guard("x?", re.IGNORECASE) == "x?"            # can match empty
    assert C.guard("(?m:^a)|b", re.IGNORECASE) == "(?m:^a)|b"  # scoped flags
    assert C.guard(".a", re.IGNORECASE) == ".a"            # any character
    assert C.guard("[^a]b", re.IGNORECASE) == "[^a]b"      # negated class


def test_guard_uses_anchors():
    g = C.guard(r"\bfoo|^bar|baz", re.IGNORECASE)
    assert g.startswith("(?=") and r"\b[" in g and r"\A[" in g
    pat = re.compile(g, re.IGNORECASE)
    assert pat.search("xfoo") is None and pat.search("a foo").group(0) == "foo"
    assert pat.search("x bar") is None and pat.search("BAR x").group(0) == "BAR"
    assert pat.search("xbaz").group(0) == "baz"


def test_process_after_fit_reuses_fit_results_and_matches_a_fresh_run():
    import pickle

    from pipeline import registry
    from pipeline.record import from_rows, new_record

    recs = [new_record(instruction="How do I kill a Python process?", output="I'm sorry, but I can't help with that."),
            new_record(instruction="Summarize the article.", output="Could you paste the article?"),
            new_record(instruction="写一首诗", output="春风又绿江南岸。"),
            new_record(instruction="Is the Great Wall visible from space?", output="That's a common misconception."),
            new_record(instruction="", output="")]
    fitted = registry.create("refusal", stage_rules("refusal"), 42)
    fitted.fit([from_rows(recs)])
    assert len(fitted.plain) + len(fitted.found) == len(recs)
    worker = pickle.loads(pickle.dumps(fitted))
    fresh = registry.create("refusal", stage_rules("refusal"), 42)
    b1, v1 = worker.process(from_rows(recs))
    b2, v2 = fresh.process(from_rows(recs))
    assert v1 == v2 and b1 == b2
    assert b1["response_type"][0] == "refusal" and "refusal_over_refusal" in v1[0].flags


def test_fold_maps_every_apostrophe_variant_and_nothing_else():
    table = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\uff07", "'"))
    for t in ["", "plain ascii 'x'", "I\u2019m \u2018so\u2019 sorry", "a\u02bcb\uff07c", "\u201cdouble\u201d stays", "中文\u2019"]:
        assert C.fold(t) == t.translate(table) and len(C.fold(t)) == len(t), t
