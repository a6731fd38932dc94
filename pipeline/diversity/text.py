"""Small bilingual text measurements shared by the diversity taggers.

Chinese has no spaces, so lengths count CJK characters one by one and
space-delimited words as whole units; a mixed sentence gets the sum of both.
"""
from __future__ import annotations

import functools
import re
import string

# CJK Unified Ideographs (+ extension A) and CJK punctuation/full-width forms.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_LIST_LINE = re.compile(r"^\s*(?:[-*•·]|\d{1,3}[.)、]|[一二三四五六七八九十]+[、.])\s*\S", re.MULTILINE)


# ASCII fast paths. A regex match per word is the main cost of measuring text; for
# ASCII text, ``bytes.translate`` turns every byte outside a token's characters into a
# space in one C pass, and ``split()`` then yields the maximal runs of those characters,
# which are the token regex's matches whenever that regex matches exactly such runs.


def run_table(chars: str) -> bytes:
    """A ``bytes.translate`` table keeping the ASCII ``chars`` and mapping every other byte to a space."""
    keep = set(chars.encode("ascii"))
    return bytes(c if c in keep else 0x20 for c in range(256))


def ascii_runs(text: str, table: bytes) -> list[str]:
    """The maximal runs of the characters ``table`` keeps, in order (``text`` must be ASCII)."""
    return text.encode("ascii").translate(table).decode("ascii").split()


_ALNUM = string.ascii_letters + string.digits
_ALNUM_RUNS = run_table(_ALNUM)
_WORD_RUNS = run_table(_ALNUM + "_")  # \w on ASCII text


def cjk_count(text: str) -> int:
    """Number of CJK ideographs in ``text``."""
    return 0 if text.isascii() else len(_CJK.findall(text))


def units(text: str) -> int:
    """Length in language-neutral units: CJK characters plus non-CJK words."""
    if not text:
        return 0
    if text.isascii():
        if "'" in text:  # a word may go on after an apostrophe ("don't"): the regex decides
            return len(_WORD.findall(text))
        return len(ascii_runs(text, _ALNUM_RUNS))  # then a word is a run of letters and digits
    return len(_CJK.findall(text)) + len(_WORD.findall(text))


def guess_lang(text: str) -> str:
    """'zh' when at least a fifth of the length units are CJK characters, else 'en'.

    Used only when the language stage has not tagged the record; the diversity
    stage never writes this guess into the record's ``lang`` field.
    """
    if text.isascii():
        return "en"  # no CJK character at all
    cjk = len(_CJK.findall(text))
    n = cjk + len(_WORD.findall(text))  # units(text)
    return "zh" if n and cjk / n >= 0.2 else "en"


def list_items(text: str) -> int:
    """Number of lines that look like list items (bullets, ``1.``, ``一、``)."""
    return len(_LIST_LINE.findall(text)) if text else 0


_ITEM_SEP = re.compile(r"[,，、;；]")


def comma_items(text: str, max_units: int = 4) -> int:
    """Number of parts of a comma/semicolon enumeration ("red, green, blue"; "吉他、长笛").

    Prose with a few commas is not a list, so parts longer than ``max_units`` on
    average give 0.
    """
    parts = [p for p in _ITEM_SEP.split(text) if p.strip()]
    if len(parts) < 2 or sum(units(p) for p in parts) > max_units * len(parts):
        return 0
    return len(parts)


_SENTENCE_END = re.compile(r"[.!?。！？\n]")


def first_sentence(text: str, limit: int = 120) -> str:
    """The first sentence (or line) of ``text``, at most ``limit`` characters."""
    text = text.strip()
    m = _SENTENCE_END.search(text)
    cut = text[: m.start() + 1] if m and m.start() > 0 else text
    return cut[:limit]


def lowercase_safe(pattern: str) -> bool:
    """True when ``pattern`` has no uppercase literal, so matching it case-sensitively
    against lowercased text equals matching it case-insensitively against the text.

    Escapes (``\\W``, ``\\S``, ``\\N{...}``) are skipped: their letters are not literals.
    """
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if pattern.startswith("N{", i + 1):
                end = pattern.find("}", i)
                i = end + 1 if end > 0 else n
            else:
                i += 2
            continue
        if c != c.lower():
            return False
        i += 1
    return True



