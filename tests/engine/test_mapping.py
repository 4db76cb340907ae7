"""Geometry between the photo and the model input: a box drawn on the photo lands where the model saw it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.engine.mapping import fit_image, plan_geometry, upsample_heatmap
from gradcam_audit.core.files.images import read_rgb

# A 200×100 (width × height) photo into a 50×50 model input.
ORIGINAL = (200, 100)
INPUT = (50, 50)


def _one_hot(rows: int, columns: int, row: int, column: int) -> np.ndarray:
    heatmap = np.zeros((rows, columns))
    heatmap[row, column] = 1.0
    return heatmap


def test_center_crop_one_hot_cell_peaks_where_it_lies_in_the_photo() -> None:
    geometry = plan_geometry(ORIGINAL, INPUT, "center_crop")
    # Scale 0.5: the crop keeps original x 50..150 (all rows). Feature cell (row 2, column 1) of a 5×5 map
    # has its centre at input (15, 25) → original ((15 + 25) / 0.5, 25 / 0.5) = (80, 50), between pixels 79/80
    # and rows 49/50. (A border cell would make a clamped plateau, so its first pixel would win argmax.)
    full = upsample_heatmap(_one_hot(5, 5, 2, 1), geometry)
    peak_row, peak_column = np.unravel_index(np.argmax(full), full.shape)
    assert peak_column in (79, 80) and peak_row in (49, 50)
    # Outside the crop the model saw nothing: zero heat and visible_mask False.
    visible = geometry.visible_mask()
    assert not visible[:, :50].any() and not visible[:, 150:].any() and visible[:, 50:150].all()
    assert not full[:, :50].any() and not full[:, 150:].any()
    assert not geometry.sees_everything


def test_letterbox_one_hot_cell_peaks_where_it_lies_in_the_photo() -> None:
    geometry = plan_geometry(ORIGINAL, INPUT, "letterbox")
    # Scale 0.25, content 50×25 placed at y offset 12. Cell (row 4, column 5) of a 10×10 map has its
    # centre at input (27.5, 22.5) → original ((27.5 − 0) / 0.25, (22.5 − 12) / 0.25) = (110, 42).
    full = upsample_heatmap(_one_hot(10, 10, 4, 5), geometry)
    peak_row, peak_column = np.unravel_index(np.argmax(full), full.shape)
    assert peak_column in (109, 110) and peak_row in (41, 42)
    assert geometry.sees_everything  # letterboxing never hides a photo pixel
    # A cell entirely in the padding band above the content maps to nothing in the photo.
    assert not upsample_heatmap(_one_hot(10, 10, 0, 5), geometry).any()


@pytest.mark.parametrize(
    ("mode", "input_box"),
    [
        # Photo box x 60..80, y 40..60 → centre crop (scale 0.5, x offset −25): input x 5..15, y 20..30.
        ("center_crop", (5, 20, 15, 30)),
        # → letterbox (scale 0.25, y offset 12): input x 15..20, y 22..27.
        ("letterbox", (15, 22, 20, 27)),
    ],
)
def test_fit_image_puts_a_photo_box_where_the_geometry_says(mode: str, input_box: tuple[int, int, int, int]) -> None:
    photo = np.zeros((ORIGINAL[1], ORIGINAL[0], 1), dtype=np.uint8)
    photo[40:60, 60:80] = 255
    fitted = fit_image(photo, plan_geometry(ORIGINAL, INPUT, mode))[:, :, 0]
    x0, y0, x1, y1 = input_box
    # Downscaling antialiases the box's one-pixel rim; its interior is pure white, nothing lies beyond the rim.
    interior = fitted[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1]
    outside = fitted.copy()
    outside[y0 - 1 : y1 + 1, x0 - 1 : x1 + 1] = 0
    assert interior.min() > 250 and fitted[y0:y1, x0:x1].min() > 150 and outside.max() < 1


def _box_lighting_model() -> Any:
    """Its Grad-CAM map for class 1 is the 4×4 block average of the input: it lights exactly what is bright."""
    import keras

    inputs = keras.Input((48, 48, 1), name="image")
    features = keras.layers.AveragePooling2D(4, name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    logits = keras.layers.Dense(2, name="logits")(pooled)
    model = keras.Model(inputs, logits, name="box_lighting")
    model.get_layer("logits").set_weights([np.array([[-1.0, 1.0]]), np.zeros(2)])
    return model


@pytest.mark.parametrize("mode", ["center_crop", "letterbox", "stretch"])
def test_end_to_end_the_heat_lands_on_the_box_drawn_on_the_photo(mode: str) -> None:
    # 192×96 photo with a bright box at x 72..96, y 8..32: inside what the model sees in every mode.
    photo = np.zeros((96, 192, 1), dtype=np.uint8)
    photo[8:32, 72:96] = 255
    (explanation,) = explain(_box_lighting_model(), [photo], layer="features", targets=1, resize=mode)
    full = explanation.heatmap_full
    assert full.shape == (96, 192)
    peak_row, peak_column = np.unravel_index(np.argmax(full), full.shape)
    assert 8 <= peak_row < 32 and 72 <= peak_column < 96
    mass = full[8:32, 72:96].sum() / full.sum()
    assert mass > 0.5  # the box is 3 % of the photo; bilinear blur spreads some heat just outside it
    if mode != "stretch":
        # Mapping the same feature map back as if the photo had been stretched misses the box.
        naive = upsample_heatmap(explanation.heatmap, plan_geometry((192, 96), (48, 48), "stretch"))
        assert mass > 1.3 * naive[8:32, 72:96].sum() / naive.sum()


@pytest.mark.parametrize("mode", ["stretch", "center_crop", "letterbox"])
def test_bilinear_upsampling_never_creates_negative_values(mode: str) -> None:
    generator = np.random.default_rng(1)
    for _ in range(20):
        heatmap = np.maximum(generator.normal(size=(7, 7)), 0.0)  # many exact zeros next to peaks
        original = (int(generator.integers(20, 300)), int(generator.integers(20, 300)))
        full = upsample_heatmap(heatmap, plan_geometry(original, (224, 224), mode))
        assert full.min() >= 0.0
        assert full.max() <= heatmap.max() + 1e-12  # convex weights: no overshoot either (bicubic would)


def test_read_rgb_applies_exif_orientation(tmp_path: Path) -> None:
    from PIL import Image

    stored = np.zeros((20, 40, 3), dtype=np.uint8)  # stored 40 wide × 20 high
    stored[:, :20] = (255, 0, 0)  # left half red
    stored[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    image = read_rgb(path)
    assert image.shape == (40, 20, 3)  # displayed 20 wide × 40 high
    # Rotating clockwise moves the stored left half to the top.
    top, bottom = image[:16].reshape(-1, 3).mean(axis=0), image[24:].reshape(-1, 3).mean(axis=0)
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60
