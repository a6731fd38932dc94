"""Language identification: script fast paths first, ``langdetect`` only for ambiguous Latin text.

``langdetect`` costs milliseconds per call and is unreliable on short strings, so it is
the last resort:

1. Code (fenced blocks, inline spans, code-looking lines) and URLs are removed and
   long texts are sampled.
2. Han characters outnumbering Latin words -> ``zh`` (kana -> ``ja``, Hangul -> ``ko``);
   a dominant single non-Latin script maps through ``script_langs`` (Cyrillic -> ``ru``...).
3. Latin text with enough English function words -> ``en`` (a lower share suffices
   for plain-ASCII text, since other Latin-script languages show diacritics).
4. Latin text shorter than ``min_letters`` is undetermined (``""``): "Paris." is no
   evidence of French.
5. Everything else goes to seeded ``langdetect`` on a short sample, computed by
   :mod:`pipeline.text.fastdetect` (the library's results, bit for bit, faster).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from pipeline.text import script, spans
from pipeline.text.fastdetect import SeededDetector


@dataclass(frozen=True)
class Guess:
    """A language guess.

    Attributes:
        lang: ISO 639-1 code, ``zh`` for all Chinese variants, ``""`` when undetermined.
        score: Confidence in [0, 1]: the script share for script paths,
            0.5 + 2 x the English function-word ratio (capped at 1) for the lexicon
            path, the top probability for ``langdetect`` scaled down for texts
            under ``full_confidence_letters`` letters.
        method: ``empty``, ``short``, ``script``, ``lexicon`` or ``langdetect``.
    """

    lang: str
    score: float
    method: str


# langdetect reseeds its generator with this on every detection, which makes it deterministic.
LANGDETECT_SEED = 0
_DETECTOR: SeededDetector | None = None


def _detector() -> SeededDetector:
    global _DETECTOR
    if _DETECTOR is None:
        from langdetect import DetectorFactory, detector_factory

        DetectorFactory.seed = LANGDETECT_SEED  # the library's own detect() agrees with ours
        detector_factory.init_factory()
        _DETECTOR = SeededDetector(detector_factory._factory, LANGDETECT_SEED)
    return _DETECTOR


def normalise_code(code: str) -> str:
    """``zh-cn``/``zh-tw``/``zh_Hans`` -> ``zh``; other codes lower-cased, region dropped."""
    return code.lower().replace("_", "-").split("-")[0] if code else ""


def run_langdetect(text: str) -> tuple[str, float]:
    """Seeded ``langdetect`` top guess ``(lang, probability)``; ``("", 0.0)`` when it has no features."""
    best = _detector().best(text)
    if best is None:
        return "", 0.0
    return normalise_code(best[0]), float(best[1])


class LangId:
    """Configured detector; build once per worker from ``rules/language.yaml`` values.

    Args:
        cfg: The ``detect`` block: ``sample_chars``, ``langdetect_chars``, ``min_letters``,
            ``zh_min_share``, ``en_words``, ``en_min_ratio``, ``script_langs``.
    """

    def __init__(self, cfg: Mapping[str, Any]):
        self.sample_chars = int(cfg.get("sample_chars", 3000))
        self.langdetect_chars = int(cfg.get("langdetect_chars", 400))
        self.min_letters = int(cfg.get("min_letters", 15))
        self.full_letters = max(1, int(cfg.get("full_confidence_letters", 80)))
        self.zh_min_share = float(cfg.get("zh_min_share", 0.5))
        self.en_words = frozenset(w.lower() for w in cfg.get("en_words") or ())
        self.en_min_ratio = float(cfg.get("en_min_ratio", 0.2))
        self.en_min_ratio_ascii = float(cfg.get("en_min_ratio_ascii", 0.08))
        self.script_langs = dict(cfg.get("script_langs") or {})

    def detect(self, text: str) -> Guess:
        """Guess the language of one text (see the module docstring for the order of paths)."""
        t = script.sample(text, self.sample_chars * 2)
        t = script.URL_RE.sub(" ", spans.without_code(t))
        t = script.sample(t, self.sample_chars)
        counts = script.script_counts(t)
        if not counts:
            return Guess("", 0.0, "empty")
        han = counts.get("han", 0)
        kana = counts.get("kana", 0)
        hangul = counts.get("hangul", 0)
        words = script.WORD_RE.findall(t) if counts.get("latin") else []
        cjk = han + kana + hangul
        if cjk:
            share = cjk / (cjk + len(words))
            if share >= self.zh_min_share:
                if kana and kana >= 0.05 * cjk:
                    return Guess("ja", share, "script")
                if hangul > han:
                    return Guess("ko", share, "script")
                return Guess("zh", share, "script")
        letters = sum(counts.values())
        other = [(n, s) for s, n in counts.items() if s not in ("latin", "han", "kana", "hangul")]
        if other:
            n, s = max(other)
            if n / letters >= 0.5 and s in self.script_langs:
                return Guess(str(self.script_langs[s]), n / letters, "script")
        if not words:
            return Guess("", 0.0, "short")
        en_hits = sum(map(self.en_words.__contains__, map(str.lower, words)))
        ratio = en_hits / len(words)
        if ratio >= self.en_min_ratio and en_hits >= 1:
            return Guess("en", min(1.0, 0.5 + 2 * ratio), "lexicon")
        # Lists and titles have few function words. Other Latin-script languages almost
        # always show diacritics, so plain-ASCII text with some English words is English
        # (with a lower score).
        if en_hits >= 2 and ratio >= self.en_min_ratio_ascii and t.isascii():
            return Guess("en", min(1.0, 0.5 + 2 * ratio), "lexicon")
        if counts.get("latin", 0) < self.min_letters:
            return Guess("", 0.0, "short")
        lang, prob = run_langdetect(script.sample(t, self.langdetect_chars))
        # langdetect is overconfident on short strings ("Design a system for managing
        # payroll" -> da, 0.99): scale its probability by how much text it saw.
        latin = counts.get("latin", 0)
        return Guess(lang, prob * min(1.0, latin / self.full_letters), "langdetect")
