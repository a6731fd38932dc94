"""Task-tag accuracy of the diversity classifier against Dolly's human labels.

Reads ``../shared/data/dolly/dolly_3k.json`` at run time (skips cleanly when absent),
tags each record from its instruction, input and output WITHOUT the ``category``
field, maps our taxonomy onto Dolly's classes and prints per-class precision,
recall, F1 and macro-F1.

Two views are printed:

* 7 classes (primary): Dolly's ``open_qa`` and ``general_qa`` are merged, because our
  taxonomy has one open-QA task; Dolly separates them by answer style (short fact vs.
  open-ended explanation), which is not a task distinction.
* 8 classes: Dolly's labels as they are; ``general_qa`` can never be predicted, so its
  recall is 0 and it drags the macro average down. Shown for honesty.

Our tasks without a Dolly counterpart (math, reasoning, code, translation, rewriting,
chat, refusal_safety) map to ``(other)`` and count as errors.

Held-out check: the rules were tuned looking at even-indexed records only; the
macro-F1 of the even and the odd halves is printed next to the full set, so a gap
between them shows overfitting.

Usage: ``python bench/dolly_task_eval.py [--data PATH] [--errors N] [--half even|odd]``
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import RULES_DIR, read_yaml
from pipeline.diversity.task import TaskClassifier

DEFAULT = ROOT.parent / "shared" / "data" / "dolly" / "dolly_3k.json"
TO_DOLLY = {
    "open_qa": "open_qa", "closed_qa": "closed_qa", "classification": "classification",
    "brainstorming": "brainstorming", "extraction": "information_extraction",
    "summarization": "summarization", "generation": "creative_writing",
}


def prf(gold: list[str], pred: list[str], classes: list[str]) -> list[tuple[str, float, float, float, int]]:
    """Per-class (precision, recall, F1, support)."""
    rows = []
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        npred = sum(p == c for p in pred)
        ngold = sum(g == c for g in gold)
        pr = tp / npred if npred else 0.0
        rc = tp / ngold if ngold else 0.0
        f1 = 2 * pr * rc / (pr + rc) if pr + rc else 0.0
        rows.append((c, pr, rc, f1, ngold))
    return rows


def table(title: str, rows) -> float:
    print(f"\n{title}\n| class | precision | recall | F1 | support |\n|---|---|---|---|---|")
    for c, pr, rc, f1, n in rows:
        print(f"| {c} | {pr:.3f} | {rc:.3f} | {f1:.3f} | {n} |")
    macro = sum(r[3] for r in rows) / len(rows)
    print(f"| **macro-F1** | | | **{macro:.3f}** | {sum(r[4] for r in rows)} |")
    return macro


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--errors", type=int, default=0, help="print N misclassified examples per class")
    ap.add_argument("--half", choices=["even", "odd"], default="",
                    help="errors from this half only (tune on even, keep odd held out)")
    args = ap.parse_args()
    path = Path(args.data)
    if not path.exists():
        print(f"skip: {path} not found")
        return 0
    data = json.loads(path.read_text(encoding="utf-8"))
    clf = TaskClassifier(read_yaml(RULES_DIR / "taxonomy.yaml"))
    gold, pred, ours = [], [], []
    for rec in data:
        tag = clf.classify(rec.get("instruction", ""), rec.get("input", ""), rec.get("output", ""))
        ours.append(tag)
        gold.append(rec["category"])
        pred.append(TO_DOLLY.get(tag.task, "(other)"))
    print(f"{len(data)} records from {path.name}; our task distribution: "
          f"{dict(collections.Counter(t.task for t in ours).most_common())}")
    merge = {"general_qa": "open_qa"}
    gold7 = [merge.get(g, g) for g in gold]
    classes7 = sorted(set(gold7))
    m7 = table("7 classes (open_qa + general_qa merged) - primary", prf(gold7, pred, classes7))
    m8 = table("8 classes (Dolly labels as is; general_qa cannot be predicted)", prf(gold, pred, sorted(set(gold))))
    acc = sum(g == p for g, p in zip(gold7, pred)) / len(gold)
    print(f"\naccuracy (7 classes): {acc:.3f}   macro-F1 7: {m7:.3f}   macro-F1 8: {m8:.3f}")
    halves = {}
    for name, start in (("even", 0), ("odd", 1)):
        g, p = gold7[start::2], pred[start::2]
        rows = prf(g, p, classes7)
        halves[name] = sum(r[3] for r in rows) / len(rows)
        print(f"{name:>4} half ({len(g)} records): macro-F1 7 {halves[name]:.3f}   "
              + "  ".join(f"{c} {f1:.3f}" for c, _, _, f1, _ in rows))
    print(f"macro-F1 7 - full {m7:.3f}  even {halves['even']:.3f}  odd {halves['odd']:.3f}")
    if args.errors:
        conf = collections.Counter((g, p) for g, p in zip(gold7, pred) if g != p)
        print("\ntop confusions (gold -> pred):", conf.most_common(12))
        shown = collections.Counter()
        for i, (rec, g, p, t) in enumerate(zip(data, gold7, pred, ours)):
            if args.half and i % 2 != (args.half == "odd"):
                continue
            if g != p and shown[g] < args.errors:
                shown[g] += 1
                print(f"  [{g} -> {p} via {t.rule}] {rec['instruction'][:100]!r} in={bool(rec['input'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
