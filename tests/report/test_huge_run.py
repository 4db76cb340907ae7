"""A huge run's report: every case that needs attention and a deterministic sample of passes, pictures drawn only for
the cases shown, and the ledger (counts, verdict, results.json) untouched by the sample."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.core.records.comparison import BaselineComparison
from gradcam_audit.core.ledger.entries import BLOCKING_STATUSES, CaseEntry
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.rendering.html.html_report import write_html_report
from gradcam_audit.rendering.views.sampling import (
    SAMPLE_ABOVE_CASES,
    SAMPLE_ABOVE_VARIABLE,
    CaseSample,
    case_sample,
    key_bucket,
    sample_above_from,
    sample_notice,
)
from gradcam_audit.rendering.views.view_models import build_report_view
from tests.plugin.conftest import HONEST_MODEL, shipped_cases
from tests.report.synthetic import case
from gradcam_audit.core.records.codec import from_data

STATUS_MIX = {"passed": 4_880, "failed": 60, "error": 20, "xpassed": 10, "xfailed": 20, "not_run": 10}


def _huge_results() -> RunResults:
    """5,000 synthetic cases, most passed, with every status that must always be shown."""
    cases: list[CaseEntry] = []
    for status, count in STATUS_MIX.items():
        cases += [case(f"{status}-{number:05d}", status, xfail="known" if status.startswith("x") else None) for number in range(count)]
    return RunResults(cases=tuple(cases), started="2025-03-04T05:06:07+00:00", duration_s=1.0)


@pytest.fixture(scope="module")
def huge_results() -> RunResults:
    return _huge_results()


def test_small_runs_are_not_sampled(huge_results: RunResults) -> None:
    sample = case_sample(SAMPLE_ABOVE_CASES)
    assert not sample.active
    assert all(sample.shows(entry) for entry in huge_results.cases)
    assert sample_notice(sample, huge_results.cases) == ""


def test_every_case_needing_attention_is_shown_and_about_two_hundred_passes(huge_results: RunResults) -> None:
    sample = case_sample(len(huge_results.cases))
    assert sample.active and sample.every == 25
    shown = [entry for entry in huge_results.cases if sample.shows(entry)]
    shown_statuses = Counter(entry.status for entry in shown)
    for status in ("failed", "error", "xpassed", "not_run"):  # not_run here: interrupted, which makes the run incomplete
        assert shown_statuses[status] == STATUS_MIX[status], status
    assert 140 <= shown_statuses["passed"] <= 270, shown_statuses
    assert shown_statuses["xfailed"] < STATUS_MIX["xfailed"]


def test_the_sample_is_deterministic_and_independent_of_arrival_order(huge_results: RunResults) -> None:
    """Workers decide which pictures to draw as cases finish, in any order; the controller must pick the same cases."""
    sample = case_sample(len(huge_results.cases))
    first = {entry.key for entry in huge_results.cases if sample.shows(entry)}
    shuffled = list(huge_results.cases)
    random.Random(7).shuffle(shuffled)
    again = case_sample(len(shuffled))
    assert {entry.key for entry in shuffled if again.shows(entry)} == first
    # The bucket is CRC-32 of the key, fixed across processes (Python's hash() of a str is not).
    assert key_bucket("specs/a.yaml", "x", "gradcam", 1_000_003) == 609_165


def test_the_notice_says_how_many_passes_are_shown_of_how_many(huge_results: RunResults) -> None:
    sample = case_sample(len(huge_results.cases))
    shown_passes = sum(1 for entry in huge_results.cases if entry.status in ("passed", "xfailed") and sample.shows(entry))
    notice = sample_notice(sample, huge_results.cases)
    assert notice.startswith(f"Showing {shown_passes:,} of {STATUS_MIX['passed'] + STATUS_MIX['xfailed']:,} passed")
    assert "(a deterministic sample)" in notice and "every case is in results.json" in notice


def test_the_view_lists_the_sample_but_counts_and_verdict_come_from_every_case(huge_results: RunResults) -> None:
    sample = case_sample(len(huge_results.cases))
    full = build_report_view(huge_results)
    sampled = build_report_view(huge_results, shown=sample.shows)
    assert len(full.cases) == 5_000 and len(sampled.cases) == sum(1 for entry in huge_results.cases if sample.shows(entry))
    assert (sampled.verdict, sampled.counts, sampled.scope, sampled.attention) == (full.verdict, full.counts, full.scope, full.attention)
    assert sampled.scope.startswith("5000 cases")
    # A shown case keeps the anchor it has in the full report, so links to it do not depend on the sample.
    anchors = {(view.suite, view.case_id): view.anchor for view in full.cases}
    assert all(anchors[(view.suite, view.case_id)] == view.anchor for view in sampled.cases)
    assert {view.case_id for view in sampled.cases if view.blocking} == {entry.id for entry in huge_results.cases if entry.status in BLOCKING_STATUSES}


def test_filters_count_what_they_show_and_comparisons_link_only_to_shown_cases(huge_results: RunResults) -> None:
    sample = case_sample(len(huge_results.cases))
    compared = RunResults(cases=tuple(
        replace(entry, result=replace(entry.result, baseline=BaselineComparison(status="unchanged", regressed=False)))
        if entry.result is not None and entry.status == "passed" else entry for entry in huge_results.cases))
    view = build_report_view(compared, shown=sample.shows)
    shown_passes = sum(1 for entry in compared.cases if entry.status == "passed" and sample.shows(entry))
    labels = dict(view.status_options)
    assert labels["passed"] == f"passed ({shown_passes:,} shown of {STATUS_MIX['passed']:,})"
    assert labels["failed"] == f"FAILED ({STATUS_MIX['failed']})"  # every failure is shown: no "shown of"
    assert view.comparison is not None and len(view.comparison.cases) == STATUS_MIX["passed"]
    shown_anchors = {view_case.anchor for view_case in view.cases}
    linked = [case_view.anchor for case_view in view.comparison.cases if case_view.anchor]
    assert len(linked) == shown_passes and set(linked) <= shown_anchors  # never a link to a case the page lacks


def test_a_huge_report_shows_the_notice_and_every_failure(huge_results: RunResults, tmp_path: Path) -> None:
    path = write_html_report(huge_results, tmp_path / "index.html", warn=lambda message: None)
    html = path.read_text(encoding="utf-8")
    assert 'id="case-sample"' in html and "(a deterministic sample)" in html
    for entry in huge_results.cases:
        if entry.status in BLOCKING_STATUSES:
            assert f">{entry.id}<" in html, entry.id
    assert html.count('data-status="passed"') < 300


def test_the_threshold_can_be_lowered_through_the_environment() -> None:
    assert sample_above_from({}) == SAMPLE_ABOVE_CASES
    assert sample_above_from({SAMPLE_ABOVE_VARIABLE: "5"}) == 5
    with pytest.raises(ValueError, match="expected a whole number"):
        sample_above_from({SAMPLE_ABOVE_VARIABLE: "many"})
    assert case_sample(24, sample_above=5) == CaseSample(24, every=2)


def _spec_with_failures(directory: Path, count: int, failing: set[int]) -> Path:
    import yaml

    cases = shipped_cases(count)
    for number in failing:  # a threshold no heatmap meets: a real failure, with its pictures
        cases[number]["regions"][0]["min_mass"] = 0.999
    document: dict[str, Any] = {"model": str(HONEST_MODEL), "preprocess": "scale01", "labels": ["horizontal", "vertical"],
                                "cases": cases}
    path = directory / "suite.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_a_real_sampled_run_draws_pictures_only_for_the_cases_it_shows(pytester: pytest.Pytester,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    failing = {1, 6}
    _spec_with_failures(pytester.path, 12, failing)
    monkeypatch.setenv(SAMPLE_ABOVE_VARIABLE, "5")
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-report", "out/index.html", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=10, failed=2)
    result.stdout.fnmatch_lines(["*gradcam audit FAILED*pictures as files, passes sampled (12 cases)*"])
    html = (pytester.path / "out" / "index.html").read_text(encoding="utf-8")
    document = json.loads((pytester.path / "out" / "results.json").read_text(encoding="utf-8"))
    assert len(document["cases"]) == 12 and document["counts"] == {"passed": 10, "failed": 2}
    sample = case_sample(12, sample_above=5)
    shown = {entry["id"] for entry in document["cases"] if sample.shows(from_data(CaseEntry, entry, "results.json"))}
    assert 0 < len(shown) - len(failing) < 10, shown  # some passes left out, some shown
    assert "Showing " + str(len(shown) - len(failing)) + " of 10 passed cases (a deterministic sample)" in html
    assert "pictures are files in cases/" in html
    for entry in document["cases"]:
        pictures = [pytester.path / "out" / name for name in entry["images"].values()]
        if entry["id"] in shown:
            assert pictures and all(picture.is_file() for picture in pictures), entry["id"]
            assert f">{entry['id']}<" in html
        else:
            assert not pictures, entry["id"]  # never drawn
            assert f">{entry['id']}<" not in html
    assert all(shipped_cases(12)[number]["id"] in shown for number in failing)
    drawn = {path.name for path in (pytester.path / "out" / "cases").iterdir()}
    assert drawn == {Path(name).name for entry in document["cases"] for name in entry["images"].values()}


def test_reports_do_not_keep_the_entry_once_the_ledger_has_it(pytester: pytest.Pytester) -> None:
    """pytest keeps every report to the end: an entry left on each would grow the controller's memory with the run."""
    _spec_with_failures(pytester.path, 3, set())
    recorder = pytester.inline_run("--gradcam-specs", "suite.yaml", "--gradcam-no-report", "-p", "no:cacheprovider")
    reports = [report for report in recorder.getreports("pytest_runtest_logreport") if report.when == "call"]
    assert len(reports) == 3
    assert not any(hasattr(report, "gradcam_case") for report in reports)
    document = json.loads((pytester.path / "reports" / "gradcam" / "results.json").read_text(encoding="utf-8"))
    assert [entry["status"] for entry in document["cases"]] == ["passed"] * 3
