"""More quality fast paths checked against plain reference implementations (English and Chinese)."""
from __future__ import annotations

import difflib
import random
import re
from collections import Counter
from itertools import pairwise

import xxhash

from pipeline.config import stage_rules
from pipeline.quality import conflicts, context, repetition
from pipeline.quality import pii as pii_mod
from pipeline.quality.answers import Answers
from pipeline.quality.context import Ctx
from pipeline.quality.lexicon import PhraseSet
from pipeline.quality.pii import Pii
from pipeline.text import script

# Letters of both cases, digits, punctuation, whitespace of every kind str.split() knows,
# CJK, and characters whose case mapping is unusual (İ lower-cases to two characters).
_ALPHA = list("aAbBzZ09 _.,'!?-+#@\t\n\r\x0b\x0c\x1c\x1f中文字的。，") + ["İ", "ß", "Σ", "é", "😀", "\u3000"]
_WORDS = ["the", "The", "a", "code", "CODE", "class", "c++", "java", "javascript", "regular expression",
          "Python3", "loops", "xml", "api", "中文", "代码", "is", "of", "123", "x_y"]


def _text(rng: random.Random, ascii_only: bool = False, max_parts: int = 12) -> str:
    parts = []
    for _ in range(rng.randint(0, max_parts)):
        if rng.random() < 0.5:
            parts.append(rng.choice(_WORDS))
        else:
            parts.append("".join(rng.choice(_ALPHA) for _ in range(rng.randint(1, 4))))
        parts.append(rng.choice([" ", "", "\n", ", "]))
    text = "".join(parts)
    return text.encode("ascii", "ignore").decode() if ascii_only else text


# --- conflicting answers: normalised hashes and batched SimHash ----------------------------

def reference_norm(text: str) -> bytes:
    folded = (text or "").casefold()
    return (re.sub(r"[\W_]+", "", folded) or folded.strip()).encode()


def reference_simhash(text: str) -> int:
    """Bit by bit: bit b is set when more than half of the bigram hashes set it."""
    toks = [t.lower() for t in script.tokens(script.sample(text, 600))]
    feats = [f"{a} {b}" for a, b in pairwise(toks)] or toks
    hashes = [xxhash.xxh64_intdigest(f.encode()) for f in feats]
    return sum(1 << b for b in range(64) if 2 * sum(h >> b & 1 for h in hashes) > len(hashes))


def test_norm_matches_the_regex_form():
    rng = random.Random(1)
    for _ in range(5000):
        text = _text(rng, ascii_only=rng.random() < 0.5)
        assert conflicts.norm(text) == reference_norm(text), repr(text)
    assert conflicts.norm("  \x1c ") == b"" and conflicts.norm("？？？") == "？？？".encode()


def test_simhashes_match_the_bitwise_reference():
    rng = random.Random(2)
    texts = [_text(rng, ascii_only=rng.random() < 0.5, max_parts=rng.choice([1, 3, 40, 400])) for _ in range(400)]
    texts += ["", "word", "中", "x " * 1000, "字" * 2000]
    want = [reference_simhash(t) for t in texts]
    assert [conflicts.simhash(t) for t in texts] == want
    lists = [conflicts._features(conflicts._lower_tokens(script.sample(t, 600))) for t in texts]
    assert conflicts.simhashes(lists) == want  # several numpy chunks, empty lists included
    assert any(want) and 0 in want


def test_majority_needs_more_than_half():
    # Two features: a bit is set only where both hashes set it (a tie is not a majority).
    a, b = "p q", "r s"
    ha, hb = (xxhash.xxh64_intdigest(x.encode()) for x in (a, b))
    assert conflicts.simhashes([[a, b], [a], []]) == [ha & hb, ha, 0]


def test_fingerprints_match_the_plain_definition():
    rng = random.Random(3)
    idx = conflicts.ConflictIndex(short_tokens=10)
    outs = [_text(rng, ascii_only=rng.random() < 0.5, max_parts=rng.choice([2, 8, 30, 300])) for _ in range(300)]
    outs += ["", "İİİ and more words to pass the short limit of ten tokens here", "Σ" * 50 + " end"]
    got = idx.fingerprints(outs)
    for out, (key, sh, short) in zip(outs, got):
        n_toks = len(script.tokens(out))
        assert key == xxhash.xxh64_intdigest(reference_norm(out)), repr(out)
        assert short == (n_toks <= 10)
        assert sh == (0 if short else reference_simhash(out)), repr(out)


# --- phrase sets ------------------------------------------------------------------------

def test_phrase_union_hits_where_a_member_does():
    rng = random.Random(4)
    alpha = list("abxy _'İ中文") + ["ß"]
    for _ in range(1500):
        sets = [PhraseSet(["".join(rng.choice(alpha) for _ in range(rng.randint(1, 3))) + rng.choice(["", "*"])
                           for _ in range(rng.randint(0, 4))]) for _ in range(3)]
        union = PhraseSet.union(sets)
        for _ in range(10):
            text = "".join(rng.choice(alpha) for _ in range(rng.randint(0, 20)))
            assert union.contains(text) == any(s.search(text) is not None for s in sets), text


def test_code_cue_ascii_path_matches_the_case_insensitive_pattern():
    rng = random.Random(5)
    for _ in range(20000):
        text = _text(rng, ascii_only=True)
        if rng.random() < 0.3:
            text = text.upper()
        assert context._code_cue(text) == bool(context._CODE_CUE_RE.search(text)), repr(text)
    assert context._code_cue("Write a JavaScript loop") and context._code_cue("use C++.")
    assert not context._code_cue("a classy encoder") and context._code_cue("Python3 code")
    assert context._code_cue("用Python写") and not context._code_cue("中文classy")


