"""Rule-based bilingual task classifier.

Every cue rule of ``rules/taxonomy.yaml`` whose pattern matches adds its weight to
its task; structural cues (multi-turn history, a refusal response type, question
form with or without an input, the output's shape) add theirs, and so do grounded
cues on how the output uses a given input (pipeline/diversity/grounding.py: a list
of items found in the input, sentences lifted verbatim, a condensed paraphrase, a
short fact). The heaviest task
wins, ties going to the task listed first in the taxonomy. The result names the
rule that decided it, so every tag can be explained.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.diversity.grounding import Grounding, measure
from pipeline.diversity.text import Searcher, comma_items, list_items, lowercase_safe, units, word_set

FIELDS = ("instruction", "input", "output", "prompt")
GROUNDING = tuple(Grounding.__dataclass_fields__)


@dataclass(frozen=True)
class _Grounded:
    """A cue on how the output uses the input: every ``min`` / ``max`` bound must hold."""

    id: str
    task: str
    weight: float
    min: tuple[tuple[str, float], ...]
    max: tuple[tuple[str, float], ...]

    def holds(self, g: Grounding) -> bool:
        return all(getattr(g, k) >= v for k, v in self.min) and all(getattr(g, k) <= v for k, v in self.max)


@dataclass(frozen=True)
class TaskTag:
    """One classification: the task, the rule that fired, a confidence in [0, 1], a subtype."""

    task: str
    rule: str
    confidence: float
    subtype: str = ""


@dataclass(frozen=True)
class _Rule:
    id: str
    task: str
    weight: float
    field: str
    input: str  # any | present | absent
    subtype: str
    regex: Searcher


def _compile(patterns: list[str]) -> Searcher | None:
    """A search for any of ``patterns`` (as their alternation would), matched against lowercased text.

    Case-insensitive matching is about twice as slow in Python's ``re`` as plain
    matching, so the classifier lowercases each field once and compiles patterns
    without IGNORECASE. A pattern with an uppercase literal (which lowercased text
    could never match) keeps IGNORECASE for the whole rule, so the result is the
    same either way. Each pattern is searched on its own, and only when the
    literals it needs occur in the text (see ``text.Searcher``).
    """
    pats = [p for p in patterns if p]
    if not pats:
        return None
    src = "|".join(f"(?:{p})" for p in pats)
    return Searcher(pats, 0 if lowercase_safe(src) else re.IGNORECASE)


def taxonomy_problems(tax: Mapping[str, Any]) -> list[str]:
    """Config problems of a taxonomy mapping (unknown tasks, bad regexes, bad fields)."""
    probs: list[str] = []
    names = [t.get("name") for t in tax.get("tasks") or []]
    if not names:
        probs.append("taxonomy: no tasks")
    for r in tax.get("rules") or []:
        rid = r.get("id", "?")
        if r.get("task") not in names:
            probs.append(f"taxonomy rule {rid}: unknown task {r.get('task')!r}")
        if r.get("field", "instruction") not in FIELDS:
            probs.append(f"taxonomy rule {rid}: field must be one of {', '.join(FIELDS)}")
        if r.get("input", "any") not in ("any", "present", "absent"):
            probs.append(f"taxonomy rule {rid}: input must be any, present or absent")
        for p in (r.get("en") or []) + (r.get("zh") or []):
            try:
                re.compile(p)
            except re.error as e:
                probs.append(f"taxonomy rule {rid}: bad pattern {p!r}: {e}")
    for key, cue in (tax.get("structure") or {}).items():
        if cue.get("task") not in names:
            probs.append(f"taxonomy structure {key}: unknown task {cue.get('task')!r}")
    for cue in (tax.get("grounded") or {}).get("cues") or []:
        cid = cue.get("id", "?")
        if cue.get("task") not in names:
            probs.append(f"taxonomy grounded cue {cid}: unknown task {cue.get('task')!r}")
        for bound in ("min", "max"):
            for k, v in (cue.get(bound) or {}).items():
                if k not in GROUNDING:
                    probs.append(f"taxonomy grounded cue {cid}: {bound}.{k} is not one of {', '.join(GROUNDING)}")
                elif not isinstance(v, (int, float)):
                    probs.append(f"taxonomy grounded cue {cid}: {bound}.{k} must be a number")
    return probs


class TaskClassifier:
    """Compiled task rules; build once per worker (regex compilation is the costly part)."""

    def __init__(self, tax: Mapping[str, Any]):
        self.order = [t["name"] for t in tax["tasks"]]
        self._rank = {t: i for i, t in enumerate(self.order)}
        self.rules: list[_Rule] = []
        for r in tax.get("rules") or []:
            rx = _compile((r.get("en") or []) + (r.get("zh") or []))
            if rx is None:
                continue
            self.rules.append(_Rule(
                id=r["id"], task=r["task"], weight=float(r.get("weight", 1.0)),
                field=r.get("field", "instruction"), input=r.get("input", "any"),
                subtype=r.get("subtype", ""), regex=rx))
        self._index_parts()
        q = tax.get("question") or {}
        self.question = _compile((q.get("en") or []) + (q.get("zh") or []))
        self.structure: dict[str, dict] = {k: dict(v) for k, v in (tax.get("structure") or {}).items()}
        self.fallback = dict(tax.get("fallback") or {})
        self.saturation = float(tax.get("confidence_saturation", 3.0))
        self.scan_chars = int(tax.get("scan_chars", 2000))
        # Output cues (code, a letter's salutation, verse) show in the first lines.
        self.output_scan_chars = int(tax.get("output_scan_chars", self.scan_chars))
        g = tax.get("grounded") or {}
        self.grounding_chars = int(g.get("scan_chars", self.scan_chars))
        self.sentence_overlap = float(g.get("sentence_overlap", 0.4))
        self.grounded = [
            _Grounded(c["id"], c["task"], float(c.get("weight", 1.0)),
                      tuple((k, float(v)) for k, v in (c.get("min") or {}).items()),
                      tuple((k, float(v)) for k, v in (c.get("max") or {}).items()))
            for c in g.get("cues") or []]

    def _index_parts(self) -> None:
        """Index the rules' pattern parts (see ``text.Searcher.split``) for ``classify``.

        ``_parts`` lists every part in taxonomy order: (rule index, field, rest test,
        regex). ``_index`` maps (has input, field, text is ASCII) to the parts that apply
        there: those without a word gate (always tested) and, per gate word, those it
        opens. A text then needs one set intersection with its words to find its
        candidates, instead of a test per part.
        """
        self._parts: list[tuple[int, str, Any, re.Pattern]] = []
        gated: list[tuple[int, frozenset | None, bool]] = []  # (part id, gate, needs non-ASCII text)
        for ri, r in enumerate(self.rules):
            for gate, rest, rx, wide in r.regex.split:
                gated.append((len(self._parts), gate, wide))
                self._parts.append((ri, r.field, rest, rx))
        self._index: dict[tuple[bool, str, bool], tuple[tuple[int, ...], dict[str, tuple[int, ...]], frozenset]] = {}
        for has in (False, True):
            for field in FIELDS:
                for ascii in (False, True):
                    always: list[int] = []
                    opens: dict[str, list[int]] = {}
                    for pid, gate, wide in gated:
                        r = self.rules[self._parts[pid][0]]
                        if r.field != field or (ascii and wide) or \
                                (r.input == "present" and not has) or (r.input == "absent" and has):
                            continue
                        if gate is None:
                            always.append(pid)
                        else:
                            for w in gate:
                                opens.setdefault(w, []).append(pid)
                    if always or opens:
                        self._index[(has, field, ascii)] = (tuple(always), {w: tuple(v) for w, v in opens.items()},
                                                            frozenset(opens))
        self._prompt = any(field == "prompt" for _h, field, _a in self._index)

    def _cue(self, name: str) -> dict | None:
        return self.structure.get(name)

    def classify(self, instruction: str, input_: str = "", output: str = "", *,
                 history_len: int = 0, response_type: str = "", system: str = "",
                 out_units: int | None = None, out_items: int | None = None) -> TaskTag:
        """Tag one record.

        Args:
            instruction: The user's request (final turn for multi-turn data).
            input_: The optional context; its presence separates grounded tasks.
            output: The answer; only its shape and refusal wording are used.
            history_len: Number of earlier turns.
            response_type: The refusal stage's tag, when it ran.
            system: System prompt; searched together with instruction and input by
                rules whose field is ``prompt``.
            out_units: ``units(output)`` when the caller has it already (else computed here).
            out_items: ``list_items(output)`` likewise.

        Returns:
            The winning task with the rule that decided it.
        """
        has_input = bool(input_.strip())
        # Cues show early; scanning megabyte outputs for them costs time and finds nothing new.
        cut = self.scan_chars
        # Lowercased once: patterns are compiled for lowercased text (see _compile).
        texts = {"instruction": instruction[:cut].lower(), "input": input_[:cut].lower(),
                 "output": output[:self.output_scan_chars].lower()}
        if self._prompt:
            texts["prompt"] = "\n".join(t for t in (system[:cut].lower(), texts["instruction"], texts["input"]) if t)
        score: dict[str, float] = {}
        best: dict[str, tuple[float, str, str]] = {}  # task -> (weight, rule id, subtype)

        def add(task: str, weight: float, rule: str, subtype: str = "") -> None:
            score[task] = score.get(task, 0.0) + weight
            if weight > best.get(task, (0.0, "", ""))[0]:
                best[task] = (weight, rule, subtype)

        # Per field: the text's words, and the parts they may match (see _index_parts).
        words: dict[str, set] = {}
        todo: list[int] = []
        for field, text in texts.items():
            plan = self._index.get((has_input, field, text.isascii())) if text else None
            if plan is None:
                continue
            always, opens, gate_words = plan
            w = words[field] = word_set(text)
            todo += always
            for word in gate_words.intersection(w):
                todo += opens[word]
        # In taxonomy order, so weights add up (and ties break) as rule by rule.
        rules, parts, fired = self.rules, self._parts, set()
        for pid in sorted(set(todo)):
            ri, field, rest, rx = parts[pid]
            if ri in fired:
                continue
            text = texts[field]
            if (rest is None or rest(text, words[field])) and rx.search(text):
                fired.add(ri)
                r = rules[ri]
                add(r.task, r.weight, r.id, r.subtype)
        if out_units is None:
            out_units = units(output)
        if out_items is None:
            out_items = list_items(output)
        self._structural(add, texts["instruction"], input_, output, has_input, history_len, response_type,
                         out_units, out_items, words.get("instruction"))

        if not score:
            fb = self.fallback
            task = fb.get("with_input" if has_input else "without_input", "generation")
            if not has_input and fb.get("without_input_short_output") and \
                    0 < out_units <= int(fb.get("short_output_units", 30)):
                task = fb["without_input_short_output"]
            return TaskTag(task, "fallback", float(self.fallback.get("confidence", 0.2)))
        # Highest score; ties go to the task listed first in the taxonomy.
        task = min(score, key=lambda t: (-score[t], self._rank.get(t, len(self.order))))
        win, total = score[task], sum(score.values())
        conf = (win / total) * min(1.0, win / self.saturation)
        _, rule, subtype = best[task]
        if task == "code" and not subtype:
            subtype = "write"
        return TaskTag(task, rule, round(conf, 3), subtype)

    def _structural(self, add, instruction: str, input_: str, output: str, has_input: bool,
                    history_len: int, response_type: str, out_units: int, items: int,
                    words: set | None = None) -> None:
        """Add the weights of cues that come from the record's shape, not its wording.

        ``words``: the instruction's ``word_set``, when the caller has it.
        """
        cue = self._cue("multi_turn")
        if cue and history_len > 0:
            add(cue["task"], float(cue["weight"]), "structure:multi_turn")
        cue = self._cue("refusal_response")
        if cue and response_type and response_type in (cue.get("response_types") or []):
            add(cue["task"], float(cue["weight"]), f"structure:response_type={response_type}")
        if self.question is not None and self.question.search(instruction.strip(), [None, words]):
            cue = self._cue("question_with_input" if has_input else "question_without_input")
            if cue:
                add(cue["task"], float(cue["weight"]),
                    "structure:question_with_input" if has_input else "structure:question_without_input")
        if items < 3 and 0 < out_units <= 50:
            # A short comma-separated enumeration counts as a list too.
            items = max(items, comma_items(output))
        name = "list_output_with_input" if has_input else "list_output_without_input"
        cue = self._cue(name)
        if cue and items >= int(cue.get("min_items", 3)):
            add(cue["task"], float(cue["weight"]), f"structure:{name}")
        if has_input and out_units and self.grounded:
            g = measure(input_, output, self.grounding_chars, self.sentence_overlap)
            for c in self.grounded:
                if c.holds(g):
                    add(c.task, c.weight, f"grounded:{c.id}")
        if has_input:
            cue = self._cue("short_output_with_input")
            if cue and 0 < out_units <= int(cue.get("max_output_units", 30)):
                add(cue["task"], float(cue["weight"]), "structure:short_output_with_input")
            cue = self._cue("long_output_with_input")
            if (cue and out_units >= int(cue.get("min_output_units", 50))
                    and out_units <= float(cue.get("max_ratio", 0.9)) * max(1, units(input_))):
                add(cue["task"], float(cue["weight"]), "structure:long_output_with_input")
        else:
            cue = self._cue("long_output_without_input")
            if cue and out_units >= int(cue.get("min_output_units", 120)):
                add(cue["task"], float(cue["weight"]), "structure:long_output_without_input")
