"""Report benchmark: time to build the quality report vs the pipeline run it describes.

Usage:
    .venv/bin/python bench/report.py [--records 200000] [--config rules/default.yaml] [--num-proc 1]

It generates Alpaca-style JSONL records (English and Chinese, ~5% exact duplicates; the
generator of bench/ingest.py), runs ``pipeline.run`` with the recipe (the default one:
all eleven stages), and measures in the same run:
  * the pipeline's time without the report (``manifest.timings.total``);
  * the report as written by the run (``manifest.timings.report``);
  * a cold rebuild, ``sftpipe report OUT`` in a fresh process (imports included).
It prints both report times as a share of the pipeline time; the target is < 10%.
Report cost is mostly fixed (charts, imports) plus a column-wise pass over the shards
and one streaming pass over the rejects; examples are sampled, so it grows slowly.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import make_corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--config", default=None, help="recipe (default: rules/default.yaml)")
    ap.add_argument("--num-proc", type=int, default=1)
    args = ap.parse_args()

    from pipeline.runner import run

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "corpus.jsonl"
        t = time.perf_counter()
        make_corpus(data, args.records)
        print(f"generated {args.records} records in {time.perf_counter() - t:.1f}s", flush=True)
        out = Path(tmp) / "out"
        t = time.perf_counter()
        run([str(data)], config=args.config, out=out, num_proc=args.num_proc, progress=False)
        wall = time.perf_counter() - t
        timings = json.loads((out / "manifest.json").read_text())["timings"]
        pipeline_s, report_s = timings["total"], timings["report"]
        t = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "sftpipe"), "report", str(out)], check=True,
                       capture_output=True, cwd=ROOT)
        cold_s = time.perf_counter() - t
        size = sum(p.stat().st_size for p in (out / "report").glob("report.*"))
    print(json.dumps({"records": args.records, "pipeline_s": round(pipeline_s, 2), "run_wall_s": round(wall, 2),
                      "report_in_run_s": round(report_s, 2), "report_cold_s": round(cold_s, 2),
                      "report_share": round(report_s / pipeline_s, 4),
                      "report_cold_share": round(cold_s / pipeline_s, 4), "report_bytes": size,
                      "per_stage": timings}, indent=1))
    print(f"report = {report_s / pipeline_s:.1%} of the pipeline time (cold rebuild {cold_s / pipeline_s:.1%}); "
          "target < 10%")


if __name__ == "__main__":
    main()
