"""Region badges in the case pictures: beside the region they number, never over it or another badge, never cut."""

from __future__ import annotations

import random

import numpy as np

from gradcam_audit.rendering.pictures.overlay import FORBIDDEN_COLOUR, REQUIRED_COLOUR, OverlayStyle, _overlaps, _place_badges, case_pictures
from tests.report.synthetic import box, case, region

GREY = 128
SHOWN_AT_256 = OverlayStyle(min_side=256)  # the layouts below are pinned at ×4 (the default shows 64-px pictures ×2)


def _interior_untouched(picture: np.ndarray, outline: tuple[int, int, int, int], factor: int, margin: int) -> bool:
    x0, y0, x1, y1 = (value * factor for value in outline)
    inside = picture[y0 + margin:y1 - margin, x0 + margin:x1 - margin]
    return bool(inside.size) and bool(np.all(np.abs(inside.astype(int) - GREY) <= 2))


def test_badges_sit_beside_their_regions_and_leave_what_the_regions_show_visible() -> None:
    """The example's layout: a small tag in the corner and the subject in the middle, on a 64-px picture shown at 256 px."""
    corner, middle, neighbour = (2, 2, 9, 9), (27, 30, 43, 46), (44, 30, 60, 46)
    result = case("layout", "failed", (region("stripes", "required", 0.1, 1.0, min_mass=0.15, outline=box(*middle)),
                                       region("corner-tag", "forbidden", 0.3, 0.01, max_mass=0.04, outline=box(*corner)),
                                       region("neighbour", "forbidden", 0.0, 0.0, max_mass=0.5, outline=box(*neighbour)))).result
    assert result is not None
    photo = np.full((64, 64, 3), GREY, dtype=np.uint8)
    pictures = case_pictures(result, photo, None, SHOWN_AT_256)
    regions = np.asarray(pictures["regions"].convert("RGB"))
    assert regions.shape[:2] == (256, 256)  # every badge found a place inside the picture
    line = max(2, round(256 / 110))
    for outline in (corner, middle, neighbour):
        assert _interior_untouched(regions, outline, 4, line + 1), outline  # nothing drawn over what the region shows
    # Each badge is a filled square of its region's colour (much more of that colour than the outline alone draws).
    for colour, minimum in ((REQUIRED_COLOUR, 300), (FORBIDDEN_COLOUR, 2 * 300)):
        assert int(np.sum(np.all(np.abs(regions.astype(int) - colour) <= 40, axis=2))) > minimum, colour


def test_a_region_covering_the_whole_picture_gets_its_badge_in_a_strip_above_it() -> None:
    result = case("whole", "passed", (region("everything", "check", 1.0, 1.0, outline=box(0, 0, 64, 64)),)).result
    assert result is not None
    picture = case_pictures(result, np.full((64, 64, 3), GREY, dtype=np.uint8), None, SHOWN_AT_256)["regions"]
    assert picture.size[0] == 256 and picture.size[1] > 256  # taller, never a badge over the region
    assert _interior_untouched(np.asarray(picture.convert("RGB"))[picture.size[1] - 256:], (0, 0, 64, 64), 4, 4)


def test_placed_badges_are_inside_the_picture_outside_their_region_and_apart_from_each_other() -> None:
    generator = random.Random(7)
    for _ in range(300):
        width, height = generator.choice([(256, 256), (512, 384), (224, 224)])
        regions = []
        for _ in range(generator.randint(1, 6)):
            x0, y0 = generator.uniform(0, width - 10), generator.uniform(0, height - 10)
            regions.append((x0, y0, generator.uniform(x0 + 5, width), generator.uniform(y0 + 5, height)))
        spots, strip = _place_badges(regions, width, height, side=18.0, gap=3.0)
        placed = [(spot, own) for spot, own in zip(spots, regions) if spot is not None]
        assert strip > 0 or len(placed) == len(regions)
        for spot, own in placed:
            assert 0 <= spot[0] and 0 <= spot[1] and spot[2] <= width and spot[3] <= height  # never cut
            assert not _overlaps(spot, own)  # never over the region it names
        for first in range(len(placed)):
            for second in range(first + 1, len(placed)):
                assert not _overlaps(placed[first][0], placed[second][0])  # never over another badge


def test_at_the_default_size_the_example_layout_keeps_every_badge_inside_the_picture() -> None:
    """The default shows a 64-px picture at 128 px: the corner tag's and the subject's badges still fit beside them."""
    corner, middle = (2, 2, 9, 9), (27, 30, 43, 46)
    result = case("layout", "failed", (region("stripes", "required", 0.1, 1.0, min_mass=0.15, outline=box(*middle)),
                                       region("corner-tag", "forbidden", 0.3, 0.01, max_mass=0.04, outline=box(*corner)))).result
    assert result is not None
    regions = np.asarray(case_pictures(result, np.full((64, 64, 3), GREY, dtype=np.uint8), None)["regions"].convert("RGB"))
    assert regions.shape[:2] == (128, 128)
    for outline in (corner, middle):
        assert _interior_untouched(regions, outline, 2, 3), outline
