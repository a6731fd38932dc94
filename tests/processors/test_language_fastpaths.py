"""The language stage's fast paths agree exactly with the slow definitions they replace.

* :class:`pipeline.text.fastdetect.SeededDetector` against the ``langdetect`` library itself
  (same probabilities, bit for bit) on English, Chinese and other texts;
* its precomputed random stream against :class:`random.Random`;
* the one-pass code-line test of :func:`pipeline.text.spans.without_code`, the no-Han /
  no-Latin shortcuts of the span finders and the prefix-tree translation matcher against
  their per-line / per-cue definitions.
"""
from __future__ import annotations

import json
import random
import re

import pytest

from pipeline.config import stage_rules
from pipeline.processors.language import translation_matcher
from pipeline.text import langid, script, spans
from pipeline.text.fastdetect import _WordStream


def library_langprob(text: str):
    """``langdetect``'s own seeded probabilities (``None`` for "No features in text")."""
    from langdetect import detector_factory
    from langdetect.detector import Detector
    from langdetect.lang_detect_exception import LangDetectException

    langid._detector()  # loads the profiles and seeds the factory
    det = Detector(detector_factory._factory)
    assert det.seed == langid.LANGDETECT_SEED
    det.append(text)
    try:
        det.get_probabilities()
    except LangDetectException:
        return None
    return det.langprob


def library_best(text: str):
    from langdetect import detector_factory
    from langdetect.detector import Detector

    langid._detector()
    det = Detector(detector_factory._factory)
    det.append(text)
    top = det.get_probabilities()[0]
    return top.lang, top.prob


TRICKY = [
    "This is a simple English sentence about the weather in London.",
    "NASA and the USA sent the ISS crew a new MRI scanner via SpaceX.",  # capital runs
    "Le chat mange du poisson frais près de la fenêtre ouverte.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "¿Dónde está la biblioteca? Está al lado del museo, señor.",
    "Tie\u0302\u0301ng Vie\u0323\u0302t co\u0301 da\u0302\u0301u",  # Vietnamese with combining marks
    "Tiếng Việt có dấu và chữ ạ ả ấ",  # Latin Extended Additional
    "Aceasta este o propoziție în limba română, știință și țară.",  # s/t with comma below
    "请解释为什么天空是蓝色的。因为阳光中的蓝光被大气散射得最多。",
    "これは日本語の文です。カタカナもあります。",
    "한국어 문장입니다. 안녕하세요.",
    "Это предложение написано по-русски, и оно довольно длинное.",
    "این یک جمله فارسی است که ی دارد",  # Farsi yeh
    "我们用 Python 写一个 hello world 程序 to print text",  # mixed, Latin removed by cleaning
    "Visit https://example.com/page?x=1 or mail me at someone@example.org today please",
    "lots    of     spaces\t\tand\n\nnew lines    here",
    "“Quoted” words — with dashes… and ‘curly’ marks",
    "don't can't won't rock'n'roll o'clock 'tis",
    "a b c d e f g h i j",
    "Emoji 😀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 letters mixed with text",
    "ABCDEF GHIJKL MNOP",  # all capitals: few features
    "फ",  # every trial reaches ITERATION_LIMIT
    "日本",
    "x",
    "!!! ??? ...",  # no features
    "",
    "12345 67890",
    "Kumbe ni lugha ya Kiswahili inayozungumzwa Afrika Mashariki.",
    "Dit is een Nederlandse zin met een paar woorden erin.",
    "word " * 3000,  # beyond max_text_length
]


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" "éèàüößçñøåłśž"
                "的是不了人我在有他这中大来上个国" "абвгдежзиклмнопрст" "あいうアイウ" "ـبتثجح"
                "     ,.'-")
    out = []
    for _ in range(count):
        n = rng.randint(1, 300)
        out.append("".join(rng.choice(alphabet) for _ in range(n)))
    return out


@pytest.mark.parametrize("text", TRICKY + random_texts(40, 1))
def test_probabilities_match_langdetect_bit_for_bit(text):
    det = langid._detector()
    assert det.probabilities(text) == library_langprob(text)


def test_best_matches_langdetect():
    det = langid._detector()
    for text in TRICKY[:14]:
        assert det.best(text) == library_best(text)
    assert det.best("!!! ???") is None


def test_no_language_over_the_threshold_is_no_guess_not_a_crash(monkeypatch):
    """Probabilities spread so thin that none clears 0.1: no guess (the library would raise)."""
    det = langid._detector()
    flat = [1.0 / len(det.langlist)] * len(det.langlist)
    monkeypatch.setattr(det, "probabilities", lambda text: flat)
    assert det.best("some words here") is None
    assert langid.run_langdetect("some words here") == ("", 0.0)


def test_real_langdetect_texts_match(shared_data):
    """Instructions and outputs of the real sets, as the stage hands them to langdetect."""
    texts = []
    for rel in ("dolly/dolly_3k.json", "code_alpaca/code_alpaca_2k.json"):
        path = shared_data / rel
        if path.is_file():
            rows = json.loads(path.read_text(encoding="utf-8"))
            texts += [script.sample(r[f], 400) for r in rows[::40]
                      for f in ("instruction", "output") if r.get(f)]
    path = shared_data / "belle" / "dev1K.json"
    if path.is_file():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts += [script.sample(r["output"], 400) for r in rows[::50]]
    if not texts:
        pytest.skip("no real text sets in shared/data")
    det = langid._detector()
    for text in texts:
        assert det.probabilities(text) == library_langprob(text), text[:80]


