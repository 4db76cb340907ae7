"""The headline tells the truth: every planned case and gate ends with one status, whatever happens to the run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from gradcam_audit.core.plan import plan_audit
from tests.plugin.conftest import SPECS, read_json, shipped_cases

SIGINT_ON_FOURTH_CALL = '''
import os
import signal

calls = 0
# Python ignores SIGINT when it starts in a background job (the shell set SIG_IGN); restore the Ctrl-C handler.
signal.signal(signal.SIGINT, signal.default_int_handler)


def preprocess(batch):
    global calls
    calls += 1
    if calls == 4:
        os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C during the 4th forward pass
    return batch / 255.0
'''

SIGKILL_ON_BLACK_IMAGE = '''
import os
import signal


def preprocess(batch):
    # Only the poisoned (all-black) image kills the process, as an out-of-memory kill would.
    if any(float(image.max()) == 0.0 for image in batch):
        os.kill(os.getpid(), signal.SIGKILL)
    return batch / 255.0
'''


def _strict_json(path: Path) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{path} holds {constant}: not strict JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _use_preprocess(specs: Path, function: str) -> None:
    for spec in specs.glob("*.yaml"):
        document = yaml.safe_load(spec.read_text(encoding="utf-8"))
        document["preprocess"] = function
        spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def test_ctrl_c_still_writes_every_planned_case_and_gate_and_says_incomplete(
    pytester: pytest.Pytester, shipped_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(interrupting=SIGINT_ON_FOURTH_CALL)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    _use_preprocess(shipped_project, "interrupting:preprocess")
    plan = plan_audit([shipped_project])
    result = pytester.runpytest_subprocess("--gradcam-specs", "specs/", "--gradcam-batch-size", "1", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    document = _strict_json(pytester.path / "reports" / "gradcam" / "results.json")
    assert len(document["cases"]) == len(plan.cases) >= 48 and len(document["gates"]) == len(plan.gates) >= 2
    assert document["complete"] is False and document["verdict"] == "incomplete"
    assert any("interrupted" in reason for reason in document["incomplete_reasons"])
    statuses = [case["status"] for case in document["cases"]]
    # Preprocessing runs once per forward pass (causal checks add passes), so how many finished first may vary.
    finished = statuses.count("passed")
    assert 1 <= finished <= 3 and statuses.count("not_run") == len(plan.cases) - finished
    assert {gate["status"] for gate in document["gates"]} == {"not_run"}
    assert all(case["cause"] == "interrupted" for case in document["cases"] if case["status"] == "not_run")
    html = (pytester.path / "reports" / "gradcam" / "index.html").read_text(encoding="utf-8")
    assert "Release gate INCOMPLETE" in html and "Release gate PASSED" not in html
    result.stdout.fnmatch_lines([f"*gradcam audit INCOMPLETE: {finished} passed, {len(plan.cases) - finished} not run*interrupted*"])


# A case that kills its xdist worker (an error naming the crash; every other case and the spec's gate keep their real
# status): in the shared `-n 2` run of tests/plugin/test_under_xdist.py. A crashed case or gate never lets the verdict
# pass: tests/core/test_verdict_properties.py.


def test_a_missing_model_keeps_every_case_id_and_the_gate_as_errors(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=3, model="no_such_model.keras", gate={"min_pass_rate": 0.5})
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-no-report", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=4)
    document = _strict_json(pytester.path / "reports" / "gradcam" / "results.json")
    assert [case["id"] for case in document["cases"]] == [case["id"] for case in shipped_cases(3)]
    assert all(case["status"] == "error" and "no_such_model.keras" in case["reason"] for case in document["cases"])
    (gate,) = document["gates"]
    assert gate["status"] == "error" and "no_such_model.keras" in gate["reason"]
    assert document["verdict"] == "failed"


def test_a_required_region_the_crop_cuts_away_fails_in_the_table_the_report_and_the_summary(
    pytester: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wide copy of a shipped image: centre_crop keeps its middle square and cuts the left quarter away.
    picture = np.asarray(Image.open(SPECS / "images" / "stripes-0000.png").convert("RGB"))
    wide = np.concatenate([picture, picture], axis=1)
    Image.fromarray(wide).save(pytester.path / "wide.png")
    height, width = wide.shape[:2]
    case = {"id": "cut-away", "image": str(pytester.path / "wide.png"),
            "regions": [{"name": "left-edge", "box": [0, 0, width // 8, height], "min_mass": 0}]}
    write_spec(cases=[case], resize="center_crop")
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-report", "out/index.html", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*left-edge*visible*no*FAIL*"])
    assert not any(line.rstrip().endswith(" ok") and "left-edge" in line for line in result.stdout.lines)
    html = (pytester.path / "out" / "index.html").read_text(encoding="utf-8")
    assert "region visible to the model" in html and '<td class="fail">FAIL</td>' in html and '<td class="ok">pass</td>' not in html
    markdown = summary.read_text(encoding="utf-8")
    assert "FAILED" in markdown and "region visible to the model" in markdown


BROKEN_OUTPUT_LOADER = '''
import numpy as np
import keras


def _model(value):
    inputs = keras.Input((64, 64, 3))
    features = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(2, name="head")(pooled)
    model = keras.Model(inputs, outputs)
    kernel, bias = model.get_layer("head").get_weights()
    model.get_layer("head").set_weights([kernel, np.array([value, 0.0], dtype=np.float32)])
    return model


def nan_model(path):
    return _model(np.nan)


def inf_model(path):
    return _model(np.inf)
'''


@pytest.mark.parametrize("loader", ["broken:nan_model", "broken:inf_model"])
def test_a_model_that_emits_nan_or_infinity_never_passes_and_the_json_stays_strict(
    pytester: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, loader: str
) -> None:
    pytester.makepyfile(broken=BROKEN_OUTPUT_LOADER)
    pytester.syspathinsert()  # the in-process run imports the loader from here
    cases = shipped_cases(2)
    for case in cases:
        case["regions"] = [{"name": "anything", "box": [0, 0, 32, 32], "max_mass": 1.0}]  # would pass on any finite map
    write_spec(cases=cases, model={"path": "broken.py", "loader": loader})
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = _strict_json(pytester.path / "reports" / "gradcam" / "results.json")
    assert {case["status"] for case in document["cases"]} == {"error"}
    assert all("NaN or infinity" in case["reason"] for case in document["cases"])
    html = (pytester.path / "reports" / "gradcam" / "index.html").read_text(encoding="utf-8")
    assert "probability nan" not in html.lower() and "Release gate PASSED" not in html


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_non_finite_override_is_refused_where_it_is_given(pytester: pytest.Pytester, write_spec: Callable[..., Path], value: str) -> None:
    write_spec(count=1)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-override", f"min_lift={value}", "--gradcam-no-report")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--gradcam-override 'min_lift={value}'*finite number*"])


def test_a_deselected_subset_passes_but_says_what_was_not_selected(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=3, gate={"min_pass_rate": 0.5})
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "-k", "stripes-0000", "--gradcam-no-report", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    document = read_json(pytester.path / "reports" / "gradcam" / "results.json")
    assert document["verdict"] == "passed" and document["complete"] is True
    assert [case["cause"] for case in document["cases"]] == ["", "deselected", "deselected"]
    assert document["gates"][0]["status"] == "not_run"


def test_stopping_early_with_x_is_incomplete_and_fails(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(4)
    cases[0]["regions"][0]["min_mass"] = 0.99
    write_spec(cases=cases)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "-x", "--gradcam-batch-size", "1", "--gradcam-no-report",
                                "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = read_json(pytester.path / "reports" / "gradcam" / "results.json")
    assert document["verdict"] == "incomplete" and len(document["cases"]) == 4
    assert [case["cause"] for case in document["cases"][1:]] == ["stopped_early"] * 3
    assert os.path.exists(pytester.path / "reports" / "gradcam" / "results.json")
