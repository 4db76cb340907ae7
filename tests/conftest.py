"""Test-suite set-up shared by every test folder."""

from __future__ import annotations

import pytest


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
    # Real pytest runs (pytester) are the suite's long tests. Handing them out first lets `pytest -n auto`
    # pack the short ones around them instead of waiting on a long test that started last.
    # The longest (marked slow) go first of all, one to each worker, so none of them is the last to finish.
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, "pytester" not in getattr(item, "fixturenames", ())))