@pytest.mark.parametrize("seed", [0, 7])
def test_word_stream_reads_like_random(seed):
    rng = random.Random(seed)
    stream = _WordStream(seed)
    pos, cached = 0, None
    sizes = [1, 2, 3, 5, 64, 65, 100, 1000, 1024, 1025, 4097]
    for step in range(300):
        if step % 50 == 0:  # gauss as the library calls it: a pair, the second one cached
            if cached is None:
                z, cached = stream.gauss_pair(pos)
                pos += 4
            else:
                z, cached = cached, None
            assert z == rng.gauss(0.0, 1.0)
        n = sizes[step % len(sizes)]
        picks, ends = stream.accepted(n, pos + 10_000)
        k = int((ends > pos).argmax())
        assert int(picks[k]) == rng.choice(range(n))  # the index choice() picks
        pos = int(ends[k])


def per_line_without_code(text: str) -> str:
    """The definition: drop code-looking lines without Han, line by line."""
    body = script.strip_code(text)
    lines = body.splitlines()
    kept = [ln for ln in lines if script.HAN_RE.search(ln) or not spans._CODE_LINE_RE.search(ln)]
    return "\n".join(kept) if len(kept) != len(lines) else body


CODEISH = [
    "plain prose without anything special",
    "x = 1\nprose line",
    "call(arg) here", "call (arg) here", "empty ( ) parens", "open(\n) across lines",
    "first line\rimport os", "first\r\nimport os\r\n", "a\u2028return x", "b\x0bfrom y import z",
    "c\x0cdef f", "d\x1cclass C", "e\x85print", "f\u2029SELECT 1",
    "    def indented():", "print", "printing is fine", "from here to there",
    "the class is full", "中文 = 1\nEnglish", "list [1, 2]", "a < b", "semi; colon",
    "```python\nx = 1\n```\nprose", "`inline = code` and prose", "#include <stdio.h>",
]


@pytest.mark.parametrize("text", CODEISH)
def test_without_code_matches_per_line_definition(text):
    assert spans.without_code(text) == per_line_without_code(text)


def test_without_code_matches_on_real_texts(shared_data):
    path = shared_data / "code_alpaca" / "code_alpaca_2k.json"
    if not path.is_file():
        pytest.skip("code_alpaca not in shared/data")
    rows = json.loads(path.read_text(encoding="utf-8"))
    texts = [r[f] for r in rows for f in ("instruction", "input", "output") if r.get(f)]
    assert sum(per_line_without_code(t) != t for t in texts) > 100  # the slow path is exercised
    for text in texts:
        assert spans.without_code(text) == per_line_without_code(text)


def span_by_definition(text: str, latin: bool) -> str:
    if latin:
        best, best_n = "", 0
        for line in spans._prose_lines(text):
            for seg in spans._SEG_SPLIT_RE.split(line):
                n = len(script.WORD_RE.findall(seg))
                if n > best_n:
                    best, best_n = seg.strip(), n
        return best
    best = ""
    for line in spans._prose_lines(text):
        for m in spans._HAN_SPAN_RE.finditer(line):
            if script.han_count(m.group(0)) > script.han_count(best):
                best = m.group(0).strip()
    return best


@pytest.mark.parametrize("text", [
    "only English words here", "只有中文，没有英文。", "中文 mixed with English words 和中文",
    "12345 !!!", "", "“quoted English words” 中文", "ñandú über café", "日本語とEnglish",
])
def test_span_shortcuts_match_definition(text):
    assert spans.longest_latin_span(text) == span_by_definition(text, latin=True)
    assert spans.longest_han_span(text) == span_by_definition(text, latin=False)


def test_prefix_tree_matcher_matches_plain_alternation():
    rng = random.Random(3)
    letters = "abc .+*?()[]\\^$|{}中文"
    for _ in range(200):
        cues = {"x": ["".join(rng.choice(letters) for _ in range(rng.randint(1, 4)))
                      for _ in range(rng.randint(1, 8))]}
        words = sorted({c for c in cues["x"] if c})
        plain = re.compile("|".join(re.escape(w) for w in words))
        match = translation_matcher(cues)
        for _ in range(30):
            prompt = "".join(rng.choice(letters + "ABC") for _ in range(rng.randint(0, 12)))
            assert match(prompt) == (plain.search(prompt.lower()) is not None), (cues, prompt)


def test_configured_translation_cues():
    match = translation_matcher(stage_rules("language")["translation_cues"])
    assert match("Translate this into French")
    assert match("What is the Spanish word for cat?")
    assert match("把这句话翻译成英文")
    assert match("Please answer IN ENGLISH")
    assert not match("Write a poem about the sea")
    assert not match("写一首关于大海的诗")


def test_ascii_tokens_equal_the_unicode_token_pattern():
    """script.tokens takes a plain-ASCII pattern for ASCII text; it must tokenise identically."""
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(128)]
    texts = ["don't stop_now 3.14 e-mail x''y 'quoted' it's-a _under_ snake_case A1b2", "\x00\x7f\t\n", ""]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(3000)]
    for t in texts:
        assert script.tokens(t) == script.TOKEN_RE.findall(t), t
        assert script.token_count(t) == len(script.TOKEN_RE.findall(t))
    assert script.tokens("中文 words 한국어") == script.TOKEN_RE.findall("中文 words 한국어")
