"""The gate's numbers (core/evaluate/gates.py) on hand-built case results: pass rate, mean mass and lift, per class."""

from __future__ import annotations

import pytest

from gradcam_audit.core.evaluate.causal import GateEvidence
from gradcam_audit.core.evaluate.gates import GateCase, evaluate_gate
from gradcam_audit.core.records.results import CaseResult, ClassInfo
from gradcam_audit.core.records.regions import RegionScore
from gradcam_audit.core.spec.model import Gate


def _region(role: str, mass: float, lift: float) -> RegionScore:
    return RegionScore(name=f"{role}-{mass}", role=role, mass=mass, lift=lift, area_share=0.25, unseen_share=0.0, checks=())


def _case(status: str, label: str, *regions: RegionScore, case_id: str = "") -> GateCase:
    result = CaseResult(spec="s.yaml", id=case_id or f"{label}-{status}", method="gradcam", verdict=status if status != "skipped" else "passed",
                        target=ClassInfo(0 if label == "cat" else 1, label), regions=regions)
    return GateCase(status, result, result.id)


CASES = [
    _case("passed", "cat", _region("required", 0.6, 2.4), _region("forbidden", 0.9, 9.0)),
    _case("failed", "cat", _region("required", 0.2, 0.8)),
    _case("passed", "dog", _region("required", 0.4, 1.6), _region("required", 0.8, 3.2)),
    _case("skipped", "dog", _region("required", 0.0, 0.0)),
]


def test_means_are_over_required_regions_of_counted_cases_only() -> None:
    result = evaluate_gate("s.yaml", Gate(min_pass_rate=0.5), CASES)
    # Skipped case left out; the forbidden region's 0.9 is not a required mass.
    assert result.measurements["pass_rate"] == pytest.approx(2 / 3)
    assert result.measurements["mean_mass"] == pytest.approx((0.6 + 0.2 + 0.4 + 0.8) / 4)
    assert result.measurements["mean_lift"] == pytest.approx((2.4 + 0.8 + 1.6 + 3.2) / 4)
    assert result.cases_counted == 3 and result.status == "passed"


def test_invalid_cases_count_as_not_passed() -> None:
    result = evaluate_gate("s.yaml", Gate(min_pass_rate=0.5), CASES, invalid_cases=2)
    assert result.measurements["pass_rate"] == pytest.approx(2 / 5) and result.cases_counted == 5
    assert result.status == "failed"
    (check,) = result.checks
    assert (check.metric, check.threshold_key, check.passed) == ("pass_rate", "min_pass_rate", False)
    assert check.reason == "pass_rate 0.400 < min_pass_rate 0.5"


def test_each_mean_is_checked_against_its_own_limit_and_a_limit_met_exactly_passes() -> None:
    result = evaluate_gate("s.yaml", Gate(min_mean_mass=0.5, min_mean_lift=2.01), CASES)
    checks = {check.metric: check for check in result.checks}
    assert set(checks) == {"mean_mass", "mean_lift"}  # no pass_rate check without min_pass_rate
    assert checks["mean_mass"].passed and checks["mean_mass"].value == pytest.approx(0.5)
    assert not checks["mean_lift"].passed and result.status == "failed"


def test_per_class_numbers_group_cases_by_their_target_label() -> None:
    result = evaluate_gate("s.yaml", Gate(min_mean_mass=0.5, per_class=True), CASES)
    assert result.per_class["cat"]["mean_mass"] == pytest.approx(0.4)
    assert result.per_class["cat"]["pass_rate"] == pytest.approx(0.5)
    assert result.per_class["dog"]["mean_mass"] == pytest.approx(0.6)
    assert result.per_class["dog"]["pass_rate"] == pytest.approx(1.0)
    failing = [check for check in result.checks if not check.passed]
    assert [check.subject for check in failing] == ["class 'cat'"] and result.status == "failed"
    assert failing[0].reason == "class 'cat': mean_mass 0.400 < min_mean_mass 0.5"


def test_no_required_region_means_no_mean_and_a_failed_check_never_a_pass() -> None:
    cases = [_case("passed", "cat", _region("forbidden", 0.01, 0.04))]
    result = evaluate_gate("s.yaml", Gate(min_mean_mass=0.0), cases)
    assert result.measurements["mean_mass"] is None
    assert result.status == "failed" and "mean_mass cannot be computed" in result.reason


def test_an_errored_case_makes_the_gate_an_error_naming_it() -> None:
    cases = [*CASES, GateCase("error", None, "broken-7")]
    result = evaluate_gate("s.yaml", Gate(min_pass_rate=0.1), cases)
    assert result.status == "error" and "broken-7" in result.reason and result.checks == ()


def test_causal_thresholds_without_evidence_are_an_error_and_with_it_are_checked() -> None:
    gate = Gate(max_randomization_similarity=0.3)
    assert evaluate_gate("s.yaml", gate, CASES).status == "error"
    similar = evaluate_gate("s.yaml", gate, CASES, evidence=GateEvidence(randomization_similarity=0.31))
    assert similar.status == "failed" and similar.measurements["randomization_similarity"] == pytest.approx(0.31)
    assert evaluate_gate("s.yaml", gate, CASES, evidence=GateEvidence(randomization_similarity=0.3)).status == "passed"
