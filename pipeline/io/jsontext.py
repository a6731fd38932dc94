"""Streaming JSON containers: JSON Lines, JSON arrays and single JSON objects.

Every iterator here yields *items* ``(line, obj, problem)``: the 1-based line where the
raw record starts (None when unknown), the parsed object, and ``None`` or a
``(reason, detail)`` pair when the raw record could not be parsed (then ``obj`` is the
raw text, kept for the rejects file). Problems that end the file early (a truncated
array, text that is not JSON at all) go to the ``err(line, message)`` callback.

JSON arrays are parsed element by element without holding the file: a cheap regex
proposes where the current object may end (``}`` followed by ``,`` or ``]``) and orjson
confirms it. The shortest such piece that parses *is* the element, because a JSON
parser reads a value deterministically from its first byte and a proper prefix that
ends inside one of its strings cannot be a complete value. When too many candidates
fail (an element full of ``}, {`` inside strings) or the element is not an object, the
slower stdlib ``raw_decode`` takes over for that element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import orjson

from pipeline.io.encoding import undecodable_detail

Item = tuple["int | None", Any, "tuple[str, str] | None"]
ErrFn = Callable[["int | None", str], None]

_CHUNK = 1 << 20
_WS = re.compile(rb"[ \t\r\n]*")
_OBJ_END = re.compile(rb"\}[ \t\r\n]*[,\]]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_TRIES = 64
_STRICT = json.JSONDecoder()
_LENIENT = json.JSONDecoder(strict=False)  # accepts raw control characters inside strings
_LBRACE, _LBRACKET, _RBRACKET, _COMMA = ord("{"), ord("["), ord("]"), ord(",")


def _bad_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def line_problem(raw: bytes, msg: str, line: int | None, encoding: str) -> tuple[str, str]:
    """Reason and detail for a raw record that orjson refused."""
    where = f"line {line}: " if line else ""
    if "UTF-8" in msg:
        return "ingest_undecodable", where + undecodable_detail(encoding)
    if "surrogate" in msg:  # a "\\ud800" escape: valid JSON syntax, but no Unicode text
        return "ingest_undecodable", f"{where}lone surrogate escape ({msg})"
    nul = raw.find(b"\x00")
    if nul >= 0:
        return "ingest_invalid_json", f"{where}NUL byte at byte {nul + 1} of the record"
    return "ingest_invalid_json", where + msg


def iter_jsonl(stream: BinaryIO, encoding: str) -> Iterator[Item]:
    """One record per non-blank line; a broken line becomes a problem item, reading goes on."""
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    line = 0
    for raw in stream:
        line += 1
        try:
            obj = loads(raw)
        except decode_error as e:
            if raw.isspace():
                continue
            yield (
                line,
                _bad_text(raw.rstrip(b"\r\n")),
                line_problem(raw, f"{e.msg} (column {e.colno})", line, encoding),
            )
            continue
        yield line, obj, None


class _Window:
    """A sliding window over a byte stream that knows the line number of any position."""

    def __init__(self, stream: BinaryIO, buf: bytes, pos: int):
        self.stream, self.buf, self.pos = stream, buf, pos
        self.eof = False
        self._line, self._line_pos = 1, 0

    def line_at(self, pos: int) -> int:
        # Positions only move forward, so counting newlines incrementally keeps this O(n) overall.
        self._line += self.buf.count(b"\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def more(self) -> bool:
        """Drop consumed bytes and append at least as many new ones as the window holds."""
        if self.eof:
            return False
        self.line_at(self.pos)
        data = self.stream.read(max(_CHUNK, len(self.buf) - self.pos))
        self.buf = self.buf[self.pos :] + data
        self._line_pos -= self.pos
        self.pos = 0
        self.eof = not data
        return not self.eof

    def skip_ws(self) -> bool:
        """Move past whitespace; False when the stream ends first."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return True
            if not self.more():
                return False


_NEED_MORE = object()


def _dirty(piece: bytes, msg: str, line: int, encoding: str) -> tuple[str, str] | None:
    """When ``piece`` is a whole JSON value spoiled only by bad bytes, say why; else None."""
    if "UTF-8" not in msg and "control character" not in msg and "surrogate" not in msg:
        return None  # a structural failure: the piece is not the whole element
    try:
        _LENIENT.decode(piece.decode("utf-8", "surrogateescape"))
    except ValueError:
        return None
    return line_problem(piece, msg, line, encoding)