# ---------------------------------------------------------------------------
# Literal prefilters: a cheap exact test that rules a regex out before searching.
#
# Python's ``re`` cannot skip ahead in a pattern that starts with ``\b`` or a group,
# so a search tries every position of the text. Most of the taxonomy's patterns
# need some literal text to match ("translat", one of "summary"/"recap"/..., a "?").
# From the parsed pattern we derive clauses (sets of literals) such that every match
# contains at least one literal of each clause; a text missing a clause cannot
# match, so the regex is not run. The result is exactly the regex's own: a test only
# skips searches that would have failed.
#
# A clause is tested either with ``literal in text`` (C speed, one test per literal)
# or, when each of its literals contains a whole word (a run of ``\w`` closed on both
# sides by ``\b``, ``^``/``$`` or a non-word character of the pattern), as one set
# intersection with the text's words, computed once per text. Which clauses are
# tested is a cost estimate only (how common a literal of that length is); it never
# changes a result.

_GROUP_REF = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")
TEXT_WORDS = re.compile(r"\w+")  # the words a word clause is matched against: word_set(text)
_EDGE = "\x00"       # stands for a word edge (\b, ^, $) inside the literal sets below
_OPEN = "\x01"       # ends a literal that is only the start of what a sub-pattern consumes
_MAX_EXACT = 64      # largest finite set of strings tracked for a sub-pattern
_MAX_CLASS = 8       # largest character class expanded into single-character literals
_MAX_CLAUSES = 3     # clauses tested per pattern
_IN_COST = 1.0       # cost of one ``literal in text`` test
_SET_COST = 1.5      # cost of one word-set intersection
_RX_COST = 100.0     # rough cost of a regex search, in the same unit


def word_set(text: str) -> set[str]:
    """``set(TEXT_WORDS.findall(text))``: the words word clauses are tested against."""
    if text.isascii():
        return set(ascii_runs(text, _WORD_RUNS))  # \w on ASCII text is [A-Za-z0-9_]
    return set(TEXT_WORDS.findall(text))


# The estimates below are cached: the same literals recur across patterns and setups.


def _bare(s: str) -> str:
    return s.replace(_EDGE, "").replace(_OPEN, "")


def _p_literal(s: str) -> float:
    """Rough chance that a lowercased instruction contains ``s`` (a cost estimate only)."""
    n = len(s)
    if not s.isascii():
        return 0.1 if n == 1 else 0.02 if n == 2 else 0.005
    if not s.strip():
        return 0.98 if s == " " else 0.6  # whitespace
    if n == 1 and not s.isalnum():
        return 0.7 if s in ",." else 0.3  # punctuation
    if " " in s.strip() and n >= 8:
        return 0.003
    return {1: 0.9, 2: 0.3, 3: 0.06, 4: 0.03, 5: 0.015}.get(n, 0.008)


@functools.lru_cache(maxsize=1 << 16)
def _word(s: str) -> str | None:
    """The longest run of word characters in literal ``s`` closed on both sides (so a text
    containing ``s`` where the pattern matched has it as a whole word), or None."""
    best = None
    for m in TEXT_WORDS.finditer(s):  # the marks are not word characters: runs stop at them
        i, j = m.span()
        # Closed: by an edge mark or a non-word character, never by the end or an _OPEN mark.
        if i > 0 and s[i - 1] != _OPEN and j < len(s) and s[j] != _OPEN and (best is None or j - i > len(best)):
            best = s[i:j]
    return best


def _prune(clause) -> frozenset:
    """Drop literals that contain another literal of the clause, edge marks included (where
    the longer one occurs, the shorter one does, as a substring and with its whole words)."""
    kept: list[str] = []
    for s in sorted(clause, key=len):
        # Only shorter literals can be inside ``s``; one dropped before holds a kept one.
        if not any(o in s for o in kept):
            kept.append(s)
    return frozenset(kept)


def _implies(a: frozenset, b: frozenset) -> bool:
    """Every text with a literal of ``a`` has one of ``b``."""
    bare_b = [_bare(y) for y in b]
    return all(any(y in x for y in bare_b) for x in map(_bare, a))


@functools.lru_cache(maxsize=1 << 16)
def _p_clause(clause: frozenset) -> float:
    """Rough chance that the clause's test passes (on its words when it is tested on words)."""
    words = _words(clause)
    q = 1.0
    for s in (words if words is not None else {_bare(s) for s in clause}):
        q *= 1.0 - _p_literal(s)
    return 1.0 - q


