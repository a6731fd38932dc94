"""Task intent from the instruction, English and Chinese, from the lexicons in rules/leak.yaml.

The leak checks must not fire on tasks whose output legitimately overlaps the
prompt (rewriting, extraction, format conversion, translation, summarisation,
classification/sorting, repeat-after-me). This module names the intent of an
instruction; everything that matches no lexicon is ``generate`` (open generation,
QA, math, code), the tasks where copying from the prompt is a leak.

English phrases match whole words, case-insensitively (so ``edit`` does not match
``credit``); Chinese phrases match as substrings, since Chinese has no word
boundaries. Intents are tried in the order the rules list them; the first match wins.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

GENERATE = "generate"
#: Characters kept from each end of a long instruction when looking for its intent (the
#: ``intent_scan_chars`` rule overrides it). A task cue sits before or after the material
#: it is about ("Translate the following: ..." / "... Summarise the text above."); the
#: lexicon is a large alternation tried at every position, so scanning a 10 MB pasted
#: document whole would take minutes and could only find cues inside the material.
SCAN_CHARS = 20_000


@dataclass(frozen=True)
class Intent:
    """An instruction's task intent.

    Attributes:
        label: The intent name from the rules, or ``generate``.
        cue: The lexicon phrase that matched ("" for ``generate``).
        legit_overlap: True when the output may legitimately overlap the prompt.
        giveaway_checked: True when give-away checks (answer in prompt, marked option)
            still apply: always for ``generate``, and for intents the rules list.
    """

    label: str
    cue: str = ""
    legit_overlap: bool = False
    giveaway_checked: bool = True


def _phrase_re(en: list[str], zh: list[str]) -> re.Pattern | None:
    alts = []
    for p in sorted({str(p).casefold() for p in en}, key=len, reverse=True):
        alts.append(rf"(?<![a-z0-9]){re.escape(p)}(?![a-z0-9])")
    alts += [re.escape(str(p)) for p in sorted(set(zh), key=len, reverse=True)]
    return re.compile("|".join(alts)) if alts else None


#: Words as the English phrase boundaries see them: runs of ``[a-z0-9]``.
_WORD = re.compile(r"[a-z0-9]+")


class _CueIndex:
    """Which intents' phrase patterns can possibly match a text, found with set operations.

    An English phrase matches only on word boundaries (runs of ``[a-z0-9]``). When it
    starts with such a run, that run is a whole word of the text; when it has a second
    run, those two are consecutive words of the text and the phrase is a substring. Any
    other phrase (Chinese, or one not starting with a letter/digit) must be a substring;
    a non-ASCII one is never a substring of ASCII text. Most prompts share no word with
    any phrase, so the costly alternation-with-lookarounds is skipped for them.
    """

    def __init__(self, lexicons: list[tuple[list[str], list[str]]]):
        self.words: dict[str, set[int]] = {}
        self.pairs: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self.subs: list[tuple[int, str]] = []
        for i, (en, zh) in enumerate(lexicons):
            for p in sorted({str(p).casefold() for p in en}):
                runs = _WORD.findall(p)
                if not runs or not p.startswith(runs[0]):
                    self.subs.append((i, p))
                elif len(runs) == 1:
                    self.words.setdefault(runs[0], set()).add(i)
                else:
                    self.pairs.setdefault((runs[0], runs[1]), []).append((i, p))
            self.subs += [(i, p) for p in sorted({str(p) for p in zh})]
        self.ascii_subs = [(i, p) for i, p in self.subs if p.isascii()]

    def candidates(self, text: str) -> set[int]:
        """Indices of the lexicons whose pattern may match ``text`` (a superset of those that do)."""
        runs = _WORD.findall(text)
        found: set[int] = set()
        for w in self.words.keys() & set(runs):
            found |= self.words[w]
        for pair in self.pairs.keys() & set(pairwise(runs)):
            found.update(i for i, p in self.pairs[pair] if i not in found and p in text)
        found.update(i for i, p in (self.ascii_subs if text.isascii() else self.subs) if i not in found and p in text)
        return found


class IntentRecognizer:
    """Compiled intent lexicons; build once per worker from the stage rules."""

    def __init__(self, rules: Mapping[str, Any]):
        self.order: list[tuple[str, re.Pattern]] = []
        lexicons = []
        for label, lex in (rules.get("intents") or {}).items():
            en, zh = list((lex or {}).get("en") or []), list((lex or {}).get("zh") or [])
            pat = _phrase_re(en, zh)
            if pat is not None:
                self.order.append((label, pat))
                lexicons.append((en, zh))
        self.cues = _CueIndex(lexicons)
        self.legit = set(rules.get("legit_overlap") or [])
        self.checked = set(rules.get("giveaway_checked") or [])
        self.scan = int(rules.get("intent_scan_chars") or SCAN_CHARS)

    def __call__(self, instruction: str, system: str = "") -> Intent:
        """The intent of an instruction; the system prompt is consulted if it says nothing."""
        for text in (instruction, system):
            text = text or ""
            if len(text) > 2 * self.scan:  # head and tail, split at a line break: no cue spans it
                text = text[: self.scan] + "\n" + text[-self.scan :]
            t = unicodedata.normalize("NFKC", text).casefold()
            if not t:
                continue
            maybe = self.cues.candidates(t)
            for i, (label, pat) in enumerate(self.order):
                m = pat.search(t) if i in maybe else None
                if m:
                    legit = label in self.legit
                    return Intent(label, m.group(0), legit, (not legit) or label in self.checked)
        return Intent(GENERATE)