def _next_object(win: _Window, encoding: str):
    """Parse the ``{...}`` at the window position with orjson, or defer to the generic path.

    Returns ``(line, obj, problem, end)`` like :func:`_next_value`, except that ``end``
    is past the following "," when there is one.
    """
    buf, pos = win.buf, win.pos
    search = _OBJ_END.search
    m = search(buf, pos)
    tries = 0
    while m is not None:
        end = m.start() + 1
        try:
            # A good record needs no line number; past a "," the next value may start at once.
            return None, orjson.loads(buf[pos:end]), None, m.end() if buf[m.end() - 1] == _COMMA else end
        except orjson.JSONDecodeError as e:
            problem = _dirty(buf[pos:end], e.msg, win.line_at(pos), encoding)
            if problem:
                return win.line_at(pos), _bad_text(buf[pos:end]), problem, end
        tries += 1
        if tries > _MAX_TRIES:
            return _next_value(win, encoding)
        m = search(buf, end)
    if win.more():
        return _NEED_MORE
    return _next_value(win, encoding)


def _next_value(win: _Window, encoding: str):
    """Parse any JSON value at the window position with the stdlib decoder.

    Returns ``(line, obj, problem, end)``, ``_NEED_MORE`` or an error message (str).
    """
    window = 1 << 16
    while True:
        buf, pos = win.buf, win.pos
        text = buf[pos : pos + window].decode("utf-8", "surrogateescape")
        strict_msg = None
        try:
            obj, n = _STRICT.raw_decode(text)
        except RecursionError:  # the stdlib parser recurses once per nesting level
            return f"invalid JSON at line {win.line_at(pos)}: the value is nested too deeply to parse"
        except json.JSONDecodeError as strict_error:
            try:  # a whole value spoiled only by raw control characters (NUL) parses leniently
                obj, n = _LENIENT.raw_decode(text)
                strict_msg = strict_error.msg
            except RecursionError:
                return f"invalid JSON at line {win.line_at(pos)}: the value is nested too deeply to parse"
            except json.JSONDecodeError as e:
                cut = e.msg.startswith("Unterminated") or e.pos + 16 >= len(text)
                if cut and pos + window < len(buf):
                    window *= 2
                    continue
                if cut and win.more():
                    return _NEED_MORE
                start = win.line_at(pos)
                if cut:
                    return (
                        f"truncated JSON: the record starting at line {start} is incomplete "
                        f"(the file ends at line {start + text.count(chr(10))})"
                    )
                return f"invalid JSON at line {start + text.count(chr(10), 0, e.pos)}: {e.msg}"
        raw = text[:n].encode("utf-8", "surrogateescape")
        end, line = pos + len(raw), win.line_at(pos)
        if _SURROGATE.search(text, 0, n):
            return (
                line,
                _bad_text(raw),
                ("ingest_undecodable", f"line {line}: {undecodable_detail(encoding)}"),
                end,
            )
        if strict_msg is not None:
            return line, _bad_text(raw), line_problem(raw, strict_msg, line, encoding), end
        return line, obj, None, end


def _run_of_objects(win: _Window) -> Iterator[Item]:
    """The hot loop: consecutive well-formed objects, each parsed by orjson at its first
    candidate end. Stops (leaving ``win.pos`` at the element it could not take) on anything
    else, which the general loop in :func:`_iter_array` then handles."""
    buf, pos, size = win.buf, win.pos, len(win.buf)
    ws, search, loads = _WS.match, _OBJ_END.search, orjson.loads
    while True:
        pos = ws(buf, pos).end()
        if pos >= size or buf[pos] != _LBRACE:
            break
        m = search(buf, pos)
        if m is None:
            break
        try:
            obj = loads(buf[pos : m.start() + 1])
        except orjson.JSONDecodeError:
            break
        after = m.end()
        if buf[after - 1] != _COMMA:  # the closing "]": leave it for the general loop
            win.pos = after - 1
            yield None, obj, None
            return
        win.pos = pos = after
        yield None, obj, None
    win.pos = pos


