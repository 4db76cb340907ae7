"""The outside sweep on a model whose output is known in closed form: a known drop for a known cell, exactly."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from gradcam_audit.core.audit import run_audit
from gradcam_audit.core.ledger.run_results import RunResults, results_from_data
from gradcam_audit.core.evaluate.outside_sweep import NOTHING_OUTSIDE, coarse_cells, refined_cells
from gradcam_audit.core.records.results import CaseResult, dumps_strict, loads_strict
from tests.causal.conftest import BACKGROUND, INSIDE, probability_high, save_png, square_image
from gradcam_audit.core.records.codec import to_data

SQUARE = (12, 12, 16, 16)  # the bright square, inside the model's window [10, 22) and inside coarse cell [8, 16)²
REQUIRED = (24, 24, 32, 32)  # one whole coarse cell: never removed


def _run(folder: Path, model: Path, cases: str) -> RunResults:
    shutil.copy(model, folder / "window.keras")
    save_png(folder / "square.png", square_image(32, SQUARE))
    text = textwrap.dedent("""
        model: window.keras
        preprocess: scale01
        labels: [low, high]
        layer: conv
        removal: mean
        cases:
        """).lstrip() + textwrap.indent(textwrap.dedent(cases).lstrip(), "  ")
    spec = folder / "window.yaml"
    spec.write_text(text, encoding="utf-8")
    return run_audit([spec])


def _case(case_id: str, limit: float, box: tuple[int, int, int, int] = REQUIRED) -> str:
    return f"""
    - id: {case_id}
      image: square.png
      target: high
      max_outside_effect: {limit}
      regions:
        - {{name: object, box: [{', '.join(map(str, box))}], min_mass: 0.0}}
    """


def _results(ledger: RunResults) -> dict[str, CaseResult]:
    results = {}
    for entry in ledger.cases:
        assert entry.result is not None, entry.reason
        results[entry.id] = entry.result
    return results


def test_the_cell_holding_the_cue_gives_the_known_drop_and_is_the_top_hotspot(tmp_path: Path, window_model_file: Path) -> None:
    ledger = _run(tmp_path, window_model_file, _case("strict", 0.01) + _case("lenient", 0.1))
    results = _results(ledger)
    # The window [10, 22)² holds 16 bright pixels among 144; without them (a `mean` fill from an all-BACKGROUND ring)
    # it reads BACKGROUND only.
    before = probability_high((128 * BACKGROUND + 16 * INSIDE) / 144 / 255)
    after = probability_high(BACKGROUND / 255)
    for result in results.values():
        outside = result.outside
        assert outside is not None and outside.removal == "mean" and not outside.skipped
        # 15 coarse cells (the required one is never removed) + 9 sub-cells of the hottest, [8, 16)².
        assert outside.cells == 15 + 9
        assert outside.cell_size == (8, 8) and outside.refined_cell_size == (4, 4)
        assert outside.max_effect == pytest.approx(before - after, abs=1e-5)
        top = outside.hotspots[0]
        assert top.box == SQUARE  # the sub-cell that is exactly the square replaces its coarse cell
        assert top.effect == pytest.approx(before - after, abs=1e-5)
        assert len(outside.hotspots) == 1  # no other cell changes the window's reading by 0.01
    strict = next(check for check in results["strict"].checks if check.threshold_key == "max_outside_effect")
    lenient = next(check for check in results["lenient"].checks if check.threshold_key == "max_outside_effect")
    assert (strict.passed, strict.comparison, strict.limit) == (False, "<=", 0.01)
    assert strict.value == pytest.approx(before - after, abs=1e-5)
    assert "[12, 12, 16, 16]" in strict.reason
    assert lenient.passed
    statuses = {entry.id: entry.status for entry in ledger.cases}
    assert statuses == {"strict": "failed", "lenient": "passed"}


def test_results_with_the_sweep_are_strict_json_and_read_back(tmp_path: Path, window_model_file: Path) -> None:
    ledger = _run(tmp_path, window_model_file, _case("strict", 0.01))
    text = dumps_strict(to_data(ledger))
    again = results_from_data(loads_strict(text, "results"))
    assert again.cases[0].result is not None and again.cases[0].result.outside == ledger.cases[0].result.outside  # type: ignore[union-attr]
    assert loads_strict(text, "results")["cases"][0]["result"]["outside"]["hotspots"][0]["box"] == list(SQUARE)


def test_required_regions_covering_the_whole_image_leave_nothing_to_test(tmp_path: Path, window_model_file: Path) -> None:
    ledger = _run(tmp_path, window_model_file, _case("covered", 0.01, (0, 0, 32, 32)))
    result = _results(ledger)["covered"]
    assert ledger.cases[0].status == "passed", ledger.cases[0].reason
    assert result.outside is not None and result.outside.skipped == NOTHING_OUTSIDE
    assert result.outside.max_effect is None and result.outside.cells == 0
    assert not any(check.threshold_key == "max_outside_effect" for check in result.checks)


def test_grid_tiles_the_image_and_sub_cells_overlap_inside_their_cell() -> None:
    cells = coarse_cells((30, 17))
    assert len(cells) == 16
    covered = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in cells)
    assert covered == 30 * 17
    assert refined_cells((8, 8, 16, 16)) == [(left, top, left + 4, top + 4) for top in (8, 10, 12) for left in (8, 10, 12)]


def test_inpainting_a_crop_around_a_cell_gives_the_same_pixels_as_the_whole_image() -> None:
    import numpy as np

    from gradcam_audit.core.evaluate.outside_sweep import remove_cell
    from gradcam_audit.core.evaluate.removal import remove_region

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)
    outside = np.ones((96, 80), dtype=bool)
    outside[30:60, 25:55] = False  # a required region cuts some cells
    compared = 0
    for cell in coarse_cells((80, 96)) + refined_cells((20, 24, 40, 48)):
        mask = np.zeros_like(outside)
        mask[cell[1]:cell[3], cell[0]:cell[2]] = True
        mask &= outside
        if mask.any():
            assert np.array_equal(remove_cell(image, mask, "inpaint"), remove_region(image, mask, "inpaint")), cell
            compared += 1
    assert compared >= 20
