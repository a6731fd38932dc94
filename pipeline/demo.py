"""``make demo``: curate sample_data/ with the default recipe, then train a tiny LoRA on it.

Everything runs offline: the model is a 2-layer Llama-style network built locally.
"""
from __future__ import annotations

import sys
from pathlib import Path

from pipeline.runner import run
from pipeline.summary import print_summary


def main(out: str = "out") -> int:
    summary = run(None, out=out)
    print_summary(summary)
    try:
        from pipeline.train.api import demo_train
    except ImportError as e:  # the train extra is part of `make install`; say what is missing
        print(f"skipping the LoRA demo: {e}", file=sys.stderr)
        return summary.exit_code
    adapter = demo_train(Path(out), Path(out) / "train")
    print(f"LoRA adapter:   {adapter}")
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
