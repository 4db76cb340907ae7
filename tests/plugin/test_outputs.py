"""What a run leaves behind for CI: the versioned JSON, JUnit properties, the GitHub step summary, the summary line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugin.conftest import read_json, shipped_cases


def test_json_results_follow_the_schema_contract(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(2)
    cases[1]["regions"][0]["min_mass"] = 0.99
    write_spec(cases=cases)
    pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-json", "out.json", "--gradcam-no-report", "-p", "no:cacheprovider")
    document = read_json(pytester.path / "out.json")
    assert document["schema"] == 2
    assert {"verdict", "complete", "incomplete_reasons", "counts", "started", "duration_s", "command", "versions", "cases", "gates"} <= set(document)
    assert document["verdict"] == "failed" and document["complete"] is True and document["counts"] == {"passed": 1, "failed": 1}
    assert {"gradcam_audit", "tensorflow", "keras"} <= set(document["versions"])
    passed, failed = sorted(document["cases"], key=lambda case: case["id"])
    assert passed["spec"] == "suite.yaml" and passed["id"] == "stripes-0000" and passed["method"] == "gradcam"
    assert passed["result"]["layer"] == "conv3" and passed["status"] == "passed" and passed["reason"] == ""
    assert set(passed["result"]["predicted"]) >= {"index", "label", "score"} and 0.0 <= passed["result"]["predicted"]["score"] <= 1.0
    assert passed["result"]["target"]["label"] == cases[0]["target"]
    region = passed["result"]["regions"][0]
    assert {"name", "mass", "lift", "area_share", "checks", "passed"} <= set(region)
    assert region["lift"] == pytest.approx(region["mass"] / region["area_share"])
    assert {"subject", "metric", "value", "limit", "comparison", "passed", "reason"} <= set(region["checks"][0])
    assert failed["status"] == "failed" and "min_mass 0.99" in failed["reason"]
    assert failed["result"]["regions"][0]["passed"] is False
    failed_check = next(check for check in failed["result"]["regions"][0]["checks"] if check["threshold_key"] == "min_mass")
    assert failed_check == {**failed_check, "metric": "mass", "limit": 0.99, "comparison": ">=", "passed": False}


def test_junit_xml_carries_case_numbers_as_properties(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=1)
    pytester.runpytest("--gradcam-specs", "suite.yaml", "--junitxml", "junit.xml", "--gradcam-no-report", "-p", "no:cacheprovider")
    tree = ElementTree.parse(pytester.path / "junit.xml")
    properties = {prop.get("name"): prop.get("value") for prop in tree.iter("property")}
    assert properties["gradcam_layer"] == "conv3"
    assert float(properties["gradcam_stripes_mass"]) > 0.15
    assert float(properties["gradcam_corner-tag_mass"]) < 0.04


def test_github_step_summary_is_appended(pytester: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    cases = shipped_cases(2)
    cases[0]["regions"][0]["min_mass"] = 0.99
    write_spec(cases=cases)
    summary = pytester.path / "summary.md"
    summary.write_text("previous step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-no-report", "-p", "no:cacheprovider")
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("previous step\n")
    assert "Release gate FAILED: 1 of 2 cases" in text
    assert "stripes-0000" in text and "99" in text


def test_terminal_summary_line_names_counts_and_report(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=2)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-report", "out/index.html", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*gradcam audit PASSED: 2 passed → report out/index.html; JSON out/results.json*"])
    assert (pytester.path / "out" / "index.html").is_file()


def test_no_report_writes_no_html_and_no_pictures(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=1)
    pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-no-report", "-p", "no:cacheprovider")
    assert (pytester.path / "reports" / "gradcam" / "results.json").is_file()
    assert not (pytester.path / "reports" / "gradcam" / "index.html").exists()
    assert not (pytester.path / "reports" / "gradcam" / "cases").exists()


def test_overlay_style_options_are_validated(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=1)
    bad = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-overlay-colormap", "jett", "-p", "no:cacheprovider")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*unknown colormap 'jett'*"])
    good = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-overlay-colormap", "viridis",
                              "--gradcam-image-format", "webp", "--gradcam-report-images", "files", "-p", "no:cacheprovider")
    good.assert_outcomes(passed=1)
    assert list((pytester.path / "reports" / "gradcam" / "cases").glob("*.overlay.webp"))


def test_an_inline_report_leaves_no_second_copy_of_its_pictures(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=2)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    folder = pytester.path / "reports" / "gradcam"
    assert sorted(path.name for path in folder.iterdir()) == ["index.html", "results.json", "results.jsonl"]
    # The journal: each finished entry appended as it arrived, so a run that dies still leaves what finished.
    journal = [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["entry"]["id"] for line in journal if line["kind"] == "case"] == ["stripes-0000", "stripes-0001"]
    # Every picture is embedded: at least an overlay and a regions picture per case (plus edited ones for effects).
    assert (folder / "index.html").read_text(encoding="utf-8").count("data:image/webp") >= 2 * 2
    assert all(case["images"] == {} for case in read_json(folder / "results.json")["cases"])
