"""Field-level helpers shared by the format mappers: typed getters, history pairs,
conversation turns and ``meta``. Each raises :class:`Reject` with an ``ingest_*``
reason and a detail that names the failing field.

These run once per raw record, so they are plain ``isinstance`` checks (no jsonschema).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Longest string kept in ``meta``; meta carries tags such as a category, not text.
META_MAX_CHARS = 256

_MISSING = object()


class Reject(Exception):
    """A raw record that cannot become a canonical record."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def a_turn(role: str) -> str:
    """ "a user turn", "an assistant turn" (English goes by sound: "a user")."""
    return f"{'an' if role[:1].lower() in 'aeio' else 'a'} {role} turn"


def type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def wrong_type(where: str, v: Any, answer: bool = False, expected: str = "string") -> Reject:
    """The reject for a value of the wrong type; a list where an answer belongs is preference data."""
    if answer and isinstance(v, list):
        return Reject("ingest_preference_record", f"field '{where}' is a list (several candidate answers)")
    return Reject("ingest_wrong_type", f"field '{where}' is {type_name(v)}, expected {expected}")


def req(d: dict, key: str, where: str | None = None, answer: bool = False) -> str:
    """A required text field."""
    v = d.get(key, _MISSING)
    if isinstance(v, str):
        return v
    if v is _MISSING:
        raise Reject("ingest_missing_field", f"field '{where or key}' is missing")
    raise wrong_type(where or key, v, answer)


def opt(d: dict, key: str, where: str | None = None) -> str:
    """An optional text field; absent or null gives ""."""
    v = d.get(key)
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    raise wrong_type(where or key, v)


def pairs(v: Any, key: str) -> list[dict]:
    """``[[q, a], ...]`` (LLaMA-Factory) or ``[{instruction, output}, ...]`` -> history.

    An empty string counts as no history: real Alpaca-style files write ``"history": ""``.
    Other falsy values (``false``, ``0``, ``{}``) are the wrong type, not "no history".
    """
    if v is None or v == "" or (isinstance(v, list) and not v):
        return []
    if not isinstance(v, list):
        raise wrong_type(key, v, expected="a list of [question, answer] pairs")
    out = []
    for i, turn in enumerate(v):
        if isinstance(turn, (list, tuple)) and len(turn) == 2:
            q, a = turn
        elif isinstance(turn, dict) and "instruction" in turn and "output" in turn:
            q, a = turn["instruction"], turn["output"]
        else:
            raise Reject("ingest_wrong_type", f"field '{key}[{i}]' is not a [question, answer] pair")
        if not isinstance(q, str):
            raise wrong_type(f"{key}[{i}][0]", q)
        if not isinstance(a, str):
            raise wrong_type(f"{key}[{i}][1]", a)
        out.append({"instruction": q, "output": a})
    return out


def meta(d: dict, known: frozenset) -> dict:
    """Small scalar source fields that no canonical field took (category, kind, id, ...)."""
    extra = d.keys() - known
    if not extra:
        return {}
    out = {}
    for k in sorted(extra, key=str):
        v = d[k]
        if isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= META_MAX_CHARS):
            out[str(k)] = v
    return out


def conversation(turns: Iterable[tuple[str, str]], key: str, system: str = "") -> tuple:
    """``(role, text)`` turns -> ``(system, history, instruction, output)``.

    A leading system turn becomes ``system``; then turns must alternate user, assistant,
    starting with user and ending with assistant.
    """
    turns = list(turns)
    start = 0
    if turns and turns[0][0] == "system":
        system = f"{system}\n\n{turns[0][1]}" if system else turns[0][1]
        start = 1
    if start == len(turns):
        raise Reject("ingest_missing_field", f"field '{key}' has no user/assistant turns")
    history = []
    for i in range(start, len(turns), 2):
        if turns[i][0] != "user":
            raise Reject(
                "ingest_roles_not_alternating", f"field '{key}[{i}]' is {a_turn(turns[i][0])}, expected user"
            )
        if i + 1 == len(turns):
            raise Reject(
                "ingest_roles_not_alternating", f"field '{key}' ends with a user turn ('{key}[{i}]')"
            )
        if turns[i + 1][0] != "assistant":
            raise Reject(
                "ingest_roles_not_alternating",
                f"field '{key}[{i + 1}]' is {a_turn(turns[i + 1][0])}, expected assistant",
            )
        history.append({"instruction": turns[i][1], "output": turns[i + 1][1]})
    last = history.pop()
    return system, history, last["instruction"], last["output"]
