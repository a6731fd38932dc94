"""Synthetic bilingual records with planted near-duplicates (for tests and benchmarks).

Each *group* is one original record plus, for some groups, variants of it made the
way duplicates appear in real corpora: casing, whitespace and punctuation noise,
full-width characters, and a few word (English) or character (Chinese) edits. Some
groups share an instruction template with other groups but differ in the input and
the answer: hard negatives that a good key must not merge.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import accumulate

_SYLLABLES = ["ka", "ri", "to", "ne", "su", "mi", "la", "po", "de", "an", "el", "or", "un", "is", "at", "ve", "ko", "ba", "chi", "ru", "mo", "ta", "le", "si", "ga", "ne", "pa", "zo", "fu", "ly", "ex", "in", "qu", "ar", "ho", "ni", "we", "do", "ge", "bo", "ti", "ma", "ke", "so", "na", "vi", "pe", "ra", "lo"]
_HANZI = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
          "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使"
          "点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明"
          "看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料")
_EN_TEMPLATES = ("Translate the following sentence into French.", "Summarize the text below in one sentence.",
                 "Classify the sentiment of this review as positive or negative.",
                 "Rewrite the following paragraph in a formal tone.")
_ZH_TEMPLATES = ("把下面的句子翻译成英文。", "请用一句话总结下面的内容。", "判断下面这条评论的情感倾向。")


@dataclass
class SynthCorpus:
    """Records (canonical dicts) and the planted group of each, in the same order."""

    records: list[dict] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)


class _Vocab:
    def __init__(self, rng: random.Random, zh: bool, size: int):
        if zh:
            self.items = list(dict.fromkeys(_HANZI))
        else:
            self.items = list(dict.fromkeys(
                "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(size)))
        # Zipf-like weights: real text reuses frequent words, which makes chance overlap realistic.
        self.cum = list(accumulate(1.0 / (i + 1) ** 1.05 for i in range(len(self.items))))

    def draw(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.items, cum_weights=self.cum, k=k)


def _text(rng: random.Random, vocab: _Vocab, zh: bool, lo: int, hi: int) -> str:
    units = vocab.draw(rng, rng.randint(lo, hi))
    if zh:
        out = ""
        for i, u in enumerate(units):
            out += u + ("，" if i % 11 == 10 else "")
        return out + "。"
    words = [w.capitalize() if i % 12 == 0 else w for i, w in enumerate(units)]
    return " ".join(w + ("." if i % 12 == 11 else "") for i, w in enumerate(words)) + "."


def _edit(rng: random.Random, text: str, vocab: _Vocab, zh: bool) -> str:
    """One substitution, deletion or insertion of a word (en) or character (zh)."""
    units = list(text) if zh else text.split(" ")
    pos = rng.randrange(len(units))
    op = rng.choice(("sub", "del", "ins")) if len(units) > 2 else "ins"
    new = vocab.draw(rng, 1)[0]
    if op == "sub":
        units[pos] = new
    elif op == "del":
        del units[pos]
    else:
        units.insert(pos, new)
    return ("" if zh else " ").join(units)


_FULL = {ord(c): ord(c) + 0xFEE0 for c in "!,.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}


def _noise(rng: random.Random, text: str, zh: bool) -> str:
    """Surface noise that normalisation must undo: case, spacing, punctuation, width."""
    kind = rng.choice(("case", "space", "punct", "width"))
    if kind == "case":
        return text.upper() if rng.random() < 0.3 else text.lower()
    if kind == "space":
        return "  " + text.replace(" ", "   ") + " \n" if not zh else " ".join(text) + "  "
    if kind == "punct":
        return text.replace("。", ".").replace("，", ",") + "!!" if zh else text.replace(".", " ,").rstrip(",") + "?!"
    return text.translate(_FULL)


def _variant(rng: random.Random, rec: dict, vocab: _Vocab, zh: bool, max_edits: int) -> dict:
    fields = {k: rec[k] for k in ("instruction", "input", "output")}
    for _ in range(rng.randint(1, max_edits)):
        # Edits land in a field with probability proportional to its length.
        names = [k for k in fields if fields[k]]
        weights = [len(fields[k]) for k in names]
        k = rng.choices(names, weights=weights)[0]
        fields[k] = _edit(rng, fields[k], vocab, zh)
    for k, text in fields.items():
        if text and rng.random() < 0.5:
            fields[k] = _noise(rng, text, zh)
    return fields


def make_corpus(n_groups: int, seed: int = 0, dup_rate: float = 0.3, template_rate: float = 0.15,
                shared_prompt_rate: float = 0.1, zh_rate: float = 0.4, max_variants: int = 3) -> SynthCorpus:
    """Generate ``n_groups`` originals plus planted variants, shuffled.

    Args:
        n_groups: Number of original records.
        seed: Everything is a function of the seed.
        dup_rate: Share of originals that get 1..``max_variants`` near-duplicates.
        template_rate: Share of originals built on a shared instruction template.
        shared_prompt_rate: Share of originals that reuse an earlier original's exact
            instruction and input with a new answer (a different record, not a duplicate).
        zh_rate: Share of Chinese originals.
        max_variants: Most variants per original.
    """
    from pipeline.record import new_record

    rng = random.Random(seed)
    vocab_en, vocab_zh = _Vocab(rng, False, 4000), _Vocab(rng, True, 0)
    items: list[tuple[dict, int]] = []
    for g in range(n_groups):
        zh = rng.random() < zh_rate
        vocab = vocab_zh if zh else vocab_en
        lo, hi = (10, 30) if zh else (5, 16)
        earlier = [b for b, _ in items[-50:] if b["output"] and (b["output"][-1] == "。") == zh]
        if earlier and rng.random() < shared_prompt_rate:
            src = rng.choice(earlier)
            instruction, inp = src["instruction"], src["input"]
        elif rng.random() < template_rate:
            instruction = rng.choice(_ZH_TEMPLATES if zh else _EN_TEMPLATES)
            inp = _text(rng, vocab, zh, lo, hi)
        else:
            instruction = _text(rng, vocab, zh, lo, hi)
            inp = _text(rng, vocab, zh, lo, hi) if rng.random() < 0.3 else ""
        output = _text(rng, vocab, zh, *((30, 160) if zh else (20, 90)))
        base = {"instruction": instruction, "input": inp, "output": output}
        items.append((base, g))
        if rng.random() < dup_rate:
            for _ in range(rng.randint(1, max_variants)):
                items.append((_variant(rng, base, vocab, zh, 3 if zh else 2), g))
    rng.shuffle(items)
    corpus = SynthCorpus()
    for i, (fields, g) in enumerate(items):
        corpus.records.append(new_record(**fields, source={"file": "synth.jsonl", "index": i, "format": "alpaca"}))
        corpus.groups.append(g)
    return corpus


def pair_scores(groups: list[int], clusters: list[str]) -> tuple[float, float]:
    """Pairwise (precision, recall) of predicted clusters against planted groups.

    Args:
        groups: Planted group per record.
        clusters: Predicted cluster id per record ("" for records in no cluster).
    """
    from collections import Counter

    def pairs(counter: Counter) -> int:
        return sum(c * (c - 1) // 2 for c in counter.values())

    true = pairs(Counter(groups))
    pred = pairs(Counter(c for c in clusters if c))
    both = pairs(Counter((g, c) for g, c in zip(groups, clusters) if c))
    return (both / pred if pred else 1.0), (both / true if true else 1.0)