def _iter_array(win: _Window, encoding: str, err: ErrFn) -> Iterator[Item]:
    win.pos += 1  # the "["
    expect_value = True
    while True:
        if expect_value:
            # A run leaves the window after a "," or on the closing "]", so a value is still
            # expected (or the array ends): the state below stays right.
            yield from _run_of_objects(win)
        if not win.skip_ws():
            err(win.line_at(win.pos), "truncated JSON array: the file ends before the closing ']'")
            return
        c = win.buf[win.pos]
        if c == _RBRACKET:  # also accepts a trailing comma: nothing is lost by being lenient there
            win.pos += 1
            if win.skip_ws():
                err(win.line_at(win.pos), "unexpected content after the closing ']' of the JSON array")
            return
        if not expect_value:
            if c != _COMMA:
                err(win.line_at(win.pos), f"invalid JSON array: expected ',' or ']' but found {chr(c)!r}")
                return
            win.pos += 1
            expect_value = True
            continue
        got = _next_object(win, encoding) if c == _LBRACE else _next_value(win, encoding)
        if got is _NEED_MORE:
            continue
        if isinstance(got, str):
            err(win.line_at(win.pos), got)
            return
        line, obj, problem, win.pos = got
        expect_value = win.buf[win.pos - 1] == _COMMA  # the fast path also consumed the separator
        yield line, obj, problem


def _first_lines_parse(data: bytes, limit: int = 5) -> bool:
    """True when one of the first non-blank lines is a JSON object on its own (JSON Lines)."""
    for raw in data.split(b"\n", 50)[:50]:
        if not raw.strip():
            continue
        try:
            if isinstance(orjson.loads(raw), dict):
                return True
        except orjson.JSONDecodeError:
            pass
        limit -= 1
        if limit <= 0:
            break
    return False


def _second_line(win: _Window) -> bool:
    """True when something other than whitespace follows the first line break."""
    nl = win.buf.find(b"\n", win.pos)
    return nl >= 0 and _WS.match(win.buf, nl).end() < len(win.buf)


def _iter_object_file(
    win: _Window, encoding: str, reopen: Callable[[], BinaryIO], err: ErrFn
) -> Iterator[Item]:
    """A file starting with ``{``: JSON Lines (however it is named), or one object."""
    while not _second_line(win) and win.more():
        pass
    nl = win.buf.find(b"\n", win.pos)
    try:
        orjson.loads(win.buf[win.pos : nl if nl >= 0 else len(win.buf)])
        lines = _second_line(win)
    except orjson.JSONDecodeError:
        # Either one pretty-printed object, or JSON Lines whose first line is broken;
        # the latter must never be read whole into memory.
        lines = _first_lines_parse(win.buf[win.pos :])
    if lines:
        win.stream.close()
        with reopen() as stream:
            yield from iter_jsonl(stream, encoding)
        return
    start = win.line_at(win.pos)
    rest = win.buf[win.pos :] + win.stream.read()
    try:
        obj = orjson.loads(rest)
    except orjson.JSONDecodeError as e:
        line = start + rest.count(b"\n", 0, e.pos)
        err(line, f"not valid JSON: {line_problem(rest, e.msg, line, encoding)[1]}")
        return
    # A {"data": [...]} wrapper holds the records; any other object is one record.
    inner = next(iter(obj.values())) if len(obj) == 1 else None
    if isinstance(inner, list) and inner and all(isinstance(x, dict) for x in inner):
        for x in inner:
            yield None, x, None
    else:
        yield start, obj, None


def iter_json(open_stream: Callable[[], BinaryIO], encoding: str, err: ErrFn) -> Iterator[Item]:
    """Records of a ``.json`` file: an array, JSON Lines content, or a single object.

    Args:
        open_stream: Returns a fresh UTF-8 byte stream of the file (called again when
            the content turns out to be JSON Lines).
        encoding: The detected encoding, for messages.
        err: Receives file-level problems (the file is then read no further).
    """
    stream = open_stream()
    try:
        win = _Window(stream, stream.read(_CHUNK), 0)
        if not win.skip_ws():
            err(None, "empty file")
            return
        c = win.buf[win.pos]
        if c == _LBRACKET:
            yield from _iter_array(win, encoding, err)
        elif c == _LBRACE:
            yield from _iter_object_file(win, encoding, open_stream, err)
        else:
            snippet = win.buf[win.pos : win.pos + 20].decode("utf-8", "replace")
            err(
                win.line_at(win.pos),
                f"not JSON records: the file starts with {snippet!r} (expected '[' or '{{')",
            )
    finally:
        stream.close()
