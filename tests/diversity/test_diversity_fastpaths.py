"""Fast paths of the taggers agree with the plain computations they replace, EN and ZH.

* ASCII tokenisers (``bytes.translate`` + ``split``) versus the token regexes;
* the classifier's word-gate index versus searching every applicable rule;
* word gates: every match of a pattern holds one of its gate words as a whole word;
* grounding: sentence-by-sentence tokens of the lowercased input versus tokenising each sentence;
* domain hits without phrase heads versus the phrase-aware scan;
* taggers kept per rules content, and the fields the tagger reads.
"""
import copy
import json
import random
import re
from pathlib import Path

import pytest

from pipeline.config import RULES_DIR, read_yaml, stage_rules
from pipeline.diversity.domain import _WORD_RUNS as _DOMAIN_RUNS
from pipeline.diversity.domain import _WORDS, DomainTagger
from pipeline.diversity.grounding import _SENTENCE, _STOP, _lowered_tokens, measure, tokens
from pipeline.diversity.tagger import READS, Tagger, load_taxonomy, tagger_for
from pipeline.diversity.task import TaskClassifier
from pipeline.diversity.text import (
    _WORD,
    TEXT_WORDS,
    _bare,
    ascii_runs,
    literal_clauses,
    lowercase_safe,
    top_alternatives,
    units,
    word_gate,
    word_set,
)
from pipeline.record import from_rows, new_record
from pipeline.registry import get

TAX = read_yaml(RULES_DIR / "taxonomy.yaml")
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

TRICKY = [
    "", " ", "don't stop", "rock'n'roll", "'quoted'", "abc'123", "o'neil's dog", "it's 5's turn", "x'", "'",
    "snake_case and __dunder__", "C++ and C# (and F#)", "#tag +1 a+b", "e-mail: a.b@c.de", "3.14*2=6.28",
    "tabs\tand\nnew\r\nlines\x0b\x0c\x1c\x1d", "UPPER Mixed lower", "naïve café", "don’t", "İstanbul",
    "ΣΑΣ σας", "用Python写一个函数", "你好，world！", "１２３ full-width", "a\u00a0b", "end.", "x" * 50,
]


def _random_texts(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    pieces = ["the", "a", "What", "'", "'s", "n't", "_", "+", "#", "3", "42", " ", "  ", "\n", "\t", ",", ".", "?",
              "!", "-", "(", ")", "’", "é", "İ", "Σ", "你", "的", "。", "？", "x_y", "C++", "don", "t", "\x1f"]
    return ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 15))) for _ in range(n)]


TEXTS = TRICKY + _random_texts(3000, seed=3)


@pytest.mark.parametrize("text", TEXTS[:40])
def test_word_set_and_units_match_the_regexes(text):
    for t in (text, text.lower()):
        assert word_set(t) == set(TEXT_WORDS.findall(t))
        cjk = len(re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]", t))
        assert units(t) == cjk + len(_WORD.findall(t))


def test_ascii_tokenisers_on_random_text():
    checked = 0
    for t in TEXTS:
        low = t.lower()
        assert word_set(t) == set(TEXT_WORDS.findall(t))
        assert units(t) == len(re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]", t)) + len(_WORD.findall(t))
        assert _lowered_tokens(low) == re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]|[a-z0-9]+", low)
        checked += t.isascii() and "'" not in t  # the fast paths ran
    assert checked > 500


def test_domain_words_on_ascii_text_are_the_regex_words():
    checked = 0
    for t in TEXTS:
        low = t.lower()
        if low.isascii() and "'" not in low:
            assert ascii_runs(low, _DOMAIN_RUNS) == _WORDS.findall(low), t
            checked += 1
    assert checked > 500


def test_domain_words_fast_path_and_phrases():
    dom = DomainTagger(TAX["domains"], min_hits=1)
    heads = sorted(dom._heads)
    assert heads, "the lexicon has two-word phrases"
    rnd = random.Random(5)
    words = list(dom._en)[:60] + heads + ["learning", "rate", "court", "x", "'s", "don't", "c++"]
    for i, t in enumerate(TEXTS[:1500]):
        text = t + " " + " ".join(rnd.choice(words) for _ in range(rnd.randint(0, 8))) if i % 2 else t
        counts: dict = {}
        dom._count_with_phrases(_WORDS.findall(text.lower()), counts)  # the plain, phrase-aware scan
        for m in (dom._zh_rx.findall(text) if dom._zh_rx is not None else []):
            counts[dom._zh[m]] = counts.get(dom._zh[m], 0) + 1
        got = dom.hits(text)
        assert got == counts and list(got) == list(counts), text


