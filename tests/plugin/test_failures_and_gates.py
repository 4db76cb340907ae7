"""Readable failures (a table, no traceback), degenerate maps, expected class, and suite gates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugin.conftest import shipped_cases

NO_REPORT = ("--gradcam-no-report", "-p", "no:cacheprovider")


def test_threshold_miss_prints_a_table_not_a_traceback(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(1)
    cases[0]["regions"][0]["min_mass"] = 0.99
    write_spec(cases=cases)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", *NO_REPORT)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "FAILED: stripes: mass 0.* < min_mass 0.99",
            "predicted 'horizontal' (p=*, logit *); explained target 'horizontal' *layer conv3*",
            "*region*metric*value*threshold*chance*verdict*",
            "*stripes*mass*0.*>= 0.99*FAIL*",
            "*stripes*lift*>= 2*ok*",
            "*corner-tag*mass*<= 0.04*ok*",
            "image: *stripes-0000.png",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "runtest" not in result.stdout.str()


def test_wrong_expected_class_fails_with_prediction(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(1)
    cases[0]["expect_class"] = "vertical" if cases[0]["expect_class"] == "horizontal" else "horizontal"
    write_spec(cases=cases)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", *NO_REPORT)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED: predicted '*' (p=*), expected '*'*"])


def test_gate_runs_after_cases_as_its_own_test(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(4)
    cases[0]["regions"][0]["min_mass"] = 0.99
    write_spec(cases=cases, gate={"min_pass_rate": 0.9, "min_mean_lift": 1.5, "per_class": True})
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "-v", *NO_REPORT)
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(["*suite.yaml::stripes-0003 PASSED*", "*suite.yaml::gate FAILED*", "gate FAILED: pass_rate 0.750 < min_pass_rate 0.9*"])


def test_gate_passes_when_thresholds_hold(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=3, gate={"min_pass_rate": 1.0, "min_mean_mass": 0.1})
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", *NO_REPORT)
    result.assert_outcomes(passed=4)


def test_one_bad_case_does_not_hide_the_others(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(3)
    cases[1]["image"] = "missing.png"
    cases[2]["regions"][0]["min_mas"] = 0.5
    write_spec(cases=cases)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", *NO_REPORT)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*suite.yaml:*: cases[[]1].image: image not found: *missing.png*"])
    result.stdout.fnmatch_lines(["*suite.yaml:*: cases[[]2].regions[[]0].min_mas: unknown key 'min_mas' (did you mean 'min_mass'?)*"])
    assert "Traceback" not in result.stdout.str()


def test_bad_model_fails_the_spec_not_the_run(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("a.yaml", count=1, model="no-such-model.keras")
    write_spec("b.yaml", count=2)
    result = pytester.runpytest("--gradcam-specs", "a.yaml", "--gradcam-specs", "b.yaml", *NO_REPORT)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*a.yaml:*: model: model file not found: *no-such-model.keras*"])


def test_threshold_override_for_exploratory_runs(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=2)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-override", "min_lift=50", *NO_REPORT)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*lift * < min_lift 50*"])


def test_invalid_spec_and_cases_reach_the_report_as_errors(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(2)
    cases[1]["image"] = "missing.png"
    write_spec("good.yaml", cases=cases)
    (pytester.path / "broken.yaml").write_text("model: [unclosed\n", encoding="utf-8")
    result = pytester.runpytest("--gradcam-specs", "good.yaml", "--gradcam-specs", "broken.yaml", "--gradcam-json", "out.json",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    import json

    document = json.loads((pytester.path / "out.json").read_text(encoding="utf-8"))
    statuses = {(case["spec"], case["id"]): case["status"] for case in document["cases"]}
    assert statuses == {("good.yaml", "stripes-0000"): "passed", ("good.yaml", "stripes-0001"): "error", ("broken.yaml", "spec"): "error"}
    assert "YAML syntax error" in next(case["reason"] for case in document["cases"] if case["spec"] == "broken.yaml")
    report = (pytester.path / "reports" / "gradcam" / "index.html").read_text(encoding="utf-8")
    assert "Release gate FAILED" in report
