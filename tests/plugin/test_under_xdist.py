"""Whole audits under pytest-xdist, several behaviours pinned per run: each `-n 2` run starts three pytest processes
(about 20 s of TensorFlow start-up before any work), so the xdist checks share runs instead of paying for one each."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gradcam_audit.core.files.run_folder import LOCK_NAME
from tests.plugin.conftest import read_json
from tests.plugin.test_dossier import _check_manifest, _pdf_text
from tests.plugin.test_kept_warnings import NOTE, WARNING_PREPROCESS, WARNING_TEXT


@pytest.mark.slow
def test_a_passing_xdist_run_keeps_warnings_once_draws_every_picture_and_the_controller_writes_one_dossier(
    pytester: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three behaviours of one passing `-n 2` run, each once a test with a `-n 2` run of its own:
    - kept warnings (was test_kept_warnings.py[xdist]): a third-party warning raised in both workers is kept once in
      the notes and the report, named in the summary line, never in pytest's warnings summary;
    - the picture folder (was test_run_folder.py::test_xdist_workers_draw_into_the_runs_own_picture_folder): the
      controller names the run's private picture folder and hands it to every worker, so the report has every picture;
    - the dossier (was test_dossier.py::test_under_xdist_the_controller_writes_the_dossier_once): set by its ini twin,
      written once by the controller, with a manifest whose hashes verify.
    """
    pytester.makepyfile(warning_preprocess=WARNING_PREPROCESS)
    # The subprocess and its xdist workers import it (and gradcam_audit from wherever this process has it).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pytester.path), *filter(None, [os.environ.get("PYTHONPATH")])]))
    # Two spec files (each on its own worker), several batches each: the warning is raised many times in both workers.
    write_spec("a.yaml", count=4, preprocess="warning_preprocess:scale")
    write_spec("b.yaml", count=4, preprocess="warning_preprocess:scale")
    pytester.makeini("[pytest]\ngradcam_dossier = filed/dossier.pdf\n")  # the ini twin, relative to the ini file
    # A subprocess: its warning filters are its own (this suite turns warnings into errors).
    result = pytester.runpytest_subprocess("--gradcam-specs", "a.yaml", "--gradcam-specs", "b.yaml", "--gradcam-batch-size", "2",
                                           "-p", "no:cacheprovider", "-W", "default", "-n", "2")
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, output[-3000:]
    result.assert_outcomes(passed=8)
    folder = pytester.path / "reports" / "gradcam"
    html = (folder / "index.html").read_text(encoding="utf-8")

    # Kept warnings: once in the notes and the report, named in the summary, not in pytest's warnings summary.
    assert "warnings summary" not in output and WARNING_TEXT not in output, output
    result.stdout.fnmatch_lines(["*gradcam audit PASSED: 8 passed; 1 warning from warning_preprocess kept in the report's notes*"])
    notes = read_json(folder / "results.json")["notes"]
    assert notes.count(NOTE) == 1 and len([note for note in notes if WARNING_TEXT in note]) == 1, notes
    assert html.count(WARNING_TEXT) == 1, "the kept warning is not in the report exactly once"

    # The picture folder: every worker drew into the run's own folder, the report inlined all of them, nothing is left.
    assert html.count("data:image/") >= 8, "the report lacks pictures the workers drew"
    assert not list(folder.glob(".gradcam-inline-pictures*")) and not (folder / LOCK_NAME).exists()

    # The dossier: written by the controller, once, where the ini twin says; its manifest's hashes verify.
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    _check_manifest(manifest, pytester.path)
    roles = [entry["role"] for entry in manifest["files"]]
    # One results file, the one model, the two specs and the four images they share (each file listed once).
    assert len(roles) == 8 and [roles.count(role) for role in ("results", "model", "spec", "image")] == [1, 1, 2, 4], roles
    assert "Verdict: PASSED" in _pdf_text(pytester.path / "filed" / "dossier.pdf")