@pytest.mark.parametrize("text", ["a.\n b", "One. Two!  Three?\nFour", "İS ΣΑΣ. Dog", "第一句。第二句！第三句；",
                                  "x.。y", "a!!  b", "END. ΟΔΟΣ\tΣ", "3.5 is pi-ish. Yes"])
def test_sentence_tokens_of_the_lowercased_input(text):
    pieces = _SENTENCE.split(text)
    assert [_lowered_tokens(s) for s in _SENTENCE.split(text.lower())] == [tokens(s) for s in pieces]
    assert [t for s in pieces for t in tokens(s)] == tokens(text)


@pytest.mark.parametrize("inp", ["One fish. Two fish!  Red fish?\nBlue fish swim in the sea all day long.",
                                 "İstanbul is big. ΣΑΣ is Greek. The bridge opened in 1932 after many delays.",
                                 "会议讨论了预算问题。最终决定增加公园经费！并削减行政开支；居民表示支持。", "a.b.c. d e f. g h i j"])
def test_grounding_sentences_are_the_input_sentences(inp):
    out = "The bridge opened in 1932. Red fish and blue fish swim. 会议决定增加公园经费。"
    g = measure(inp, out, sentence_overlap=0.3)
    # As before: each sentence of the (unlowered) input tokenised on its own.
    out_set = set(tokens(out))
    sents = [c for c in ([t for t in tokens(s) if t not in _STOP] for s in _SENTENCE.split(inp)) if len(c) >= 3]
    drawn = sum(sum(t in out_set for t in c) >= 0.3 * len(c) for c in sents)
    assert (g.in_units, g.sentences) == (len(tokens(inp)), len(sents))
    assert g.spread == (round(drawn / len(sents), 4) if sents else 0.0)


def _naive_rule_scores(clf: TaskClassifier, spec_rules: list, instruction: str, input_: str, output: str):
    """(score, best) of the rule cues alone: every applicable rule searched as the plain
    alternation of its patterns, in taxonomy order, with no prefilter."""
    has_input = bool(input_.strip())
    cut = clf.scan_chars
    texts = {"instruction": instruction[:cut].lower(), "input": input_[:cut].lower(),
             "output": output[:clf.output_scan_chars].lower()}
    texts["prompt"] = "\n".join(t for t in (texts["instruction"], texts["input"]) if t)
    score, best = {}, {}
    for r, rx in zip(clf.rules, spec_rules):
        if (r.input == "present" and not has_input) or (r.input == "absent" and has_input):
            continue
        if texts[r.field] and rx.search(texts[r.field]):
            score[r.task] = score.get(r.task, 0.0) + r.weight
            if r.weight > best.get(r.task, (0.0, "", ""))[0]:
                best[r.task] = (r.weight, r.id, r.subtype)
    return score, best


def _rule_scores(clf: TaskClassifier, instruction: str, input_: str, output: str):
    """(score, best) after ``classify``'s rule loop: read from the ``add`` it hands to
    ``_structural``, which runs right after that loop."""
    seen = {}

    def structural(add, *args):
        cells = dict(zip(add.__code__.co_freevars, add.__closure__))
        seen["score"], seen["best"] = dict(cells["score"].cell_contents), dict(cells["best"].cell_contents)

    real, clf._structural = clf._structural, structural
    try:
        clf.classify(instruction, input_, output)
    finally:
        clf._structural = real
    return seen["score"], seen["best"]


