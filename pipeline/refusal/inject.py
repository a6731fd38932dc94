"""Generate injected records: template kinds and clarifications derived from real records.

Every cell (kind, language) has its own ``random.Random`` seeded from the run seed, the
kind and the language, so adding a kind or a language never reshuffles the others and
no global RNG state is touched. Candidates are walked in a seeded order, unframed
instructions first; any whose normalised instruction is already taken (by a corpus
record or an earlier injection) is skipped, so injections never duplicate each other
or the corpus. When a cell runs out of distinct candidates the gap is reported as a
shortfall rather than filled with duplicates.
"""
from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from pipeline.record import new_record
from pipeline.refusal import seeds as S
from pipeline.refusal.ratio import allocate

_NON_WORD = re.compile(r"[\W_]+")
_ASCII_NON_WORD = bytes(c for c in range(128) if not chr(c).isalnum())  # what _NON_WORD removes
SOURCE_FILE = "<injected:refusal>"
_KEY_CACHE: dict[tuple, frozenset] = {}


def norm_key(text: str) -> int:
    """64-bit key of an instruction with case, width, spacing and punctuation removed."""
    text = text or ""
    if text.isascii():  # no folding needed, and the ASCII word characters left are [a-z0-9]
        raw = text.lower().encode("ascii").translate(None, _ASCII_NON_WORD)
    else:  # NFKC folds full-width letters and digits
        raw = _NON_WORD.sub("", unicodedata.normalize("NFKC", text).lower()).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Derived:
    """A real record whose instruction needs its input: the seed of a derived clarification."""

    rid: str
    instruction: str
    cue: str
    noun: str
    lang: str


def _rng(seed: int, *parts: str) -> random.Random:
    # A str seed is hashed with SHA-512 by random.seed (version 2): stable across runs
    # and independent of PYTHONHASHSEED.
    return random.Random(":".join(["refusal", str(seed), *parts]))


class Injector:
    """Builds injected records for a plan of ``{(kind, lang): count}``."""

    def __init__(self, rules: Mapping, seed: int, seeds: Mapping[str, dict] | None = None):
        self.rules = rules
        self.seed = seed
        self.seeds = seeds if seeds is not None else S.load()
        self.derived_share = float((rules.get("ratio") or {}).get("derived_share", 0.5))

    def candidate_keys(self, langs: list[str]) -> frozenset[int]:
        """Keys of every template instruction (all framings) in ``langs``.

        Cached per seed-material object and language list: the set depends on nothing else.
        """
        ck = (id(self.seeds), tuple(langs))
        if ck not in _KEY_CACHE:
            _KEY_CACHE.clear()  # one seed set per process in practice; keep memory bounded
            _KEY_CACHE[ck] = frozenset(self._keys(langs))
        return _KEY_CACHE[ck]

    def _keys(self, langs: list[str]) -> set[int]:
        keys = set()
        for lang in langs:
            frs = S.framings(self.seeds, lang)
            for kind in S.KINDS:
                for item in S.base_items(self.seeds, kind, lang):
                    keys.update(norm_key(S.frame(f, item.instruction)) for f in frs)
        return keys

    def _templates(self, kind: str, lang: str, rng: random.Random) -> Iterator[tuple[str, str, str]]:
        """(instruction, output, template id) in a seeded order, bare framing first."""
        items = S.base_items(self.seeds, kind, lang)
        order = list(range(len(items)))
        rng.shuffle(order)
        for fi, framing in enumerate(S.framings(self.seeds, lang)):
            for idx in order:
                it = items[idx]
                k = rng.randrange(it.n_styles) if it.n_styles else 0
                yield S.frame(framing, it.instruction), it.respond(k), f"{kind}.{lang}.{it.tid}.f{fi}.r{k}"

    def _derived(self, lang: str, cands: list[Derived], rng: random.Random) -> Iterator[tuple[str, str, str, str]]:
        """(instruction, output, template id, source id) for derived clarifications."""
        styles = S.derived_responses(self.seeds, lang)
        pool = sorted(cands, key=lambda d: d.rid)  # input order must not matter
        rng.shuffle(pool)
        for d in pool:
            if not styles:
                return
            k = rng.randrange(len(styles))
            out = S.fill(styles[k], {"noun": d.noun, "cue": d.cue})
            yield d.instruction, out, f"ambiguous.{lang}.derived.r{k}", d.rid

    def generate(self, cells: Mapping[tuple[str, str], int], taken: set[int],
                 derived: Mapping[str, list[Derived]]) -> tuple[list[dict], dict[str, int]]:
        """Records for every cell, and the shortfall per ``kind/lang`` where candidates ran out.

        Args:
            cells: Count per (kind, lang).
            taken: Normalised-instruction keys already in use; updated in place.
            derived: Derived-clarification candidates per language.
        """
        records: list[dict] = []
        shortfall: dict[str, int] = {}

        def take(kind: str, lang: str, stream: Iterator, want: int) -> int:
            got = 0
            for cand in stream:
                if got >= want:
                    break
                key = norm_key(cand[0])
                if key in taken:
                    continue
                taken.add(key)
                records.append(self._record(kind, lang, *cand, index=len(records)))
                got += 1
            return got

        for (kind, lang), n in sorted(cells.items()):
            if n <= 0:
                continue
            templates = self._templates(kind, lang, _rng(self.seed, kind, lang))
            got = 0
            if kind == "ambiguous":
                d_stream = self._derived(lang, list(derived.get(lang, [])), _rng(self.seed, "derived", lang))
                want = allocate(n, {"derived": self.derived_share, "template": 1 - self.derived_share})
                got += take(kind, lang, d_stream, want["derived"])
                got += take(kind, lang, templates, n - got)
                got += take(kind, lang, d_stream, n - got)  # top up when templates run out
            else:
                got += take(kind, lang, templates, n)
            if got < n:
                shortfall[f"{kind}/{lang}"] = n - got
        return records, shortfall

    def _record(self, kind: str, lang: str, instruction: str, output: str, tid: str,
                derived_from: str = "", *, index: int) -> dict:
        meta = {"generator": "refusal.derived" if derived_from else "refusal.template",
                "kind": kind, "seed": self.seed, "template": tid}
        if derived_from:
            meta["derived_from"] = derived_from
        return new_record(instruction=instruction, output=output, origin="injected", lang=lang,
                          response_type=S.RESPONSE_TYPE[kind], meta=meta,
                          source={"file": SOURCE_FILE, "index": index, "format": "injected"})
