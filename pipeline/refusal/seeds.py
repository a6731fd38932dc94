"""Seed material for injection: load ``rules/refusal/*.yaml`` and fill its templates.

Each kind file holds, per language, instruction templates with slots and response
templates in several styles. Slots are written ``{name}`` or ``{name.part}``; a topic
or slot value supplies them. :func:`base_items` lists every (instruction, response
maker, template id) a kind can produce in one language; framings ("Quick question:
{q}") multiply them. Nothing here is random: the generator owns the RNG.
"""
from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import RULES_DIR, read_yaml

SEED_DIR = RULES_DIR / "refusal"
KINDS = ("out_of_bounds", "ambiguous", "false_premise", "safety_contrast")
RESPONSE_TYPE = {"out_of_bounds": "refusal", "ambiguous": "clarification",
                 "false_premise": "correction", "safety_contrast": "answer"}
_SLOT = re.compile(r"\{([a-z_]+)(?:\.([a-z_]+))?\}")


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Replace ``{name}`` / ``{name.part}`` slots; unknown slots raise KeyError."""
    def sub(m: re.Match) -> str:
        v = values[m.group(1)]
        return str(v[m.group(2)] if m.group(2) else v)
    return _SLOT.sub(sub, template)


def slots_of(template: str) -> set[str]:
    """Slot names used by a template (without the ``.part``)."""
    return {m.group(1) for m in _SLOT.finditer(template)}


@functools.lru_cache(maxsize=4)
def load(seed_dir: Path | str = SEED_DIR) -> dict[str, dict]:
    """Every kind's seed file plus ``framings``, keyed by file stem.

    Cached per directory (parsing ~2,000 lines of YAML is the slow part of ``fit``);
    callers must treat the result as read-only.
    """
    d = Path(seed_dir)
    return {p.stem: read_yaml(p) for p in sorted(d.glob("*.yaml"))}


@dataclass(frozen=True)
class Item:
    """One instruction a kind can produce, and how to write its response.

    Attributes:
        instruction: The filled instruction (before framing).
        respond: Given a response-template index, the filled response.
        n_styles: How many response styles ``respond`` accepts.
        tid: Template id, e.g. ``i12.t3`` (instruction template 12, topic 3).
    """

    instruction: str
    respond: Callable[[int], str]
    n_styles: int
    tid: str


def _topic_items(block: Mapping) -> list[Item]:
    """Instruction templates x topics, for kinds whose topics carry every slot."""
    responses = block.get("responses") or []
    items = []
    for (ti, topic), (ii, tmpl) in itertools.product(enumerate(block.get("topics") or []),
                                                     enumerate(block.get("instructions") or [])):
        def respond(k: int, topic=topic) -> str:
            return fill(responses[k], topic)
        items.append(Item(fill(tmpl, topic), respond, len(responses), f"i{ii}.t{ti}"))
    return items


def _ambiguous_items(block: Mapping) -> list[Item]:
    """Each instruction template x every combination of the slot values it uses."""
    responses = block.get("responses") or []
    slots = block.get("slots") or {}
    items = []
    for ii, entry in enumerate(block.get("instructions") or []):
        names = sorted(slots_of(entry["text"]) | slots_of(entry["missing"]))
        for combo in itertools.product(*(list(enumerate(slots[n])) for n in names)):
            values = {n: v for n, (_, v) in zip(names, combo)}
            missing = fill(entry["missing"], values)
            tid = f"i{ii}" + "".join(f".{n}{j}" for n, (j, _) in zip(names, combo))

            def respond(k: int, missing=missing) -> str:
                return fill(responses[k], {"missing": missing})
            items.append(Item(fill(entry["text"], values), respond, len(responses), tid))
    return items


def _contrast_items(block: Mapping) -> list[Item]:
    """Every question phrasing of every topic; the opener is the response style."""
    openers = block.get("openers") or [""]
    items = []
    for ti, topic in enumerate(block.get("topics") or []):
        for qi, q in enumerate(topic.get("questions") or []):
            def respond(k: int, topic=topic) -> str:
                return f"{openers[k]}{topic['answer']}".strip()
            items.append(Item(q, respond, len(openers), f"t{ti}.q{qi}"))
    return items


def base_items(seeds: Mapping[str, dict], kind: str, lang: str) -> list[Item]:
    """Everything ``kind`` can produce in ``lang``, unframed, in file order."""
    block = (seeds.get(kind) or {}).get(lang) or {}
    if kind == "ambiguous":
        return _ambiguous_items(block)
    if kind == "safety_contrast":
        return _contrast_items(block)
    return _topic_items(block)


def framings(seeds: Mapping[str, dict], lang: str) -> list[str]:
    """Framing templates with a ``{q}`` slot; the bare ``{q}`` comes first."""
    fr = list((seeds.get("framings") or {}).get(lang) or [])
    return ["{q}"] + [f for f in fr if f != "{q}"]


def frame(framing: str, instruction: str) -> str:
    """Put an instruction into a framing (no other slots are touched)."""
    return framing.replace("{q}", instruction)


def derived_responses(seeds: Mapping[str, dict], lang: str) -> list[str]:
    """Clarification templates for derived samples (slots ``{noun}`` and ``{cue}``)."""
    return list(((seeds.get("ambiguous") or {}).get(lang) or {}).get("derived") or [])
