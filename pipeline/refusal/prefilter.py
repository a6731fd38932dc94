"""Cheap necessary conditions for a cue pattern to match, checked before the regex runs.

A cue group is a large case-insensitive alternation; Python's ``re`` tries its branches
at nearly every word start, so a miss (the usual case) costs tens of microseconds per
300 characters. :class:`Prefilter` derives from the parsed pattern, per alternative, a
few *clauses* that every match must satisfy, and the regex runs only when every clause
of some alternative holds. A clause holds when one of its atoms does:

- ``Tok(w)``: ``w`` (ASCII letters) is a whole word of the lower-cased text, i.e. a
  maximal run of ``a-z`` in it. Derived from a literal run whose both ends are bounded
  in the pattern (by ``\\b``, ``^``/``\\A``, or a literal that is not a letter).
- ``Sub(s)``: ``s`` occurs in the lower-cased text.

Why a clause is a necessary condition (so matches are exactly the regex's):

1. The text is tested as ``text.lower()``. :func:`usable` refuses texts holding one of
   :data:`ODD` (``İ``, dotless ``ı``, long ``ſ``): with those excluded, every character
   that ``re.IGNORECASE`` matches against an ASCII letter lower-cases to that letter, and
   ``lower()`` keeps the length of the text (``tests/refusal/test_prefilter.py`` checks
   both over every code point of the running Python).
2. Only literals (alone or in classes of literals) that are ASCII or uncased
   (``c.lower() == c.upper() == c``: CJK, digits, punctuation) enter an atom; ``re``
   compiles an uncased literal to an exact comparison (the test checks the characters
   of the default cue lists over every code point), so a matched run of literals reads,
   lower-cased, exactly as the atom.
   Any other construct (classes with categories, ``.``, repeats, cased non-ASCII
   letters, scoped flags) ends the run, and the analysis only uses what is left.
3. A word edge needs ``\\b``, the text start or a non-letter literal next to it: a
   character that is not ``\\w`` never lower-cases to an ASCII letter (checked by the
   same test), so the word found in the text is exactly ``w``.
4. A text searched through its edge window (over ``2 * EDGE_CHARS``) is not prefiltered,
   since the window joins two distant places of the text.

A pattern whose alternatives cannot all be given at least one clause gets no prefilter.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

try:  # the regex parser is private; without it patterns simply go unfiltered
    import re._constants as _K
    import re._parser as _P
except ImportError:  # Python < 3.11
    import sre_constants as _K  # type: ignore[no-redef]
    import sre_parse as _P  # type: ignore[no-redef]

#: Characters after which ``lower()`` no longer mirrors ``re.IGNORECASE`` for ASCII letters.
ODD = "\u0130\u0131\u017f"
_ODD = re.compile(f"[{ODD}]")
_WORD = re.compile("[a-z]+")
_LETTERS_ONLY = bytes(c if 97 <= c <= 122 else 32 for c in range(256))  # other bytes -> space
#: Zero-width marks in the strings of a literal run: an edge (a point where a letter on
#: one side has a non-letter, or nothing, on the other: ``\b``) and the text start.
#: Pattern literals with these code points are not analysed (see :func:`_safe`).
_EDGE, _START = "\x00", "\x01"
_CAP = 128  # most strings a literal run is expanded to
_MAX_SUBS = 64  # most substrings in a clause (each is a separate `in` test)
_HEAD_CHARS = 16  # text-start atoms are cut to this length (a prefix of a prefix still is one)
_MAX_CLAUSES = 4  # clauses kept per alternative
_MAX_SPREAD = 64  # alternations with more alternatives are not tried one by one
_USELESS = 0.999  # a clause this likely to hold is not worth testing
_REPEATS = (_K.MAX_REPEAT, _K.MIN_REPEAT, getattr(_K, "POSSESSIVE_REPEAT", _K.MAX_REPEAT))


def usable(text: str) -> bool:
    """Whether prefilters may be checked on ``text`` (see the module notes, point 1)."""
    return text.isascii() or not _ODD.search(text)


class Haystack:
    """A text several cue groups are searched in, with what their prefilters read.

    ``low`` is the lower-cased text, or None where prefilters may not read it (see
    :func:`usable`). ``words``, computed on first use, are its maximal runs of ``a-z``
    as bytes: found on the UTF-8 bytes, where every byte of a non-ASCII character is
    above 127 and so never a letter, it is cheaper than a regex over the text.
    """

    __slots__ = ("_words", "low", "text")

    def __init__(self, text: str):
        self.text = text
        self.low: str | None = text.lower() if usable(text) else None
        self._words: frozenset[bytes] | None = None

    @property
    def words(self) -> frozenset[bytes]:
        if self._words is None:
            raw = (self.low or "").encode("utf-8", "surrogatepass")
            self._words = frozenset(raw.translate(_LETTERS_ONLY).split())
        return self._words


#: (words, substrings, text starts): holds when one word is a word of the text, one
#: substring occurs in it or the text starts with one of the starts. Words are ``str``
#: while clauses are worked out and ``bytes`` (like :attr:`Haystack.words`) once built.
Clause = tuple[frozenset, tuple, tuple]


# --- what a pattern requires ----------------------------------------------------------
#
# Items of known content (literals, small classes of literals, optional or alternative
# groups of those) have a finite set of *exact* strings. Consecutive such items form a
# literal run, expanded to its strings together with, per character, a tag naming the
# pattern item it comes from (so that one item's choices can make a clause of their
# own). Any item of unknown content ends the run.

def _safe(c: int) -> bool:
    """Whether a literal may enter an atom: ASCII or uncased (see the module notes)."""
    ch = chr(c)
    return ch not in (_EDGE, _START) and (ch.isascii() or ch.lower() == ch.upper() == ch)


def _exact(op, av) -> set[str] | None:
    """The strings one item matches (lower-cased, with marks), or None when unknown or
    more than :data:`_CAP`."""
    if op is _K.LITERAL:
        return {chr(av).lower()} if _safe(av) else None
    if op is _K.AT:
        if av is _K.AT_BEGINNING or av is _K.AT_BEGINNING_STRING:  # ^ is \A without MULTILINE
            return {_START}
        return {_EDGE} if av is _K.AT_BOUNDARY else {""}
    if op is _K.ASSERT or op is _K.ASSERT_NOT:  # lookarounds consume nothing
        return {""}
    if op is _K.IN:
        if all(iop is _K.LITERAL and _safe(iav) for iop, iav in av):
            return {chr(iav).lower() for _, iav in av}
        return None
    if op is _K.SUBPATTERN:
        return None if av[1] or av[2] else _exact_seq(av[3])  # scoped flags: not analysed
    if op is _K.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            e = _exact_seq(alt)
            if e is None or len(out | e) > _CAP:
                return None
            out |= e
        return out
    if op in _REPEATS:
        lo, hi, sub = av
        if hi == 1:
            e = _exact_seq(sub)
            return None if e is None else e | {""} if lo == 0 else e
    return None  # ANY, categories, NOT_LITERAL, group references, longer repeats...


def _exact_seq(seq: Iterable) -> set[str] | None:
    out = {""}
    for op, av in seq:
        e = _exact(op, av)
        if e is None or len(out) * len(e) > _CAP:
            return None
        out = {a + b for a in out for b in e}
    return out


def _inner(op, av, spread: bool) -> list[Clause]:
    """Clauses every match of an item of unknown content implies."""
    if op is _K.SUBPATTERN and not (av[1] or av[2]):
        return _clauses(av[3], spread)
    if op in _REPEATS and av[0] >= 1:  # at least one match of the repeated part
        return _clauses(av[2], spread)
    if op is _K.BRANCH:  # one clause: the best of each alternative, joined
        picked = []
        for alt in av[1]:
            clauses = _clauses(alt, spread)
            if not clauses:
                return []
            picked.append(min(clauses, key=_order))
        return [_join(picked)]
    return []


def _alternatives(op, av) -> list | None:
    """The alternatives of a group that is an alternation (None for anything else)."""
    while op is _K.SUBPATTERN and not (av[1] or av[2]) and len(av[3]) == 1:
        op, av = av[3][0]
    return av[1] if op is _K.BRANCH else None


def _spread(seq: list, i: int, alts: list) -> list[Clause]:
    """One clause for a sequence whose item ``i`` is an alternation of unknown content: the
    best clause of each alternative put in place (with its neighbours as context), joined."""
    picked = []
    for alt in alts:
        clauses = _clauses(seq[:i] + list(alt) + seq[i + 1:], spread=False)
        if not clauses:
            return []
        picked.append(min(clauses, key=_order))
    return [_join(picked)]


def _join(clauses: list[Clause]) -> Clause:
    """A clause that holds when one of ``clauses`` does."""
    return (frozenset().union(*(c[0] for c in clauses)), tuple(sorted({s for c in clauses for s in c[1]})),
            tuple(sorted({h for c in clauses for h in c[2]})))


def _clauses(seq: Iterable, spread: bool = True) -> list[Clause]:
    """Clauses every match of a sequence implies (see the notes above :func:`_safe`).

    A run longer than :data:`_CAP` strings is cut; the next part starts with an edge
    when every string of the part before ends with a non-letter or a mark. With
    ``spread``, the first alternation of unknown content is also tried alternative by
    alternative in place (:func:`_spread`, which does not spread again: the work stays
    linear in the size of the pattern times the alternatives of one alternation).
    """
    seq = list(seq)
    out: list[Clause] = []
    run: set[tuple[str, tuple[int, ...]]] = {("", ())}

    def close() -> set[tuple[str, tuple[int, ...]]]:
        out.extend(_run_clauses(run))
        if all(t and not "a" <= t[-1] <= "z" for t, _ in run):
            return {(_EDGE, (-1,))}
        return {("", ())}

    tag, fixed = -1, False
    for i, (op, av) in enumerate(seq):
        e = _exact(op, av)
        if e is None:
            out.extend(_inner(op, av, spread))
            alts = _alternatives(op, av) if spread else None
            if alts is not None and len(alts) <= _MAX_SPREAD:
                out.extend(_spread(seq, i, alts))
                spread = False
            close()
            run, fixed = {("", ())}, False  # nothing is known next to an unknown item
            continue
        if len(run) * len(e) > _CAP:
            run, fixed = close(), False
        if not (fixed and len(e) == 1):  # an item of one string joins a one-string item before
            tag = i
        fixed = len(e) == 1
        run = {(t + b, tags + (tag,) * len(b)) for t, tags in run for b in e}
    close()
    return [c for c in out if any(c)]


def _run_clauses(run: set[tuple[str, tuple[int, ...]]]) -> list[Clause]:
    """Clauses implied by a literal run matching one of the strings of ``run``.

    Any way of picking one atom per string gives a valid clause; the candidates are the
    rarest bounded word of each string, per item the rarest word it holds alone, per
    item its characters, and the whole strings (text starts when the run opens the text).
    """
    out: list[Clause] = []
    words = []  # per string: (word, item holding all of it or None)
    for text, tags in run:
        ws = []
        for m in _WORD.finditer(text):
            a, b = m.span()
            if a and b < len(text):  # bounded: a letter run at an end of the run is not
                ws.append((m.group(), tags[a] if tags[a] == tags[b - 1] else None))
        words.append(ws)
    if all(words):
        out.append((frozenset(_rarest(w for w, _ in ws) for ws in words), (), ()))
    for item in sorted({g for _, tags in run for g in tags if g >= 0}):
        held = [[w for w, g in ws if g == item] for ws in words]
        if all(held):
            out.append((frozenset(map(_rarest, held)), (), ()))
        subs = set()
        for text, tags in run:
            a = tags.index(item) if item in tags else 0
            subs.add(_plain(text[a:a + tags.count(item)]))
        if _worth(subs):
            out.append((frozenset(), tuple(sorted(subs)), ()))
    subs = {_plain(t) for t, _ in run if not t.startswith(_START)}
    heads = {_plain(t)[:_HEAD_CHARS] for t, _ in run if t.startswith(_START)}
    if _worth(subs | heads):
        out.append((frozenset(), tuple(sorted(subs)), tuple(sorted(heads))))
    return out


def _rarest(words: Iterable[str]) -> str:
    return min(words, key=lambda w: (_odds(w), -len(w), w))


def _plain(text: str) -> str:
    return text.replace(_EDGE, "").replace(_START, "")


def _worth(atoms: set[str]) -> bool:
    """Whether substrings make a clause worth testing: not too many, none empty, and no
    ASCII one shorter than three characters (those are in nearly every text)."""
    return len(atoms) <= _MAX_SUBS and all(a and (len(a) >= 3 or not a.isascii()) for a in atoms)


# --- choosing clauses -----------------------------------------------------------------

#: Very common English words: a clause of them rules out few texts.
_COMMON = frozenset({
    "a", "an", "and", "are", "be", "but", "can", "could", "did", "do", "does", "don", "for", "have", "i", "in",
    "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "s", "so", "t", "that", "the", "there", "this",
    "to", "was", "we", "what", "which", "will", "with", "would", "you"})


def _odds(atom: str) -> float:
    """A rough chance that an ASCII word (or a substring) occurs in a short text."""
    if not atom.isascii():
        return 0.3 if len(atom) < 2 else 0.05
    words = _WORD.findall(atom)
    if not words:
        return 1.0
    odds = min(0.9 if w in _COMMON or len(w) < 3 else max(0.02, 0.5 ** (len(w) - 1)) for w in words)
    return odds * 0.2 ** (len(words) - 1)  # a phrase is rarer than its rarest word


def _odds_of(clause: Clause) -> float:
    """Rough chance that a clause holds in a short text."""
    words, subs, heads = clause
    miss = 1.0
    for atom in (*words, *subs):
        miss *= 1 - _odds(atom)
    for h in heads:
        miss *= 1 - 0.3 * _odds(h)
    return 1 - miss


def _order(clause: Clause) -> float:
    """Sort key of clauses: the cost of a test over the share of texts it rules out, the
    order that makes a chain of tests cheapest (a word test is one set operation, a
    substring or the text starts one scan each)."""
    words, subs, heads = clause
    cost = 0.5 * bool(words) + len(subs) + bool(heads)
    return cost / max(1 - _odds_of(clause), 0.01)


def _best(clauses: list[Clause]) -> list[Clause]:
    """At most :data:`_MAX_CLAUSES` distinct clauses in test order (see :func:`_order`),
    led by a clause of words only where there is one (all alternatives' leading words
    are looked up at once); clauses that rule out almost nothing are left out when
    others are there."""
    ranked = sorted(set(clauses), key=lambda c: (_order(c), sorted(c[0]), c[1], c[2]))
    useful = [c for c in ranked if _odds_of(c) < _USELESS] or ranked[:1]
    lead = next((c for c in useful if not (c[1] or c[2])), useful[0])
    return [lead] + [c for c in useful if c is not lead][:_MAX_CLAUSES - 1]


def requirements(pattern: str, flags: int) -> list[list[Clause]] | None:
    """Per top-level alternative of ``pattern``, clauses that every match satisfies.

    None when some alternative yields no clause (or the pattern cannot be analysed):
    then nothing can be skipped.
    """
    if flags & ~(re.IGNORECASE | re.UNICODE) or not flags & re.IGNORECASE:
        return None
    try:
        parsed = _P.parse(pattern, flags)
    except Exception:  # noqa: BLE001 - a bad pattern fails at re.compile with the usual error
        return None
    if parsed.state.flags & ~(re.IGNORECASE | re.UNICODE):  # inline (?m), (?s), (?x), (?a)...
        return None
    seq = list(parsed)
    alts = seq[0][1][1] if len(seq) == 1 and seq[0][0] is _K.BRANCH else [seq]
    out = []
    for alt in alts:
        clauses = _clauses(alt)
        if not clauses:
            return None
        out.append(_best(clauses))
    return out


# --- checking -------------------------------------------------------------------------

class _Checks:
    """The alternatives' clauses, found through their first clause: its words are looked
    up in one index for all alternatives, its substrings and starts tested in turn, and
    only the alternatives whose first clause holds have their other clauses tested."""

    __slots__ = ("index", "keys", "leads", "rest")

    def __init__(self, alts: list[list[Clause]]):
        alts = [[(frozenset(w.encode() for w in words), subs, heads) for words, subs, heads in clauses]
                for clauses in alts]
        index: dict[bytes, list[int]] = {}
        self.rest = [clauses[1:] for clauses in alts]
        self.leads: list[tuple[tuple, tuple, int]] = []
        for i, clauses in enumerate(alts):
            words, subs, heads = clauses[0]
            for w in words:
                index.setdefault(w, []).append(i)
            if subs or heads:
                self.leads.append((subs, heads, i))
        self.index = {w: tuple(ids) for w, ids in index.items()}
        self.keys = frozenset(index)

    def possible(self, low: str, hay: Haystack) -> bool:
        # An alternative may be tested twice (two of its words found); the answer is the same.
        if self.keys:
            for w in self.keys.intersection(hay.words):
                for i in self.index[w]:
                    if _all_hold(self.rest[i], low, hay):
                        return True
        for subs, heads, i in self.leads:
            if (heads and low.startswith(heads) or _any_in(subs, low)) and _all_hold(self.rest[i], low, hay):
                return True
        return False


def _any_in(subs: tuple, low: str) -> bool:
    for sub in subs:
        if sub in low:
            return True
    return False


def _all_hold(clauses: list[Clause], low: str, hay: Haystack) -> bool:
    for words, subs, heads in clauses:
        if not (words and not hay.words.isdisjoint(words) or heads and low.startswith(heads)
                or _any_in(subs, low)):
            return False
    return True


class Prefilter:
    """Whether a text can hold a match of an alternation (False only when it cannot)."""

    __slots__ = ("any_text", "ascii_text")

    def __init__(self, alts: list[list[Clause]]):
        self.any_text = _Checks(alts)
        # ASCII texts: non-ASCII atoms cannot hold, and an alternative with a clause made
        # only of them cannot match at all.
        ascii_alts = []
        for clauses in alts:
            kept = [(w, tuple(s for s in subs if s.isascii()), tuple(h for h in heads if h.isascii()))
                    for w, subs, heads in clauses]
            if all(any(c) for c in kept):
                ascii_alts.append(kept)
        self.ascii_text = _Checks(ascii_alts)

    @classmethod
    def build(cls, patterns: list[str], flags: int) -> Prefilter | None:
        """The prefilter of the alternation of ``patterns`` (None when some pattern has none)."""
        alts: list[list[Clause]] = []
        for p in patterns:
            got = requirements(p, flags)
            if got is None:
                return None
            alts += got
        return cls(alts)

    def possible(self, hay: Haystack) -> bool:
        """False only when no alternative can match ``hay.text``."""
        low = hay.low
        if low is None:
            return True
        return (self.ascii_text if low.isascii() else self.any_text).possible(low, hay)
