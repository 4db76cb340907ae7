"""`gradcam-audit validate`: one summary line when valid; every problem with file:line:col and exit 1 when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import REPOSITORY, assert_clean_error, run_cli


def test_validate_ok_prints_one_summary_line(tmp_path: Path) -> None:
    result = run_cli("validate", REPOSITORY / "specs" / "stripes_honest.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines() == ["ok: 1 spec file(s), 24 case(s), no problems"]


def test_validate_failing_spec_prints_every_problem_located_and_exits_1(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    image = (REPOSITORY / "specs" / "images" / "stripes-0000.png").as_posix()
    model = (REPOSITORY / "models" / "stripes_honest.keras").as_posix()
    spec.write_text(
        f"model: {model}\n"
        "labels: [horizontal, vertical]\n"
        "cases:\n"
        f"  - id: one\n    image: {image}\n    target: horizontl\n"
        "    regions:\n      - name: stripes\n        box: [27, 30, 430, 46]\n        min_lift: 2\n"
        "        min_mas: 0.2\n",
        encoding="utf-8",
    )
    result = run_cli("validate", spec)
    assert_clean_error(result, "cases[0].target", "did you mean 'horizontal'", "cases[0].regions[0].box", "64×64",
                       "cases[0].regions[0].min_mas", "did you mean 'min_mass'")
    assert result.returncode == 1
    problem_lines = [line for line in result.stdout.splitlines() if line.startswith("bad.yaml:") or "/bad.yaml:" in line]
    assert len(problem_lines) == 3, result.stdout
    assert all(line.split("bad.yaml:")[1].split(":")[0].isdigit() for line in problem_lines)  # file:LINE:col
    assert "fix:" in result.stdout


def test_validate_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("validate", tmp_path / "nothing.yaml")
    assert_clean_error(result, "not found", "nothing.yaml")
    assert result.returncode == 2


def test_validate_deep_warns_about_collapsed_predictions_and_still_exits_0(tmp_path: Path) -> None:
    from tests.spec.test_prediction_hints import colour_model, colour_spec

    spec = colour_spec(tmp_path, colour_model(tmp_path / "model.keras", 1 / 255, 1.0), "scale01")
    result = run_cli("validate", "--deep", spec)
    assert result.returncode == 0, result.stdout + result.stderr
    warning_lines = [line for line in result.stdout.splitlines() if ": warning: " in line]
    assert len(warning_lines) == 1, result.stdout
    assert "colours-scale01.yaml: warning: all 6 cases predicted 'dark'" in warning_lines[0]
    assert "use `preprocess: none`" in warning_lines[0]
    assert result.stdout.strip().splitlines()[-1] == ("ok: 1 spec file(s), 6 case(s), no problems (deep: models loaded); "
                                                     "1 warning about predictions")


WARNING_PREPROCESS = '''
import warnings

import numpy as np


def scale(batch):
    warnings.warn("user preprocessing clipped the pixels to 0..255", UserWarning)
    return np.clip(batch, 0, 255)
'''


def test_validate_deep_prints_a_third_party_warning_once_as_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    """A user's preprocessing module (third-party code to gradcam_audit) warns on every batch of both specs."""
    from tests.spec.test_prediction_hints import colour_model, colour_spec

    (tmp_path / "warning_preprocess.py").write_text(WARNING_PREPROCESS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    colour_model(tmp_path / "model.keras", 1 / 255, 1.0)
    first = colour_spec(tmp_path / "one", tmp_path / "model.keras", "warning_preprocess:scale")
    second = colour_spec(tmp_path / "two", tmp_path / "model.keras", "warning_preprocess:scale")
    for spec in (first, second):
        spec.write_text(spec.read_text(encoding="utf-8").replace("model: model.keras", "model: ../model.keras"), encoding="utf-8")
    result = run_cli("validate", "--deep", first, second)
    assert result.returncode == 0, result.stdout + result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert notes == ["note: warning from warning_preprocess (UserWarning in warning_preprocess): "
                     "user preprocessing clipped the pixels to 0..255"], result.stdout
    assert ": warning: " not in result.stdout  # the predictions are right: no hint
    assert not [warning for warning in recwarn if "clipped" in str(warning.message)]