@functools.lru_cache(maxsize=1 << 16)
def _words(clause: frozenset) -> frozenset | None:
    """The clause as whole words (one per literal), or None when a literal has none."""
    words = [_word(s) for s in clause]
    return None if any(w is None for w in words) else frozenset(words)


def _cost(clause: frozenset) -> float:
    return _SET_COST if _words(clause) is not None else len(clause) * _IN_COST


def _score(clause: frozenset) -> float:
    """Expected cost of testing ``clause`` and then (when it passes) searching."""
    return _cost(clause) + _p_clause(clause) * _RX_COST


def _empty(s: str) -> bool:
    return not s.strip(_EDGE + _OPEN)  # nothing but marks


def _product(parts: list[set]) -> set | None:
    """All concatenations; a string ending in ``_OPEN`` is followed by unknown text, so
    nothing is appended to it."""
    out = {""}
    for e in parts:
        if len(out) * len(e) > _MAX_EXACT:
            return None
        out = {a if a.endswith(_OPEN) else a + b for a in out for b in e}
    return out


def _info(items, C) -> tuple[set | None, list[frozenset]]:
    """(exact, candidates) of a parsed sequence.

    ``exact``: the finite set of strings the sequence can consume (with ``_EDGE`` where
    it asserts a word edge), or None when unknown or too large. ``candidates``: clauses
    (frozensets of literals) each of which every string the sequence consumes contains
    a literal of.
    """
    nodes: list = []
    for op, av in items:
        e, c = _node(op, av, C)
        if e is not None and len(e) == 1 and nodes and nodes[-1][0] is not None and len(nodes[-1][0]) == 1:
            # A literal stretch ("translat", "\bsum up"): one piece, not its every substring.
            (prev,), (cur,) = nodes[-1][0], e
            nodes[-1] = ({prev + cur}, nodes[-1][1] + c)
        else:
            nodes.append((e, c))
    cands: list[frozenset] = []
    for _e, c in nodes:
        cands.extend(c)
    # Runs of consecutive finite items: every contiguous stretch, multiplied out, is a clause.
    i, n = 0, len(nodes)
    while i < n:
        if nodes[i][0] is None:
            i += 1
            continue
        j = i
        while j < n and nodes[j][0] is not None:
            j += 1
        for a in range(i, j):
            for b in range(a + 1, j + 1):
                prod = _product([nodes[k][0] for k in range(a, b)])
                if prod is None:
                    break
                if not any(_empty(s) for s in prod):
                    cands.append(_prune(prod))
        i = j
    if all(e is not None for e, _ in nodes):
        exact = _product([e for e, _ in nodes])
    else:
        # Only the leading finite items are known: the start of what the sequence consumes.
        k = next(i for i, (e, _) in enumerate(nodes) if e is None)
        exact = _product([e for e, _ in nodes[:k]]) if k else None
        if exact is not None:
            exact = {a if a.endswith(_OPEN) else a + _OPEN for a in exact}
            if any(_empty(a) for a in exact):
                exact = None
    return exact, cands


