"""Token-budget audit, the truncation policy and the pre-flight lint.

The audit answers "what will ``max_seq_len`` do to my data?" before a single step runs:
how many records are over budget, and whether the *answer* would be cut. The policy is
explicit - ``drop`` the record, ``truncate_prompt`` from the left, or ``keep`` it long -
and the answer is never cut silently: a record whose answer cannot fit is rejected
with ``train_answer_truncated``.

Reason codes (API): ``train_too_long``, ``train_answer_truncated``,
``train_no_supervised_tokens``, ``train_eos_not_supervised``.
"""
from __future__ import annotations

from dataclasses import replace

from pipeline.errors import SftpipeError
from pipeline.train.data import IGNORE, Example


class LintError(SftpipeError):
    """The pre-flight lint found records that cannot be trained on (``lint_action: fail``)."""


def _percentile(values: list[int], q: float) -> int:
    if not values:
        return 0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def apply_budget(examples: list[Example], max_len: int, policy: str, objective: str = "sft"
                 ) -> tuple[list[Example], list[dict], dict]:
    """Audit token lengths and apply the truncation policy.

    Args:
        examples: Tokenised records.
        max_len: ``max_seq_len``.
        policy: ``drop`` | ``truncate_prompt`` | ``keep``.
        objective: ``cpt`` splits long documents into ``max_len`` chunks instead
            (plain text has no answer to protect).

    Returns:
        ``(kept, rejects, audit)``; rejects are ``{id, reason, detail}``.
    """
    lengths = [len(e.input_ids) for e in examples]
    audit = {
        "event": "audit", "records": len(examples), "max_seq_len": max_len, "policy": policy,
        "over_budget": 0, "answer_cut_if_right_truncated": 0, "answer_longer_than_budget": 0,
        "dropped": 0, "prompt_truncated": 0, "kept_long": 0,
        "tokens_max": max(lengths, default=0), "tokens_mean": round(sum(lengths) / max(1, len(lengths)), 1),
        "tokens_p95": _percentile(lengths, 0.95),
    }
    kept, rejects = [], []
    for ex in examples:
        n = len(ex.input_ids)
        if n <= max_len:
            kept.append(ex)
            continue
        audit["over_budget"] += 1
        if objective == "cpt":
            kept += [replace(ex, input_ids=ex.input_ids[i:i + max_len], labels=ex.labels[i:i + max_len])
                     for i in range(0, n, max_len)]
            continue
        # The answer sits at the end, so right-truncation would cut it whenever the row is too long.
        audit["answer_cut_if_right_truncated"] += int(ex.answer_start + ex.answer_tokens > max_len)
        cut = n - max_len
        answer_fits = cut <= ex.answer_start
        audit["answer_longer_than_budget"] += int(not answer_fits)
        if policy == "keep":
            audit["kept_long"] += 1
            kept.append(ex)
        elif policy == "drop":
            audit["dropped"] += 1
            rejects.append({"id": ex.rid, "reason": "train_too_long", "detail": f"{n} tokens > {max_len}"})
        elif not answer_fits:
            audit["dropped"] += 1
            rejects.append({"id": ex.rid, "reason": "train_answer_truncated",
                            "detail": f"answer needs {n - ex.answer_start} tokens, budget {max_len}"})
        else:
            audit["prompt_truncated"] += 1
            kept.append(replace(ex, input_ids=ex.input_ids[cut:], labels=ex.labels[cut:],
                                answer_start=ex.answer_start - cut))
    audit["kept"] = len(kept)
    return kept, rejects, audit


def lint(examples: list[Example], eot_ids: set[int], objective: str = "sft") -> list[dict]:
    """Pre-flight checks: each problem is ``{id, reason, detail, index}``.

    - ``train_no_supervised_tokens``: nothing in the record carries loss.
    - ``train_eos_not_supervised``: the last supervised token is not EOS/end-of-turn,
      so the model would never learn to stop.
    """
    problems = []
    for i, ex in enumerate(examples):
        sup = [t for t in ex.labels if t != IGNORE]
        if not sup:
            problems.append({"index": i, "id": ex.rid, "reason": "train_no_supervised_tokens",
                             "detail": f"{len(ex.input_ids)} tokens, none supervised"})
        elif objective == "sft" and sup[-1] not in eot_ids:
            problems.append({"index": i, "id": ex.rid, "reason": "train_eos_not_supervised",
                             "detail": f"last supervised token id {sup[-1]} is not an end-of-turn token"})
    return problems


def enforce_lint(examples: list[Example], problems: list[dict], action: str) -> tuple[list[Example], list[dict]]:
    """``fail``: raise :class:`LintError` listing the problems; ``reject``: drop those records."""
    if not problems:
        return examples, []
    if action == "fail":
        shown = "\n".join(f"  - {p['reason']}: record {p['id'] or p['index']} ({p['detail']})"
                          for p in problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise LintError(f"pre-flight lint failed for {len(problems)} record(s) "
                        f"(set lint_action: reject to skip them):\n{shown}{more}")
    bad = {p["index"] for p in problems}
    rejects = [{k: p[k] for k in ("id", "reason", "detail")} for p in problems]
    return [e for i, e in enumerate(examples) if i not in bad], rejects
