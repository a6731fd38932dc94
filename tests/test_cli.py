"""The CLI through click's CliRunner: exit codes, no tracebacks, summaries."""
from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from pipeline.cli import main
from tests.conftest import SAMPLE

FAST = {"stages": ["normalize", "schema", "dedup", "split"]}


def _recipe(tmp_path, data=FAST):
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(data))
    return str(p)


def test_run_prints_summary_and_exits_0(tmp_path):
    res = CliRunner().invoke(main, ["run", str(SAMPLE), "--config", _recipe(tmp_path), "--out",
                                    str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["run", str(SAMPLE), "--config", _recipe(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0
    assert "curated" in res.output and "report.html" in res.output and "dedup_exact" in res.output


def test_bad_config_exit_1_lists_problems_without_traceback(tmp_path):
    cfg = _recipe(tmp_path, {"stages": ["normalize", "bogus"], "val_ratio": "x"})
    res = CliRunner().invoke(main, ["run", str(SAMPLE), "--config", cfg, "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "bogus" in res.output and "val_ratio" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_missing_config_file_and_no_input(tmp_path):
    res = CliRunner().invoke(main, ["run", str(SAMPLE), "--config", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 1 and "nope.yaml" in res.output
    res = CliRunner().invoke(main, ["run", str(tmp_path / "missing"), "--out", str(tmp_path / "o"),
                                    "--config", _recipe(tmp_path)])
    assert res.exit_code == 1 and "no readable input" in res.output


def test_unreadable_file_exit_2_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a?", "output": "b."}\n{oops\n')
    res = CliRunner().invoke(main, ["run", str(bad), "--config", _recipe(tmp_path), "--out", str(tmp_path / "o"),
                                    "--quiet"])
    assert res.exit_code == 2
    assert "bad.jsonl:2" in res.output


def test_log_json_events(tmp_path):
    res = CliRunner().invoke(main, ["run", str(SAMPLE), "--config", _recipe(tmp_path), "--out", str(tmp_path / "o"),
                                    "--log-json"])
    assert res.exit_code == 0
    events = [json.loads(line) for line in res.output.splitlines() if line.startswith("{")]
    assert [e["stage"] for e in events if e["event"] == "stage_done"] == FAST["stages"]
    assert events[-1]["event"] == "run_done"


def test_validate_reports_per_record_errors(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"instruction": "a?", "output": "b."}\n{"instruction": "c?", "output": ""}\n'
                 '{"instruction": "d?", "output": 5}\n')
    res = CliRunner().invoke(main, ["validate", str(f), "--json"])
    assert res.exit_code == 1
    problems = [json.loads(x) for x in res.output.splitlines() if x.startswith("{")]
    assert [(p["index"], p["reason"]) for p in problems] == [(1, "schema_empty_field"), (2, "ingest_wrong_type")]
    good = tmp_path / "g.jsonl"
    good.write_text('{"instruction": "a?", "output": "b."}\n')
    assert CliRunner().invoke(main, ["validate", str(good)]).exit_code == 0


def test_report_rebuilds(tmp_path):
    out = tmp_path / "o"
    CliRunner().invoke(main, ["run", str(SAMPLE), "--config", _recipe(tmp_path), "--out", str(out), "--quiet"])
    (out / "report" / "report.json").unlink()
    res = CliRunner().invoke(main, ["report", str(out)])
    assert res.exit_code == 0 and (out / "report" / "report.json").exists()
    first = (out / "report" / "report.json").read_bytes()
    res = CliRunner().invoke(main, ["report", str(out), "--num-proc", "2"])
    assert res.exit_code == 0 and (out / "report" / "report.json").read_bytes() == first


def test_stages_lists_registry():
    res = CliRunner().invoke(main, ["stages"])
    assert res.exit_code == 0 and "normalize" in res.output.split()


def test_eval_sets_take_every_following_path(tmp_path, monkeypatch):
    import pipeline.runner

    seen = {}

    def fake_run(inputs, **kw):
        seen.update(inputs=inputs, eval_sets=kw["eval_sets"])
        raise SystemExit(0)

    monkeypatch.setattr(pipeline.runner, "run", fake_run)
    CliRunner().invoke(main, ["run", "data.jsonl", "--eval-sets", "a.jsonl", "b.csv", "--out", str(tmp_path)])
    assert seen == {"inputs": ["data.jsonl"], "eval_sets": ["a.jsonl", "b.csv"]}
