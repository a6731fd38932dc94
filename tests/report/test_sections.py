"""Every section is present when its stage ran and marked "not run" when it did not."""
from __future__ import annotations

from pipeline.report.sections import SECTION_STAGES, SECTION_TITLES
from tests.report.conftest import PARTIAL, load, parse


def _status(out) -> dict[str, str]:
    tree = parse((out / "report" / "report.html").read_text(encoding="utf-8"))
    return {a["id"]: a.get("data-status") for tag, a, _ in tree.elements if tag == "section"}


def test_full_run_has_every_section(full_run):
    status = _status(full_run)
    assert list(status) == list(SECTION_TITLES)
    assert set(status.values()) == {"ran"}
    md = (full_run / "report" / "report.md").read_text(encoding="utf-8")
    assert "_not run" not in md
    for title in SECTION_TITLES.values():
        assert f"## {title}" in md


def test_partial_run_marks_missing_stages_not_run(partial_run):
    status = _status(partial_run)
    assert list(status) == list(SECTION_TITLES)  # every section is still on the page
    for key, stages in SECTION_STAGES.items():
        expected = "ran" if any(s in PARTIAL for s in stages) else "not-run"
        assert status[key] == expected, key
    for key in ("funnel", "reasons", "distributions", "run"):
        assert status[key] == "ran"
    html = (partial_run / "report" / "report.html").read_text(encoding="utf-8")
    assert "not run: the dedup stage did not run" in html
    md = (partial_run / "report" / "report.md").read_text(encoding="utf-8")
    dedup_part = md.split(f"## {SECTION_TITLES['dedup']}")[1].split("\n## ")[0]
    assert "_not run: the dedup stage did not run" in dedup_part


def test_stage_sections_show_their_stage_measures(full_run):
    report = load(full_run, "report/report.json")
    tree = parse((full_run / "report" / "report.html").read_text(encoding="utf-8"))
    heads = {}
    for tag, a, sec in tree.elements:
        heads.setdefault(sec, []).append(tag)
    text = "".join(tree.text)
    # Dedup: its numbers come from the dedup summary, the largest cluster is shown with members.
    near = report["stages"]["dedup"]["near"]
    assert near["clusters"] >= 1 and report["clusters"], "fixture has a near-duplicate pair"
    assert report["clusters"][0]["members"][0]["fate"] in ("kept", "dedup_near")
    assert f"cluster {report['clusters'][0]['cluster']}" in text
    # Diversity: entropy table per dimension; refusals: detected classes; format: requirement kinds.
    div = report["stages"]["diversity"]
    assert "entropy and coverage" in text and str(div["before"]["task"]["entropy"]) in text
    assert "detected response type" in text
    for kind in report["stages"]["format"].get("requirements", {}):
        assert kind in text
    # Leaks: decontam without eval sets says so in words.
    assert "No evaluation set was configured" in text
    # Summary at the top: problems in plain words, with the meaning of the reason code.
    assert report["problems"], "the fixture has drops"
    summary = text.split(SECTION_TITLES["funnel"])[0]
    for p in report["problems"]:
        assert p["text"] in summary


def test_balancing_without_targets_reports_none(tmp_path):
    """balance.enabled with no target mix for a dimension: the report shows "none", it does not crash."""
    import yaml

    from pipeline.runner import run
    from tests.conftest import SAMPLE

    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"stages": ["normalize", "schema", "diversity"],
                                      "rules": {"diversity": {"balance": {"enabled": True, "caps": {"max_share": 0.3}}}}}))
    run([str(SAMPLE)], config=recipe, out=tmp_path / "o", progress=False)
    report = load(tmp_path / "o", "report/report.json")
    tva = report["stages"]["diversity"]["balance"]["target_vs_achieved"]
    assert tva and all(c.get("target") is None for cells in tva.values() for c in cells.values())
    md = (tmp_path / "o" / "report" / "report.md").read_text(encoding="utf-8")
    assert "target mix vs achieved" in md and "| none |" in md