# --- PII: the early exit --------------------------------------------------------------------

def test_pii_patterns_need_what_the_early_exit_tests_for():
    rng = random.Random(6)
    alpha = list("0123456789 .-+@()aXx\n") + ["example.com", "138", "4111", "192.168.", "8.8.", "\uff11"]
    patterns = (pii_mod._EMAIL_RE, pii_mod._ID_RE, pii_mod._CARD_RE, pii_mod._IP_RE, *pii_mod._PHONE_RES)
    guarded = 0
    for _ in range(20000):
        text = "".join(rng.choice(alpha) for _ in range(rng.randint(0, 40)))
        if "@" in text or "+" in text or re.search(r"\d{4}|\d\.\d", text):
            continue
        guarded += 1
        # find() returns [] here without trying the patterns: none of them may match.
        assert not any(rx.search(text) for rx in patterns), text
        assert Pii(stage_rules("quality")).find(text) == []
    assert guarded > 1000
    pii = Pii(stage_rules("quality"))
    # Each guard alone lets its own kind through.
    for text, kind in (("mail ann@corp.org", "email"), ("call +44 20 794 958", "phone"),
                       ("server 203.0.113.77", "ip"), ("call 138 0013 8000", "phone")):
        assert [k for k, _, _ in pii.find(text)] == [kind], text


# --- repetition and answers ------------------------------------------------------------------

def test_ngram_repetition_matches_the_counting_definition():
    rng = random.Random(7)
    for _ in range(3000):
        toks = [rng.choice("abcd") for _ in range(rng.randint(0, 30))]
        n = rng.randint(1, 6)
        total = len(toks) - n + 1
        counts = Counter(tuple(toks[i:i + n]) for i in range(max(total, 0)))
        want = sum(c for c in counts.values() if c > 1) / total if total > 0 else 0.0
        assert repetition.ngram_repetition(toks, n) == want, (toks, n)


def reference_restate(ans: Answers, ctx: Ctx) -> float:
    """The similarity test spelled out, tokenising the instruction first."""
    n_out, n_ins = len(ctx.toks), len(script.tokens(ctx.instruction))
    if n_out < 4 or not n_ins or ans.restate_exempt_re.search(ctx.instruction):
        return 0.0
    if not 0.6 * n_ins <= n_out <= 1.2 * n_ins:
        return 0.0
    a, b = [t.lower() for t in ctx.toks], [t.lower() for t in script.tokens(ctx.instruction)]
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if sm.real_quick_ratio() < 0.85:
        return 0.0
    new = Counter(a) - Counter(b)
    symbols = {c for c in ctx.output if not c.isalnum() and not c.isspace()} - set(ctx.instruction) - set(".,;:!?'\"。，；：！？、“”‘’")
    if symbols:
        return 0.0
    return sm.ratio() if sum(new.values()) <= 0 else 0.0


def test_restate_similarity_matches_the_reference():
    ans = Answers(stage_rules("quality"))
    rng = random.Random(8)
    words = ["what", "is", "the", "capital", "of", "France", "法", "国", "首都", "?", "。", "Paris", "#"]
    nonzero = 0
    for _ in range(4000):
        ins_w = [rng.choice(words) for _ in range(rng.randint(1, 9))]
        out_w = list(ins_w)
        for _ in range(rng.randint(0, 3)):  # a few edits keep it close to the question
            i = rng.randrange(len(out_w) + 1)
            if rng.random() < 0.5 and out_w:
                out_w.pop(min(i, len(out_w) - 1))
            else:
                out_w.insert(i, rng.choice(words))
        sep = rng.choice([" ", ""])
        ctx = Ctx.of({"instruction": sep.join(ins_w), "output": sep.join(out_w)})
        want = reference_restate(ans, ctx)
        assert ans._restate_sim(ctx) == want, (ctx.instruction, ctx.output)
        nonzero += want > 0
    assert nonzero > 100


def test_truncation_ellipsis_is_the_trailing_pattern():
    ans = Answers(stage_rules("quality"))
    long = " ".join(["word"] * 40)
    for tail, want in (("...", True), ("…", True), (". . .", False), ("...x", False), ("....", True)):
        out = long + tail
        ctx = Ctx.of({"instruction": "Tell me", "output": out})
        assert (ans._truncated(ctx, out) == "ends with an ellipsis") == want, tail


def test_symbol_ratio_counts_every_ascii_space():
    from pipeline.quality.garbage import symbol_ratio
    text = "a#\x0b\x0c\r\x1d\x1e b"
    assert symbol_ratio(text) == (1 / 3, 3)
    assert symbol_ratio("|a|#|") == (0.0, 0)  # a table row: stripped, nothing left


def test_conflict_fit_over_rows_equals_fit_over_features():
    rows = [{"id": f"{i:016x}", "instruction": f"Question {i % 7}?", "output": f"answer number {i} " * (1 + i % 12)}
            for i in range(2500)]  # crosses the thousand-row chunks of fit()
    a, b = conflicts.ConflictIndex(), conflicts.ConflictIndex()
    a.fit(iter(rows))
    b.fit_features((r["id"], *f) for r, f in zip(rows, b.features(rows)))
    assert a.clusters == b.clusters and len(a.clusters) == 7
