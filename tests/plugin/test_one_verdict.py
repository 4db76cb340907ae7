"""Under pytest, every input that should have produced entries does, and the run's verdict counts it: a broken spec
beside a good one, and a baseline that matched no case, are never a silent PASSED."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugin.conftest import HONEST_MODEL, read_json


def test_specs_that_plan_no_case_beside_a_good_one_are_error_entries_and_fail_the_run(
        pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("specs/good.yaml", count=1)
    (pytester.path / "specs" / "empty.yaml").write_text(f"model: {HONEST_MODEL}\ncases: []\n", encoding="utf-8")
    (pytester.path / "specs" / "mapping.yaml").write_text(f"model: {HONEST_MODEL}\ncases:\n  first: {{image: a.png}}\n",
                                                          encoding="utf-8")
    result = pytester.runpytest("--gradcam-specs", "specs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*gradcam audit FAILED: 1 passed, 2 error*"])
    result.stdout.fnmatch_lines(["*specs/empty.yaml:2:*cases: expected a non-empty list of cases, got []*"])
    document = read_json(pytester.path / "reports" / "gradcam" / "results.json")
    assert document["verdict"] == "failed"
    errors = {case["spec"]: case for case in document["cases"] if case["status"] == "error"}
    assert set(errors) == {"specs/empty.yaml", "specs/mapping.yaml"}
    for spec, case in errors.items():
        assert case["id"] == "spec" and spec in case["reason"] and "cases:" in case["reason"] and "fix:" in case["reason"]
    report = (pytester.path / "reports" / "gradcam" / "index.html").read_text(encoding="utf-8")
    assert "Release gate FAILED" in report and "specs/mapping.yaml" in report


def test_a_baseline_that_matched_no_case_is_not_a_pass_and_the_summary_counts_the_comparison(
        pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(count=2)
    released = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-json", "released.json", "--gradcam-no-report",
                                  "-p", "no:cacheprovider")
    released.assert_outcomes(passed=2)
    matched = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-no-report", "--gradcam-json", "same.json",
                                 "--gradcam-baseline", "released.json", "-p", "no:cacheprovider")
    assert matched.ret == 0
    matched.stdout.fnmatch_lines(["*gradcam audit PASSED: 2 passed; baseline: 2 compared, 0 regressed, 0 new, 0 removed*"])
    # Another method: every case is new, every baseline case removed, nothing compared.
    other = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-no-report", "--gradcam-json", "other.json",
                               "--gradcam-method", "gradcam++", "--gradcam-baseline", "released.json", "-p", "no:cacheprovider")
    other.assert_outcomes(passed=2)
    assert other.ret == pytest.ExitCode.TESTS_FAILED
    other.stdout.fnmatch_lines(["*gradcam audit INCOMPLETE: 2 passed; baseline: 0 compared, 0 regressed, 2 new, 2 removed*"
                                "compared no case*method(s) gradcam, this run gradcam++*"])
    document = read_json(pytester.path / "other.json")
    assert document["verdict"] == "incomplete" and document["complete"] is False
    assert document["baseline_counts"] == {"compared": 0, "regressed": 0, "improved": 0, "unchanged": 0, "new": 2, "removed": 2}
    assert any("compared no case" in reason for reason in document["incomplete_reasons"])