def test_index_fires_exactly_the_rules_a_plain_search_fires():
    clf = TaskClassifier(TAX)
    specs, plain = [], []
    for spec in TAX["rules"]:
        pats = [p for p in (spec.get("en") or []) + (spec.get("zh") or []) if p]
        if pats:
            src = "|".join(f"(?:{p})" for p in pats)
            plain.append(re.compile(src, 0 if lowercase_safe(src) else re.IGNORECASE))
            specs.append(pats)
    assert len(plain) == len(clf.rules)
    pieces = ["the", "?", "\n", " ", "  ", "3 + 4", "x = 2", "def f(x):", "```", "Dear Sam,\n", "I'm sorry, I can't",
              "Once upon a time", "What", "TRANSLATE", "，", "？"]
    for pats in specs:
        for p in pats:
            for c in literal_clauses(p) or []:
                pieces.extend(_bare(s) for s in c)
            pieces.extend(re.findall(r"[a-z]+|[\u4e00-\u9fff]+", p))
    rnd = random.Random(11)

    def text():
        return rnd.choice(["", " ", "\n"]).join(rnd.choice(pieces) for _ in range(rnd.randint(0, 10)))

    fired = set()
    for _ in range(3000):
        ins, inp, out = text(), rnd.choice(["", "", text()]), text()
        want = _naive_rule_scores(clf, plain, ins, inp, out)
        assert _rule_scores(clf, ins, inp, out) == want, (ins, inp, out)
        fired.update(rule for _w, rule, _s in want[1].values())
    assert len(fired) >= 0.6 * len({r.task for r in clf.rules}), fired


def test_word_gates_hold_for_every_match():
    rnd = random.Random(2)
    checked = 0
    for spec in TAX["rules"]:
        for p in (spec.get("en") or []) + (spec.get("zh") or []):
            for alt in top_alternatives(p):
                gate = word_gate(alt)
                if gate is None:
                    continue
                rx = re.compile(alt)
                words = sorted(gate) + [_bare(s) for c in literal_clauses(alt) or [] for s in c]
                for _ in range(200):
                    t = rnd.choice([" ", "", "\n", ", "]).join(rnd.choice(words + ["x", "the", "3"])
                                                             for _ in range(rnd.randint(1, 6)))
                    if rx.search(t):
                        assert gate & word_set(t), (alt, t)
                        checked += 1
    assert checked > 1000


def test_tagger_is_built_once_per_rules_content():
    rules = stage_rules("diversity")
    tax = load_taxonomy(rules)
    a = tagger_for(rules, tax)
    assert tagger_for(copy.deepcopy(rules), copy.deepcopy(tax)) is a
    other = copy.deepcopy(rules)
    other["domain"] = dict(other.get("domain") or {}, min_hits=2)
    b = tagger_for(other, tax)
    assert b is not a and b.domains.min_hits == 2


class _Recording(dict):
    """A record that remembers which fields were read."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.read = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def _records():
    recs = [
        new_record(instruction="Summarize the following paragraph.", input="The council met and agreed on the "
                   "budget after a long debate.", output="The council agreed a budget.", lang="en",
                   meta={"category": "summarization", "format": {"requirements": [1, 2]}}),
        new_record(instruction="用Python写一个函数计算斐波那契数列", output="```python\ndef fib(n):\n    return n\n```"),
        new_record(instruction="And then?", output="I'm sorry, I can't help with that.", response_type="refusal",
                   history=[{"instruction": "hi", "output": "hello"}], system="Be brief."),
    ]
    path = DATA / "dolly" / "dolly_3k.json"
    if path.exists():  # real rows too, when the shared data is there
        for x in json.loads(path.read_text(encoding="utf-8"))[:300]:
            recs.append(new_record(instruction=x["instruction"], input=x.get("input", ""), output=x["output"],
                                   meta={"category": x.get("category", "")}))
    return recs


def test_tagger_reads_only_the_declared_fields():
    rules = stage_rules("diversity")
    tagger = Tagger(rules, load_taxonomy(rules))
    for rec in _records():
        probe = _Recording(rec)
        full = tagger.tag(probe)
        assert probe.read <= set(READS), probe.read - set(READS)
        assert tagger.tag({k: rec[k] for k in READS}) == full


@pytest.mark.parametrize("balance", [{}, {"enabled": True}])
def test_fit_on_its_fit_columns_equals_fit_on_whole_rows(balance):
    rules = stage_rules("diversity")
    rules["balance"] = dict(rules.get("balance") or {}, **balance)
    Diversity = get("diversity")
    whole, narrow = Diversity(rules, 3), Diversity(rules, 3)
    cols = narrow.fit_columns
    assert cols is not None and set(READS) <= set(cols)
    batch = from_rows(copy.deepcopy(_records()))
    whole.fit([copy.deepcopy(batch)])
    narrow.fit([{k: copy.deepcopy(batch[k]) for k in cols}])
    assert narrow.summary() == whole.summary()
    assert narrow.cache.get(batch["id"]) == whole.cache.get(batch["id"])
    assert narrow.process(copy.deepcopy(batch)) == whole.process(copy.deepcopy(batch))
