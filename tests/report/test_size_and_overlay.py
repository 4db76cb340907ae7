"""Case pictures: small enough for a single-file report, fast enough not to dominate a run, styled as configured."""

from __future__ import annotations

import sys
from dataclasses import replace
from types import FrameType
from typing import Any
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.rendering.html.html_report import write_html_report
from gradcam_audit.rendering.pictures.overlay import OverlayStyle, OverlayStyleError, colorize, render_case_images
from tests.report.synthetic import box, case, heatmap_like, photo_like, region, write_case_pictures

BUDGET_PER_CASE = 150 * 1024


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as picture:
        return picture.size


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"), dtype=np.float32)


def _suite(count: int) -> RunResults:
    cases = tuple(
        case(f"photo-{index:03d}", "failed" if index % 7 == 0 else "passed",
             (region("subject", "required", 0.45, 0.2, min_mass=0.3, outline=box(50, 40, 170, 180)),
              region("logo", "forbidden", 0.02, 0.02, max_mass=0.05, outline=box(190, 190, 220, 220))),
             target=("cat", "dog", "fox")[index % 3], tags=(("indoor", "outdoor")[index % 2],))
        for index in range(count)
    )
    return RunResults(cases=cases, started="2025-03-04T05:06:07+00:00", duration_s=10.0, command="pytest")


def test_a_100_case_single_file_report_averages_at_most_150_kb_per_case(tmp_path: Path) -> None:
    results = write_case_pictures(_suite(100), tmp_path)
    report = write_html_report(results, tmp_path / "index.html")
    average = report.stat().st_size / 100
    assert average <= BUDGET_PER_CASE, f"{average / 1024:.0f} KB per case"
    # Realistic pictures, not blanks: each JPEG carries real detail (a blank 224² JPEG is ~2 KB).
    sizes = [path.stat().st_size for path in (tmp_path / "cases").glob("*.jpg")]
    assert len(sizes) == 200 and min(sizes) > 8_000


def _python_lines_to_draw(result: Any, size: int, directory: Path) -> int:
    """Python lines executed while drawing one case's pictures at ``size``² (counted, so the machine's load is moot)."""
    executed = 0

    def trace(frame: FrameType, event: str, argument: Any) -> Any:
        nonlocal executed
        executed += event == "line"
        return trace

    sys.settrace(trace)
    try:
        render_case_images(result, photo_like(5, size), heatmap_like(5, size), directory / str(size))
    finally:
        sys.settrace(None)
    return executed


def test_drawing_a_case_does_per_picture_work_in_python_never_per_pixel_work(tmp_path: Path) -> None:
    """Drawing two pictures stays cheap next to a forward and backward pass: the pixels are handled by NumPy and
    Pillow, so the Python lines run per case (a few thousand) do not grow with the picture; a Python loop over the
    pixels would run 50,000 more at 224² and four times that at 448²."""
    result = _suite(1).cases[0].result
    _python_lines_to_draw(result, 224, tmp_path / "warm-up")  # first use: Pillow registers its plugins, fonts load
    lines = {size: _python_lines_to_draw(result, size, tmp_path) for size in (224, 448, 896)}
    assert max(lines.values()) < 20_000, lines
    assert lines[896] <= lines[224] * 1.2, lines


def test_large_pictures_are_shrunk_to_512_px_and_small_ones_enlarged_by_whole_factors(tmp_path: Path) -> None:
    result = case("big", "passed", (region("subject", "required", 0.5, 0.2, outline=box(100, 100, 900, 700)),)).result
    assert result is not None
    written = render_case_images(result, photo_like(1, 1024)[:768], heatmap_like(1, 1024)[:768], tmp_path)
    assert _size(written["regions"]) == (512, 384)
    assert _size(written["overlay"])[0] == 512  # plus the colour bar underneath
    small = render_case_images(replace(result, id="small"), photo_like(2, 64), heatmap_like(2, 64), tmp_path)
    assert _size(small["regions"]) == (128, 128)  # ×2 by default (min_side 128), a whole factor: crisp pixels
    photo = render_case_images(replace(result, id="photo"), photo_like(3, 224), heatmap_like(3, 224), tmp_path)
    assert _size(photo["regions"]) == (224, 224)  # no blurry 224 → 256 stretch


def test_colormap_and_alpha_are_configurable_and_the_colour_bar_follows_the_colormap(tmp_path: Path) -> None:
    result = case("styled", "passed", ()).result
    assert result is not None
    picture, heatmap = photo_like(4, 128), heatmap_like(4, 128)
    plain = render_case_images(result, picture, heatmap, tmp_path / "a", OverlayStyle(alpha=0.0, image_format="webp", quality=95, min_side=256))
    assert plain["overlay"].suffix == ".webp"
    overlay = _pixels(plain["overlay"])
    photo = _pixels(plain["regions"])
    assert np.abs(overlay[:256] - photo).mean() < 4  # alpha 0: the photo alone

    viridis = render_case_images(result, picture, heatmap, tmp_path / "b", OverlayStyle(colormap="viridis", alpha=1.0, quality=95, min_side=256))
    bar_row = _pixels(viridis["overlay"])[256 + 14]
    expected_low = colorize(np.array([[0.0, 1.0]]), "viridis")[0, 0]
    expected_high = colorize(np.array([[0.0, 1.0]]), "viridis")[0, 1]
    assert np.abs(bar_row[12] - expected_low).max() < 30, bar_row[12]
    assert np.abs(bar_row[-12] - expected_high).max() < 30, bar_row[-12]


@pytest.mark.parametrize(("options", "message"), [
    ({"alpha": 1.5}, "alpha must be between 0 and 1, got 1.5"),
    ({"colormap": "jett"}, "unknown colormap 'jett'; did you mean one of: jet"),
    ({"image_format": "gif"}, "must be one of jpeg, webp, got 'gif'"),
])
def test_bad_overlay_settings_are_refused_with_the_value_and_the_choices(options: dict[str, object], message: str) -> None:
    with pytest.raises(OverlayStyleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OverlayStyle(**options)  # type: ignore[arg-type]


def test_non_finite_or_all_zero_heatmaps_get_no_overlay(tmp_path: Path) -> None:
    result = case("flat", "failed", ()).result
    assert result is not None
    picture = photo_like(5, 64)
    assert set(render_case_images(result, picture, np.zeros((64, 64)), tmp_path)) == {"regions"}
    assert set(render_case_images(result, picture, np.full((64, 64), np.nan), tmp_path)) == {"regions"}
