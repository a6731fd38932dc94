"""Text encodings: detect them from the first bytes, then stream the file as UTF-8.

Detection order: byte-order mark, then BOM-less UTF-16 (ASCII text shows a NUL in
every other byte), then a strict UTF-8 attempt, then GB18030 (a superset of GBK and
GB2312, so it covers all three). Only the first :data:`SNIFF_BYTES` are examined, so
detection costs the same for a 1 KB and a 10 GB file.

Every parser downstream works on UTF-8 bytes. UTF-8 input is passed through untouched
(the fast path: orjson validates UTF-8 itself); other encodings are transcoded
incrementally. Bytes that do not decode are not replaced by U+FFFD (which would hide
them); they are turned into *invalid* UTF-8, so the record containing them fails to
parse and is rejected with the line named, while the rest of the file still reads.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from typing import BinaryIO

#: How many leading bytes decide the encoding.
SNIFF_BYTES = 1 << 20
_CHUNK = 1 << 16

# UTF-32 first: its little-endian BOM starts with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MARK_ERRORS = "sftpipe-mark-undecodable"


def _mark_undecodable(err: UnicodeError) -> tuple[str, int]:
    # A lone surrogate per bad byte; encoded with "surrogatepass" it becomes invalid UTF-8.
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return "\udcff" * (err.end - err.start), err.end


codecs.register_error(_MARK_ERRORS, _mark_undecodable)


def _decodable_prefix(data: bytes, encoding: str, complete: bool) -> int:
    """How many leading bytes decode strictly (a character cut at the end is fine when not complete)."""
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(data, complete)
        return len(data)
    except UnicodeDecodeError as e:
        return e.start


def _utf16_without_bom(head: bytes) -> str | None:
    sample = head[:4096]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def detect(head: bytes, complete: bool) -> str:
    """Name the encoding of a file from its first bytes.

    Args:
        head: The first bytes of the (decompressed) file.
        complete: True when ``head`` is the whole file, so a truncated multi-byte
            character at its end is an error rather than a cut.

    Returns:
        A Python codec name: ``utf-8``, ``utf-8-sig``, ``utf-16``, ``utf-16-le``,
        ``utf-16-be``, ``utf-32`` or ``gb18030``. When neither UTF-8 nor GB18030 decodes
        every byte, the one that decodes the longer prefix wins (UTF-8 on a tie); the bad
        lines are then reported one by one.
    """
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    guess = _utf16_without_bom(head)
    if guess:
        return guess
    utf8 = _decodable_prefix(head, "utf-8", complete)
    if utf8 == len(head):
        return "utf-8"
    # A stray bad byte must not hide a GBK file: the codec that decodes further wins.
    return "gb18030" if _decodable_prefix(head, "gb18030", complete) > utf8 else "utf-8"


def first_char(head: bytes, encoding: str) -> str:
    """The first non-whitespace character of the sniffed bytes ("" when there is none)."""
    return head.decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")[:1]


class _Utf8Recoder(io.RawIOBase):
    """A raw stream that reads ``encoding`` from ``raw`` and serves UTF-8 bytes."""

    def __init__(self, raw: BinaryIO, encoding: str):
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)(_MARK_ERRORS)
        self._pending = memoryview(b"")
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending and not self._eof:
            data = self._raw.read(_CHUNK)
            self._eof = not data
            text = self._decoder.decode(data, self._eof)
            self._pending = memoryview(text.encode("utf-8", "surrogatepass"))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _read_head(f: BinaryIO) -> tuple[bytes, bool]:
    """Up to SNIFF_BYTES, and whether that is the whole file.

    A truncated gzip stream gives what could be decompressed; it is not "complete", so a
    character cut by the break does not count against UTF-8.
    """
    parts, size, complete = [], 0, False
    try:
        while size < SNIFF_BYTES:
            block = f.read(min(_CHUNK, SNIFF_BYTES - size))
            if not block:
                complete = True
                break
            parts.append(block)
            size += len(block)
    except EOFError:
        pass  # reported with its line count when the records are read
    return b"".join(parts), complete


def open_utf8(opener: Callable[[], BinaryIO]) -> tuple[BinaryIO, str, str]:
    """Open a text file as a stream of UTF-8 bytes.

    Args:
        opener: Returns a fresh binary stream of the (decompressed) file each call.

    Returns:
        ``(stream, encoding, first)``: a buffered binary stream that yields UTF-8 (lines
        can be iterated, ``read(n)`` works), the detected encoding, and the first
        non-whitespace character ("" for a file of nothing but whitespace).
    """
    with opener() as f:
        head, complete = _read_head(f)
    encoding = detect(head, complete)
    first = first_char(head, encoding)
    stream = opener()
    if encoding == "utf-8":
        return stream, encoding, first
    if encoding == "utf-8-sig":
        stream.read(len(codecs.BOM_UTF8))
        return stream, encoding, first
    return io.BufferedReader(_Utf8Recoder(stream, encoding), _CHUNK), encoding, first


def undecodable_detail(encoding: str) -> str:
    """The wording used wherever bytes do not decode."""
    return f"undecodable bytes (not valid {encoding})"
