"""Prefilters of cue groups only skip texts their regex cannot match.

The Unicode facts the proof in ``pipeline/refusal/prefilter.py`` rests on are checked
over every code point of the running Python; the prefilters of the default cue lists
are checked against the plain regexes on tricky English and Chinese texts, on texts
made of the cue lists' own words, and on real data when it is there.
"""
from __future__ import annotations

import random
import re
import string
import unicodedata

import pytest

from pipeline.config import stage_rules
from pipeline.refusal import cues as C
from pipeline.refusal import prefilter as F
from pipeline.refusal.inject import _NON_WORD, norm_key

RULES = stage_rules("refusal")
GROUPS = {f"{sec}.{name}": C.compile_group(block) for sec in ("cues", "intent")
          for name, block in RULES[sec].items()}
ALL_CHARS = "".join(map(chr, range(0x110000)))


def _agree(group: C.CueGroup, text: str) -> None:
    """The prefiltered search finds exactly what the regex finds."""
    want = group.regex.search(text)
    got = C.search(group, F.Haystack(text))
    assert (got and (got.span(), got.group(0), got.groups())) == (want and (want.span(), want.group(0), want.groups())), text
    if want and len(text) <= 2 * C.EDGE_CHARS:
        assert group.prefilter is None or group.prefilter.possible(F.Haystack(text)), text


# --- the Unicode facts --------------------------------------------------------------

def test_ignorecase_ascii_letters_lower_to_themselves_except_odd_characters():
    odd_seen = set()
    for c in set(re.findall("[a-z]", ALL_CHARS, re.IGNORECASE)):
        letters = [a for a in string.ascii_lowercase if re.fullmatch(a, c, re.IGNORECASE)]
        if any(c.lower() != a for a in letters):
            odd_seen.add(c)
    assert odd_seen == set(F.ODD)


def test_lower_keeps_length_outside_odd_characters():
    assert {c for c in ALL_CHARS if len(c.lower()) != 1} <= set(F.ODD)


def test_characters_lowering_to_ascii_letters_are_word_characters():
    word = re.compile(r"\w")
    lowering = [c for c in ALL_CHARS if c.lower() != c and re.search("[a-z]", c.lower())]
    assert lowering and all(word.match(c) for c in lowering)


def test_uncased_literals_of_the_default_rules_match_only_themselves():
    chars = {ch for sec in ("cues", "intent") for block in RULES[sec].values() for pats in block.values()
             for p in pats for ch in p if ch.lower() == ch.upper() == ch}
    assert len(chars) > 100 and {" ", "'", "，"} <= chars  # punctuation and the Chinese cue lists
    found = set(re.findall(f"[{re.escape(''.join(sorted(chars)))}]", ALL_CHARS, re.IGNORECASE))
    assert found == chars


# --- the prefilters against the plain regexes ------------------------------------------

TRICKY = [
    "I'm sorry, but I can't help with that.", "I\u2019m sorry, but I can\u2019t help with that.",
    "I'M SORRY, I CANNOT DO THAT", "i am so sorry, i cannot", "xI cannot help", "I cannot helpx",
    "\u0130 cannot help", "I cann\u0131t help", "I am \u017forry, I cannot do that", "Sorry, but I \u212aNOW I cannot",
    "no, I won't", "No I cannot", "nope, I won't", "I would rather not.", "I'd rather not", "I'd rathernot",
    "That's a common misconception.", "that's a commonmisconception", "It's a myth", "Actually, it is not true.",
    "actually the sun is not cold", "In reality this never happened", "Contrary to popular belief, no.",
    "Could you please provide the text?", "could you paste it", "CAN YOU CLARIFY", "What do you mean?",
    "Which city do you mean?", "I don't see any text.", "There's no article here.", "You haven't provided the poem.",
    "Dear Sir, I cannot", "dear", "Dearest", " Dear John", "Subject: hello", "Once upon a time I refused",
    "抱歉，我无法提供这个信息。", "对不起，但是我目前无法回答", "我无法回答", "我不能帮你", "这是一个常见的误解。",
    "其实并不是这样", "其实月亮并不是奶酪做的", "请提供文章内容。", "您是指哪一个城市？", "亲爱的王老师：", "尊敬的先生",
    "你没有提供任何文章", "需要更多的信息", "mixed 中文 and English: I cannot 提供", "我可以帮你 instead",
    "How do I kill -9 a process?", "how to kill a Python process", "Summarize the following article.",
    "把下面的句子翻译成英文。", "shoot a great photo", "life hacks for cooking", "How do I make a pipe bomb?",
    "", "x", "'", "I", "I ", "sorry", "sorry.", "\u00e9sorry", "sorry\u00e9", "caf\u00e9 sorry", "Straße sorry I cannot",
]


def _variants(text: str) -> list[str]:
    return [text, text.upper(), text.lower(), text.title(), " " + text, "x" + text, text + "x", "\n" + text,
            text.replace(" ", "  "), text.replace("'", "\u2019"), f"({text})", text[1:], text[:-1]]


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_tricky_texts(name):
    group = GROUPS[name]
    assert group.prefilter is not None, name  # every default group has one
    for t in TRICKY:
        for v in _variants(t):
            _agree(group, C.fold(v))


_FILL = "abcxyz AZ'-.,\n\u00e9\u4e2d\u3002"


