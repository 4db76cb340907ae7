"""Whole audits under pytest-xdist, several behaviours pinned in one run: each `-n 2` run starts three pytest processes
(about 20 s of TensorFlow start-up before any work), so the xdist checks share one run instead of paying for one each."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gradcam_audit.core.files.run_folder import LOCK_NAME
from tests.outside.stripes import blind_spec
from tests.outside.test_stripes_outside import GATE as OUTSIDE_GATE
from tests.plugin.conftest import (
    HONEST_MODEL,
    SHORTCUT_MODEL,
    assert_same_results,
    shipped_cases,
    without_timings,
)
from tests.plugin.test_batching_and_xdist import _run, assert_same_cases
from tests.plugin.test_dossier import _check_manifest, _pdf_text
from tests.plugin.test_kept_warnings import NOTE, WARNING_PREPROCESS, WARNING_TEXT
from tests.plugin.test_ledger_truth import SIGKILL_ON_BLACK_IMAGE, _strict_json
from tests.plugin.test_task_entry_points import _task_suites


def _holder_pid(lock: Path, running: threading.Thread) -> int:
    """The pid the run in ``running`` wrote into its folder's lock file at its first moment (waits for it)."""
    deadline = time.monotonic() + 300  # a guard against a hung run, not a timing assertion
    while running.is_alive() and time.monotonic() < deadline:
        try:
            return int(json.loads(lock.read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    pytest.fail("the -n 2 run never held its report folder")


def _by_spec(entries: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if str(entry["spec"]).endswith(suffix)]


@pytest.mark.slow
def test_one_failing_xdist_run_equals_the_serial_run_survives_a_killed_worker_keeps_warnings_and_files_one_dossier(
    pytester: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight behaviours of one failing `-n 2` run, each once a test with a run of its own:
    - xdist gives the serial run's results, also against a baseline decided alike in every worker (was
      test_batching_and_xdist.py::test_xdist_gives_the_same_results_and_one_report);
    - segmentation and detection suites give under xdist what one plain run gives (was the `-n 2` part of
      test_task_entry_points.py::test_task_suites_give_one_answer_under_xdist_shards_and_a_baseline);
    - the outside sweep's gate fails under xdist and the summary says the finding (was
      tests/outside/test_stripes_outside.py::test_pytest_run_under_xdist_fails_the_gate_and_says_the_finding).
    And a fourth (was test_ledger_truth.py::test_a_case_that_kills_its_worker_is_an_error_and_every_other_case_keeps_its_status,
    a `-n 2` run of its own): a case that kills its worker costs only that case, also when the crashed spec's remaining
    cases are handed to the worker that did not crash (before plugin/crash_isolation.py, that worker batched the killing
    case with them again, and an innocent case was blamed: "crash 2 of 2"), and its spec's gate counts it as an error
    instead of computing it again. That a crash alone never lets the verdict pass is the ledger's property
    (tests/core/test_verdict_properties.py, crashed cases and gates among its outcomes).
    And three that shared a passing `-n 2` run of their own until it was folded in here:
    - kept warnings (was test_kept_warnings.py[xdist]): a third-party warning raised in both workers is kept once in
      the notes and the report, named in the summary line, never in pytest's warnings summary;
    - the picture folder (was test_run_folder.py::test_xdist_workers_draw_into_the_runs_own_picture_folder): the
      controller names the run's private picture folder and hands it to every worker, so the report has every picture;
    - the dossier (was test_dossier.py::test_under_xdist_the_controller_writes_the_dossier_once): set by its ini twin,
      written once by the controller, with a manifest whose hashes verify and that lists each file once.
    And one that started a TensorFlow subprocess of its own (was test_run_folder.py::
    test_a_second_run_on_the_same_folder_is_refused_naming_the_first): a second run on the folder this run holds is
    refused naming it, and this run is never interleaved (its journal holds each of its entries once, its report every
    picture, and its lock is gone when it ends).
    """
    # The stripes suite: one case held to an impossible mass; released on the honest model, then run on the shortcut
    # model against that baseline (the shortcut model regresses on the tag).
    cases = shipped_cases(6)
    cases[2]["regions"][0]["min_mass"] = 0.99
    spec = write_spec("suite.yaml", cases=cases, gate={"min_pass_rate": 0.5})
    _run(pytester, "released")
    spec.write_text(spec.read_text(encoding="utf-8").replace(str(HONEST_MODEL), str(SHORTCUT_MODEL)), encoding="utf-8")
    blind_spec(pytester.path, "shortcut", gate=OUTSIDE_GATE)  # the tag not annotated: the outside sweep finds it
    _task_suites(pytester.path / "suites")  # segmentation (Layer-CAM and Score-CAM) and detection, with an expected failure

    # A spec whose preprocessing SIGKILLs its worker on one (black) image; the workers import it through PYTHONPATH.
    pytester.makepyfile(killing=SIGKILL_ON_BLACK_IMAGE)
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(pytester.path / "black.png")
    killing_cases = shipped_cases(6)
    killing_cases[3] = {**killing_cases[3], "id": "poisoned", "image": str(pytester.path / "black.png")}
    write_spec("killing.yaml", cases=killing_cases, preprocess="killing:preprocess", gate={"min_pass_rate": 0.5})
    # Two spec files whose preprocessing warns on every call (in the workers, through PYTHONPATH), and the dossier set
    # by its ini twin, relative to the ini file.
    pytester.makepyfile(warning_preprocess=WARNING_PREPROCESS)
    write_spec("a.yaml", count=4, preprocess="warning_preprocess:scale")
    write_spec("b.yaml", count=4, preprocess="warning_preprocess:scale")
    pytester.makeini("[pytest]\ngradcam_dossier = filed/dossier.pdf\n")
    only_under_xdist = ("killing.yaml", "a.yaml", "b.yaml")

    others = ("--gradcam-specs", "blind_shortcut.yaml", "--gradcam-specs", "suites", "--gradcam-baseline", "released.json")
    serial = _run(pytester, "serial", *others)  # suite.yaml and the others, in this process (not the killing spec)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(pytester.path), os.environ.get("PYTHONPATH")])))
    # A subprocess (its warning filters are its own; this suite turns warnings into errors), in a thread: while it
    # holds its report folder, a second run on that folder is refused naming it.
    folder = pytester.path / "reports" / "gradcam"
    finished: list[pytest.RunResult] = []
    running = threading.Thread(target=lambda: finished.append(pytester.runpytest_subprocess(
        "--gradcam-specs", "suite.yaml", *others, "--gradcam-specs", *only_under_xdist, "--gradcam-json", "parallel.json",
        "-p", "no:cacheprovider", "-W", "default", "-n", "2")))
    running.start()
    holder = _holder_pid(folder / LOCK_NAME, running)
    second = pytester.runpytest("--gradcam-specs", "suite.yaml", "-p", "no:cacheprovider")
    running.join()
    (result,) = finished
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    document = _strict_json(pytester.path / "parallel.json")
    html = (folder / "index.html").read_text(encoding="utf-8")
    output = result.stdout.str()

    # The second run on the folder (was test_run_folder.py::test_a_second_run_on_the_same_folder_is_refused_naming_the_first):
    # refused naming the first, which was never interleaved: its journal has each of its own entries once, its report
    # every picture (below), and its lock is gone once it ended.
    assert second.ret == pytest.ExitCode.USAGE_ERROR
    second.stderr.fnmatch_lines([f"*{folder} is in use by another gradcam audit (process {holder} on *pytest*"])
    # (The crashed case too: the controller journals the error it records for it, as it journals every entry.)
    journal = [json.loads(line) for line in (pytester.path / "parallel.jsonl").read_text(encoding="utf-8").splitlines()]
    journaled = sorted((line["kind"], line["entry"]["spec"], line["entry"].get("id", ""), line["entry"].get("method", "")) for line in journal)
    planned = sorted([("case", case["spec"], case["id"], case["method"]) for case in document["cases"]] +
                     [("gate", gate["spec"], "", "") for gate in document["gates"]])
    assert journaled == planned, sorted(set(journaled) ^ set(planned))

    # Kept warnings: once in the notes and the report, named in the summary, not in pytest's warnings summary.
    assert "warnings summary" not in output and WARNING_TEXT not in output, output[-3000:]
    result.stdout.fnmatch_lines(["*gradcam audit FAILED: *; 1 warning from warning_preprocess kept in the report's notes*"])
    notes = document["notes"]
    assert notes.count(NOTE) == 1 and len([note for note in notes if WARNING_TEXT in note]) == 1, notes
    assert html.count(WARNING_TEXT) == 1, "the kept warning is not in the report exactly once"
    warned = _by_spec(document["cases"], "a.yaml") + _by_spec(document["cases"], "b.yaml")
    assert [case["status"] for case in warned] == ["passed"] * 8, warned

    # The picture folder: every worker drew into the run's own folder, the report inlined all of them, nothing is left.
    drawn = [case for case in document["cases"] if case["status"] != "error"]  # the crashed case has no picture
    assert html.count("data:image/") >= len(drawn), "the report lacks pictures the workers drew"
    assert not list(folder.glob(".gradcam-inline-pictures*")) and not (folder / LOCK_NAME).exists()

    # The dossier: written by the controller, once, where the ini twin says; its manifest's hashes verify, and it lists
    # the one results file and each model, spec and image the run read exactly once.
    manifest = json.loads((pytester.path / "manifest.json").read_text(encoding="utf-8"))  # beside the JSON results
    _check_manifest(manifest, pytester.path)
    listed = {role: [entry["path"] for entry in manifest["files"] if entry["role"] == role] for role in ("results", "model", "spec", "image")}
    assert sum(map(len, listed.values())) == len(manifest["files"]), manifest["files"]
    assert len(listed["results"]) == 1 and all(len(paths) == len(set(paths)) for paths in listed.values()), listed
    assert {Path(path).name for path in listed["spec"]} >= {Path(str(case["spec"])).name for case in document["cases"]}, listed["spec"]
    assert len(listed["image"]) == len({case["result"]["image"] for case in drawn}), listed["image"]
    assert len(listed["model"]) >= 3, listed["model"]  # the honest and shortcut classifiers and the task models
    assert "Verdict: FAILED" in _pdf_text(pytester.path / "filed" / "dossier.pdf")

    # The killing spec: only the poisoned case is an error, named as a crash; its batch-mates keep their real status.
    killing = {case["id"]: case for case in _by_spec(document["cases"], "killing.yaml")}
    poisoned = killing.pop("poisoned")
    assert poisoned["status"] == "error" and "crashed" in poisoned["reason"], poisoned["reason"]
    assert {case_id: case["status"] for case_id, case in killing.items()} == \
        {case["id"]: "passed" for index, case in enumerate(shipped_cases(6)) if index != 3}, killing
    # Its gate counts the crashed case as an error; it does not compute it again (before, the worker judging the gate
    # did, died twice more, and the gate ended "not run ... the run ended before it ran": five crashes for one bad case).
    (killing_gate,) = _by_spec(document["gates"], "killing.yaml")
    assert killing_gate["status"] == "error" and "could not be computed (poisoned)" in killing_gate["reason"], killing_gate
    assert "crashed while running 'killing.yaml::gate'" not in output
    # The bad case's batch (when it had batch-mates), then the bad case alone, twice: three crashes at most.
    assert 2 <= output.count("replacing crashed worker") <= 3, output[-3000:]
    document = {key: [entry for entry in value if not str(entry["spec"]).endswith(only_under_xdist)] if key in ("cases", "gates")
                else value for key, value in document.items()}
    parallel = without_timings(document)

    # Same results as the serial run, for every case and gate.
    assert len(parallel["cases"]) == len(serial["cases"]) == 6 + 3 + 2 * 2 + 3, [case["id"] for case in parallel["cases"]]
    assert_same_cases(parallel["cases"], serial["cases"])
    assert_same_results(sorted(parallel["gates"], key=lambda gate: gate["spec"]), sorted(serial["gates"], key=lambda gate: gate["spec"]))
    # The baseline was decided in the workers: every stripes case compared, and the shortcut model regresses on the tag.
    comparisons = [case["result"]["baseline"] for case in _by_spec(parallel["cases"], "suite.yaml")]
    assert len(comparisons) == 6 and all(comparison["status"] in ("regressed", "improved", "unchanged") for comparison in comparisons)
    assert any(comparison["regressed"] for comparison in comparisons)

    # The task suites: their plain statuses (one expected failure, nothing errored), the same under xdist.
    tasks = [case for case in parallel["cases"] if "/suites/" in f"/{case['spec']}"]
    statuses = [case["status"] for case in tasks]
    assert len(statuses) == 2 * 2 + 3 and statuses.count("xfailed") == 1 and "error" not in statuses, statuses

    # The outside sweep under xdist: three cases and the gate fail, and the summary names the corner.
    blind = _by_spec(document["cases"], "blind_shortcut.yaml")
    assert [case["status"] for case in blind] == ["failed"] * 3, blind
    [gate] = _by_spec(document["gates"], "blind_shortcut.yaml")
    assert gate["status"] == "failed" and gate["result"]["findings"][0]["cases"] == 3
    result.stdout.fnmatch_lines(["*beyond the boxes, blind_shortcut.yaml:*",
                                 "*in 3 of 3 cases, removing the top-left corner (relative box*no region names it*"])
