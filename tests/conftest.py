"""Test-suite set-up shared by every test folder."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: one of the suite's longest tests (real crashes, Ray, xdist), started first")
    # pytester's in-process runs restore sys.modules afterwards; TensorFlow cannot be imported twice in one
    # process (the second import aborts), so the test suite imports it before any pytester snapshot is taken.
    # An audit run from this folder (`pytest --gradcam-specs specs/`) loads this file too (testpaths): there
    # collection must stay TensorFlow-free, so nothing is imported.
    if config.getoption("gradcam_specs", default=None):
        return
    if config.getoption("numprocesses", default=None) and not hasattr(config, "workerinput"):
        return  # pytest-xdist's controller hands tests out and runs none: only its workers need TensorFlow
    import keras  # noqa: F401
    import tensorflow  # noqa: F401


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Real pytest runs (pytester) are the suite's long tests, and those marked slow the longest: they start first, and
    # the short ones fill in around them instead of a long test starting last and finishing alone. This needs the
    # README's `--dist worksteal`: xdist's default `load` hands each worker a fixed first block of consecutive tests,
    # so one worker got every long test and finished 24 s after the other (measured on 951 tests).
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, "pytester" not in getattr(item, "fixturenames", ())))



@dataclass(frozen=True)
class ExampleRun:
    """The README's first command, run once: `pytest --gradcam-specs specs/` in a copy of specs/ and models/."""

    folder: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def report(self) -> Path:
        return self.folder / "reports" / "gradcam" / "index.html"

    @property
    def results(self) -> Path:
        return self.report.parent / "results.json"


@pytest.fixture(scope="session")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> ExampleRun:
    """The shipped example (8 suites, 120 cases) audited once with the default options, as a user runs it.

    A subprocess, not pytester: the report must be what the README's command writes. Several test files read this one
    run (the report's size and height, the example's verdicts, its causal figures), so it is audited once for the whole
    suite: under `pytest -n`, the first worker to need it runs it under a file lock in the folder all workers share,
    and the others read what it left (pytest-xdist's recipe for a session fixture run once).
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # every worker's base folder sits in the run's one base folder
    folder = shared / "shipped-example"
    outcome = shared / "shipped-example.json"
    with (shared / "shipped-example.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this worker dies
        if not outcome.exists():
            _audit_the_example(folder, outcome)
        recorded = json.loads(outcome.read_text(encoding="utf-8"))
    return ExampleRun(folder, recorded["returncode"], recorded["stdout"], recorded["stderr"])


def _audit_the_example(folder: Path, outcome: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # a worker that died mid-run left no outcome: audit afresh
    folder.mkdir()
    shutil.copytree(REPOSITORY / "specs", folder / "specs")
    shutil.copytree(REPOSITORY / "models", folder / "models")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPOSITORY), os.environ.get("PYTHONPATH")))),
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.pop("PYTEST_XDIST_WORKER", None)
    completed = subprocess.run([sys.executable, "-m", "pytest", "--gradcam-specs", "specs/", "-p", "no:cacheprovider"],
                               cwd=folder, env=environment, capture_output=True, text=True, timeout=1500, check=False)
    recorded = {"returncode": completed.returncode, "stdout": completed.stdout, "stderr": completed.stderr}
    temporary = outcome.with_suffix(".tmp")
    temporary.write_text(json.dumps(recorded), encoding="utf-8")
    temporary.replace(outcome)
