"""``sftpipe report A --compare B``: counts, moved reasons and records that changed fate."""
from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.report.conftest import HOSTILE, load, parse, table_dicts


def _fates(out) -> dict[tuple[str, int], str]:
    """Fate per input record, read straight from the run's files (independent of the report code)."""
    fate = {}
    for s in load(out, "manifest.json")["shards"]:
        for r in pq.read_table(out / s["path"], columns=["source", "origin"]).to_pylist():
            if r["origin"] != "injected":
                fate[(r["source"]["file"], r["source"]["index"])] = "kept"
    for f in sorted((out / "rejected").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            fate[(r["source"]["file"], r["source"]["index"])] = r["reason"]
    return fate


@pytest.fixture(scope="module")
def compared(full_run, partial_run):
    result = CliRunner().invoke(main, ["report", str(full_run), "--compare", str(partial_run)])
    assert result.exit_code == 0, result.output
    folder = full_run / "report"
    assert (folder / "compare.html").exists() and (folder / "compare.md").exists()
    return json.loads((folder / "compare.json").read_text(encoding="utf-8"))


def test_fate_changes_match_the_runs_files(compared, full_run, partial_run):
    fa, fb = _fates(full_run), _fates(partial_run)
    expected = Counter((fa[k], fb[k]) for k in fa if fb.get(k) != fa[k])
    got = {(t["A"], t["B"]): t["records"] for t in compared["fates"]["transitions"]}
    assert got == dict(expected)
    assert compared["fates"]["changed"] == sum(expected.values())
    # The rule change (missing_input: drop -> flag) and the stages B skipped both free records.
    assert got.get(("quality_missing_input", "kept")) == list(fa.values()).count("quality_missing_input") > 0
    assert got.get(("dedup_exact", "kept")) == list(fa.values()).count("dedup_exact") > 0
    assert compared["fates"]["by_kind"].get("dropped → kept") == sum(
        n for (a, b), n in expected.items() if b == "kept")


def test_examples_of_a_fate_change_are_the_moved_records(compared, full_run):
    fa = _fates(full_run)
    change = next(t for t in compared["fates"]["transitions"] if t["A"] == "dedup_exact")
    assert 0 < len(change["examples"]) <= 5
    for e in change["examples"]:
        assert fa[(e["file"], e["index"])] == "dedup_exact"
        assert e["instruction"] and e["detail A"]  # A's drop detail is shown
    assert any(h in e["instruction"] for e in change["examples"] for h in HOSTILE)


def test_moved_reasons_sorted_by_share_change(compared, full_run, partial_run):
    rows = compared["reasons"]
    deltas = [abs(r["delta share"]) for r in rows]
    assert deltas == sorted(deltas, reverse=True)
    ma, mb = load(full_run, "manifest.json"), load(partial_run, "manifest.json")
    by = {(r["reason"], r["action"]): r for r in rows}
    mi = by[("quality_missing_input", "drop")]
    n = ma["counts"]["by_stage"]["quality"]["quality_missing_input"]
    assert (mi["A records"], mi["B records"]) == (n, 0)
    assert mi["delta share"] == pytest.approx(-n / ma["counts"]["read"], abs=1e-6)
    assert by[("quality_missing_input", "flag")]["B records"] == mb["counts"]["flagged"]["quality"]["quality_missing_input"]


def test_compare_page_shows_the_same_numbers_safely(compared, full_run):
    html_text = (full_run / "report" / "compare.html").read_text(encoding="utf-8")
    tree = parse(html_text)
    assert "script" not in [t for t, _, _ in tree.elements]
    assert not [a for _, a, _ in tree.elements if any(k.startswith("on") for k in a)]
    counts = table_dicts(tree.tables["counts"][0])
    for row, truth in zip(counts, compared["counts"]):
        assert (row["measure"], int(row["A"]), int(row["B"])) == (truth["measure"], truth["A"], truth["B"])
    changes = next(table_dicts(t) for t in tree.tables["fates"] if t[0][:2] == ["A", "B"])
    assert sum(int(r["records"]) for r in changes) == compared["fates"]["changed"]
    md = (full_run / "report" / "compare.md").read_text(encoding="utf-8")
    assert "## Records that changed fate" in md and "dropped: quality_missing_input" in md
