"""The run's state is on disk from its first moment (issue 21): no stale PASSED survives a full disk or a kill, two
runs never share one report folder, and the default report stays inside the project. Real tmpfs, real SIGKILL, real
second processes."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gradcam_audit.core.files.run_folder import LOCK_NAME, FolderBusyError, OutputWriteError, lock_folder, write_text_atomically
from tests.plugin.conftest import REPOSITORY, read_json, shipped_cases

# A plain test run beside the audit: it says it started, then waits to be killed (the run holds its folder meanwhile;
# the sleep's end only guards against a test that never kills it).
BLOCKING_TEST = '''
import pathlib, time

def test_wait_to_be_killed():
    pathlib.Path("ready").write_text("ready")
    time.sleep(300)
'''


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs, mounted for the test and unmounted after; skipped only where mounting is not permitted."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                                 capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"cannot mount a small tmpfs here ({error}); the full-disk test needs root or CAP_SYS_ADMIN")
    if mounted.returncode != 0:
        pytest.skip(f"mounting a small tmpfs is not permitted here ({mounted.stderr.strip()}); it needs root or CAP_SYS_ADMIN")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True, timeout=30, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30, check=False)


def _fill(folder: Path) -> None:
    """Write a filler file until the file system says it is full."""
    with (folder / "filler").open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    with pytest.raises(OSError):
        (folder / "probe").write_bytes(b"x" * 8192)


def _spec(pytester: pytest.Pytester, write_spec: Callable[..., Path], *, passing: bool, count: int = 2) -> None:
    cases = shipped_cases(count)
    if not passing:
        cases[0]["regions"][0]["min_mass"] = 0.99
    write_spec(cases=cases)


def _start_blocking_run(pytester: pytest.Pytester, *arguments: str) -> subprocess.Popen[str]:
    """A real pytest process running the audit, then a test that waits to be killed; returns once it said `ready`."""
    pytester.makepyfile(test_block=BLOCKING_TEST)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")]),
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, "-m", "pytest", "suite.yaml", "test_block.py", "--gradcam-specs", "suite.yaml",
                                "-p", "no:cacheprovider", "-p", "no:randomly", *arguments],
                               cwd=pytester.path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300  # a guard against a hung test, not a timing assertion
    while not (pytester.path / "ready").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.communicate()[0]
            pytest.fail(f"the blocking run ended before its waiting test started:\n{output[-3000:]}")
        time.sleep(0.1)
    return process


def test_a_full_disk_leaves_no_stale_pass_and_is_one_clear_error(pytester: pytest.Pytester, write_spec: Callable[..., Path],
                                                                 small_disk: Path) -> None:
    _spec(pytester, write_spec, passing=True, count=1)
    report = small_disk / "index.html"
    first = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-report", str(report), "-p", "no:cacheprovider")
    assert first.ret == 0 and read_json(small_disk / "results.json")["verdict"] == "passed"
    _fill(small_disk)
    _spec(pytester, write_spec, passing=False, count=1)
    second = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-report", str(report), "-p", "no:cacheprovider")
    output = second.stdout.str() + second.stderr.str()
    assert second.ret not in (0, pytest.ExitCode.INTERNAL_ERROR), output
    assert "INTERNALERROR" not in output and "Traceback" not in output
    second.stdout.fnmatch_lines([f"*results were not saved: cannot write * in {small_disk}: the disk is full*"])
    # Nothing there says the previous run's PASSED as if it were this run's verdict; nothing is half written.
    assert not (small_disk / "results.json").exists() or read_json(small_disk / "results.json")["verdict"] != "passed"
    assert not report.exists() or report.stat().st_size > 0
    assert (small_disk / "results.json.superseded").is_file()
    assert not list(small_disk.glob(".*.partial"))


@pytest.mark.slow
def test_a_killed_run_leaves_no_stale_pass_and_its_lock_is_taken_over(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    folder = pytester.path / "reports" / "gradcam"
    _spec(pytester, write_spec, passing=True)
    assert pytester.runpytest("--gradcam-specs", "suite.yaml", "-p", "no:cacheprovider").ret == 0
    assert read_json(folder / "results.json")["verdict"] == "passed"
    _spec(pytester, write_spec, passing=False)
    process = _start_blocking_run(pytester)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    journal = (folder / "results.jsonl").read_text(encoding="utf-8")
    assert '"status": "failed"' in journal  # the killed run had recorded its failure
    assert not (folder / "results.json").exists() and not (folder / "index.html").exists()
    assert read_json(folder / "results.json.superseded")["verdict"] == "passed"  # kept aside, under a name no one reads as current
    assert (folder / LOCK_NAME).exists()  # the killed holder could not remove it ...
    after = pytester.runpytest("--gradcam-specs", "suite.yaml", "-p", "no:cacheprovider")
    assert after.ret == pytest.ExitCode.TESTS_FAILED  # ... yet the next run recognises it as stale and runs
    assert read_json(folder / "results.json")["verdict"] == "failed"
    assert not (folder / "results.json.superseded").exists() and not list(folder.glob(".gradcam-inline-pictures*"))


# A second run on a folder another run holds is refused naming it, and the first is never interleaved: in the shared
# `-n 2` run of tests/plugin/test_under_xdist.py (its controller holds the folder while the second run is refused).


def test_a_run_without_a_report_leaves_no_old_report_beside_its_results(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    folder = pytester.path / "reports" / "gradcam"
    _spec(pytester, write_spec, passing=True, count=1)
    assert pytester.runpytest("--gradcam-specs", "suite.yaml", "-p", "no:cacheprovider").ret == 0
    assert (folder / "index.html").is_file()
    _spec(pytester, write_spec, passing=False, count=1)
    assert pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-no-report", "-p", "no:cacheprovider").ret == 1
    assert read_json(folder / "results.json")["verdict"] == "failed"
    assert not (folder / "index.html").exists() and not list(folder.glob("*.superseded"))


# Under xdist, the controller names the run's picture folder for every worker: test_under_xdist.py (a shared run).


def test_the_default_report_stays_in_the_folder_pytest_started_in(pytester: pytest.Pytester, write_spec: Callable[..., Path],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec("project/suite.yaml", count=1)
    monkeypatch.chdir(pytester.path / "project")
    # A baseline outside the project (its path an argument pytest also reads when it picks its rootdir).
    assert pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-json=../released/results.json", "--gradcam-no-report",
                              "-p", "no:cacheprovider").ret == 0
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-baseline", "../released/results.json", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert (pytester.path / "project" / "reports" / "gradcam" / "index.html").is_file()
    assert not (pytester.path / "reports").exists()


# -- the core's writer and lock, directly -----------------------------------------------------------------------


def test_the_atomic_writer_on_a_full_disk_keeps_the_old_file_and_names_the_folder(small_disk: Path) -> None:
    target = small_disk / "results.json"
    write_text_atomically(target, lambda handle: handle.write('{"verdict": "passed"}'))
    _fill(small_disk)
    with pytest.raises(OutputWriteError, match=f"cannot write results.json in {small_disk}: the disk is full"):
        write_text_atomically(target, lambda handle: handle.write("x" * 100_000))
    assert target.read_text(encoding="utf-8") == '{"verdict": "passed"}'
    assert not list(small_disk.glob(".*.partial"))


def test_a_lock_held_by_another_process_refuses_and_a_dead_holder_is_stale(tmp_path: Path) -> None:
    program = ("import sys, time; from pathlib import Path; from gradcam_audit.core.files.run_folder import lock_folder; "
               "lock_folder(Path(sys.argv[1]), 'holder command'); print('held', flush=True); time.sleep(300)")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", program, str(tmp_path)], env=environment, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusyError, match=f"process {holder.pid} on .*: holder command"):
            lock_folder(tmp_path, "second")
    finally:
        holder.kill()
        holder.communicate(timeout=60)
    assert (tmp_path / LOCK_NAME).exists()
    lock = lock_folder(tmp_path, "third")  # the killed holder's file is stale: taken over
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_the_report_command_on_a_full_disk_is_one_error_and_leaves_no_empty_report(tmp_path: Path, small_disk: Path) -> None:
    from gradcam_audit.core.ledger.entries import CaseEntry
    from gradcam_audit.core.ledger.results_file import write_results
    from gradcam_audit.core.ledger.run_results import RunResults
    from tests.cli.conftest import assert_clean_error, run_cli

    results = tmp_path / "results.json"
    write_results(RunResults(cases=(CaseEntry(spec="a.yaml", id="x", method="gradcam", status="passed"),)), results)
    _fill(small_disk)
    outcome = run_cli("report", results, "-o", small_disk / "merged.html")
    assert_clean_error(outcome, f"cannot write merged.html in {small_disk}: the disk is full")
    assert not (small_disk / "merged.html").exists() and not list(small_disk.glob(".*.partial"))
