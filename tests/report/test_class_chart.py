"""The per-class chart draws the core's class summaries: an unexpected pass is no pass, and a class the gate failed
is never green."""

from __future__ import annotations

import base64

from gradcam_audit.core.records.checks import decide
from gradcam_audit.core.ledger.class_summary import class_summaries
from gradcam_audit.core.evaluate.gates import GateResult
from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.results import CaseResult, ClassInfo
from gradcam_audit.core.records.regions import RegionScore
from gradcam_audit.rendering.html.charts import STATUS_COLOURS, suite_charts

SUITE = "specs/animals.yaml"


def _case(case_id: str, label: str, status: str, mass: float = 0.6) -> CaseEntry:
    region = RegionScore("animal", "required", mass, mass / 0.25, 0.25, 0.0, ())
    verdict = "passed" if status in ("passed", "xpassed") else "failed"
    result = CaseResult(spec=SUITE, id=case_id, method="gradcam", verdict=verdict, regions=(region,), target=ClassInfo(0, label))
    return CaseEntry(spec=SUITE, id=case_id, method="gradcam", status=status, result=result,
                     xfail="known" if status in ("xpassed", "xfailed") else None)


def _svg(results: RunResults) -> str:
    uri = suite_charts(results)[SUITE]
    return base64.b64decode(uri.split(",", 1)[1]).decode("utf-8")


def test_an_unexpected_pass_is_not_a_pass_and_its_class_is_red() -> None:
    results = RunResults(cases=(_case("c1", "cat", "passed"), _case("c2", "cat", "xpassed")))
    (cat,) = class_summaries(results, SUITE)
    assert (cat.label, cat.passed, cat.counted, cat.status) == ("cat", 1, 2, "failed")
    assert "c2 xpassed" in cat.reason
    svg = _svg(results)
    assert STATUS_COLOURS["failed"] in svg and STATUS_COLOURS["passed"] not in svg
    assert "50% (1 of 2, failed)" in svg


def test_a_class_the_per_class_gate_failed_is_red_even_when_every_case_passed() -> None:
    cases = (_case("c1", "cat", "passed", 0.3), _case("c2", "dog", "passed", 0.9))
    check = decide("class 'cat'", "mean_mass", 0.3, ">=", 0.5, threshold_key="min_mean_mass", reason="class 'cat': mean_mass 0.300 < 0.5")
    gate_result = GateResult(SUITE, "failed", check.reason or "", {"pass_rate": 1.0}, (check,))
    gate = GateEntry(spec=SUITE, status="failed", reason=gate_result.reason, result=gate_result,
                     thresholds={"min_mean_mass": 0.5, "per_class": True})
    results = RunResults(cases=cases, gates=(gate,))
    summaries = {summary.label: summary for summary in class_summaries(results, SUITE)}
    assert summaries["cat"].status == "failed" and "mean_mass 0.300" in summaries["cat"].reason
    assert summaries["dog"].status == "passed" and summaries["cat"].pass_rate == 1.0
    assert [summary.label for summary in class_summaries(results, SUITE)] == ["cat", "dog"]  # the weakest first
    svg = _svg(results)
    assert STATUS_COLOURS["failed"] in svg and STATUS_COLOURS["passed"] in svg


def test_a_class_whose_case_did_not_run_is_incomplete_and_deselected_cases_are_not_counted() -> None:
    unfinished = CaseEntry(spec=SUITE, id="c2", method="gradcam", status="not_run", cause="interrupted")
    deselected = CaseEntry(spec=SUITE, id="c3", method="gradcam", status="not_run", cause="deselected")
    results = RunResults(cases=(_case("c1", "cat", "passed"), unfinished, deselected))
    summaries = {summary.label: summary for summary in class_summaries(results, SUITE)}
    assert summaries["unknown"].status == "incomplete" and summaries["unknown"].counted == 1
    assert summaries["cat"].status == "passed"
