"""``langdetect``'s seeded detector, restated to give the same numbers several times faster.

``langdetect`` spends milliseconds per text in Python loops: it walks the text character
by character to build n-grams, then for each of 7 trials multiplies 55 language
probabilities by the profile rows of about a hundred n-grams drawn with ``random.choice``,
one Python loop per draw. :class:`SeededDetector` returns bit-identical probabilities;
it changes how the work is organised, never the arithmetic:

* **Draws read from a precomputed stream.** The library reseeds its generator with the
  same seed for every text, so every text reads the same Mersenne Twister outputs. They
  are generated once, and draws are derived from them the way CPython's ``random`` does:
  ``choice`` over ``n`` items keeps the top ``n.bit_length()`` bits of one 32-bit word and
  rejects values ``>= n``; ``random()`` builds 53 bits from two words; ``gauss`` turns two
  ``random()`` values into two normals and keeps the second for its next call. For one
  text all accepted draws are found with one vectorised comparison.
* **Products in blocks.** Between two convergence checks (after draws 0, 5, 10, ...) the
  library multiplies the probabilities by five rows in turn; one
  ``numpy.multiply.reduce`` over the probabilities and those rows performs the same
  multiplications in the same order. Normalisation divides by the same builtin ``sum``.
* **N-grams per word.** An n-gram never spans a space, so a text's n-grams are its words'
  n-grams in order, and those are cached per word.

Character normalisation and the profiles are the library's own (``NGram.normalize``, the
loaded factory). Tests compare the results with the library's on English, Chinese and
other texts.
"""
from __future__ import annotations

import math
import random
import re

import numpy as np

# Cached words beyond this are forgotten (a corpus can hold millions of distinct words).
_MAX_CACHED_WORDS = 200_000
# Draws made ahead in a trial (a multiple of 5); most trials converge within ~150 draws.
_CHUNK = 50
_SPACES_RE = re.compile(" {2,}")


