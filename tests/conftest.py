"""Test-suite set-up shared by every test folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
# Tests that use the example run share one worker under `pytest -n` (loadgroup, set in pytest_configure), so the
# 120-case example is audited once per suite run, not once per worker that needs it.
EXAMPLE_GROUP = "shipped-example"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: one of the suite's longest tests (real crashes, Ray, xdist), started first")
    # pytester's in-process runs restore sys.modules afterwards; TensorFlow cannot be imported twice in one
    # process (the second import aborts), so the test suite imports it before any pytester snapshot is taken.
    # An audit run from this folder (`pytest --gradcam-specs specs/`) loads this file too (testpaths): there
    # collection must stay TensorFlow-free, so nothing is imported.
    if config.getoption("gradcam_specs", default=None):
        return
    if config.getoption("dist", default="no") == "load":
        # `pytest -n auto` (the README's command) hands tests out one by one; loadgroup does the same but keeps each
        # xdist_group on one worker, so the tests sharing the example run audit it once (not in pyproject's addopts:
        # the README's first command runs pytest without pytest-xdist installed). Workers learn it in
        # pytest_configure_node below: they parse the command line, which does not say loadgroup.
        config.option.dist = "loadgroup"
    if getattr(config, "workerinput", {}).get("gradcam_loadgroup"):
        config.option.loadgroup = True
    if config.getoption("numprocesses", default=None) and not hasattr(config, "workerinput"):
        return  # pytest-xdist's controller hands tests out and runs none: only its workers need TensorFlow
    import keras  # noqa: F401
    import tensorflow  # noqa: F401


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook; the README's first command runs without pytest-xdist
def pytest_configure_node(node: Any) -> None:
    node.workerinput["gradcam_loadgroup"] = node.config.getoption("dist") == "loadgroup"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks (loadgroup)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "example_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(EXAMPLE_GROUP))
    # Real pytest runs (pytester) are the suite's long tests. Handing them out first lets `pytest -n auto`
    # pack the short ones around them instead of waiting on a long test that started last.
    # The longest (marked slow) go first of all, one to each worker, so none of them is the last to finish.
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
    run (the report's size and height, the example's verdicts, its causal figures): auditing it once is most of the
    suite's time saved.
    """
    folder = tmp_path_factory.mktemp("example")
    shutil.copytree(REPOSITORY / "specs", folder / "specs")
    shutil.copytree(REPOSITORY / "models", folder / "models")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPOSITORY), os.environ.get("PYTHONPATH")))),
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run([sys.executable, "-m", "pytest", "--gradcam-specs", "specs/", "-p", "no:cacheprovider"],
                               cwd=folder, env=environment, capture_output=True, text=True, timeout=1500, check=False)
    return ExampleRun(folder, completed.returncode, completed.stdout, completed.stderr)
