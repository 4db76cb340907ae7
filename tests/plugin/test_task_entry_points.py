"""Segmentation and detection suites through every entry point: pytest-xdist (in test_under_xdist.py), shards merged by `gradcam-audit report`,
and a baseline (`--gradcam-baseline`, `gradcam-audit compare`) give what one plain run gives."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.plugin.conftest import REPOSITORY

TASK_SPECS = REPOSITORY / "specs" / "tasks"
# Few cases of each shipped suite keep the five runs short; the detection cases include an expected failure, and the
# segmentation suite also runs Score-CAM, whose masked passes ask the task head about the same pixels.
CHOSEN = {"segmentation_honest.yaml": (2, ["layercam", "scorecam"]), "detection_shortcut.yaml": (3, None)}
SIMILAR_HEATMAPS = "min_heatmap_similarity=0.99"
MASS_TOLERANCE = 1e-6


def _task_suites(folder: Path) -> Path:
    """Copies of the shipped task specs with their first cases only, models and images found where they ship."""
    import yaml

    folder.mkdir()
    shutil.copy(TASK_SPECS / "grid_decoder.py", folder / "grid_decoder.py")
    for name, (count, methods) in CHOSEN.items():
        data = yaml.safe_load((TASK_SPECS / name).read_text(encoding="utf-8"))
        data["model"] = str((TASK_SPECS / data["model"]).resolve())
        if methods is not None:
            data["method"] = methods
        data["cases"] = data["cases"][:count]
        for case in data["cases"]:
            case["image"] = str(TASK_SPECS / case["image"])
        (folder / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder


def _outcomes(path: Path) -> tuple[str, dict[tuple[str, str, str], tuple[str, dict[str, float]]]]:
    """A results file's verdict, and each planned case's status and region masses."""
    from gradcam_audit.cli.results_input import read_results_file

    return _summary(read_results_file(path))


def _summary(run: Any) -> tuple[str, dict[tuple[str, str, str], tuple[str, dict[str, float]]]]:
    cases = {(case.spec, case.id, case.method): (case.status, {region.name: region.mass for region in case.result.regions}
                                                 if case.result is not None else {})
             for case in run.cases}
    return run.verdict, cases


def _assert_same_outcomes(got: Any, expected: Any, what: str) -> None:
    got_verdict, got_cases = got
    expected_verdict, expected_cases = expected
    assert got_verdict == expected_verdict, f"{what}: verdict {got_verdict} != {expected_verdict}"
    assert set(got_cases) == set(expected_cases), f"{what}: cases differ"
    for key, (status, masses) in expected_cases.items():
        got_status, got_masses = got_cases[key]
        assert got_status == status, f"{what}: {key} is {got_status}, unsharded {status}"
        assert set(got_masses) == set(masses) and masses, f"{what}: {key} regions {sorted(got_masses)} vs {sorted(masses)}"
        for name, mass in masses.items():
            assert math.isclose(got_masses[name], mass, rel_tol=0.0, abs_tol=MASS_TOLERANCE), f"{what}: {key} {name} mass {got_masses[name]} != {mass}"


def _cli(pytester: pytest.Pytester, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gradcam_audit.cli.main", *arguments], cwd=pytester.path, capture_output=True,
                          text=True, check=False)


@pytest.mark.slow
def test_task_suites_give_one_answer_under_xdist_shards_and_a_baseline(pytester: pytest.Pytester) -> None:
    _task_suites(pytester.path / "suites")
    common = ("--gradcam-specs", "suites", "--gradcam-no-report", "-p", "no:cacheprovider")

    plain = pytester.runpytest(*common, "--gradcam-json", "plain.json")
    expected = _outcomes(pytester.path / "plain.json")
    statuses = [status for status, _ in expected[1].values()]
    assert len(statuses) == 2 * 2 + 3 and statuses.count("xfailed") == 1 and "errored" not in statuses, expected
    assert plain.ret == (0 if expected[0] == "passed" else 1)

    # (a) under two xdist workers, the task suites give the plain statuses and masses: tests/plugin/test_under_xdist.py
    # (a run shared with other xdist checks).

    # (b) two shards, merged by `gradcam-audit report`: its exit status is the merged verdict.
    shard_exits = []
    for shard in ("1/2", "2/2"):
        shard_exits.append(pytester.runpytest(*common, "--gradcam-json", f"shard{shard[0]}.json", "--gradcam-shard", shard).ret)
    first, second = (_outcomes(pytester.path / f"shard{number}.json")[1] for number in (1, 2))
    ran = [{key for key, (status, _) in cases.items() if status != "not_run"} for cases in (first, second)]
    assert ran[0] and ran[1] and not ran[0] & ran[1], "each shard runs its own cases"
    report = _cli(pytester, "report", "shard1.json", "shard2.json", "-o", "merged/index.html")
    assert report.returncode == plain.ret, report.stdout + report.stderr
    from gradcam_audit.cli.results_input import read_results_file
    from gradcam_audit.core.ledger.merge import merge_results

    merged = merge_results([read_results_file(pytester.path / f"shard{number}.json") for number in (1, 2)])
    _assert_same_outcomes(_summary(merged), expected, "merged shards")
    assert f"gradcam audit {expected[0].upper()}" in report.stdout, report.stdout

    # (c) the run against itself: a rerun with --gradcam-baseline, and `gradcam-audit compare`, find no regression.
    again = pytester.runpytest(*common, "--gradcam-json", "again.json", "--gradcam-baseline", "plain.json",
                               "--gradcam-baseline-rule", SIMILAR_HEATMAPS)
    assert again.ret == plain.ret
    rerun = read_results_file(pytester.path / "again.json")
    _assert_same_outcomes(_summary(rerun), expected, "rerun against the baseline")
    comparisons = [case.result.baseline for case in rerun.cases if case.result is not None]
    assert len(comparisons) == len(rerun.cases) and all(comparison is not None and not comparison.regressed for comparison in comparisons)
    assert rerun.baseline_tally is not None and (rerun.baseline_tally.compared, rerun.baseline_tally.regressed) == (len(rerun.cases), 0)
    compared = _cli(pytester, "compare", "plain.json", "again.json", "-o", "compare.html", "--rule", SIMILAR_HEATMAPS)
    assert compared.returncode == plain.ret, compared.stdout + compared.stderr
    assert "No case regressed against the baseline." in compared.stdout, compared.stdout
    assert f"baseline: {len(rerun.cases)} compared, 0 regressed" in compared.stdout, compared.stdout
