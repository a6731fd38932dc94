"""Record formats people publish, and how each maps to the canonical record.

Each mapper takes one raw dict and returns ``(system, instruction, input, output,
history, meta)`` or raises :class:`~pipeline.io.fields.Reject`. :data:`FORMATS` is
ordered: when two formats fit a file equally well, the earlier one wins.

Detection (:func:`detect`) validates a sample of records against the JSON schemas in
``schemas/formats/input/<name>.json``. The schemas only require the keys and shapes
that identify a format, not value types, so a file with some wrongly typed values is
still recognised and those records get a precise per-record reason instead.

Choices worth knowing:
- Self-instruct seed tasks (``instruction`` + ``instances``) give one record per raw
  record, built from the *first* instance; ``meta.n_instances`` says how many there were.
  One raw record, one result keeps the conservation count exact.
- A KTO record (``label: false``) is an undesirable example: rejected as
  ``ingest_preference_record``. ``label: true`` is a normal record (see readers).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.io.fields import Reject, a_turn, conversation, meta, opt, pairs, req, wrong_type

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "formats" / "input"

USER, ASSISTANT, SYSTEM = "user", "assistant", "system"
ROLES = {
    "human": USER,
    "user": USER,
    "gpt": ASSISTANT,
    "assistant": ASSISTANT,
    "chatgpt": ASSISTANT,
    "bing": ASSISTANT,
    "bard": ASSISTANT,
    "model": ASSISTANT,
    "system": SYSTEM,
    "developer": SYSTEM,
}
TOOL_ROLES = frozenset(
    {
        "observation",
        "function_call",
        "function",
        "tool",
        "tool_call",
        "tool_calls",
        "tool_response",
        "ipython",
    }
)

Mapped = tuple[str, str, str, str, list, dict]


def _role(t: dict, where: str) -> str:
    role = t.get("from", t.get("role"))
    if role is None:
        raise Reject("ingest_missing_field", f"field '{where}.from' (or '.role') is missing")
    if not isinstance(role, str):
        raise wrong_type(f"{where}.from", role)
    low = role.lower()
    if low in TOOL_ROLES or t.get("tool_calls") or t.get("function_call"):
        raise Reject("ingest_tool_turn", f"field '{where}' is {a_turn(role)} (tool use is not supported)")
    if low not in ROLES:
        raise Reject("ingest_unknown_role", f"field '{where}' has unknown role {role!r}")
    return ROLES[low]


def _content(t: dict, where: str, role: str) -> str:
    """Turn text: a string, or a list of text parts ({type: text, text|value}) joined."""
    v = t["value"] if "value" in t else t.get("content")
    if isinstance(v, str):
        return v
    if isinstance(v, list) and v and all(isinstance(p, dict) for p in v):
        texts = []
        for j, part in enumerate(v):
            kind = part.get("type", "text")
            text = part.get("text", part.get("value"))
            if kind != "text":
                raise Reject(
                    "ingest_wrong_type",
                    f"field '{where}.content[{j}]' is a {kind!r} part; only text is supported",
                )
            if not isinstance(text, str):
                raise wrong_type(f"{where}.content[{j}].text", text)
            texts.append(text)
        return "".join(texts)
    if "value" not in t and "content" not in t:
        raise Reject("ingest_missing_field", f"field '{where}.value' (or '.content') is missing")
    raise wrong_type(f"{where}.content", v, answer=role == ASSISTANT)


def _chat(d: dict, key: str, known: frozenset) -> Mapped:
    turns = d.get(key)
    if key not in d:
        raise Reject("ingest_missing_field", f"field '{key}' is missing")
    if not isinstance(turns, list):
        raise wrong_type(key, turns, expected="a list of turns")
    out = []
    for i, t in enumerate(turns):
        where = f"{key}[{i}]"
        if not isinstance(t, dict):
            raise wrong_type(where, t, expected="object")
        role = _role(t, where)
        out.append((role, _content(t, where, role)))
    system, history, instruction, output = conversation(out, key, opt(d, "system"))
    return system, instruction, "", output, history, meta(d, known)


def sharegpt(d: dict) -> Mapped:
    return _chat(d, "conversations", _SHAREGPT_KEYS)


def openai(d: dict) -> Mapped:
    return _chat(d, "messages", _OPENAI_KEYS)


def alpaca(d: dict) -> Mapped:
    # The hot path of large corpora: plain lookups first, the checked getters only when needed.
    ins, out, inp, system = d.get("instruction"), d.get("output"), d.get("input", ""), d.get("system", "")
    if ins.__class__ is str and out.__class__ is str and inp.__class__ is str and system.__class__ is str:
        hist = d.get("history")
        return system, ins, inp, out, pairs(hist, "history") if hist is not None else [], meta(d, _ALPACA_KEYS)
    return (
        opt(d, "system"),
        req(d, "instruction"),
        opt(d, "input"),
        req(d, "output", answer=True),
        pairs(d.get("history"), "history"),
        meta(d, _ALPACA_KEYS),
    )


def dolly(d: dict) -> Mapped:
    return (
        "",
        req(d, "instruction"),
        opt(d, "context"),
        req(d, "response", answer=True),
        [],
        meta(d, _DOLLY_KEYS),
    )


def firefly(d: dict) -> Mapped:
    if "conversation" not in d:  # single-turn {kind, input, target}
        return "", req(d, "input"), "", req(d, "target", answer=True), [], meta(d, _FIREFLY_KEYS)
    conv = d["conversation"]
    if not isinstance(conv, list):
        raise wrong_type("conversation", conv, expected="a list of {human, assistant} turns")
    turns = []
    for i, t in enumerate(conv):
        where = f"conversation[{i}]"
        if not isinstance(t, dict):
            raise wrong_type(where, t, expected="object")
        turns.append((USER, req(t, "human", f"{where}.human")))
        if "assistant" in t or i + 1 < len(conv):
            turns.append((ASSISTANT, req(t, "assistant", f"{where}.assistant", answer=True)))
    system, history, instruction, output = conversation(turns, "conversation", opt(d, "system"))
    return system, instruction, "", output, history, meta(d, _FIREFLY_KEYS)


def openorca(d: dict) -> Mapped:
    return (
        opt(d, "system_prompt"),
        req(d, "question"),
        "",
        req(d, "response", answer=True),
        [],
        meta(d, _OPENORCA_KEYS),
    )


def query_response(d: dict) -> Mapped:
    return (
        opt(d, "system"),
        req(d, "query"),
        "",
        req(d, "response", answer=True),
        pairs(d.get("history"), "history"),
        meta(d, _QR_KEYS),
    )


def prompt_completion(d: dict) -> Mapped:
    return (opt(d, "system"), req(d, "prompt"), "", req(d, "completion", answer=True), [], meta(d, _PC_KEYS))


def question_answer(d: dict) -> Mapped:
    return "", req(d, "question"), "", req(d, "answer", answer=True), [], meta(d, _QA_KEYS)


def self_instruct(d: dict) -> Mapped:
    instances = d.get("instances")
    if not isinstance(instances, list) or not instances:
        raise Reject("ingest_missing_field", "field 'instances' is missing or empty")
    first = instances[0]
    if not isinstance(first, dict):
        raise wrong_type("instances[0]", first, expected="object")
    m = meta(d, _SI_KEYS)
    m["n_instances"] = len(instances)
    return (
        "",
        req(d, "instruction"),
        opt(first, "input", "instances[0].input"),
        req(first, "output", "instances[0].output", answer=True),
        [],
        m,
    )


def preference(d: dict) -> Mapped:
    raise Reject("ingest_preference_record", "fields 'chosen'/'rejected' (preference pair, not SFT data)")


_SHAREGPT_KEYS = frozenset({"conversations", "system", "tools"})
_OPENAI_KEYS = frozenset({"messages", "system", "tools"})
_ALPACA_KEYS = frozenset({"instruction", "input", "output", "system", "history"})
_DOLLY_KEYS = frozenset({"instruction", "context", "response"})
_FIREFLY_KEYS = frozenset({"input", "target", "conversation", "system"})
_OPENORCA_KEYS = frozenset({"system_prompt", "question", "response"})
_QR_KEYS = frozenset({"query", "response", "history", "system"})
_PC_KEYS = frozenset({"prompt", "completion", "system"})
_QA_KEYS = frozenset({"question", "answer"})
_SI_KEYS = frozenset({"instruction", "instances"})

#: Format name -> mapper, in detection priority order.
FORMATS: dict[str, Callable[[dict], Mapped]] = {
    "preference": preference,
    "sharegpt": sharegpt,
    "openai": openai,
    "firefly": firefly,
    "self_instruct": self_instruct,
    "alpaca": alpaca,
    "dolly": dolly,
    "openorca": openorca,
    "query_response": query_response,
    "prompt_completion": prompt_completion,
    "question_answer": question_answer,
}
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)


@functools.cache
def _validators() -> dict[str, Any]:
    import jsonschema

    out = {}
    for name in FORMATS:
        schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
        out[name] = jsonschema.validators.validator_for(schema)(schema)
    return out


def detect(samples: list[dict]) -> str | None:
    """The format most of the sampled records match, or None.

    Args:
        samples: The first raw records of a file (dicts only), after any field map.

    Returns:
        The format matching the most samples, provided it matches at least half of
        them; ties go to the earlier entry of :data:`FORMATS`.
    """
    if not samples:
        return None
    best, best_n = None, 0
    for name, validator in _validators().items():
        n = sum(1 for s in samples if validator.is_valid(s))
        if n > best_n:
            best, best_n = name, n
    return best if best_n * 2 >= len(samples) else None


def apply_field_map(d: dict, field_map: dict[str, str]) -> dict:
    """Rename source keys to the names a format expects (``{canonical: source}``)."""
    d = dict(d)
    for canon, src in field_map.items():
        if src in d and canon != src:
            d[canon] = d.pop(src)
    return d
