"""A region's effect on a model whose output is known in closed form: exact to 1e-6 for every removal mode."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gradcam_audit.core.audit import run_audit
from gradcam_audit.core.engine.mapping import fit_image, plan_geometry
from gradcam_audit.core.evaluate.removal import REMOVAL_MODES
from gradcam_audit.core.evaluate.removal import remove_region
from tests.causal.conftest import BACKGROUND, INSIDE, SIDE, probability_high, save_png, square_image, window_mean

BOX = (8, 8, 24, 24)  # the bright square; the model's window [10, 22) lies inside it


def _spec(folder: Path, model: Path, cases: str) -> Path:
    shutil.copy(model, folder / "window.keras")
    text = textwrap.dedent("""
        model: window.keras
        preprocess: scale01
        labels: [low, high]
        layer: conv
        cases:
        """).lstrip() + textwrap.indent(textwrap.dedent(cases).lstrip(), "  ")
    path = folder / "window.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _case(case_id: str, image: str, box: tuple[int, int, int, int], removal: str) -> str:
    return f"""
    - id: {case_id}
      image: {image}
      target: high
      regions:
        - name: square
          box: [{', '.join(map(str, box))}]
          max_effect: 1.0
          removal: {removal}
    """


def _measured(tmp_path: Path, model: Path, cases: list[tuple[str, str, tuple[int, int, int, int], str]]) -> dict[str, object]:
    spec = _spec(tmp_path, model, "".join(textwrap.dedent(_case(*case)) for case in cases))
    ledger = run_audit([spec])
    regions = {}
    for entry in ledger.cases:
        assert entry.status == "passed", entry.reason
        assert entry.result is not None
        regions[entry.id] = entry.result.regions[0]
    return regions


def test_effect_is_exact_for_every_removal_mode(tmp_path: Path, window_model_file: Path) -> None:
    picture = square_image(SIDE, BOX)
    save_png(tmp_path / "square.png", picture)
    regions = _measured(tmp_path, window_model_file, [(mode, "square.png", BOX, mode) for mode in REMOVAL_MODES])
    before = probability_high(INSIDE / 255.0)
    mask = np.zeros((SIDE, SIDE), dtype=bool)
    mask[BOX[1]:BOX[3], BOX[0]:BOX[2]] = True
    for mode in REMOVAL_MODES:
        region = regions[mode]
        assert region.causal is not None and region.causal.removal == mode  # type: ignore[attr-defined]
        if mode in ("inpaint", "mean"):
            # Filled from its surroundings only, which are all BACKGROUND: the window reads BACKGROUND exactly.
            after = probability_high(BACKGROUND / 255.0)
        else:
            # blur / noise: the edited picture is what the removal returns; the model's reading of it is closed-form.
            after = probability_high(window_mean(remove_region(picture, mask, mode)))
        assert region.causal.probability_before == pytest.approx(before, abs=1e-6)  # type: ignore[attr-defined]
        assert region.causal.probability_after == pytest.approx(after, abs=1e-6)  # type: ignore[attr-defined]
        assert region.effect == pytest.approx(before - after, abs=1e-6)  # type: ignore[attr-defined]
        assert [check.metric for check in region.checks] == ["effect"]  # type: ignore[attr-defined]
    assert regions["inpaint"].effect == pytest.approx(probability_high(200 / 255) - probability_high(50 / 255), abs=1e-6)  # type: ignore[attr-defined]


def test_removal_happens_on_the_original_image_before_resizing(tmp_path: Path, window_model_file: Path) -> None:
    """A 64-px photo on the 32-px model: the box is in the photo's pixels, so removing it leaves only BACKGROUND."""
    big_box = (16, 16, 48, 48)
    save_png(tmp_path / "big.png", square_image(2 * SIDE, big_box))
    regions = _measured(tmp_path, window_model_file, [("big", "big.png", big_box, "inpaint")])
    region = regions["big"]
    assert region.causal.probability_before == pytest.approx(probability_high(INSIDE / 255.0), abs=1e-6)  # type: ignore[attr-defined]
    assert region.causal.probability_after == pytest.approx(probability_high(BACKGROUND / 255.0), abs=1e-6)  # type: ignore[attr-defined]
    # The same box read as if it were in model-input pixels would have left a bright rim in the window.
    geometry = plan_geometry((2 * SIDE, 2 * SIDE), (SIDE, SIDE), "stretch")
    wrong = square_image(2 * SIDE, big_box)
    wrong[8:24, 8:24] = BACKGROUND
    assert probability_high(window_mean(fit_image(wrong, geometry))) != pytest.approx(region.causal.probability_after, abs=1e-3)  # type: ignore[attr-defined]


def test_only_the_region_changes_and_the_default_removes_its_colour() -> None:
    picture = np.asarray(Image.open(Path(__file__).parents[2] / "specs" / "images" / "stripes-0000.png").convert("RGB"))
    mask = np.zeros(picture.shape[:2], dtype=bool)
    mask[2:9, 2:9] = True  # the red corner tag
    for mode in REMOVAL_MODES:
        edited = remove_region(picture, mask, mode)
        assert np.array_equal(edited[~mask], picture[~mask]), mode
    inpainted = remove_region(picture, mask, "inpaint").astype(np.float64)
    red, green, blue = inpainted[mask].mean(axis=0)
    assert red - (green + blue) / 2 < 30, "the inpainted tag must not stay red"
