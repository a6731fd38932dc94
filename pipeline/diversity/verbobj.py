"""Verb–object pairs of instructions, for Self-Instruct-style diversity analysis.

Self-Instruct plots the root verb of each instruction and its direct object. We
approximate that cheaply:

* English: a light heuristic on the first sentence: strip politeness fillers
  ("please", "can you"), take the leading imperative verb, then the first word after
  it that is not a determiner, pronoun, number or listed modifier. Questions
  ("what is ...") have no imperative verb and give no pair.
* Chinese: jieba's part-of-speech tagger on the first sentence: the first verb
  (flag ``v*``) and the first noun (flag ``n*``) after it.

Word lists live in ``rules/diversity.yaml`` under ``verb_object``.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from pipeline.diversity.text import cjk_count, first_sentence

_EN_WORD = re.compile(r"[a-z][a-z'-]*")
_jieba_ready = False
_ZH_CACHE_SIZE = 20_000


def init_jieba() -> None:
    """Load jieba's dictionaries once per process, without its start-up chatter."""
    global _jieba_ready
    if _jieba_ready:
        return
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    jieba.initialize()
    _jieba_ready = True


class VerbObject:
    """Extract (verb, object) from an instruction; ("", "") when there is none."""

    def __init__(self, cfg: Mapping[str, Any]):
        self.fillers = [tuple(f.split()) for f in cfg.get("en_fillers") or []]
        # Longest fillers first, so "could you please" is stripped before "could you".
        self.fillers.sort(key=len, reverse=True)
        # The same fillers by first word (order kept): only those can strip the current word.
        self._fillers_by_head: dict[str, list[tuple[str, ...]]] = {}
        for f in self.fillers:
            if f:
                self._fillers_by_head.setdefault(f[0], []).append(f)
        self._empty_filler = any(not f for f in self.fillers)
        self.non_verbs = set(cfg.get("en_non_verbs") or [])
        self.skip = set(cfg.get("en_skip") or [])
        self.zh_skip = set(cfg.get("zh_skip") or [])
        # Longest first, so "改写" is not read as "改".
        self.zh_verbs = sorted(cfg.get("zh_verbs") or [], key=len, reverse=True)
        self.max_chars = int(cfg.get("max_chars", 60))
        # jieba's tagger is the costly part; templated Chinese instructions repeat their
        # first sentence, so results are kept per sentence (bounded; a pure function of it).
        self._zh_cache: dict[str, tuple[str, str]] = {}

    def __call__(self, instruction: str) -> tuple[str, str]:
        head = first_sentence(instruction, self.max_chars)
        if not head:
            return "", ""
        if cjk_count(head) >= 2:
            pair = self._zh_cache.get(head)
            if pair is None:
                if len(self._zh_cache) >= _ZH_CACHE_SIZE:
                    self._zh_cache.clear()
                pair = self._zh_cache[head] = self._zh(head)
            return pair
        return self._en(head)

    def _en(self, head: str) -> tuple[str, str]:
        words = _EN_WORD.findall(head.lower())
        changed = True
        while changed and words:
            changed = False
            # Only fillers starting with the current word can match (an empty one always would).
            for f in self.fillers if self._empty_filler else self._fillers_by_head.get(words[0], ()):
                if tuple(words[: len(f)]) == f:
                    words, changed = words[len(f):], True
                    break
        if not words or words[0] in self.non_verbs:
            return "", ""
        verb = words[0]
        for w in words[1:8]:
            if w in self.skip or w in self.non_verbs:
                continue
            return verb, _singular(w)
        return verb, ""

    def _zh(self, head: str) -> tuple[str, str]:
        init_jieba()
        import jieba.posseg as pseg

        toks = [(t.word, t.flag) for t in pseg.lcut(head, HMM=False)
                if t.word.strip() and t.word not in self.zh_skip]
        vi, verb = -1, ""
        for i, (word, flag) in enumerate(toks):
            # jieba tags some instruction verbs as nouns or idioms ("总结"/n, "解释一下"/i),
            # so the configured verb list wins over the tag, and its prefix is the verb.
            known = next((v for v in self.zh_verbs if word.startswith(v)), "")
            if known or flag.startswith("v"):
                vi, verb = i, known or word
                break
        if vi < 0:
            return "", ""
        # 把/将 moves the object before the verb: "把这句话翻译成英文".
        ba = next((i for i in range(vi) if toks[i][0] in ("把", "将")), -1)
        span = toks[ba + 1:vi] if ba >= 0 else toks[vi + 1:]
        for word, flag in span:
            if flag.startswith("n") or flag == "vn":
                return verb, word
        return verb, ""


def _singular(w: str) -> str:
    """Very light English singularisation so "poems" and "poem" count as one object."""
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w
