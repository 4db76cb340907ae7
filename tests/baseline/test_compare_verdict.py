"""`gradcam-audit compare` decides through the run's one verdict: a baseline pass that errored or did not run is a
regression, a candidate that matched no baseline case is not a pass, and new cases stay new."""

from __future__ import annotations

from pathlib import Path

from gradcam_audit.core.ledger.entries import CaseEntry
from gradcam_audit.core.ledger.results_file import write_results
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.records.regions import RegionScore
from tests.cli.conftest import run_cli

_REGION = RegionScore("cat", "required", 0.6, 2.4, 0.25, 0.0, ())


def _passed(case_id: str, method: str = "gradcam") -> CaseEntry:
    result = CaseResult(spec="specs/x.yaml", id=case_id, method=method, verdict="passed", regions=(_REGION,))
    return CaseEntry(spec="specs/x.yaml", id=case_id, method=method, status="passed", result=result)


def _write(folder: Path, *cases: CaseEntry) -> Path:
    path = folder / "results.json"
    write_results(RunResults(cases=cases), path)
    return path


def test_a_baseline_pass_that_errored_or_did_not_run_is_a_regression(tmp_path: Path) -> None:
    base = _write(tmp_path / "base", _passed("c1"), _passed("c2"), _passed("c3"))
    candidate = _write(
        tmp_path / "candidate",
        CaseEntry(spec="specs/x.yaml", id="c1", method="gradcam", status="error",
                  reason="1 problem in the spec:\nspecs/x.yaml:1:1: model: model file not found: gone.keras"),
        CaseEntry(spec="specs/x.yaml", id="c2", method="gradcam", status="not_run", cause="interrupted",
                  reason="the run was interrupted (Ctrl-C) before this ran"),
        _passed("c3"),
        _passed("c4"),  # new since the baseline: stays new
    )
    result = run_cli("compare", base, candidate, "-o", tmp_path / "compare.html")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No case regressed" not in result.stdout
    assert "2 cases regressed against the baseline" in result.stdout
    assert "REGRESSED specs/x.yaml · c1 [gradcam]: passed in the baseline, error now (1 problem in the spec:)" in result.stdout
    assert "REGRESSED specs/x.yaml · c2 [gradcam]: passed in the baseline, did not run now" in result.stdout
    assert "gradcam audit INCOMPLETE" in result.stdout and "baseline: 3 compared, 2 regressed, 1 new, 0 removed" in result.stdout


def test_a_candidate_whose_every_case_errored_is_never_no_case_regressed(tmp_path: Path) -> None:
    base = _write(tmp_path / "base", _passed("c1"), _passed("c2"))
    candidate = _write(tmp_path / "candidate", *(CaseEntry(spec="specs/x.yaml", id=case_id, method="gradcam", status="error",
                                                           reason="model file not found") for case_id in ("c1", "c2")))
    result = run_cli("compare", base, candidate, "-o", tmp_path / "compare.html")
    assert result.returncode == 1, result.stdout
    assert "2 cases regressed against the baseline" in result.stdout and "gradcam audit FAILED" in result.stdout
    html = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert "passed in the baseline, error now" in html


def test_a_comparison_that_compared_nothing_is_not_a_pass(tmp_path: Path) -> None:
    base = _write(tmp_path / "base", _passed("c1"), _passed("c2"))
    candidate = _write(tmp_path / "candidate", _passed("c1", "gradcam++"), _passed("c2", "gradcam++"))
    result = run_cli("compare", base, candidate, "-o", tmp_path / "compare.html")
    assert result.returncode == 1, result.stdout
    assert "gradcam audit INCOMPLETE: 2 passed; baseline: 0 compared, 0 regressed, 2 new, 2 removed" in result.stdout
    assert "compared no case" in result.stdout and "method(s) gradcam, this run gradcam++" in result.stdout
    same = run_cli("compare", base, base, "-o", tmp_path / "same.html")
    assert same.returncode == 0 and "gradcam audit PASSED: 2 passed; baseline: 2 compared, 0 regressed, 0 new, 0 removed" in same.stdout
