"""Wall time and peak memory: Data-Juicer vs. sftpipe on the same real Alpaca records.

Usage:
    .venv/bin/python bench/vs_datajuicer.py                 # 30,000 records, np=2
    .venv/bin/python bench/vs_datajuicer.py --n 50000 --np 4 --json /tmp/vs_dj.json
    .venv/bin/python bench/vs_datajuicer.py --skip-dj       # only our two runs
    .venv/bin/python bench/vs_datajuicer.py --repeat 3      # 3 interleaved rounds, median figures

Three runs, one after the other on the same machine and the same input file:

1. ``dj``: Data-Juicer (``py-data-juicer``, installed by this script into its own venv,
   ``--dj-venv``, default /tmp/sftpipe-dj-venv) with an 8-op recipe: text_length_filter,
   words_num_filter, character_repetition_filter, word_repetition_filter,
   special_characters_filter, alphanumeric_filter, document_deduplicator,
   document_minhash_deduplicator (128 permutations, Jaccard 0.7, word 3-grams).
2. ``ours_equiv``: ``sftpipe run`` with the equivalent rules only: stages ``quality`` +
   ``dedup``; quality checks empty_output, too_short, too_long, repetition, looping and
   symbol_ratio set to drop and every other check off; exact + MinHash near-dedup
   (128 permutations, Jaccard 0.7, word 3-grams) as in rules/dedup.yaml.
3. ``ours_full``: ``sftpipe run`` with the full default recipe (all eleven stages).

The rules are equivalent in intent, not identical (DJ filters the concatenated text
with character/word ratios; we judge the answer with script-aware token counts), so
the kept counts are reported next to the times. Each run is a fresh process (its
start-up and imports included) with ``--np`` worker processes; peak memory is the
largest summed RSS of the run's process tree, sampled every 0.1 s.

Input: every record of /work/shared/data/alpaca_raw_en (21,816 real Alpaca records,
read at run time, never copied into the repo). When ``--n`` is larger, the records
are cycled and each repeat's instruction gets a "Variant k:" prefix, so the extra rows
are near-duplicates for both tools alike; the JSON says how many rows are real.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("/work/shared/data/alpaca_raw_en")
EQUIV_CHECKS = ("empty_output", "too_short", "too_long", "repetition", "looping", "symbol_ratio")


def load_records(n: int) -> tuple[list[dict], int]:
    """``n`` Alpaca records (cycled with a prefix beyond the real ones) and the real count."""
    real = []
    for f in sorted(DATA.glob("*.json")):
        real += json.loads(f.read_text(encoding="utf-8"))
    if not real:
        sys.exit(f"no records under {DATA}")
    out = []
    for i in range(n):
        r = real[i % len(real)]
        k = i // len(real)
        rec = {"instruction": r["instruction"] if k == 0 else f"Variant {k}: {r['instruction']}",
               "input": r.get("input", ""), "output": r.get("output", "")}
        out.append(rec)
    return out, min(n, len(real))


def write_inputs(records: list[dict], work: Path) -> tuple[Path, Path]:
    """The same rows twice: Alpaca JSONL for sftpipe, and with a ``text`` field for DJ."""
    ours, dj = work / "alpaca.jsonl", work / "dj.jsonl"
    with open(ours, "w", encoding="utf-8") as fo, open(dj, "w", encoding="utf-8") as fd:
        for r in records:
            fo.write(json.dumps(r, ensure_ascii=False) + "\n")
            text = "\n".join(x for x in (r["instruction"], r["input"], r["output"]) if x)
            fd.write(json.dumps({**r, "text": text}, ensure_ascii=False) + "\n")
    return ours, dj


def ensure_dj(venv: Path) -> tuple[Path | None, str]:
    """Install py-data-juicer into ``venv`` when missing; returns (dj-process path, problem)."""
    exe = venv / "bin" / "dj-process"
    if exe.exists() and subprocess.run([str(venv / "bin" / "python"), "-c", "import data_juicer.tools.process_data"],
                                       capture_output=True).returncode == 0:
        return exe, ""
    base = Path(sys.base_prefix) / "bin" / "python3"
    steps = [[str(base), "-m", "venv", str(venv)],
             [str(venv / "bin" / "pip"), "install", "-q", "--upgrade", "pip"],
             # aiohttp: imported at start-up by py-data-juicer 1.6.1 but missing from its requirements.
             [str(venv / "bin" / "pip"), "install", "-q", "py-data-juicer", "aiohttp"]]
    for cmd in steps:
        print("+", " ".join(cmd), file=sys.stderr)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return None, f"{' '.join(cmd)} failed: {(p.stderr or p.stdout)[-2000:]}"
    return (exe, "") if exe.exists() else (None, "py-data-juicer installed no dj-process")


def dj_recipe(data: Path, out: Path, np_: int) -> dict:
    return {
        "project_name": "sftpipe-vs-dj", "dataset_path": str(data), "export_path": str(out / "result.jsonl"),
        "np": np_, "text_keys": "text", "open_tracer": False, "use_cache": False,
        "process": [
            {"text_length_filter": {"min_len": 10, "max_len": 20000}},
            {"words_num_filter": {"lang": "en", "tokenization": False, "min_num": 3, "max_num": 5000}},
            {"character_repetition_filter": {"rep_len": 10, "min_ratio": 0.0, "max_ratio": 0.5}},
            {"word_repetition_filter": {"lang": "en", "tokenization": False, "rep_len": 10,
                                        "min_ratio": 0.0, "max_ratio": 0.5}},
            {"special_characters_filter": {"min_ratio": 0.0, "max_ratio": 0.25}},
            {"alphanumeric_filter": {"tokenization": False, "min_ratio": 0.25}},
            {"document_deduplicator": {"lowercase": True, "ignore_non_character": True}},
            {"document_minhash_deduplicator": {"tokenization": "space", "window_size": 3, "num_permutations": 128,
                                               "jaccard_threshold": 0.7, "lowercase": True}},
        ],
    }


def equiv_recipe() -> dict:
    from pipeline.config import stage_rules

    checks = {}
    for name, block in (stage_rules("quality").get("checks") or {}).items():
        checks[name] = {"action": "drop" if name in EQUIV_CHECKS else "off"}
        if name in EQUIV_CHECKS and isinstance(block, dict):
            checks[name] = {**block, "action": "drop"}
    return {"stages": ["quality", "dedup"], "rules": {"quality": {"checks": checks}}}


def measure(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run ``cmd``; wall seconds and peak summed RSS (MiB) of its process tree."""
    import psutil

    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            try:
                root = psutil.Process(proc.pid)
            except psutil.NoSuchProcess:
                return
            while not stop.is_set():
                total = 0
                try:
                    for p in [root, *root.children(recursive=True)]:
                        try:
                            total += p.memory_info().rss
                        except psutil.Error:
                            pass
                except psutil.Error:
                    pass
                peak = max(peak, total)
                stop.wait(0.1)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rc = proc.wait()
        stop.set()
        th.join()
    return {"cmd": " ".join(cmd), "rc": rc, "wall_s": round(time.perf_counter() - t0, 2),
            "peak_rss_mib": round(peak / 2 ** 20, 1), "log": str(log)}


