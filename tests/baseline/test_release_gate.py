"""`--gradcam-baseline`: each case compared with the released model's audit through real pytest runs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.baseline.conftest import HONEST_MODEL, SHORTCUT_MODEL, audit, comparisons, shipped_cases


def _swap_model(spec: Path, model: Path) -> None:
    """The same spec file (same path, same case ids) auditing another model: the release candidate."""
    text = spec.read_text(encoding="utf-8")
    assert str(HONEST_MODEL) in text
    spec.write_text(text.replace(str(HONEST_MODEL), str(model)), encoding="utf-8")


def test_honest_model_against_its_own_baseline_changes_nothing(pytester: pytest.Pytester, write_spec: Callable[..., Path],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_spec(count=6, gate={"min_pass_rate": 0.9})
    first, baseline = audit(pytester, spec, "released")
    first.assert_outcomes(passed=7)
    # Results carry each heatmap compactly: 8-bit at the layer's resolution (conv3: 16×16), base64, strict JSON.
    heatmaps = [case["result"]["heatmap"] for case in baseline["cases"]]
    assert {(heatmap["width"], heatmap["height"], heatmap["encoding"]) for heatmap in heatmaps} == {(16, 16, "uint8-base64")}
    assert all(len(base64.b64decode(heatmap["data"])) == 256 for heatmap in heatmaps)
    assert max(len(json.dumps(heatmap)) for heatmap in heatmaps) < 600  # bytes of JSON per case

    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    second, candidate = audit(pytester, spec, "candidate", "--gradcam-baseline", "released/results.json")
    second.assert_outcomes(passed=7)
    assert second.ret == 0
    records = comparisons(candidate)
    assert [record["status"] for record in records] == ["unchanged"] * 6
    assert not any(record["regressed"] for record in records)
    assert min(record["heatmap_similarity"] for record in records) >= 0.99
    assert all(record["baseline_status"] == "passed" for record in records)
    assert candidate["baseline"]["sources"] == ["released/results.json"] and candidate["baseline"]["removed"] == []
    assert any("comparing a model with itself" in note for note in candidate["baseline"]["notes"])
    html = (pytester.path / "candidate" / "index.html").read_text(encoding="utf-8")
    assert 'id="comparison"' in html and "comparing a model with itself" in html
    markdown = summary.read_text(encoding="utf-8")
    assert "### Compared with the baseline (released/results.json)" in markdown
    assert "| suite.yaml | 0 | 0 | 6 | 0 | 0 |" in markdown and "No case regressed against the baseline." in markdown


def test_shortcut_model_against_the_honest_baseline_regresses_every_case_on_the_tag(
        pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(count=24)
    released, _ = audit(pytester, spec, "released")
    released.assert_outcomes(passed=24)
    _swap_model(spec, SHORTCUT_MODEL)
    result, candidate = audit(pytester, spec, "candidate", "--gradcam-baseline", "released",  # a folder of results files
                              "--junitxml", "junit.xml")
    assert result.ret == 1
    result.assert_outcomes(failed=24)
    records = comparisons(candidate)
    assert len(records) == 24 and all(record["status"] == "regressed" and record["regressed"] for record in records)
    for record in records:
        tag = next(check for check in record["checks"] if check["subject"] == "corner-tag")
        assert tag["metric"] == "mass_rise" and not tag["passed"] and tag["value"] > 0.02, tag
        assert tag["reason"].startswith("regressed vs baseline: corner-tag mass ")
        delta = next(delta for delta in record["deltas"] if delta["subject"] == "corner-tag" and delta["metric"] == "mass")
        assert delta["delta"] == pytest.approx(delta["candidate"] - delta["baseline"])
    result.stdout.fnmatch_lines(["*regressed vs baseline: corner-tag mass 0.0?? → 0.??? (+0.???, allowed +0.02)*"])
    html = (pytester.path / "candidate" / "index.html").read_text(encoding="utf-8")
    assert "24 cases regressed against the baseline" in html
    import xml.etree.ElementTree as ElementTree

    properties = [(item.get("name"), item.get("value")) for item in ElementTree.parse(pytester.path / "junit.xml").iter("property")]
    assert [value for name, value in properties if name == "gradcam_baseline"] == ["regressed"] * 24
    assert len([name for name, _ in properties if name == "gradcam_corner-tag_mass_delta"]) == 24


TAG_ONLY = [{"name": "corner-tag", "box": [2, 2, 9, 9], "max_mass": 0.5}]


def _tag_only_cases(count: int, **region_fields: object) -> list[dict[str, object]]:
    """Shipped cases whose only region is the corner tag, with an absolute limit both models meet (max_mass 0.5)."""
    cases = shipped_cases(count)
    for case in cases:
        case["regions"] = [{**TAG_ONLY[0], **region_fields}]
    return cases


def test_a_case_that_meets_every_threshold_fails_only_because_of_the_baseline(
        pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    # Under pytest-xdist the comparison is decided alike: tests/plugin/test_batching_and_xdist.py compares the two.
    spec = write_spec(cases=_tag_only_cases(4))
    released, baseline = audit(pytester, spec, "released")
    released.assert_outcomes(passed=4)
    _swap_model(spec, SHORTCUT_MODEL)
    result, candidate = audit(pytester, spec, "candidate", "--gradcam-baseline", "released/results.json")
    assert result.ret == 1
    failed = [case for case in candidate["cases"] if case["status"] == "failed"]
    assert failed, "the shortcut model should raise the tag's mass by more than 0.02 somewhere"
    for case in failed:
        own = case["result"]
        assert all(region["passed"] for region in own["regions"]), "every absolute threshold is met"
        assert own["baseline"]["verdict_before"] == "passed" and own["baseline"]["regressed"] is True
        assert case["reason"].startswith("regressed vs baseline: corner-tag mass ")
        rise = next(check for check in own["baseline"]["checks"] if check["metric"] == "mass_rise")
        before = next(region["mass"] for region in next(c for c in baseline["cases"] if c["id"] == case["id"])["result"]["regions"])
        assert rise["value"] == pytest.approx(own["regions"][0]["mass"] - before) and rise["limit"] == 0.02
    assert "Traceback" not in result.stdout.str()


def test_tolerances_from_the_ini_and_from_the_spec(pytester: pytest.Pytester, write_spec: Callable[..., Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_spec(cases=_tag_only_cases(4))
    audit(pytester, spec, "released")[0].assert_outcomes(passed=4)
    _swap_model(spec, SHORTCUT_MODEL)
    # The ini's baseline path is relative to the ini file's folder, also when pytest starts in a subfolder.
    ini = pytester.makeini("[pytest]\ngradcam_baseline = released/results.json\ngradcam_baseline_rule = max_mass_rise=0.9\n")
    (pytester.path / "sub").mkdir()
    monkeypatch.chdir(pytester.path / "sub")
    report = pytester.path / "loose" / "index.html"
    result = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-report", str(report), "-p", "no:cacheprovider",
                                "-c", str(ini), "--rootdir", str(pytester.path))
    assert result.ret == 0, result.stdout.str()
    loose = json.loads((report.parent / "results.json").read_text(encoding="utf-8"))
    rises = [check for record in comparisons(loose) for check in record["checks"] if check["metric"] == "mass_rise"]
    assert len(rises) == 4 and {check["limit"] for check in rises} == {0.9} and all(check["passed"] for check in rises)

    # A region's `baseline:` in the spec wins over the ini.
    monkeypatch.chdir(pytester.path)
    import yaml

    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    document["cases"] = _tag_only_cases(4, baseline={"max_mass_rise": 0.001})
    document["model"] = str(SHORTCUT_MODEL)
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-no-report", "--gradcam-json", "strict.json",
                                "-p", "no:cacheprovider", "-c", str(ini))
    assert result.ret == 1
    strict = json.loads((pytester.path / "strict.json").read_text(encoding="utf-8"))
    rises = [check for record in comparisons(strict) for check in record["checks"] if check["metric"] == "mass_rise"]
    assert {check["limit"] for check in rises} == {0.001} and not all(check["passed"] for check in rises)


def test_new_and_removed_cases_are_listed_not_errors(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(4)
    spec = write_spec(cases=cases[:3])
    audit(pytester, spec, "released")[0].assert_outcomes(passed=3)
    spec = write_spec(cases=cases[1:4])
    result, candidate = audit(pytester, spec, "candidate", "--gradcam-baseline", "released/results.json")
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    statuses = {case["id"]: case["result"]["baseline"]["status"] for case in candidate["cases"]}
    assert statuses == {cases[1]["id"]: "unchanged", cases[2]["id"]: "unchanged", cases[3]["id"]: "new"}
    assert [removed["id"] for removed in candidate["baseline"]["removed"]] == [cases[0]["id"]]
    html = (pytester.path / "candidate" / "index.html").read_text(encoding="utf-8")
    assert "Removed since the baseline" in html and cases[0]["id"] in html


def test_a_malformed_or_newer_baseline_is_a_usage_error_naming_it(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(count=1)
    (pytester.path / "broken.json").write_text('{"schema": 2, "cases": [{"id": 1}]}', encoding="utf-8")
    result = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-no-report", "--gradcam-baseline", "broken.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gradcam-baseline:*broken.json: not a valid gradcam_audit results file*", "*cases[[]0[]].spec: missing*"])
    (pytester.path / "newer.json").write_text('{"schema": 3, "cases": []}', encoding="utf-8")
    result = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-no-report", "--gradcam-baseline", "newer.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*newer.json was written with results schema 3*reads schemas 1 and 2*"])
    assert "Traceback" not in result.stderr.str()