def _sample(seq, rng: random.Random) -> str:
    """A random string shaped by a parsed pattern (it often, not always, matches it)."""
    K = F._K
    out = []
    for op, av in seq:
        if op is K.LITERAL:
            ch = chr(av)
            out.append(ch.upper() if rng.random() < 0.2 else ch)
        elif op is K.NOT_LITERAL or op is K.ANY:
            out.append(rng.choice(_FILL))
        elif op is K.IN:
            lits = [chr(v) for o, v in av if o is K.LITERAL]
            negated = any(o is K.NEGATE for o, _ in av)
            if lits and not negated:
                out.append(rng.choice(lits))
            else:
                out.append(rng.choice(" abc" if not negated else "xyz "))
        elif op is K.BRANCH:
            out.append(_sample(rng.choice(av[1]), rng))
        elif op is K.SUBPATTERN:
            out.append(_sample(av[3], rng))
        elif op in F._REPEATS:
            lo, hi, sub = av
            out.extend(_sample(sub, rng) for _ in range(rng.randint(lo, min(hi, lo + 2))))
    return "".join(out)


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_texts_sampled_from_the_patterns(name):
    group = GROUPS[name]
    sec, key = name.split(".")
    rng = random.Random(name)
    pats = [p for lang in sorted(RULES[sec][key]) for p in RULES[sec][key][lang]]
    parsed = [F._P.parse(p, re.IGNORECASE) for p in pats]
    context = ["", "", "x", "Well, ", "\u7b54\uff1a", "the ", "\n", "no"]
    matched = 0
    for _ in range(60):
        for tree in parsed:
            text = rng.choice(context) + _sample(tree, rng) + rng.choice(context)
            if rng.random() < 0.2:
                text = text.upper()
            text = C.fold(text)
            matched += bool(group.regex.search(text))
            _agree(group, text)
    assert matched > 60 * len(parsed) // 6  # many samples match: the test exercises matches


def test_long_texts_are_searched_without_prefilter():
    group = GROUPS["cues.refusal"]
    text = "I cannot help" + "a" * (2 * C.EDGE_CHARS)
    window = text[:C.EDGE_CHARS] + "\n" + text[-C.EDGE_CHARS:]
    assert C.search(group, F.Haystack(text)).group(0) == group.regex.search(window).group(0)


def test_odd_characters_turn_the_prefilter_off():
    hay = F.Haystack("\u0130 cannot help")
    assert hay.low is None and GROUPS["cues.refusal"].prefilter.possible(hay)
    assert GROUPS["cues.refusal"].regex.search("\u0130 cannot help")  # İ matches "I" under IGNORECASE


@pytest.mark.skipif(not (C.__file__ and __import__("os").path.isdir("/work/shared/data")), reason="no shared data")
def test_real_texts():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from shared_texts import load_triples

    triples = load_triples(("belle/dev1K.json", "zh_supplementary/*.json", "dolly/dolly_3k.json"))
    if not triples:
        pytest.skip("no shared data")
    rng = random.Random(0)
    for ins, inp, out in rng.sample(triples, min(1500, len(triples))):
        for text in (C.fold(ins), C.fold(out)[:300], C.fold(inp)[:300]):
            for group in GROUPS.values():
                _agree(group, text)


# --- the analysis on small patterns ----------------------------------------------------

def test_requirements_of_small_patterns():
    (clauses,) = F.requirements(r"\bI(?:'m| am) (?:so )?sorry\b", re.IGNORECASE)
    assert (frozenset({"sorry"}), (), ()) in clauses
    (clauses,) = F.requirements(r"^(?:dear|to whom it may concern)\b", re.IGNORECASE)
    assert (frozenset(), (), ("dear", "to whom it may c")) in clauses  # text starts, cut to 16 characters
    (clauses,) = F.requirements("(?:抱歉|对不起)[，,\\s]*我无法", re.IGNORECASE)
    assert any(subs == ("对不起", "抱歉") for _, subs, _ in clauses)
    assert len(F.requirements(r"\bsmall correction\b|quick\w* fix\b", re.IGNORECASE)) == 2  # one per alternative


@pytest.mark.parametrize("pattern", [r".*", r"\w+", r"[^a]bc", r"a|\w+", r"(?m)^dear", r"(?i:abc)", r"ab"])
def test_unanalysable_patterns_get_no_prefilter(pattern):
    assert F.requirements(pattern, re.IGNORECASE) is None
    assert F.Prefilter.build([pattern, r"\bsorry\b"], re.IGNORECASE) is None


def test_a_word_needs_both_edges():
    (clauses,) = F.requirements(r"sorry", re.IGNORECASE)  # no edge: "unsorry" would match
    assert all(not words for words, _, _ in clauses)
    pf = F.Prefilter.build([r"sorry"], re.IGNORECASE)
    assert pf.possible(F.Haystack("unsorrys"))


def test_norm_key_ascii_path_is_the_general_formula():
    import hashlib

    def general(text: str) -> int:
        t = _NON_WORD.sub("", unicodedata.normalize("NFKC", text).lower())
        return int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "big")

    for text in ["Hello, World!", "snake_case_name 42", "A-B  c\td\n", string.printable, "", "Ünïcode Ｆｕｌｌ"]:
        assert norm_key(text) == general(text), text


def test_setup_compiles_once():
    from pipeline import registry

    stage = registry.create("refusal", RULES, 0)
    stage.setup()
    det = stage._det
    stage.setup()
    assert stage._det is det
