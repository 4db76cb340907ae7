"""Third-party warnings raised while a run computes are kept once in the run's notes (results.json and the report) and
named in the summary line, not repeated in pytest's warnings summary (under xdist: test_under_xdist.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugin.conftest import read_json

# A user's preprocessing module: third-party code from gradcam_audit's point of view, warning on every batch.
WARNING_PREPROCESS = '''
import warnings

import numpy as np


def scale(batch):
    warnings.warn("user preprocessing clipped the pixels to 0..255", UserWarning)
    return np.clip(batch, 0, 255) / np.float32(255.0)
'''
WARNING_TEXT = "user preprocessing clipped the pixels to 0..255"
NOTE = f"warning from warning_preprocess (UserWarning in warning_preprocess): {WARNING_TEXT}"


def test_a_third_party_warning_is_kept_once_in_the_notes_and_not_in_pytests_summary(
    pytester: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    # Under xdist (each spec file on its own worker): tests/plugin/test_under_xdist.py, in a run shared with other checks.
    pytester.makepyfile(warning_preprocess=WARNING_PREPROCESS)
    pytester.syspathinsert()  # the in-process run imports it from here
    # Two spec files, several batches each: the warning is raised many times.
    write_spec("a.yaml", count=4, preprocess="warning_preprocess:scale")
    write_spec("b.yaml", count=4, preprocess="warning_preprocess:scale")
    # In this process (TensorFlow is already imported): `-W default` comes first in the run's own filters, over this
    # suite's "error". An in-process run re-loads our installed plugin, and pytest says it cannot rewrite its asserts
    # (PytestAssertRewriteWarning, depending on how pip installed the package): pytest's note about the test's own
    # set-up, not a warning the run raised, so it alone is silenced.
    result = pytester.runpytest(
        "--gradcam-specs", "a.yaml", "--gradcam-specs", "b.yaml", "--gradcam-batch-size", "2", "--gradcam-report", "report.html",
        "-p", "no:cacheprovider", "-W", "default", "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=8)
    output = result.stdout.str()
    assert "warnings summary" not in output and WARNING_TEXT not in output, output
    result.stdout.fnmatch_lines(["*gradcam audit PASSED: 8 passed; 1 warning from warning_preprocess kept in the report's notes*"])
    notes = read_json(pytester.path / "results.json")["notes"]
    assert notes.count(NOTE) == 1 and len([note for note in notes if WARNING_TEXT in note]) == 1, notes
    assert (pytester.path / "report.html").read_text(encoding="utf-8").count(WARNING_TEXT) == 1