class _WordStream:
    """The 32-bit outputs of ``random.Random(seed)``, in order, extended on demand."""

    def __init__(self, seed):
        self._rng = random.Random()
        self._rng.seed(seed)
        self.words = np.zeros(0, dtype=np.uint32)
        self.extend(1 << 15)

    def extend(self, length: int) -> None:
        """Make at least ``length`` words available."""
        need = length - len(self.words)
        if need > 0:
            need = max(need, len(self.words))  # grow geometrically
            raw = self._rng.getrandbits(32 * need).to_bytes(4 * need, "little")  # first word lowest
            self.words = np.concatenate([self.words, np.frombuffer(raw, dtype="<u4")])

    def random(self, pos: int) -> float:
        """``random.random()`` read at ``pos`` (it consumes two words)."""
        a = int(self.words[pos]) >> 5
        b = int(self.words[pos + 1]) >> 6
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)

    def gauss_pair(self, pos: int) -> tuple[float, float]:
        """The two standard normal values ``random.gauss`` makes from four words at ``pos``."""
        x2pi = self.random(pos) * (2.0 * math.pi)
        g2rad = math.sqrt(-2.0 * math.log(1.0 - self.random(pos + 2)))
        return math.cos(x2pi) * g2rad, math.sin(x2pi) * g2rad

    def accepted(self, n: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Every ``choice`` over ``n`` items that the first ``length`` words can give.

        Returns:
            ``(indices, ends)``: the index each accepted word gives and the stream position
            after it, for all accepted words in order; a ``choice`` made at position ``p``
            is the first entry whose end is beyond ``p``.
        """
        self.extend(length)
        cand = self.words[:length] >> (32 - n.bit_length())
        ok = np.flatnonzero(cand < n)
        return cand[ok], ok + 1


class SeededDetector:
    """Seeded ``langdetect`` probabilities for one loaded profile factory.

    Args:
        factory: A ``langdetect`` ``DetectorFactory`` with its profiles loaded.
        seed: The seed the library would reseed its generator with on every detection.
    """

    def __init__(self, factory, seed):
        from langdetect.detector import Detector
        from langdetect.utils.ngram import NGram
        from langdetect.utils.unicode_block import unicode_block

        proto = Detector(factory)
        self.langlist = list(factory.langlist)
        self._word_probs = factory.word_lang_prob_map
        self._n_trial = proto.n_trial
        self._alpha = proto.alpha
        self._max_len = proto.max_text_length
        self._lib = Detector  # the library class: its constants and patterns
        self._normalize_vi = NGram.normalize_vi
        self._n_gram = NGram.N_GRAM
        self._stream = _WordStream(seed)
        # One character's normalised form (str.translate falls back to __missing__).
        self._norm = _CharTable(NGram.normalize)
        # cleaning_text()'s test, verbatim (unicode_block returns a number, so every
        # character from U+0300 on counts).
        self._non_latin = _CharTable(
            lambda ch: ch >= "\u0300" and unicode_block(ch) != "Latin Extended Additional")
        self._word_grams: dict[str, tuple[list[int], list[int]]] = {}
        self._row_of: dict[str, int] = {}
        self._uniform = np.full(len(self.langlist), 1.0 / len(self.langlist))  # _init_probability()
        self._rows = np.zeros((256, len(self.langlist)))

    # -- text to n-grams ------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        """``Detector.append`` then ``Detector.cleaning_text`` for a fresh detector."""
        d = self._lib
        text = self._normalize_vi(d.MAIL_RE.sub(" ", d.URL_RE.sub(" ", text)))
        text = _SPACES_RE.sub(" ", text[:self._max_len])
        if text.isascii():
            return text  # no non-Latin letters: nothing to clean
        latin = sum(1 for ch in text if "A" <= ch <= "z")
        non_latin = sum(1 for ch in text if self._non_latin[ch])
        if latin * 2 < non_latin:
            text = "".join(ch for ch in text if ch < "A" or "z" < ch)
        return text

    def _grams_of(self, word: str) -> tuple[list[int], list[int]]:
        """Row ids of a word's known n-grams, and of those its following space adds.

        ``NGram.add_char`` keeps the last ``N_GRAM`` characters of ``" " + word + " "`` and
        takes no n-gram at a capital that follows a capital.
        """
        hit = self._word_grams.get(word)
        if hit is not None:
            return hit
        padded = " " + word + " "
        upper = [ch.isupper() for ch in padded]
        row_of, last = self._row_of, len(padded) - 1
        inner: list[int] = []
        tail: list[int] = []
        for end in range(1, len(padded)):
            if upper[end] and upper[end - 1]:
                continue
            out = inner if end < last else tail
            for start in range(end, max(end - self._n_gram, -1), -1):  # n = 1, 2, 3
                gram = padded[start:end + 1]
                i = row_of.get(gram)
                if i is None:
                    if gram == " " or gram not in self._word_probs:
                        continue
                    i = self._row(gram)
                out.append(i)
        hit = (inner, tail)
        if len(self._word_grams) >= _MAX_CACHED_WORDS:
            self._word_grams.clear()
        self._word_grams[word] = hit
        return hit

    def _row(self, gram: str) -> int:
        """The row of ``_rows`` that holds an n-gram's language probabilities (added on first use)."""
        i = len(self._row_of)
        if i == len(self._rows):
            self._rows = np.concatenate([self._rows, np.zeros_like(self._rows)])
        self._rows[i] = self._word_probs[gram]
        self._row_of[gram] = i
        return i

    def _ngram_rows(self, text: str) -> list[int]:
        """Row ids of the text's n-grams in the order ``Detector._extract_ngrams`` lists them."""
        parts = text.translate(self._norm).split(" ")
        ids: list[int] = []
        last = len(parts) - 1
        for k, word in enumerate(parts):
            if word:  # runs of spaces add nothing
                inner, tail = self._grams_of(word)
                ids += inner
                if k < last:
                    ids += tail
        return ids

    # -- the random walk ------------------------------------------------------------------

    def probabilities(self, text: str) -> list[float] | None:
        """Per-language probabilities in ``langlist`` order, as ``Detector.langprob``.

        Returns:
            ``None`` where the library raises "No features in text".
        """
        ids = self._ngram_rows(self._clean(text))
        if not ids:
            return None
        walk = _Walk(self, np.asarray(ids, dtype=np.intp))
        d = self._lib
        langprob = np.zeros(len(self.langlist))
        pos, cached = 0, None
        for _ in range(self._n_trial):
            if cached is None:
                z, cached = self._stream.gauss_pair(pos)
                pos += 4
            else:
                z, cached = cached, None
            weight = (self._alpha + (0.0 + z * 1.0) * d.ALPHA_WIDTH) / d.BASE_FREQ
            prob, pos = walk.trial(weight, pos)
            langprob += prob / self._n_trial
        return langprob.tolist()

    def best(self, text: str) -> tuple[str, float] | None:
        """The library's top language and its probability; ``None`` for "No features", and
        when no language clears the library's reporting threshold (where the library's own
        ``detect`` would fail on an empty list)."""
        probs = self.probabilities(text)
        if probs is None:
            return None
        ranked = [(lang, p) for lang, p in zip(self.langlist, probs) if p > self._lib.PROB_THRESHOLD]
        ranked.sort(key=lambda lp: lp[1], reverse=True)  # stable, like the library's sort
        return ranked[0] if ranked else None


class _Walk:
    """The trials of one text: ``choice`` results and products as the library makes them.

    The library multiplies the probabilities by ``weight + row`` for each drawn n-gram
    and, after draws 0, 5, 10, ..., divides them by their sum and stops once a language
    exceeds ``CONV_THRESHOLD`` or draw ``ITERATION_LIMIT`` is reached.
    """

    def __init__(self, det: SeededDetector, ids: np.ndarray):
        self.det, self.ids = det, ids
        self.length = 0
        self._more(4 * _CHUNK + 64)

    def _more(self, length: int) -> None:
        self.length = length
        picks, self.ends = self.det._stream.accepted(len(self.ids), length)
        self.rows = self.ids[picks]  # profile row of each accepted draw

    def _draws(self, j: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and end positions of accepted draws ``j .. j+count-1``."""
        while j + count > len(self.rows):
            self._more(2 * self.length)
        return self.rows[j:j + count], self.ends[j:j + count]

    def trial(self, weight: float, pos: int) -> tuple[np.ndarray, int]:
        """One trial from stream position ``pos``: its final probabilities and end position.

        Draws are laid out ``_CHUNK`` at a time: ``buf[a]`` holds the probabilities after
        a check and ``buf[a+1:a+6]`` the factors up to the next one.
        """
        det = self.det
        conv, limit = det._lib.CONV_THRESHOLD, det._lib.ITERATION_LIMIT
        reduce, divide, table = np.multiply.reduce, np.divide, det._rows
        while self.length <= pos:
            self._more(2 * self.length)
        j = int(np.searchsorted(self.ends, pos, side="right"))  # draw 0: the first after pos
        rows, ends = self._draws(j, _CHUNK + 1)
        buf = np.add(weight, table[rows])  # row 0: draw 0, rows 1..: draws 1..
        res = det._uniform * buf[0]
        draw = 0
        while True:
            for a in range(0 if draw == 0 else 5, _CHUNK + 1, 5):
                if a:
                    res = reduce(buf[a - 5:a + 1], 0)  # the library's products, in order
                    draw += 5
                vals = res.tolist()
                s = sum(vals)  # the builtin sum, as the library normalises
                divide(res, s, out=buf[a])
                # max(p / s) == max(p) / s: correctly rounded division is monotonic.
                if max(vals) / s > conv or draw >= limit:
                    return buf[a], int(ends[a])
            j += _CHUNK  # the draw whose probabilities are now in buf[_CHUNK]
            rows, ends = self._draws(j, _CHUNK + 1)
            buf[0] = buf[_CHUNK]
            np.add(weight, table[rows[1:]], out=buf[1:])


class _CharTable(dict):
    """``{code point or character: f(character)}`` filled on first use (for ``str.translate``)."""

    def __init__(self, fn):
        super().__init__()
        self._fn = fn

    def __missing__(self, key):
        value = self._fn(chr(key) if isinstance(key, int) else key)
        self[key] = value
        return value
