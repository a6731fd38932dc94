"""The ``language`` stage: tag each record's language and judge language problems.

Tags:
    ``lang``: the user's language - the instruction's, else the output's, else the
    input's; ``"und"`` when none can be determined (e.g. "Hi" / "Hello").
    ``scores.lang_score``: confidence of that guess (see :class:`pipeline.text.langid.Guess`).
    ``meta.lang``: per-field guesses, e.g. ``{"instruction": "en", "output": "zh"}``.

Checks (reason ``language_<check>``):
    ``mismatch``: instruction and output confidently in different languages, not a
        translation / answer-language request, and the output's language is not
        present in the prompt.
    ``mixed``: a Chinese output with a long English span, or an English output with a
        long Chinese span, not quoted from the prompt.
    ``not_allowed``: the record's language is confidently outside ``allowed``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

from pipeline.processor import Stage, judge
from pipeline.record import Batch, Verdict, batch_len
from pipeline.registry import register
from pipeline.text import script, spans
from pipeline.text.langid import Guess, LangId

_FIELDS = ("instruction", "input", "output")
# Languages decided by their script, not by langdetect.
_SCRIPT_LANGS = frozenset({"zh", "ja", "ko", "ru", "ar", "hi", "th", "el", "he"})


def translation_matcher(cues: Mapping[str, list]) -> Callable[[str], bool]:
    """``prompt -> True`` when it asks for a translation or names the answer language.

    The cues are substrings of the lower-cased prompt; one compiled pattern finds any in a
    single scan of the lower-cased prompt. The cues are laid out as a prefix tree
    (``en(?:glish|...)``), so each position costs one branch per letter rather than one
    per cue.
    """
    words = sorted({str(c) for lst in cues.values() for c in (lst or ()) if str(c)})
    if not words:
        return lambda prompt: False
    rx = re.compile(_prefix_tree(words))
    return lambda prompt: rx.search(prompt.lower()) is not None


def _prefix_tree(words: list[str]) -> str:
    """A pattern matching exactly the given strings, their shared prefixes factored out."""
    by_first: dict[str, list[str]] = {}
    for w in words:
        by_first.setdefault(w[:1], []).append(w[1:])
    alts = []
    for first, rests in sorted(by_first.items()):
        longer = [r for r in rests if r]
        tail = _prefix_tree(longer) if longer else ""
        if longer and "" in rests:  # a word ends here and others go on
            tail = f"(?:{tail})?"
        alts.append(re.escape(first) + tail)
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


@register
class Language(Stage):
    """Detect languages with script fast paths + seeded langdetect; flag/drop language problems."""

    name: ClassVar[str] = "language"

    def setup(self) -> None:
        self._langid = LangId(self.rules.get("detect") or {})
        self._is_translation = translation_matcher(self.rules.get("translation_cues") or {})

    def _detector(self) -> LangId:
        if getattr(self, "_langid", None) is None:
            self.setup()
        return self._langid

    @classmethod
    def validate_rules(cls, rules: Mapping[str, Any]) -> list[str]:
        probs = []
        allowed = rules.get("allowed")
        if not isinstance(allowed, list) or not all(isinstance(x, str) for x in allowed):
            probs.append("allowed: expected a list of language codes")
        s = rules.get("min_score", 0.8)
        if not isinstance(s, (int, float)) or not 0 <= s <= 1:
            probs.append(f"min_score: must be in [0, 1], got {s!r}")
        return probs

    def process(self, batch: Batch) -> tuple[Batch, list[Verdict]]:
        n = batch_len(batch)
        verdicts = []
        det = self._detector()
        cfg = self._settings()
        for i in range(n):
            row = {f: batch[f][i] or "" for f in _FIELDS}
            guesses = {f: det.detect(row[f]) for f in _FIELDS if row[f].strip()}
            main = self._main_guess(guesses)
            if main.method == "langdetect" and main.score < cfg.min_score:
                # A short, ambiguous instruction: decide on the whole conversation instead.
                whole = det.detect("\n".join(row[f] for f in _FIELDS))
                if whole.lang and whole.score > main.score:
                    main = whole
            batch["lang"][i] = main.lang or "und"
            meta = dict(batch["meta"][i] or {})
            meta["lang"] = {f: g.lang for f, g in guesses.items() if g.lang}
            batch["meta"][i] = meta
            hits = self._hits(cfg, row, guesses, main)
            verdicts.append(judge(self, hits, {"lang_score": round(main.score, 4)}))
        return batch, verdicts

    def _settings(self) -> _Settings:
        mismatch, mixed = self.check("mismatch"), self.check("mixed")
        return _Settings(
            min_score=float(self.rules.get("min_score", 0.8)),
            allowed=self.rules.get("allowed") or [],
            mismatch=self.enabled("mismatch"), mixed=self.enabled("mixed"),
            not_allowed=self.enabled("not_allowed"),
            prompt_min_han=int(mismatch.get("prompt_min_han", 2)),
            min_score_latin=float(mismatch.get("min_score_latin", 0.95)),
            min_latin_words=int(mixed.get("min_latin_words", 12)),
            min_han_chars=int(mixed.get("min_han_chars", 20)))

    @staticmethod
    def _main_guess(guesses: Mapping[str, Guess]) -> Guess:
        for f in ("instruction", "output", "input"):
            g = guesses.get(f)
            if g is not None and g.lang:
                return g
        return Guess("", 0.0, "empty")

    @staticmethod
    def _confident(cfg: _Settings, g: Guess | None) -> bool:
        return g is not None and bool(g.lang) and g.score >= cfg.min_score

    def _hits(self, cfg: _Settings, row: Mapping[str, str], guesses: Mapping[str, Guess],
              main: Guess) -> list[tuple[str, str]]:
        hits: list[tuple[str, str]] = []
        prompt = f"{row['instruction']}\n{row['input']}"
        translation = self._is_translation(prompt)
        ins, inp, out = (guesses.get(f) for f in _FIELDS)
        min_han = cfg.prompt_min_han
        zh_prompt = script.han_count(prompt) >= min_han
        if cfg.mismatch and not translation and self._confident(cfg, ins) and self._confident(cfg, out):
            # Two Latin-script languages apart: langdetect mistakes lists of names for
            # German or Italian, so demand more confidence.
            latin_pair = ins.lang not in _SCRIPT_LANGS and out.lang not in _SCRIPT_LANGS
            sure = not latin_pair or min(ins.score, out.score) >= cfg.min_score_latin
            latin_out = out.lang not in _SCRIPT_LANGS
            if sure and ins.lang != out.lang and not (inp is not None and inp.lang == out.lang) \
                    and (not latin_out or spans.prose_like(row["output"])):
                # Chinese in both texts is no mismatch: a Chinese question quoting English, or
                # a Chinese answer full of English names ("Display Text()块").
                zh_both = (out.lang == "zh" and zh_prompt) or \
                    (ins.lang == "zh" and script.han_count(row["output"]) >= min_han)
                if not zh_both:
                    hits.append(("mismatch", f"instruction {ins.lang}, output {out.lang}"))
        # For a Chinese prompt the answer is held to Chinese even when half of it is English;
        # a Chinese span in an "English" answer to a Chinese prompt is the answer's framing.
        if cfg.mixed and not translation and out is not None and out.lang in ("zh", "en"):
            detail = self._mixed(cfg, row["output"], "zh" if zh_prompt else out.lang, prompt)
            if detail:
                hits.append(("mixed", detail))
        # A translation's output may be in any language; only its instruction can disqualify it.
        from_output = main is not ins
        if cfg.not_allowed and self._confident(cfg, main) and main.lang not in cfg.allowed \
                and not (translation and from_output):
            hits.append(("not_allowed", f"language {main.lang} not in {cfg.allowed}"))
        return hits

    @staticmethod
    def _mixed(cfg: _Settings, output: str, lang: str, prompt: str) -> str:
        if lang == "zh":
            span = spans.longest_latin_span(output)
            n = len(script.WORD_RE.findall(span))
            limit, unit = cfg.min_latin_words, "English words"
        else:
            span = spans.longest_han_span(output)
            n = script.han_count(span)
            limit, unit = cfg.min_han_chars, "Chinese characters"
        if n >= limit and spans.normalised(span) not in spans.normalised(prompt):
            return f"{n} {unit} in a {lang} answer: {span[:60]!r}"
        return ""


@dataclass(frozen=True)
class _Settings:
    """The rule values one ``process`` call reads for every row."""

    min_score: float
    allowed: list
    mismatch: bool
    mixed: bool
    not_allowed: bool
    prompt_min_han: int
    min_score_latin: float
    min_latin_words: int
    min_han_chars: int
