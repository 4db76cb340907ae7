"""Deletion / insertion curves on a model whose output is known in closed form, and their checks."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from gradcam_audit.core.audit import run_audit
from gradcam_audit.core.plan import parse_overrides
from gradcam_audit.core.spec.load import parse_spec
from tests.causal.conftest import SIDE, probability_high, save_png, window_mean
from gradcam_audit.core.records.codec import to_data

STEPS = 4


def _spec(folder: Path, model: Path, case_keys: str, image: str = "ramp.png") -> Path:
    shutil.copy(model, folder / "window.keras")
    text = textwrap.dedent(f"""
        model: window.keras
        preprocess: scale01
        labels: [low, high]
        layer: conv
        cases:
          - id: ramp
            image: {image}
            target: high
            faithfulness_steps: {STEPS}
        """).lstrip() + textwrap.indent(textwrap.dedent(case_keys).lstrip(), "    ") + textwrap.indent(textwrap.dedent("""
            regions:
              - name: anywhere
                box: [0, 0, 32, 32]
                min_mass: 0.5
        """).lstrip(), "    ")
    path = folder / "ramp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _grey_picture(seed: int) -> np.ndarray:
    grey = np.random.default_rng(seed).integers(1, 256, (SIDE, SIDE), dtype=np.uint8)
    return np.repeat(grey[:, :, np.newaxis], 3, axis=2)


def _blurred(picture: np.ndarray) -> np.ndarray:
    # Written out here, independently of core/evaluate/faithfulness.py: Petsiuk et al.'s sigma 5 at 224 px, scaled.
    sigma = 5.0 * SIDE / 224
    return np.stack([np.asarray(Image.fromarray(picture[:, :, channel]).filter(ImageFilter.GaussianBlur(sigma)))
                     for channel in range(3)], axis=2)


def _expected_curves(picture: np.ndarray) -> tuple[list[float], list[float]]:
    # Grad-CAM of this model is proportional to each pixel's grey, so the hottest pixels are the brightest ones.
    order = np.argsort(-picture[:, :, 0].astype(np.float64).ravel(), kind="stable")
    start = _blurred(picture)
    deletion, insertion = [], []
    for step in range(STEPS + 1):
        chosen = np.zeros(SIDE * SIDE, dtype=bool)
        chosen[order[: round(step * SIDE * SIDE / STEPS)]] = True
        mask = chosen.reshape(SIDE, SIDE)[:, :, np.newaxis]
        deletion.append(probability_high(window_mean(np.where(mask, 0, picture))))
        insertion.append(probability_high(window_mean(np.where(mask, picture, start))))
    return deletion, insertion


def _area(points: list[float]) -> float:
    return sum((first + second) / 2 for first, second in zip(points, points[1:])) / (len(points) - 1)


def test_both_curves_and_their_areas_are_exact(tmp_path: Path, window_model_file: Path) -> None:
    picture = _grey_picture(11)
    save_png(tmp_path / "ramp.png", picture)
    spec = _spec(tmp_path, window_model_file, "max_deletion_auc: 1.0\nmin_insertion_auc: 0.0\n")
    (entry,) = run_audit([spec]).cases
    assert entry.status == "passed", entry.reason
    assert entry.result is not None and entry.result.faithfulness is not None
    curves = entry.result.faithfulness
    deletion, insertion = _expected_curves(picture)
    np.testing.assert_allclose(curves.deletion, deletion, atol=1e-6)
    np.testing.assert_allclose(curves.insertion, insertion, atol=1e-6)
    assert curves.deletion_auc == pytest.approx(_area(deletion), abs=1e-6)
    assert curves.insertion_auc == pytest.approx(_area(insertion), abs=1e-6)
    recorded = {check.metric: check for check in entry.result.checks}
    assert recorded["deletion_auc"].value == pytest.approx(curves.deletion_auc) and recorded["deletion_auc"].passed
    assert recorded["insertion_auc"].comparison == ">=" and recorded["insertion_auc"].passed


def test_a_map_that_points_away_from_what_the_model_reads_fails_deletion_and_insertion(tmp_path: Path, window_model_file: Path) -> None:
    # The model reads only the centre window; here the window is dark and the border bright, so the map's hottest
    # pixels are ones the model ignores: deleting them changes nothing, inserting them brings nothing back.
    picture = np.full((SIDE, SIDE, 3), 250, dtype=np.uint8)
    picture[10:22, 10:22] = 180
    save_png(tmp_path / "ramp.png", picture)
    spec = _spec(tmp_path, window_model_file, "max_deletion_auc: 0.3\nmin_insertion_auc: 0.3\n")
    (entry,) = run_audit([spec]).cases
    assert entry.status == "failed"
    assert "deletion AUC" in entry.reason and "max_deletion_auc 0.3" in entry.reason
    assert entry.result is not None and entry.result.faithfulness is not None
    assert entry.result.faithfulness.deletion_auc > 0.3
    # An override replaces the limit where the case sets it, as for region thresholds.
    (relaxed,) = run_audit([spec], overrides=parse_overrides(["max_deletion_auc=1", "min_insertion_auc=0"])).cases
    assert relaxed.status == "passed", relaxed.reason


def test_the_curves_are_in_strict_json_and_only_where_asked(tmp_path: Path, window_model_file: Path) -> None:
    save_png(tmp_path / "ramp.png", _grey_picture(5))
    measured = run_audit([_spec(tmp_path, window_model_file, "min_insertion_auc: 0.0\n")])
    document = json.loads(json.dumps(to_data(measured), allow_nan=False))
    faithfulness = document["cases"][0]["result"]["faithfulness"]
    assert faithfulness["steps"] == STEPS and len(faithfulness["deletion"]) == len(faithfulness["insertion"]) == STEPS + 1
    plain = run_audit([_spec(tmp_path, window_model_file, "tags: [plain]\n")])
    assert plain.cases[0].result is not None and plain.cases[0].result.faithfulness is None  # nothing measured unless asked


@pytest.mark.parametrize(("keys", "message"), [
    ("faithfulness_steps: 0\nmax_deletion_auc: 0.5\n", "faithfulness_steps: expected a whole number from 1 to 100, got 0"),
    ("max_deletion_auc: 2\n", "max_deletion_auc: got 2, which is outside [0, 1]"),
    ("min_insertion_auc: .nan\n", "min_insertion_auc: got .nan"),
])
def test_wrong_faithfulness_keys_name_the_field(tmp_path: Path, window_model_file: Path, keys: str, message: str) -> None:
    save_png(tmp_path / "ramp.png", _grey_picture(5))
    text = _spec(tmp_path, window_model_file, "").read_text(encoding="utf-8").replace("    faithfulness_steps: 4\n", textwrap.indent(keys, "    "))
    (tmp_path / "ramp.yaml").write_text(text, encoding="utf-8")
    parsed = parse_spec(tmp_path / "ramp.yaml")
    problems = [problem.format() for problem in parsed.problems] + [
        problem.format() for invalid in (parsed.spec.invalid_cases if parsed.spec else ()) for problem in invalid.problems]
    assert any(message in problem and "ramp.yaml:" in problem for problem in problems), problems


def test_a_case_with_a_missing_image_still_reports_its_wrong_faithfulness_keys(tmp_path: Path, window_model_file: Path) -> None:
    """Every mistake of a case at once: a user should not fix the image only to learn of the next error."""
    text = _spec(tmp_path, window_model_file, "", image="missing.png").read_text(encoding="utf-8")
    (tmp_path / "ramp.yaml").write_text(text.replace("faithfulness_steps: 4", "faithfulness_steps: 0"), encoding="utf-8")
    parsed = parse_spec(tmp_path / "ramp.yaml")
    problems = [problem.format() for problem in parsed.problems] + [
        problem.format() for invalid in (parsed.spec.invalid_cases if parsed.spec else ()) for problem in invalid.problems]
    assert any("missing.png" in problem for problem in problems), problems
    assert any("faithfulness_steps: expected a whole number from 1 to 100, got 0" in problem for problem in problems), problems