def _node(op, av, C) -> tuple[set | None, list[frozenset]]:
    if op is C.LITERAL:
        return ({chr(av)}, []) if chr(av) not in (_EDGE, _OPEN) else (None, [])
    if op is C.AT:
        # \b, ^ and $ are word edges next to a word character; \B and the rest consume nothing.
        edges = (C.AT_BOUNDARY, C.AT_BEGINNING, C.AT_BEGINNING_STRING, C.AT_BEGINNING_LINE,
                 C.AT_END, C.AT_END_STRING, C.AT_END_LINE)
        return ({_EDGE} if av in edges else {""}), []
    if op in (C.ASSERT, C.ASSERT_NOT):
        return {""}, []  # zero width: consumes nothing
    if op is C.IN:
        chars: set[str] = set()
        for kind, val in av:
            if kind is C.LITERAL:
                chars.add(chr(val))
            elif kind is C.RANGE and val[1] - val[0] < _MAX_CLASS:
                chars.update(chr(x) for x in range(val[0], val[1] + 1))
            else:  # NEGATE, CATEGORY, large ranges
                return None, []
        return (chars, []) if 0 < len(chars) <= _MAX_CLASS else (None, [])
    if op is C.SUBPATTERN:
        _group, add, _del, p = av
        if add or _del:
            return None, []  # local flags (?i:...), (?a:...): literals or \b mean something else
        return _info(p, C)
    if op is C.ATOMIC_GROUP:
        return _info(av, C)
    if op is C.BRANCH:
        infos = [_info(alt, C) for alt in av[1]]
        exact = None
        if all(e is not None for e, _ in infos):
            exact = set().union(*(e for e, _ in infos))
            if len(exact) > _MAX_EXACT:
                exact = None
        clause: set[str] = set()
        for e, c in infos:
            if e is not None and not any(_empty(s) for s in e):
                c = c + [_prune(e)]
            if not c:
                return exact, []
            clause |= min(c, key=lambda k: (_score(k), sorted(k)))
        return exact, [_prune(clause)]
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        lo, hi, p = av
        e, c = _info(p, C)
        if lo == 0:
            return (e | {""} if e is not None and hi == 1 else None), []
        if e is not None and not any(_empty(s) for s in e):
            c = c + [_prune(e)]
        if lo == hi == 1 or e is None:
            return e, c
        # Repeated: what it consumes starts with one repetition.
        return {a if a.endswith(_OPEN) else a + _OPEN for a in e}, c
    return None, []  # ANY, NOT_LITERAL, CATEGORY, GROUPREF, ...: no literal known


@functools.lru_cache(maxsize=4096)
def _pool(pattern: str, flags: int) -> tuple[frozenset, ...]:
    """Every clause known for ``pattern`` (each a necessary condition of a match), in a
    fixed order; empty when nothing is known. Cached: taggers built again for the same
    rules (one per process, one per stage copy) parse each pattern once."""
    from re import _constants as C
    from re import _parser

    odd = re.IGNORECASE | re.LOCALE | re.VERBOSE | re.ASCII
    if flags & odd:
        return ()
    try:
        parsed = _parser.parse(pattern, flags)
    except (re.error, ValueError, TypeError, OverflowError, RecursionError):
        return ()
    if parsed.state.flags & odd:
        return ()
    exact, cands = _info(parsed.data, C)
    if exact is not None and not any(_empty(s) for s in exact):
        cands.append(_prune(exact))
    return tuple(sorted({c for c in cands if c and not any(_empty(s) for s in c)}, key=sorted))


def literal_clauses(pattern: str, flags: int = 0) -> list[frozenset] | None:
    """Clauses of literals that every match of ``pattern`` must contain, cheapest test first.

    Literals may hold ``_EDGE`` marks where the pattern asserts a word edge. None when
    nothing useful is known (the pattern must always be searched). Case-insensitive
    or ASCII-mode patterns get None: their literals or word edges mean something else.
    """
    # Cheapest-first order of independent filters: by cost / chance of ruling the text out.
    pool = sorted(_pool(pattern, flags), key=lambda k: _cost(k) / max(1e-9, 1.0 - _p_clause(k)))
    chosen: list[frozenset] = []
    reach, cost = 1.0, _RX_COST  # chance a text gets this far; expected cost so far
    for k in pool:
        if len(chosen) == _MAX_CLAUSES:
            break
        if any(_implies(c, k) or _implies(k, c) for c in chosen):
            continue  # nearly the same test again
        new = cost - reach * _RX_COST + reach * (_cost(k) + _p_clause(k) * _RX_COST)
        if new < cost:
            chosen.append(k)
            cost, reach = new, reach * _p_clause(k)
    return chosen or None


def word_gate(pattern: str, flags: int = 0) -> frozenset | None:
    """The whole words of which every match of ``pattern`` contains one, or None.

    Of the clauses known for the pattern, the one made of whole words that rules out
    most texts. A caller that indexes these words across many patterns tests all of
    them with one set intersection per text, so this test costs nothing per pattern,
    unlike the clauses ``literal_clauses`` picks for one pattern alone.
    """
    words = [(_p_clause(c), sorted(c), _words(c)) for c in _pool(pattern, flags)]
    words = [w for w in words if w[2] is not None]
    return min(words, key=lambda w: w[:2])[2] if words else None


def needs_non_ascii(clauses: list[frozenset] | None) -> bool:
    """True when a clause has only non-ASCII literals, so no ASCII text can match."""
    return bool(clauses) and any(all(not _bare(s).isascii() for s in c) for c in clauses)