def count_lines(path: Path) -> int | None:
    if not path.exists():
        return None
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30_000, help="records (default 30,000)")
    ap.add_argument("--np", dest="np_", type=int, default=2, help="worker processes for every run")
    ap.add_argument("--work", type=Path, default=Path("/tmp/sftpipe-bench-vs-dj"))
    ap.add_argument("--dj-venv", type=Path, default=Path("/tmp/sftpipe-dj-venv"))
    ap.add_argument("--skip-dj", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the three runs; medians are reported")
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    records, real = load_records(args.n)
    ours_in, dj_in = write_inputs(records, args.work)
    result: dict = {"records": len(records), "real_records": real, "np": args.np_, "runs": {}}

    runs: dict[str, list[dict]] = {}
    exe = None
    if not args.skip_dj:
        exe, problem = ensure_dj(args.dj_venv)
        if exe is None:
            result["dj_problem"] = problem
            print(f"Data-Juicer unavailable: {problem}", file=sys.stderr)
    eq = args.work / "equiv.yaml"
    eq.write_text(yaml.safe_dump(equiv_recipe()))
    # Rounds interleave the three runs, so slow spells of a noisy machine hit all of them;
    # each figure is the median over the rounds.
    for _ in range(args.repeat):
        if exe is not None:
            cfg = args.work / "dj.yaml"
            out = args.work / "dj_out"
            cfg.write_text(yaml.safe_dump(dj_recipe(dj_in, out, args.np_)))
            run = measure([str(exe), "--config", str(cfg)], args.work / "dj.log")
            run["kept"] = count_lines(out / "result.jsonl")
            runs.setdefault("dj", []).append(run)
        for name, extra in (("ours_equiv", ["--config", str(eq)]), ("ours_full", [])):
            out = args.work / f"{name}_out"
            run = measure([str(ROOT / ".venv" / "bin" / "sftpipe"), "run", str(ours_in), "--out", str(out),
                           "--quiet", "--num-proc", str(args.np_), *extra], args.work / f"{name}.log")
            manifest = out / "manifest.json"
            if manifest.exists():
                m = json.loads(manifest.read_text())
                run["kept"] = m["counts"]["curated"]
                run["timings"] = m.get("timings", {})
            runs.setdefault(name, []).append(run)
    for name, rs in runs.items():
        walls = sorted(r["wall_s"] for r in rs)
        median = next(r for r in rs if r["wall_s"] == walls[len(walls) // 2])
        result["runs"][name] = {**median, "wall_s_all": [r["wall_s"] for r in rs]}

    dj = result["runs"].get("dj")
    if dj and dj["rc"] == 0:
        for name in ("ours_equiv", "ours_full"):
            r = result["runs"][name]
            r["speedup_vs_dj"] = round(dj["wall_s"] / r["wall_s"], 2)
            r["memory_vs_dj"] = round(r["peak_rss_mib"] / max(dj["peak_rss_mib"], 1e-9), 2)
    print(f"{len(records)} records ({real} real Alpaca), np={args.np_}, median of {args.repeat} round(s)")
    print(f"{'run':<12}{'rc':>4}{'wall s':>10}{'peak MiB':>11}{'kept':>8}{'speed-up vs DJ':>16}")
    for name, r in result["runs"].items():
        print(f"{name:<12}{r['rc']:>4}{r['wall_s']:>10.1f}{r['peak_rss_mib']:>11.0f}{str(r.get('kept')):>8}"
              f"{str(r.get('speedup_vs_dj', '')):>16}   all rounds: {r['wall_s_all']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
