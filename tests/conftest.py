"""Test-suite set-up shared by every test folder."""

from __future__ import annotations

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
