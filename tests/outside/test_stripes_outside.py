"""Beyond the boxes on the shipped stripes pair, the tag not annotated: the shortcut model is caught, the honest one is not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gradcam_audit.core.audit import run_audit
from gradcam_audit.core.ledger.merge import merge_results
from gradcam_audit.core.ledger.run_results import RunResults, results_from_data
from gradcam_audit.core.evaluate.outside_findings import describe_finding
from gradcam_audit.core.records.results import dumps_strict, loads_strict
from tests.outside.stripes import TAG, blind_spec, covers
from gradcam_audit.core.records.codec import to_data

TAG_CENTRE = ((TAG[0] + TAG[2]) / 2, (TAG[1] + TAG[3]) / 2)
GATE = {"max_outside_dependence_rate": 0.2}


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResults]:
    folder = tmp_path_factory.mktemp("blind")
    return {model: run_audit([blind_spec(folder, model, gate=GATE)]) for model in ("shortcut", "honest")}


def test_shortcut_cases_fail_with_the_top_hotspot_on_the_tag(ledgers: dict[str, RunResults]) -> None:
    for entry in ledgers["shortcut"].cases:
        assert entry.status == "failed", entry.reason
        assert entry.result is not None and entry.result.outside is not None
        check = next(check for check in entry.result.checks if check.threshold_key == "max_outside_effect")
        assert not check.passed and isinstance(check.value, float) and check.value > 0.5
        top = entry.result.outside.hotspots[0]
        assert covers(top.box, TAG_CENTRE), top  # on the tag ...
        assert (top.box[2] - top.box[0]) * (top.box[3] - top.box[1]) <= 8 * 8  # ... and localised to 1/8 of the side
        assert entry.result.outside.cells <= 25


def test_honest_cases_pass_the_same_check(ledgers: dict[str, RunResults]) -> None:
    for entry in ledgers["honest"].cases:
        assert entry.status == "passed", entry.reason
        check = next(check for check in entry.result.checks if check.threshold_key == "max_outside_effect")  # type: ignore[union-attr]
        assert check.passed and isinstance(check.value, float) and check.value < 0.05
        assert entry.result.outside is not None and entry.result.outside.cells == 16  # type: ignore[union-attr]  # nothing to refine


def test_gate_measures_the_dependence_rate_and_names_the_corner(ledgers: dict[str, RunResults]) -> None:
    shortcut = ledgers["shortcut"].gates[0]
    assert shortcut.status == "failed" and shortcut.result is not None
    assert shortcut.result.measurements["outside_dependence_rate"] == 1.0
    check = next(check for check in shortcut.result.checks if check.threshold_key == "max_outside_dependence_rate")
    assert not check.passed and "top-left corner" in check.reason and "no region names it" in check.reason
    findings = shortcut.result.findings
    assert len(findings) == 1 and findings[0].cases == 3 and findings[0].share == 1.0
    x0, y0, x1, y1 = findings[0].box_relative
    assert covers((x0 * 64, y0 * 64, x1 * 64, y1 * 64), TAG_CENTRE)  # type: ignore[arg-type]
    assert findings[0].mean_effect > 0.5 and set(findings[0].examples) == {entry.id for entry in ledgers["shortcut"].cases}
    assert describe_finding(findings[0], 3).startswith("in 3 of 3 cases, removing the top-left corner")
    honest = ledgers["honest"].gates[0]
    assert honest.status == "passed" and honest.result is not None
    assert honest.result.measurements["outside_dependence_rate"] == 0.0 and honest.result.findings == ()
    document = loads_strict(dumps_strict(to_data(ledgers["shortcut"])), "results")
    assert document["gates"][0]["result"]["findings"][0]["cases"] == 3


def test_gate_and_findings_are_rejudged_from_merged_shards(ledgers: dict[str, RunResults]) -> None:
    whole = ledgers["shortcut"]
    shards = []
    for keep in ((0,), (1, 2)):
        cases = tuple(case if index in keep else replace(case, status="not_run", cause="other_shard", result=None)
                      for index, case in enumerate(whole.cases))
        gates = tuple(replace(gate, status="not_run", cause="other_shard", result=None, reason="") for gate in whole.gates)
        shards.append(replace(whole, cases=cases, gates=gates))
    merged = merge_results([results_from_data(loads_strict(dumps_strict(to_data(shard)), "shard")) for shard in shards])
    gate = merged.gates[0]
    assert gate.status == "failed" and gate.result is not None and whole.gates[0].result is not None
    assert gate.result.findings == whole.gates[0].result.findings
    assert gate.result.measurements["outside_dependence_rate"] == 1.0


def test_report_says_what_the_model_relies_on_outside_the_regions(ledgers: dict[str, RunResults], tmp_path: Path) -> None:
    from gradcam_audit.rendering.html.html_report import write_html_report
    from gradcam_audit.rendering.views.view_models import build_report_view

    [suite] = build_report_view(ledgers["shortcut"]).suites
    assert suite.outside is not None and len(suite.outside.cases) == 3
    assert suite.outside.sentences[0].startswith("#1: in 3 of 3 cases, removing the top-left corner")
    html = write_html_report(ledgers["shortcut"], tmp_path / "index.html").read_text(encoding="utf-8")
    assert "What the model relies on outside your regions" in html
    assert "removing the top-left corner (relative box" in html
    assert html.count('aria-label="Hotspots of stripes-') == 3
    [honest] = build_report_view(ledgers["honest"]).suites
    assert honest.outside is not None and honest.outside.sentences == () and honest.outside.cases == ()


# A pytest run under xdist fails the gate and says the finding: tests/plugin/test_under_xdist.py (a shared run).
