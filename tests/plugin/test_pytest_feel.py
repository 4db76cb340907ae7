"""The audit feels like pytest: node ids, TensorFlow-free collection, honest timings, progress, ini paths, shards."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest

from gradcam_audit.core.plan import plan_audit
from tests.plugin.conftest import read_json

CHECK_MODULES = '''
import sys


def pytest_collection_finish(session):
    print("TENSORFLOW_IMPORTED", "tensorflow" in sys.modules)
'''


def test_a_case_node_id_runs_exactly_that_case(pytester: pytest.Pytester, shipped_project: Path) -> None:
    result = pytester.runpytest("specs/stripes_honest.yaml::stripes-0003", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    document = read_json(pytester.path / "reports" / "gradcam" / "results.json")
    ran = [case["id"] for case in document["cases"] if case["status"] != "not_run"]
    assert ran == ["stripes-0003"] and document["verdict"] == "passed"


def test_a_node_id_narrows_a_gradcam_specs_run(pytester: pytest.Pytester, shipped_project: Path) -> None:
    result = pytester.runpytest("--gradcam-specs", "specs/", "specs/stripes_honest.yaml::stripes-0003", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_several_spec_files_after_one_option_all_run(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("specs/first.yaml", count=2)
    write_spec("specs/second.yaml", count=3)
    result = pytester.runpytest("--gradcam-specs", "specs/first.yaml", "specs/second.yaml", "--gradcam-no-report", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)  # both files named after one --gradcam-specs run


def test_other_yaml_in_a_spec_folder_is_left_alone(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("specs/suite.yaml", count=1)
    (pytester.path / "specs" / "ci.yaml").write_text("jobs:\n  test:\n    runs-on: ubuntu-latest\n", encoding="utf-8")
    result = pytester.runpytest("--gradcam-specs", "specs", "--gradcam-no-report", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_collection_never_imports_tensorflow(pytester: pytest.Pytester, shipped_project: Path) -> None:
    pytester.makepyfile(check_modules=CHECK_MODULES)
    result = pytester.runpytest_subprocess("--gradcam-specs", "specs/", "--collect-only", "-q", "-p", "check_modules",
                                           "-p", "no:cacheprovider")
    planned = plan_audit([shipped_project])
    result.stdout.fnmatch_lines(["TENSORFLOW_IMPORTED False", f"{len(planned.cases) + len(planned.gates)} tests collected*"])
    assert result.ret == 0
    assert not (pytester.path / "reports" / "gradcam" / "results.json").exists()  # listing runs nothing, writes nothing


def test_no_case_carries_its_whole_batch_in_junit(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(count=8, gate={"min_pass_rate": 0.5})
    pytester.runpytest("--gradcam-specs", "suite.yaml", "--junitxml", "junit.xml", "--gradcam-no-report", "-p", "no:cacheprovider")
    cases = ElementTree.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    times = [float(case.get("time", "0")) for case in cases]
    planned = plan_audit([spec])
    assert len(times) == len(planned.cases) + len(planned.gates) == 9 and sum(times) > 0
    assert max(times) <= 0.5 * sum(times)


def test_progress_lines_report_cases_done_and_stay_quiet_under_q(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=3)
    arguments = ("--gradcam-specs", "suite.yaml", "--gradcam-batch-size", "1", "--gradcam-progress-every", "0.000001",
                 "--gradcam-no-report", "-p", "no:cacheprovider")
    result = pytester.runpytest(*arguments)
    result.stdout.fnmatch_lines(["gradcam: */3 cases (*%), * images/s, about * s left"])
    quiet = pytester.runpytest(*arguments, "-q")
    assert not any(line.startswith("gradcam: ") for line in quiet.stdout.lines)


def test_ini_paths_are_relative_to_the_ini_file_from_any_folder(pytester: pytest.Pytester, write_spec: Callable[..., Path],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec("specs/suite.yaml", count=1)
    pytester.makeini("[pytest]\ngradcam_specs = specs\ngradcam_report = out/audit.html\n")
    (pytester.path / "sub").mkdir()
    monkeypatch.chdir(pytester.path / "sub")
    result = pytester.runpytest("--rootdir", str(pytester.path), "-c", str(pytester.path / "tox.ini"), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "out" / "audit.html").is_file() and not (pytester.path / "sub" / "out").exists()


def test_shards_merge_whole_with_every_picture_and_no_case_twice(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=5, gate={"min_pass_rate": 0.5})
    for shard in ("1", "2"):
        # The README's recipe: each CI job writes its own folder, pictures as files beside its JSON.
        pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-shard", f"{shard}/2", "--gradcam-report-images", "files",
                           "--gradcam-report", f"shard-{shard}/index.html", "-p", "no:cacheprovider")
    command = [sys.executable, "-m", "gradcam_audit.cli.main", "report", "shard-1/results.json", "shard-2/results.json",
               "-o", "merged/index.html"]
    completed = subprocess.run(command, cwd=pytester.path, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    html = (pytester.path / "merged" / "index.html").read_text(encoding="utf-8")
    shards = [read_json(pytester.path / f"shard-{shard}" / "results.json") for shard in ("1", "2")]
    pictures = [len(case["images"]) for shard in shards for case in shard["cases"] if case["status"] != "not_run"]
    assert len(pictures) == 5 and min(pictures) >= 2  # an overlay and a regions picture at least, for every case
    assert html.count("data:image/webp") == sum(pictures)  # every picture of both shards is in the merged report (WebP by default)
    assert "Release gate PASSED: 5 cases and 1 gate" in html
    # A gate is judged once, from both shards' cases: neither shard judged it alone.
    for shard in ("1", "2"):
        (gate,) = read_json(pytester.path / f"shard-{shard}" / "results.json")["gates"]
        assert gate["status"] == "not_run" and gate["cause"] in ("other_shard", "deselected")
    twice = subprocess.run([*command[:4], "shard-1/results.json", "shard-1/results.json", "-o", "twice.html"], cwd=pytester.path,
                           capture_output=True, text=True, check=False)
    # Shard 2 is missing from this merge: its cases did not run, so the merged verdict is incomplete (exit 1), never a pass.
    assert twice.returncode == 1, twice.stderr
    assert "INCOMPLETE" in twice.stdout
    doubled = (pytester.path / "twice.html").read_text(encoding="utf-8")
    assert "is in both" in doubled  # the merge says what it de-duplicated
    first_shard_pictures = sum(len(case["images"]) for case in shards[0]["cases"] if case["status"] != "not_run")
    assert doubled.count("data:image/webp") == first_shard_pictures  # each case once, not twice


# `explain` and `init --model` print no TensorFlow start-up lines, with TF_CPP_MIN_LOG_LEVEL unset and at 2:
# tests/cli/test_init.py and tests/cli/test_explain.py (one fresh process each).


def test_progress_gives_no_time_left_until_a_fair_share_of_the_run_is_timed(pytester: pytest.Pytester,
                                                                            write_spec: Callable[..., Path]) -> None:
    """A rate measured on the first cases alone (a batch's burst) is meaningless: the first line says it is estimating,
    and a time left comes only once a fifth of the run has been timed after the first case."""
    write_spec(count=6)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-batch-size", "1", "--gradcam-progress-every", "0.000001",
                                "--gradcam-no-report", "-p", "no:cacheprovider")
    lines = [line for line in result.stdout.lines if line.startswith("gradcam: ") and "cases (" in line]
    assert lines[0] == "gradcam: 2/6 cases (33%), estimating the time left", lines
    assert all("s left" in line for line in lines[1:]) and len(lines) >= 2, lines