def literal_test(clauses: list[frozenset] | None):
    """A function ``(text, words) -> bool`` that is False only when a clause cannot be met
    in ``text`` (``words``: ``word_set(text)``). None without clauses."""
    if not clauses:
        return None
    env: dict = {"__builtins__": {}}
    terms = []
    for i, c in enumerate(clauses):
        words = _words(c)
        if words is not None:
            env[f"W{i}"] = words
            terms.append(f"not W{i}.isdisjoint(w)")
        else:
            lits = sorted({_bare(s) for s in c}, key=lambda s: (len(s), s))
            terms.append("(" + " or ".join(f"{s!r} in t" for s in lits) + ")")
    return eval(f"lambda t, w: {' and '.join(terms)}", env)  # literals are repr()'d: no code from config


def top_alternatives(pattern: str) -> list[str]:
    """``pattern`` split at its top-level ``|`` (outside groups and classes).

    A search for ``A|B`` matches exactly when a search for ``A`` or one for ``B`` does,
    and each alternative gets its own, sharper literal test. Patterns with inline
    flags, group references or conditionals stay whole (their parts would mean
    something else alone). Unparsable patterns stay whole too (and fail as before).
    """
    if "(?" in pattern.replace("(?:", "").replace("(?=", "").replace("(?!", "").replace("(?<=", "") \
            .replace("(?<!", "") or _GROUP_REF.search(pattern):
        return [pattern]
    parts, depth, start, i, n, in_class = [], 0, 0, 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            # "]" right after "[" or "[^" is a literal member, not the end of the class.
            if pattern.startswith("^", i + 1):
                i += 1
            if pattern.startswith("]", i + 1):
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    if len(parts) == 1 or depth != 0 or in_class:
        return [pattern]
    try:  # every part must be a valid pattern by itself, else keep the whole
        for part in parts:
            re.compile(part)
    except re.error:
        return [pattern]
    return parts


class Searcher:
    """``search(text)`` is True when any of ``patterns`` matches ``text``, as a search
    of their alternation would be; patterns whose literals are missing are skipped,
    and so are patterns that need a non-ASCII literal when the text is ASCII."""

    def __init__(self, patterns: list[str], flags: int = 0):
        pats = [p for p in patterns if p]
        self.parts: list[tuple] = []  # (needs non-ASCII text, literal test or None, compiled pattern)
        self.split: list[tuple] = []  # (gate words or None, rest test or None, compiled pattern, wide)
        if any(_GROUP_REF.search(p) for p in pats):
            # Group numbers would differ between the parts and their alternation.
            self.parts = [(False, None, re.compile("|".join(f"(?:{p})" for p in pats), flags))]
            self.split = [(None, None, self.parts[0][2], False)]
        else:
            for p in (alt for pat in pats for alt in top_alternatives(pat)):
                clauses = literal_clauses(p, flags)
                wide = needs_non_ascii(clauses)
                # Compiled as inside the alternation (a non-capturing group), so errors are the same.
                self.parts.append((wide, literal_test(clauses), re.compile(f"(?:{p})", flags)))
                # For callers that index words across many patterns: ``gate`` (whole words
                # of which one must occur, see ``word_gate``) and ``rest`` (the clauses
                # above that the gate does not already imply).
                gate = word_gate(p, flags)
                rest = [c for c in clauses or [] if gate is None or not _implies(gate, c)]
                self.split.append((gate, literal_test(rest), self.parts[-1][2], wide))
        self.ascii_parts = [(t, rx) for wide, t, rx in self.parts if not wide]
        self.all_parts = [(t, rx) for _w, t, rx in self.parts]

    def search(self, text: str, memo: list | None = None) -> bool:
        """Any pattern found in ``text``.

        ``memo``: ``[None, None]`` shared by the searches of one text, where this fills in
        ``text.isascii()`` and the text's words when first needed.
        """
        if memo is None:
            memo = [None, None]
        ascii = memo[0]
        if ascii is None:
            ascii = memo[0] = text.isascii()
        for test, rx in (self.ascii_parts if ascii else self.all_parts):
            if test is not None:
                words = memo[1]
                if words is None:
                    words = memo[1] = word_set(text)
                if not test(text, words):
                    continue
            if rx.search(text):
                return True
        return False
