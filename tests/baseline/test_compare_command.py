"""`gradcam-audit compare BASE CANDIDATE -o compare.html`: the comparison offline, its exit status, its page in Chromium."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from gradcam_audit.core.ledger.entries import CaseEntry
from gradcam_audit.core.ledger.results_file import write_results
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.records.regions import RegionScore
from tests.baseline.conftest import HONEST_MODEL, SHORTCUT_MODEL, audit, shipped_cases
from tests.cli.conftest import assert_clean_error, run_cli, write_image
from gradcam_audit.core.records.codec import to_data


@pytest.fixture
def two_runs(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> tuple[Path, Path]:
    """The honest model's results (the release) and the shortcut model's on the same spec file (the candidate)."""
    spec = write_spec(cases=shipped_cases(4))
    audit(pytester, spec, "released")[0].assert_outcomes(passed=4)
    spec.write_text(spec.read_text(encoding="utf-8").replace(str(HONEST_MODEL), str(SHORTCUT_MODEL)), encoding="utf-8")
    audit(pytester, spec, "candidate")[0].assert_outcomes(failed=4)
    return pytester.path / "released" / "results.json", pytester.path / "candidate" / "results.json"


def test_compare_exits_1_on_a_regression_and_prints_one_screen(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    released, candidate = two_runs
    out = tmp_path / "compare.html"
    result = run_cli("compare", released, candidate, "-o", out)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 160 for line in lines)
    assert any(line.split()[-5:] == ["4", "0", "0", "0", "0"] for line in lines if line.strip().startswith("all suites"))
    assert "4 cases regressed against the baseline" in result.stdout and "REGRESSED" in result.stdout
    assert out.is_file() and 'id="comparison"' in out.read_text(encoding="utf-8")
    same = run_cli("compare", released, released, "-o", tmp_path / "same.html")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "comparing a model with itself" in same.stdout and "No case regressed" in same.stdout


def test_baseline_pictures_are_read_only_from_the_baseline_folder(tmp_path: Path) -> None:
    secret = write_image(tmp_path / "outside" / "secret.png", (8, 8), (1, 2, 3))
    region = RegionScore("tag", "forbidden", 0.01, 0.1, 0.1, 0.0, ())

    def run(folder: Path, mass: float, overlay: str) -> Path:
        result = CaseResult(spec="specs/x.yaml", id="c1", method="gradcam", verdict="passed",
                            regions=(replace(region, mass=mass),))
        entry = CaseEntry(spec="specs/x.yaml", id="c1", method="gradcam", status="passed", result=result, images={"overlay": overlay})
        path = folder / "results.json"
        write_results(RunResults(cases=(entry,)), path)
        return path

    base = run(tmp_path / "base", 0.01, f"../outside/{secret.name}")
    candidate = run(tmp_path / "candidate", 0.3, "nothing.jpg")
    out = tmp_path / "compare.html"
    result = run_cli("compare", base, candidate, "-o", out)
    assert result.returncode == 1
    assert "climbs out with '..'" in result.stderr and "baseline case" in result.stderr
    html = out.read_text(encoding="utf-8")
    assert "regressed vs baseline: tag mass 0.010 → 0.300 (+0.290, allowed +0.02)" in html
    assert "data:image/png" not in html


def test_malformed_or_missing_inputs_are_a_message_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "garbage.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "ok.json").write_text(json.dumps(to_data(RunResults(cases=()))), encoding="utf-8")
    result = run_cli("compare", tmp_path / "garbage.json", tmp_path / "ok.json", "-o", tmp_path / "c.html")
    assert result.returncode == 2
    assert_clean_error(result, "garbage.json", "not valid JSON")
    result = run_cli("compare", tmp_path / "ok.json", tmp_path / "missing.json", "-o", tmp_path / "c.html")
    assert result.returncode == 2
    assert_clean_error(result, "candidate results file not found")
    (tmp_path / "newer.json").write_text('{"schema": 9, "cases": []}', encoding="utf-8")
    result = run_cli("compare", tmp_path / "newer.json", tmp_path / "ok.json", "-o", tmp_path / "c.html")
    assert_clean_error(result, "results schema 9", "reads schemas 1 and 2")
    result = run_cli("compare", tmp_path / "ok.json", tmp_path / "ok.json", "-o", tmp_path / "c.html", "--rule", "max_mas_rise=1")
    assert_clean_error(result, "unknown baseline rule 'max_mas_rise'")
