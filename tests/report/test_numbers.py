"""The numbers on the page equal report.json, manifest.json and the shards themselves."""
from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO
from tests.report.conftest import load, parse, table_dicts

SCHEMA = json.loads((REPO / "schemas" / "report.schema.json").read_text(encoding="utf-8"))


def _page(out):
    return parse((out / "report" / "report.html").read_text(encoding="utf-8"))


def _find(tables: list, first_header: str, *more: str) -> list[dict]:
    for t in tables:
        if t and t[0] and t[0][0] == first_header and all(h in t[0] for h in more):
            return table_dicts(t)
    raise AssertionError(f"no table starting with {first_header!r}")


@pytest.mark.parametrize("run_name", ["full_run", "partial_run"])
def test_report_json_matches_schema(request, run_name):
    out = request.getfixturevalue(run_name)
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(load(out, "report/report.json"), SCHEMA, cls=jsonschema.Draft202012Validator)


def test_schema_rejects_a_broken_report(full_run):
    report = load(full_run, "report/report.json")
    report["reasons"][0]["action"] = "maybe"
    del report["run"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_funnel_and_cards_equal_manifest(full_run):
    manifest = load(full_run, "manifest.json")
    tree = _page(full_run)
    rows = _find(tree.tables["funnel"], "stage", "in", "out")
    assert [r["stage"] for r in rows] == [s["stage"] for s in manifest["funnel"]]
    for row, step in zip(rows, manifest["funnel"]):
        assert int(row["in"]) == step["in"] and int(row["out"]) == step["out"]
        assert int(row["dropped"]) == sum(step["dropped"].values())
        assert int(row["flagged"]) == sum(step["flagged"].values())
        assert int(row["injected"]) == step.get("injected", 0)
    text = "".join(tree.text)
    c = manifest["counts"]
    for label, value in (("records read", c["read"]), ("curated", c["curated"]), ("rejected", c["rejected"])):
        assert f"{label}{value}" in text.replace("\n", "")


def test_reasons_equal_manifest_and_report_json(full_run):
    manifest, report = load(full_run, "manifest.json"), load(full_run, "report/report.json")
    rows = _find(_page(full_run).tables["funnel"], "stage", "reason", "records")
    on_page = {(r["stage"], r["reason"], r["action"]): int(r["records"]) for r in rows}
    expected = {(st, code, "drop"): n for st, codes in manifest["counts"]["by_stage"].items() for code, n in codes.items()}
    expected.update({(st, code, "flag"): n for st, codes in manifest["counts"]["flagged"].items()
                     for code, n in codes.items()})
    assert on_page == expected
    assert on_page == {(r["stage"], r["reason"], r["action"]): r["records"] for r in report["reasons"]}
    # Each reason's meaning is spelled out, not just its code.
    assert all(r["what it means"] and r["what it means"] != r["reason"] for r in rows)


def test_distributions_equal_shards(full_run):
    manifest, report = load(full_run, "manifest.json"), load(full_run, "report/report.json")
    rows = []
    for s in manifest["shards"]:
        rows += pq.read_table(full_run / s["path"], columns=["lang", "task"]).to_pylist()
    tables = _page(full_run).tables["distributions"]
    for tag in ("lang", "task"):
        truth = Counter(r[tag] or "(none)" for r in rows)
        assert report["distributions"][tag] == dict(truth)
        page = {}
        for t in tables:
            d = table_dicts(t)
            if d and set(d[0]) == {"value", "count", "share"} and {r["value"] for r in d} == set(truth):
                page = {r["value"]: int(r["count"]) for r in d}
                break
        assert page == dict(truth), tag
    assert sum(report["distributions"]["output_chars"].values()) == manifest["counts"]["curated"]


def test_run_section_lists_inputs_and_shards(full_run):
    manifest = load(full_run, "manifest.json")
    tables = _page(full_run).tables["run"]
    inputs = _find(tables, "path", "sha256", "records")
    assert {(r["path"], r["sha256"], int(r["records"])) for r in inputs} == {
        (i["path"], i["sha256"], i["records"]) for i in manifest["inputs"]}
    shards = _find(tables, "path", "rows", "sha256")
    assert {(r["path"], int(r["rows"])) for r in shards} == {(s["path"], s["rows"]) for s in manifest["shards"]}
    facts = {r["measure"]: r["value"] for r in _find(tables, "measure", "value")}
    assert facts["config hash"] == manifest["config_hash"] and int(facts["seed"]) == manifest["seed"]
    timings = {r["pass"] for r in _find(tables, "pass", "seconds")}
    assert "diversity" in timings and "ingest" in timings
