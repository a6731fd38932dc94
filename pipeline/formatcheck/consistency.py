"""Dataset-level format consistency: task families, their majority style, minority outputs.

A *task family* is the set of records whose instruction has the same template after
masking what varies between instances of one task: quoted strings, numbers and number
words, capitalised names, and everything after a colon (the payload). The Alpaca input
is not part of the template. Per family we keep only small style counters (never
texts), so memory grows with the number of distinct templates, and single-record
families are pruned when ``max_families`` is exceeded. Styles only count in families
of ``min_family`` records or more: while fitting, :class:`DeferredStyles` holds the
outputs of smaller families (up to a bound) and styles them only if their family grows
that large, so most outputs are never styled.

Style features of an output (None = the feature does not apply):

* ``list_marker``: ``number`` or ``bullet`` for marker lists;
* ``trailing_period``: ``period`` or ``none`` for short single-line answers;
* ``answer_prefix``: ``prefixed`` ("Answer: X", "答案：X") or ``bare`` for short answers;
* ``json_keys``: a short hash of the top-level key set of a JSON-object output;
* ``register``: ``formal`` or ``informal`` when the markers are clear.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Callable, Mapping

from pipeline.formatcheck import textstats as ts
from pipeline.formatcheck.casefold import plain_lower
from pipeline.formatcheck.numerals import EN_NUMBER_ALT, ZH_NUMERAL_CHARS

FEATURES = ("list_marker", "trailing_period", "answer_prefix", "json_keys", "register")
# Slots in a family's counter list: [records, then two values per binary feature].
_SLOTS = {("list_marker", "number"): 1, ("list_marker", "bullet"): 2, ("trailing_period", "period"): 3,
          ("trailing_period", "none"): 4, ("answer_prefix", "prefixed"): 5, ("answer_prefix", "bare"): 6,
          ("register", "formal"): 7, ("register", "informal"): 8}
_VALUES = {"list_marker": ("number", "bullet"), "trailing_period": ("period", "none"),
           "answer_prefix": ("prefixed", "bare"), "register": ("formal", "informal")}
MECHANICAL = ("list_marker", "trailing_period", "answer_prefix")

_QUOTED = re.compile(r"\"[^\"\n]{0,200}\"|“[^”\n]{0,200}”|「[^」\n]{0,200}」|《[^》\n]{0,100}》|‘[^’\n]{0,200}’"
                     r"|(?<![\w])'[^'\n]{1,200}'(?![\w])")
_PROPER = re.compile(r"(?<=[a-z,;] )[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*")
_NUMBERS = re.compile(rf"\d+(?:[.,]\d+)*|\b(?:{EN_NUMBER_ALT})\b|[{ZH_NUMERAL_CHARS}]+", re.I)
# The same without IGNORECASE, for lower-cased text that plain_lower() clears: it then
# matches exactly the same (the number words are lower-case) and is several times faster.
_NUMBERS_LOWER = re.compile(_NUMBERS.pattern)
_TEMPLATE_CORE = re.compile(r"<[a-z]>|[\W_]")
_PAYLOAD = re.compile(r"[:：]\s*\S.*", re.S)
_SPACES = re.compile(r"\s+")
_BULLET_LINE = re.compile(r"^(\s*)[-*•·●○▪◦‣+]\s+", re.M)
_NUMBER_LINE = re.compile(r"^(\s*)\d{1,3}[.)、．]\s*", re.M)


def template(instruction: str) -> str:
    """The masked instruction template that names a task family ("" when too generic)."""
    t = instruction.strip()[:400]
    t = _PAYLOAD.sub(" <x>", t, count=1)
    t = _QUOTED.sub("<q>", t)
    t = _PROPER.sub("<p>", t)
    t = t.lower()
    t = (_NUMBERS_LOWER if plain_lower(t) else _NUMBERS).sub("<n>", t)
    t = _SPACES.sub(" ", t).strip(" .。?？!！")
    core = _TEMPLATE_CORE.sub("", t)
    return t if len(core) >= 4 else ""


def family_key(tmpl: str) -> int:
    """A 64-bit key of a template (family counters never store the text)."""
    return int.from_bytes(hashlib.blake2b(tmpl.encode("utf-8"), digest_size=8).digest(), "big")


class Styler:
    """Compute style features of outputs; configured by the ``consistency`` rules block.

    Args:
        rules: The ``consistency`` block.
        register_of: ``output -> "formal" | "informal" | None`` (from the verifier's markers).
    """

    def __init__(self, rules: Mapping[str, Any], register_of: Callable[[str], str | None]):
        self.short_words = int(rules.get("short_output_words", 30))
        self.short_zh = int(rules.get("short_output_zh_chars", 60))
        self.prefixes = tuple(p.lower() for p in rules.get("answer_prefixes") or [])
        self.features = tuple(f for f in rules.get("features") or FEATURES if f in FEATURES)
        self.register_of = register_of
        self.prefix_template = dict(rules.get("answer_prefix_template") or {"en": "Answer: ", "zh": "答案："})

    def styles(self, output: str) -> dict[str, str]:
        """The applicable features of one output."""
        text = output.strip()
        out: dict[str, str] = {}
        if not text:
            return out
        feats = self.features
        if "list_marker" in feats and "\n" in text:
            items = ts.count_items(text)
            if items and items.method == "markers" and items.style in ("number", "bullet"):
                out["list_marker"] = items.style
        short = "\n" not in text and ts.word_count(text) <= self.short_words and \
            len(ts.CJK_RE.findall(text)) <= self.short_zh
        if short and "trailing_period" in feats and text[-1] not in "!！?？\"'”’)）]】}":
            out["trailing_period"] = "period" if text[-1] in ".。" else "none"
        if short and "answer_prefix" in feats:
            out["answer_prefix"] = "prefixed" if text.lower().startswith(self.prefixes) else "bare"
        if "json_keys" in feats and text[:1] == "{" and text[-1:] == "}":
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                blob = "\x1f".join(sorted(value)).encode("utf-8")
                out["json_keys"] = hashlib.blake2b(blob, digest_size=6).hexdigest()
        if "register" in feats:
            reg = self.register_of(text)
            if reg:
                out["register"] = reg
        return out

    def normalize(self, output: str, feature: str, target: str) -> str | None:
        """``output`` rewritten to the ``target`` style of ``feature``; None when not mechanical."""
        text = output.strip()
        zh = bool(ts.CJK_RE.search(text))
        if feature == "list_marker":
            if target == "number":
                counter = iter(range(1, 10_000))
                return _BULLET_LINE.sub(lambda m: f"{m.group(1)}{next(counter)}. " if not m.group(1) else m.group(0), text)
            return _NUMBER_LINE.sub(lambda m: f"{m.group(1)}- " if not m.group(1) else m.group(0), text)
        if feature == "trailing_period":
            return text + ("。" if zh else ".") if target == "period" else text.rstrip(".。")
        if feature == "answer_prefix":
            if target == "prefixed":
                return self.prefix_template.get("zh" if zh else "en", "Answer: ") + text
            low = text.lower()
            for p in sorted(self.prefixes, key=len, reverse=True):
                if low.startswith(p):
                    return text[len(p):].lstrip(" :：")
        return None


class FamilyStats:
    """Bounded per-family style counters, filled by :meth:`add` during ``fit``."""

    def __init__(self, rules: Mapping[str, Any]):
        self.min_family = int(rules.get("min_family", 5))
        self.majority_share = float(rules.get("majority_min_share", 0.7))
        self.minority_share = float(rules.get("minority_max_share", 0.2))
        self.max_families = int(rules.get("max_families", 500_000))
        self.counts: dict[int, list[int]] = {}
        self.json_keys: dict[int, dict[str, int]] = {}
        self.templates: dict[int, str] = {}  # only for families that reach min_family
        self.prunes = 0  # times single-record families were dropped (see DeferredStyles)

    def add(self, key: int, tmpl: str, styles: Mapping[str, str]) -> None:
        """Count one record of a family and its styles."""
        self.add_record(key, tmpl)
        self.add_styles(key, styles)

    def add_record(self, key: int, tmpl: str) -> int:
        """Count one record of a family (its styles come by :meth:`add_styles`); the family's size."""
        row = self.counts.get(key)
        if row is None:
            if len(self.counts) >= self.max_families:
                self._prune()
            row = self.counts[key] = [0] * 9
        row[0] += 1
        if row[0] == self.min_family and len(self.templates) < 10_000:
            self.templates[key] = tmpl
        return row[0]

    def add_styles(self, key: int, styles: Mapping[str, str]) -> None:
        """Count the styles of a record already counted by :meth:`add_record`."""
        row = self.counts[key]
        for feat, value in styles.items():
            if feat == "json_keys":
                ks = self.json_keys.setdefault(key, {})
                ks[value] = ks.get(value, 0) + 1
            elif (feat, value) in _SLOTS:
                row[_SLOTS[(feat, value)]] += 1

    def matters(self, key: int) -> bool:
        """Whether the family is large enough for its styles to matter: a feature's total never
        exceeds the family's size, so :meth:`minority` and :meth:`summary` skip smaller ones."""
        row = self.counts.get(key)
        return row is not None and row[0] >= self.min_family

    def _prune(self) -> None:
        self.prunes += 1
        for k in [k for k, row in self.counts.items() if row[0] == 1]:
            del self.counts[k]
            self.json_keys.pop(k, None)

    def distribution(self, key: int, feature: str) -> dict[str, int]:
        """Counts per value of one feature in one family (empty when unknown)."""
        if feature == "json_keys":
            return dict(self.json_keys.get(key) or {})
        row = self.counts.get(key)
        if row is None:
            return {}
        return {v: row[_SLOTS[(feature, v)]] for v in _VALUES[feature] if row[_SLOTS[(feature, v)]]}

    def minority(self, key: int, feature: str, value: str) -> tuple[str, int, int] | None:
        """``(majority value, majority count, feature total)`` when ``value`` is a minority style."""
        dist = self.distribution(key, feature)
        total = sum(dist.values())
        if total < self.min_family or value not in dist:
            return None
        top, top_n = max(dist.items(), key=lambda kv: (kv[1], kv[0]))
        if top == value or top_n < self.majority_share * total or dist[value] > self.minority_share * total:
            return None
        return top, top_n, total

    def summary(self, top: int = 10) -> dict:
        """Family sizes and minority counts per feature, plus the largest inconsistent families."""
        big = {k: row for k, row in self.counts.items() if row[0] >= self.min_family}
        minority: dict[str, int] = {}
        examples = []
        for k, row in big.items():
            fam_min = {}
            for feat in FEATURES:
                dist = self.distribution(k, feat)
                for value, n in dist.items():
                    if self.minority(k, feat, value):
                        minority[feat] = minority.get(feat, 0) + n
                        fam_min[feat] = dist
            if fam_min:
                examples.append({"template": self.templates.get(k, ""), "records": row[0], "styles": fam_min})
        examples.sort(key=lambda e: (-e["records"], e["template"]))
        return {"families": len(big), "records_in_families": sum(r[0] for r in big.values()),
                "minority_records": minority, "inconsistent_families": examples[:top]}


#: Characters of outputs that :class:`DeferredStyles` may hold at once; beyond it, outputs are
#: styled at once (the same counts, only without the saving).
MAX_DEFERRED_CHARS = 64_000_000


class DeferredStyles:
    """Fills :class:`FamilyStats`, styling an output only once its family can matter.

    Style counts only matter in families of at least ``min_family`` records
    (:meth:`FamilyStats.matters`), and most families are single records. A record whose
    styles are not known yet waits, with its output, until its family reaches that size,
    and is styled then; the records of families that never do are never styled. Each
    family's styles are counted in record order, as :meth:`FamilyStats.add` would, so the
    statistics of the families that matter are the same.

    Args:
        stats: The counters to fill.
        styles_of: ``output -> styles`` (:meth:`Styler.styles`).
        max_chars: Most output characters held at once.
    """

    def __init__(self, stats: FamilyStats, styles_of: Callable[[str], Mapping[str, str]],
                 max_chars: int = MAX_DEFERRED_CHARS):
        self.stats = stats
        self.styles_of = styles_of
        self.max_chars = max_chars
        self._waiting: dict[int, list[str | Mapping[str, str]]] = {}  # outputs, or styles known already
        self._chars = 0
        self._prunes = stats.prunes

    def add(self, key: int, tmpl: str, styles: Mapping[str, str] | None, output: str) -> None:
        """Count one record: its ``styles``, or (None) those of ``output`` when they matter."""
        size = self.stats.add_record(key, tmpl)
        if self.stats.prunes != self._prunes:  # single-record families were dropped: their waiting too
            self._prunes = self.stats.prunes
            self._waiting = {k: w for k, w in self._waiting.items() if k in self.stats.counts}
            self._chars = sum(len(x) for w in self._waiting.values() for x in w if isinstance(x, str))
        if size < self.stats.min_family:
            if styles is None and self._chars + len(output) <= self.max_chars:
                self._chars += len(output)
                self._waiting.setdefault(key, []).append(output)
                return
            if styles is None:
                styles = self.styles_of(output)
            if key in self._waiting:
                self._waiting[key].append(styles)  # after the records waiting before it
            else:
                self.stats.add_styles(key, styles)
            return
        for item in self._waiting.pop(key, None) or ():
            if isinstance(item, str):
                self._chars -= len(item)
                item = self.styles_of(item)
            self.stats.add_styles(key, item)
        self.stats.add_styles(key, self.styles_of(output) if styles is None else styles)
