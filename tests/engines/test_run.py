"""End-to-end runs of the local engine: conservation, determinism, resume, bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.runner import run
from tests.conftest import REPO, SAMPLE

CHECK = REPO.parent / "shared" / "tools" / "check_outputs.py"
FAST = ["normalize", "schema", "dedup", "split"]


def _recipe(tmp_path: Path, stages=FAST, **extra) -> Path:
    import yaml

    p = tmp_path / "recipe.yaml"
    p.write_text(yaml.safe_dump({"stages": list(stages), **extra}))
    return p


def _rejects(out: Path) -> list[dict]:
    lines = []
    for f in sorted((out / "rejected").glob("*.jsonl")):
        lines += [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines()]
    return lines


def _curated(out: Path) -> list[dict]:
    rows = []
    for f in sorted((out / "curated").glob("*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return rows


def _check_conservation(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    curated, rejects = _curated(out), _rejects(out)
    c = manifest["counts"]
    assert c["read"] == c["curated"] + c["rejected"] - c["injected"]
    assert c["curated"] == len(curated) and c["rejected"] == len(rejects)
    seen: dict = {}
    for r in curated:
        if r["origin"] != "injected":
            key = (r["source"]["file"], r["source"]["index"])
            seen[key] = seen.get(key, 0) + 1
    for r in rejects:
        assert r["stage"] and r["reason"]
        rec = r["record"] if isinstance(r["record"], dict) else {}
        if rec.get("origin") == "injected":
            continue
        key = (r["source"]["file"], r["source"]["index"])
        seen[key] = seen.get(key, 0) + 1
    assert all(v == 1 for v in seen.values()), [k for k, v in seen.items() if v > 1][:3]
    assert len(seen) == c["read"]


def test_sample_data_conservation_and_layout(tmp_path):
    out = tmp_path / "out"
    s = run([str(SAMPLE)], config=_recipe(tmp_path), out=out, progress=False)
    assert s.exit_code == 0, s.errors
    _check_conservation(out)
    names = sorted(p.name for p in (out / "curated").iterdir())
    assert names[0].startswith("train-00000-of-") and names[0].endswith(".parquet")
    assert (out / "rejected" / "rejected-00000.jsonl").exists()
    assert (out / "report" / "report.json").exists() and (out / "report" / "report.md").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    for i in manifest["inputs"]:
        assert set(i) >= {"path", "sha256", "records", "format", "encoding"}
    gbk = [i for i in manifest["inputs"] if i["path"].endswith("alpaca_zh_gbk.jsonl")][0]
    assert gbk["encoding"] in ("gb18030", "gbk")
    reasons = {r["reason"] for r in _rejects(out)}
    assert {"ingest_roles_not_alternating", "ingest_tool_turn", "ingest_preference_record", "ingest_wrong_type",
            "dedup_exact"} <= reasons
    dup = [r for r in _rejects(out) if r["reason"] == "dedup_exact"]
    assert all(r["duplicate_of"] for r in dup)
    if CHECK.exists():
        res = subprocess.run([sys.executable, str(CHECK), str(out)], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout


def test_curated_shards_load_with_datasets(tmp_path):
    import datasets

    out = tmp_path / "out"
    run([str(SAMPLE)], config=_recipe(tmp_path), out=out, progress=False, val_ratio=0.2)
    ds = datasets.load_dataset("parquet", data_files={
        "train": str(out / "curated" / "train-*.parquet"),
        "validation": str(out / "curated" / "validation-*.parquet")})
    assert len(ds["train"]) > len(ds["validation"]) > 0
    row = ds["train"][0]
    assert row["messages"][-1]["role"] == "assistant" and row["messages"][-1]["content"] == row["output"]


def _digest(out: Path) -> dict:
    import hashlib

    digests = {}
    for p in sorted(out.rglob("*")):
        # report/ shows timings by design; the invariant covers shards, rejects and manifest.
        if p.is_file() and ".work" not in p.parts and "report" not in p.parts and p.name != "manifest.json":
            digests[str(p.relative_to(out))] = hashlib.sha256(p.read_bytes()).hexdigest()
    m = json.loads((out / "manifest.json").read_text())
    m.pop("timings")
    digests["manifest"] = m
    return digests


def test_deterministic_across_num_proc(tmp_path):
    recipe = _recipe(tmp_path)
    # Enough rows that num_proc=2 really splits the map into two workers.
    big = tmp_path / "big.jsonl"
    with big.open("w") as f:
        for i in range(2500):
            f.write(json.dumps({"instruction": f"Question {i % 2100}?", "input": "", "output": f"Answer {i % 2100}."}) + "\n")
    a = run([str(SAMPLE), str(big)], config=recipe, out=tmp_path / "a", num_proc=1, progress=False)
    b = run([str(SAMPLE), str(big)], config=recipe, out=tmp_path / "b", num_proc=2, progress=False)
    assert a.counts == b.counts
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_resume_skips_finished_stages(tmp_path):
    out = tmp_path / "out"
    recipe = _recipe(tmp_path)
    run([str(SAMPLE)], config=recipe, out=out, progress=False)
    first = _digest(out)
    events = []
    run([str(SAMPLE)], config=recipe, out=out, progress=False, resume=True, log=events.append)
    resumed = [e["stage"] for e in events if e["event"] == "stage_resumed"]
    assert resumed == FAST
    assert _digest(out) == first


def test_resume_after_interruption(tmp_path, monkeypatch):
    out = tmp_path / "out"
    recipe = _recipe(tmp_path)
    from pipeline.processors import split as split_mod

    def boom(self, batch):
        raise KeyboardInterrupt

    monkeypatch.setattr(split_mod.Split, "process", boom)
    with pytest.raises(KeyboardInterrupt):
        run([str(SAMPLE)], config=recipe, out=out, progress=False)
    assert not (out / "manifest.json").exists()
    assert not list((out).glob("curated/*.parquet"))
    monkeypatch.undo()
    events = []
    run([str(SAMPLE)], config=recipe, out=out, progress=False, resume=True, log=events.append)
    assert [e["stage"] for e in events if e["event"] == "stage_resumed"] == ["normalize", "schema", "dedup"]
    _check_conservation(out)


def test_bad_files_exit_2_and_good_records_count(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"instruction": "Hi?", "output": "Hello."}\n{"instruction": "Bye?", "output": "Bye."}\n')
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"instruction": "A?", "output": "B."}\n{"instruction": "C?", "outp\n')
    trunc = tmp_path / "trunc.json"
    trunc.write_text('[{"instruction": "A1?", "output": "B1."}, {"instruction": "C?", "output": "D')
    empty = tmp_path / "empty.json"
    empty.write_text("")
    s = run([str(good), str(broken), str(trunc), str(empty)], config=_recipe(tmp_path), out=tmp_path / "o",
            progress=False)
    assert s.exit_code == 2
    files = {Path(e["file"]).name for e in s.errors}
    assert {"broken.jsonl", "trunc.json", "empty.json"} <= files
    assert all(e["message"] for e in s.errors)
    _check_conservation(tmp_path / "o")
    assert s.counts["curated"] >= 3


def test_no_readable_input_is_fatal(tmp_path):
    from pipeline.errors import NoInputError

    with pytest.raises(NoInputError):
        run([str(tmp_path / "missing.json")], config=_recipe(tmp_path), out=tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_bad_config_lists_every_problem(tmp_path):
    from pipeline.errors import ConfigError

    bad = _recipe(tmp_path, stages=["normalize", "nonsense"], val_ratio=2, shard_rows="many", colour="red")
    with pytest.raises(ConfigError) as e:
        run([str(SAMPLE)], config=bad, out=tmp_path / "o", progress=False)
    text = str(e.value)
    for needle in ("nonsense", "val_ratio", "shard_rows", "colour"):
        assert needle in text
    assert not (tmp_path / "o").exists()


def test_only_runs_named_stages(tmp_path):
    events = []
    run([str(SAMPLE)], config=_recipe(tmp_path), out=tmp_path / "o", only=["normalize", "dedup"],
        progress=False, log=events.append)
    assert [e["stage"] for e in events if e["event"] == "stage_done"] == ["normalize", "dedup"]
    _check_conservation(tmp_path / "o")


def test_jsonl_output_and_shard_bound(tmp_path):
    out = tmp_path / "o"
    run([str(SAMPLE)], config=_recipe(tmp_path, shard_rows=50), out=out, progress=False,
        output_format=["parquet", "jsonl"], val_ratio=0.0)
    parquet = sorted((out / "curated").glob("train-*.parquet"))
    jsonl = sorted((out / "curated").glob("train-*.jsonl"))
    assert len(parquet) == len(jsonl) > 1
    assert all(pq.read_metadata(p).num_rows <= 50 for p in parquet)
    n = parquet[0].name.split("-of-")[1].split(".")[0]
    assert int(n) == len(parquet)


def test_unparseable_lines_are_rejected_as_objects_and_pass_the_shared_checker(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "Hi?", "output": "Hello."}\nnot json at all\n[1, 2]\n')
    out = tmp_path / "o"
    run([str(bad)], config=_recipe(tmp_path), out=out, progress=False)
    rejects = _rejects(out)
    assert sorted((r["source"]["index"], r["reason"]) for r in rejects) == [
        (1, "ingest_invalid_json"), (2, "ingest_wrong_type")]
    assert all(isinstance(r["record"], dict) for r in rejects)
    assert any(r["record"].get("raw") == "not json at all" for r in rejects)
    _check_conservation(out)
    if CHECK.exists():
        res = subprocess.run([sys.executable, str(CHECK), str(out)], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr


def test_parallel_fit_features_give_identical_outputs(tmp_path, monkeypatch):
    """Global stages' per-row fit work in worker processes changes nothing in the outputs."""
    from pipeline.engines import local

    stages = ["normalize", "schema", "dedup", "language", "quality", "format", "diversity", "refusal", "split"]
    recipe = _recipe(tmp_path, stages=stages)
    a = run([str(SAMPLE)], config=recipe, out=tmp_path / "a", num_proc=1, progress=False)
    used: list[str] = []
    real = local.with_fit_features

    def spy(batches, proc, num_proc, **kw):
        used.append(proc.name)
        return real(batches, proc, num_proc, **kw)

    monkeypatch.setattr(local, "PARALLEL_FIT_MIN_ROWS", 1)
    monkeypatch.setattr(local, "FIT_PIECE", 17)  # many small pieces: order must survive the pool
    monkeypatch.setattr(local, "with_fit_features", spy)
    b = run([str(SAMPLE)], config=recipe, out=tmp_path / "b", num_proc=2, progress=False)
    assert used == ["quality", "format", "diversity", "refusal", "split"]
    assert a.counts == b.counts
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert json.loads((tmp_path / "a" / "report" / "stages.json").read_text()) == \
        json.loads((tmp_path / "b" / "report" / "stages.json").read_text())


def test_decontam_without_eval_sets_joins_the_previous_pass(tmp_path):
    """No eval sets: decontam has nothing to fit, so it costs no map pass of its own."""
    from pipeline import registry
    from pipeline.runner import _groups

    stages = ["normalize", "schema", "format", "leak", "decontam", "split"]
    evals = tmp_path / "eval.jsonl"
    evals.write_text(json.dumps({"question": "What is the boiling point of water at sea level in Celsius?"}) + "\n")
    off = {s: registry.create(s, {}, 0) for s in stages}
    on = {**off, "decontam": registry.create("decontam", {"eval_sets": [str(evals)]}, 0)}
    assert _groups(stages, off) == [["normalize", "schema"], ["format", "leak", "decontam"], ["split"]]
    assert _groups(stages, on) == [["normalize", "schema"], ["format", "leak"], ["decontam"], ["split"]]
