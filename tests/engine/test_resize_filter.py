"""`resize_filter`: the filter changes how pixels are resampled when an image is fitted, never where they land."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gradcam_audit.core.engine.mapping import fit_image, plan_geometry
from gradcam_audit.core.engine.method_names import RESIZE_FILTERS, RESIZE_MODES

PIL_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "nearest": Image.Resampling.NEAREST,
               "bicubic": Image.Resampling.BICUBIC, "area": Image.Resampling.BOX}


def _square_image(width: int = 160, height: int = 120, box: tuple[int, int, int, int] = (40, 30, 80, 70)) -> np.ndarray:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    x_min, y_min, x_max, y_max = box
    image[y_min:y_max, x_min:x_max] = 255
    return image


@pytest.mark.parametrize("resize_filter", RESIZE_FILTERS)
def test_a_stretch_fit_is_exactly_pils_resize_with_that_filter(resize_filter: str) -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    fitted = fit_image(image, plan_geometry((130, 90), (64, 48), "stretch", resize_filter))
    expected = np.asarray(Image.fromarray(image).resize((64, 48), PIL_FILTERS[resize_filter]), dtype=np.float32)
    np.testing.assert_allclose(fitted, expected, atol=1.0)  # PIL's box= path rounds sub-pixel sums differently


@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_every_filter_puts_a_region_where_the_geometry_says(mode: str) -> None:
    # A white square: wherever the fitted picture is bright, the affine map (one for all filters) must predict it.
    box = (40, 30, 80, 70)
    image = _square_image(box=box)
    centroids = {}
    for resize_filter in RESIZE_FILTERS:
        geometry = plan_geometry((160, 120), (64, 64), mode, resize_filter)
        fitted = fit_image(image, geometry)[:, :, 0]
        rows, columns = np.indices(fitted.shape)
        weight = float(fitted.sum())
        centroids[resize_filter] = (float((columns * fitted).sum()) / weight + 0.5, float((rows * fitted).sum()) / weight + 0.5)
        expected = (((box[0] + box[2]) / 2) * geometry.scale[0] + geometry.offset[0],
                    ((box[1] + box[3]) / 2) * geometry.scale[1] + geometry.offset[1])
        assert centroids[resize_filter] == pytest.approx(expected, abs=0.5), resize_filter
    geometries = {plan_geometry((160, 120), (64, 64), mode, name).scale for name in RESIZE_FILTERS}
    assert len(geometries) == 1  # the map from photo to model input does not depend on the filter


def test_the_filters_really_feed_different_pixels() -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (97, 101, 3), dtype=np.uint8)
    fitted = {name: fit_image(image, plan_geometry((101, 97), (40, 40), "stretch", name)) for name in RESIZE_FILTERS}
    for first in RESIZE_FILTERS:
        for second in RESIZE_FILTERS:
            if first < second:
                assert float(np.abs(fitted[first] - fitted[second]).max()) > 10, (first, second)


def test_an_unknown_filter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown resize filter 'lanczos'"):
        plan_geometry((10, 10), (5, 5), "stretch", "lanczos")
