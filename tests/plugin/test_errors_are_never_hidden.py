"""Errors stay errors: an expected failure never absorbs them, and one case's mistake never fails its batch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugin.conftest import shipped_cases

NO_REPORT = ("--gradcam-no-report", "-p", "no:cacheprovider")


def test_expected_failure_does_not_absorb_an_error(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=2, layer="conv99", xfail="known shortcut", gate={"min_pass_rate": 0.9})
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-json", "out.json", *NO_REPORT)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*has no layer 'conv99'*", "*gate cannot be judged: 2 case(s) could not be computed*"])
    statuses = [case["status"] for case in json.loads((pytester.path / "out.json").read_text(encoding="utf-8"))["cases"]]
    assert statuses == ["error", "error"]


def test_one_bad_target_errors_only_its_own_case(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(3)
    cases[1]["target"] = 1  # valid index
    cases[2]["target"] = 0
    write_spec(cases=cases, labels=None)
    spec = (pytester.path / "suite.yaml").read_text(encoding="utf-8").replace("target: 0", "target: 7")
    spec = spec.replace("expect_class: horizontal", "expect_class: 0").replace("expect_class: vertical", "expect_class: 1")
    spec = spec.replace("target: horizontal", "target: 0").replace("target: vertical", "target: 1")
    (pytester.path / "suite.yaml").write_text(spec, encoding="utf-8")
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-json", "out.json", "--gradcam-batch-size", "8", *NO_REPORT)
    document = json.loads((pytester.path / "out.json").read_text(encoding="utf-8"))
    errors = [case["id"] for case in document["cases"] if case["status"] == "error"]
    assert len(errors) >= 1 and len(errors) < len(document["cases"])
    assert all("out of range" in case["reason"] for case in document["cases"] if case["status"] == "error")
    result.stdout.fnmatch_lines(["*target class 7 is out of range*"])


def test_specs_sharing_a_model_resolve_class_names_with_their_own_labels(
    pytester: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    cases = shipped_cases(2)
    for case in cases:
        case.pop("expect_class")
    write_spec("a.yaml", cases=cases, labels=["horizontal", "vertical"])
    write_spec("b.yaml", cases=cases, labels=["vertical", "horizontal"])  # wrong order, on purpose
    pytester.runpytest("--gradcam-specs", "a.yaml", "--gradcam-specs", "b.yaml", "--gradcam-json", "out.json", *NO_REPORT)
    document = json.loads((pytester.path / "out.json").read_text(encoding="utf-8"))
    for case in document["cases"]:
        labels = ["horizontal", "vertical"] if case["spec"] == "a.yaml" else ["vertical", "horizontal"]
        assert labels[case["result"]["target"]["index"]] == case["result"]["target"]["label"]
    a_targets = {case["id"]: case["result"]["target"]["index"] for case in document["cases"] if case["spec"] == "a.yaml"}
    b_targets = {case["id"]: case["result"]["target"]["index"] for case in document["cases"] if case["spec"] == "b.yaml"}
    assert all(a_targets[key] != b_targets[key] for key in a_targets)


def test_specs_in_the_ini_file_run_beside_testpaths(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("specs/suite.yaml", count=1)
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_unit.py").write_text("def test_unit():\n    assert True\n", encoding="utf-8")
    pytester.makeini("[pytest]\ntestpaths = tests\ngradcam_specs = specs\n")
    result = pytester.runpytest(*NO_REPORT)
    result.assert_outcomes(passed=2)


def test_framework_failure_on_user_input_is_a_readable_case_error(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    # Four channel means for a three-channel model: NumPy cannot broadcast; the user sees what to check.
    write_spec(count=2, preprocess={"scale": 255, "mean": [0.5, 0.5, 0.5, 0.5], "std": [1, 1, 1, 1]})
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", *NO_REPORT)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["ERROR: the model could not be run on this case (ValueError: *check that `preprocess`*"])
    assert "Traceback" not in result.stdout.str()
