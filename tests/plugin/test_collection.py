"""Collection and selection: ids, methods, -k, -m, strict xfail, --lf, -x, ini twins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugin.conftest import shipped_cases

NO_REPORT = ("--gradcam-no-report", "-p", "no:cacheprovider")


def test_each_case_is_a_test_with_spec_path_and_case_id(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("specs/suite.yaml", count=3)
    result = pytester.runpytest("--gradcam-specs", "specs", "--collect-only", "-q", *NO_REPORT)
    result.stdout.fnmatch_lines(["specs/suite.yaml::stripes-0000", "specs/suite.yaml::stripes-0001", "specs/suite.yaml::stripes-0002"])


def test_several_methods_give_one_test_per_method(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=2, method=["gradcam", "gradcam++"])
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "-v", *NO_REPORT)
    result.stdout.fnmatch_lines(["*suite.yaml::stripes-0000?gradcam? PASSED*", "*suite.yaml::stripes-0000?gradcam++? PASSED*"])
    result.assert_outcomes(passed=4)


def test_dash_k_selects_by_case_id(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=4)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "-k", "stripes-0002", *NO_REPORT)
    result.assert_outcomes(passed=1)


def test_tags_become_markers_for_dash_m(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=4)  # shipped cases are tagged with their class: horizontal / vertical
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "-m", "vertical", "--strict-markers", *NO_REPORT)
    vertical = sum(1 for case in shipped_cases(4) if "vertical" in case["tags"])
    result.assert_outcomes(passed=vertical)


def test_xfail_from_spec_is_strict(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(2)
    cases[0]["xfail"] = "believed broken"
    write_spec(cases=cases)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", *NO_REPORT)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*believed broken*"])


def test_an_expected_failure_carries_its_failure_table_not_a_traceback(pytester: pytest.Pytester,
                                                                      write_spec: Callable[..., Path]) -> None:
    # pytest builds a failure representation for an xfailed test and sends it to the xdist controller; from the
    # traceback it cost about 0.2 s a case. What it carries is the case's table, as for a failure.
    cases = _failing_cases(2)
    cases[0]["xfail"] = "believed broken"
    write_spec(cases=cases)
    reports = pytester.inline_run("--gradcam-specs", "suite.yaml", *NO_REPORT).getreports("pytest_runtest_logreport")
    (xfailed,) = [report for report in reports if report.when == "call" and hasattr(report, "wasxfail")]
    assert "< min_mass 0.99" in xfailed.wasxfail  # the summary's reason, as before
    text = str(xfailed.longrepr)
    assert "stripes: mass" in text and "< min_mass 0.99" in text and "Traceback" not in text and "items.py" not in text, text


def _failing_cases(count: int) -> list[dict[str, object]]:
    cases = shipped_cases(count)
    for case in cases[::2]:
        case["regions"][0]["min_mass"] = 0.99  # impossible: these cases fail
    return cases


def test_last_failed_reruns_only_failures(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(cases=_failing_cases(4))
    first = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-no-report")
    first.assert_outcomes(passed=2, failed=2)
    second = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-no-report", "--lf")
    second.assert_outcomes(failed=2)


def test_dash_x_stops_at_first_failure(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(cases=_failing_cases(4))
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "-x", *NO_REPORT)
    result.assert_outcomes(failed=1)


def test_ini_twins_configure_specs_and_outputs(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("audit/suite.yaml", count=2)
    pytester.makeini(
        "[pytest]\n"
        "gradcam_specs = audit\n"
        "gradcam_report = out/audit.html\n"
        "gradcam_json = out/results.json\n"
        "gradcam_batch_size = 1\n"
        "gradcam_method = hirescam\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines(["*audit/suite.yaml::stripes-0000 PASSED*"])
    assert (pytester.path / "out" / "results.json").is_file()
    import json

    document = json.loads((pytester.path / "out" / "results.json").read_text(encoding="utf-8"))
    assert {case["method"] for case in document["cases"]} == {"hirescam"}


def test_command_line_overrides_ini(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("audit/suite.yaml", count=1)
    pytester.makeini("[pytest]\ngradcam_specs = audit\ngradcam_json = ini.json\n")
    pytester.runpytest("-p", "no:cacheprovider", "--gradcam-json", "cli.json", "--gradcam-no-report")
    assert (pytester.path / "cli.json").is_file()
    assert not (pytester.path / "ini.json").exists()


def test_specs_alone_do_not_run_testpaths(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("specs/suite.yaml", count=1)
    pytester.makepyfile(test_other="def test_other():\n    assert True\n")
    only_audit = pytester.runpytest("--gradcam-specs", "specs", *NO_REPORT)
    only_audit.assert_outcomes(passed=1)
    both = pytester.runpytest("test_other.py", "--gradcam-specs", "specs", *NO_REPORT)
    both.assert_outcomes(passed=2)


def test_missing_specs_path_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--gradcam-specs", "nowhere/", *NO_REPORT)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gradcam-specs: no such file or directory*nowhere*"])
