"""Test-suite set-up shared by every test folder."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # pytester's in-process runs restore sys.modules afterwards; TensorFlow cannot be imported twice in one
    # process (the second import aborts), so the test suite imports it before any pytester snapshot is taken.
    # An audit run from this folder (`pytest --gradcam-specs specs/`) loads this file too (testpaths): there
    # collection must stay TensorFlow-free, so nothing is imported.
    if config.getoption("gradcam_specs", default=None):
        return
    import keras  # noqa: F401
    import tensorflow  # noqa: F401


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Real pytest runs (pytester) are the suite's long tests. Handing them out first lets `pytest -n auto`
    # pack the short ones around them instead of waiting on a long test that started last.
    items.sort(key=lambda item: "pytester" not in getattr(item, "fixturenames", ()))


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook; README command 1 runs without xdist installed
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    # `pytest -n auto` (README command 2) starts one worker more than there are cores: a good part of this suite's
    # time is spent waiting on real subprocesses (pytest runs, the CLI, xdist and Ray workers starting TensorFlow),
    # and a spare worker keeps the cores busy meanwhile instead of idling.
    return len(os.sched_getaffinity(0)) + 1
