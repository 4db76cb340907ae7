"""The region metrics (core/evaluate/metrics.py) on small hand-computed NumPy maps: pointing game, IoU, mass, lift, effect."""

from __future__ import annotations

import numpy as np
import pytest

from gradcam_audit.core.evaluate.metrics import (
    POINTING_TOLERANCE_PIXELS,
    MaxEffect,
    MaxMass,
    MinEffect,
    MinIou,
    MinLift,
    MinMass,
    PeakInside,
    RegionContext,
    dilate,
)
from gradcam_audit.core.spec.model import Region, Shape

ANY_SHAPE = Shape("box", box=(0, 0, 1, 1))


def _context(heatmap: np.ndarray, mask: np.ndarray, effect: float | None = None) -> RegionContext:
    mass = float(heatmap[mask].sum() / heatmap.sum())
    area_share = float(mask.mean())
    return RegionContext(heatmap=heatmap, mask=mask, mass=mass, lift=mass / area_share, area_share=area_share, effect=effect)


def _box_mask(size: int, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


def test_dilate_reaches_exactly_radius_pixels_in_chebyshev_distance() -> None:
    mask = np.zeros((7, 9), dtype=bool)
    mask[3, 4] = True
    expected = np.zeros((7, 9), dtype=bool)
    expected[1:6, 2:7] = True  # |row − 3| ≤ 2 and |column − 4| ≤ 2, diagonals included
    np.testing.assert_array_equal(dilate(mask, 2), expected)
    np.testing.assert_array_equal(dilate(mask, 0), mask)


def test_dilate_is_clipped_at_the_border_not_wrapped() -> None:
    mask = np.zeros((5, 5), dtype=bool)
    mask[0, 0] = True
    grown = dilate(mask, 1)
    assert grown[:2, :2].all() and grown.sum() == 4  # no pixel on the far side (no wrap-around through negative indices)


def test_pointing_game_counts_a_peak_within_the_tolerance_and_not_one_pixel_beyond() -> None:
    size = 80
    mask = _box_mask(size, 10, 10, 20, 20)  # rows and columns 10..19
    region = Region("subject", ANY_SHAPE, peak_inside=True)
    metric = PeakInside()
    for column, inside in ((15, True), (19 + POINTING_TOLERANCE_PIXELS, True), (20 + POINTING_TOLERANCE_PIXELS, False)):
        heatmap = np.full((size, size), 0.1)
        heatmap[15, column] = 5.0
        check = metric.check(region, _context(heatmap, mask))
        assert check.value is inside and check.passed is inside, (column, check)
    assert not check.passed and f"x={20 + POINTING_TOLERANCE_PIXELS}, y=15" in check.reason


def test_pointing_game_uses_the_first_maximum_in_reading_order_on_ties() -> None:
    heatmap = np.zeros((40, 40))
    heatmap[2, 2] = heatmap[38, 38] = 1.0  # argmax picks (2, 2)
    near_first = _box_mask(40, 0, 0, 3, 3)
    region = Region("r", ANY_SHAPE, peak_inside=True)
    assert PeakInside().measure(region, _context(heatmap, near_first)) is True
    assert PeakInside().measure(region, _context(heatmap, _box_mask(40, 37, 37, 40, 40))) is False


def test_iou_is_intersection_over_union_of_the_thresholded_map_and_the_mask() -> None:
    heatmap = np.array([[0.0, 0.2, 0.6, 1.0],
                        [0.0, 0.4, 0.5, 0.9],
                        [0.0, 0.0, 0.0, 0.0],
                        [0.0, 0.0, 0.0, 0.0]])
    mask = np.zeros((4, 4), dtype=bool)
    mask[0:2, 2:4] = True  # the four hottest cells
    mask[2, 3] = True  # one cold cell
    # At 0.5 × max: attended = {0.6, 1.0, 0.5, 0.9} (0.5 counts: ≥); intersection 4, union 5.
    iou = MinIou().measure(Region("r", ANY_SHAPE, min_iou=0.7, iou_threshold=0.5), _context(heatmap, mask))
    assert iou == pytest.approx(4 / 5)
    # At 0.3 × max the 0.4 cell joins: intersection 4, union 6.
    iou = MinIou().measure(Region("r", ANY_SHAPE, min_iou=0.7, iou_threshold=0.3), _context(heatmap, mask))
    assert iou == pytest.approx(4 / 6)


def test_iou_check_passes_at_the_limit_and_fails_below_it_with_the_threshold_in_words() -> None:
    heatmap = np.zeros((4, 4))
    heatmap[0, 0:2] = 1.0
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, 0:4] = True  # IoU = 2 / 4
    assert MinIou().check(Region("r", ANY_SHAPE, min_iou=0.5), _context(heatmap, mask)).passed
    missed = MinIou().check(Region("r", ANY_SHAPE, min_iou=0.51), _context(heatmap, mask))
    assert not missed.passed and missed.value == pytest.approx(0.5)
    assert missed.reason == "IoU 0.500 < min_iou 0.51 (heatmap ≥ 0.5× max)"


def test_mass_and_lift_checks_compare_the_context_numbers_in_the_right_direction() -> None:
    heatmap = np.zeros((4, 4))
    heatmap[0, 0] = 3.0
    heatmap[3, 3] = 1.0
    mask = _box_mask(4, 0, 0, 2, 2)  # a quarter of the image holding 3/4 of the mass: lift 3
    context = _context(heatmap, mask)
    assert context.mass == pytest.approx(0.75) and context.lift == pytest.approx(3.0)
    assert MinMass().check(Region("r", ANY_SHAPE, min_mass=0.75), context).passed
    assert not MinMass().check(Region("r", ANY_SHAPE, min_mass=0.76), context).passed
    assert MaxMass().check(Region("r", ANY_SHAPE, max_mass=0.75), context).passed
    assert not MaxMass().check(Region("r", ANY_SHAPE, max_mass=0.74), context).passed
    lift = MinLift().check(Region("r", ANY_SHAPE, min_lift=3.5), context)
    assert not lift.passed and lift.reason == "lift 3.00 < min_lift 3.5"
    assert MinLift().check(Region("r", ANY_SHAPE, min_lift=3.0), context).passed


def test_effect_checks_read_the_measured_effect_and_never_pass_without_one() -> None:
    heatmap = np.ones((2, 2))
    mask = _box_mask(2, 0, 0, 1, 1)
    region = Region("logo", ANY_SHAPE, max_effect=0.1, min_effect=0.05)
    assert MaxEffect().check(region, _context(heatmap, mask, effect=0.1)).passed
    too_much = MaxEffect().check(region, _context(heatmap, mask, effect=0.3))
    assert not too_much.passed and too_much.reason.startswith("effect 0.300 > max_effect 0.1")
    too_little = MinEffect().check(region, _context(heatmap, mask, effect=0.01))
    assert not too_little.passed and too_little.reason.startswith("effect 0.010 < min_effect 0.05")
    unmeasured = [metric.check(region, _context(heatmap, mask, effect=None)) for metric in (MaxEffect(), MinEffect())]
    assert not any(check.passed for check in unmeasured)


def test_a_metric_applies_only_where_its_key_is_set() -> None:
    region = Region("r", ANY_SHAPE, min_mass=0.0)
    assert MinMass().applies(region)  # a limit of 0 is set, not absent
    assert not MaxMass().applies(region) and not PeakInside().applies(region) and not MinIou().applies(region)
