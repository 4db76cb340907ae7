"""Deletion / insertion curves (core/evaluate/faithfulness.py) on hand-computed arrays: areas, pixel order and edited images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradcam_audit.core.evaluate.faithfulness import blurred, curve_images, pixel_order

from gradcam_audit.core.records.evidence import FaithfulnessCurves, area_under
from gradcam_audit.core.records.codec import from_data, to_data


def test_area_under_is_the_trapezoid_rule_over_evenly_spaced_points() -> None:
    assert area_under([1.0, 0.5, 0.0]) == pytest.approx(0.5)  # ((1 + .5)/2 + (.5 + 0)/2) / 2
    assert area_under([0.2, 0.2, 0.2, 0.2]) == pytest.approx(0.2)
    assert area_under([0.0, 1.0]) == pytest.approx(0.5)
    assert area_under([0.0, 0.0, 0.0, 1.0]) == pytest.approx(1 / 6)  # only the last third rises: half of a third


def test_area_under_one_point_is_that_point_and_of_none_is_zero() -> None:
    assert area_under([0.7]) == 0.7
    assert area_under([]) == 0.0


def test_curves_report_their_areas_and_survive_a_round_trip() -> None:
    curves = FaithfulnessCurves(2, deletion=(0.9, 0.3, 0.1), insertion=(0.1, 0.6, 0.9))
    assert curves.deletion_auc == pytest.approx(((0.9 + 0.3) / 2 + (0.3 + 0.1) / 2) / 2)
    assert curves.insertion_auc == pytest.approx(((0.1 + 0.6) / 2 + (0.6 + 0.9) / 2) / 2)
    data = to_data(curves)
    assert data["deletion_auc"] == pytest.approx(0.4) and data["insertion_auc"] == pytest.approx(0.55)
    assert from_data(FaithfulnessCurves, data, "curves") == curves


def test_pixel_order_is_hottest_first_with_ties_in_reading_order() -> None:
    heatmap = np.array([[0.0, 2.0, 1.0],
                        [2.0, 3.0, 1.0]])
    np.testing.assert_array_equal(pixel_order(heatmap), [4, 1, 3, 2, 5, 0])
    np.testing.assert_array_equal(pixel_order(np.ones((2, 2))), [0, 1, 2, 3])


def test_curve_images_black_out_and_put_back_the_hottest_pixels_step_by_step() -> None:
    image = np.arange(1, 4 * 4 * 3 + 1, dtype=np.uint8).reshape(4, 4, 3) * 5
    heatmap = np.arange(16, dtype=np.float64)[::-1].reshape(4, 4)  # hottest = reading order: first row, then second…
    deleted, inserted = curve_images(image, heatmap, steps=4)
    assert len(deleted) == 4 and len(inserted) == 4  # deletion steps 1..4, insertion steps 0..3
    start = blurred(image)
    for step in range(4):
        # Deletion step s + 1: the first s + 1 rows (the 4(s + 1) hottest pixels) are black, the rest untouched.
        expected_deleted = image.copy()
        expected_deleted[: step + 1] = 0
        np.testing.assert_array_equal(deleted[step], expected_deleted)
        # Insertion step s: the first s rows come back from the image onto the blurred start.
        expected_inserted = start.copy()
        expected_inserted[:step] = image[:step]
        np.testing.assert_array_equal(inserted[step], expected_inserted)
    assert all(picture.dtype == np.uint8 for picture in deleted + inserted)


def test_the_insertion_start_is_a_blur_scaled_with_the_image() -> None:
    stripes = np.zeros((224, 224, 3), dtype=np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: sigma 5 px leaves a near-uniform grey
    start = blurred(stripes)
    assert start.shape == stripes.shape and start.dtype == np.uint8
    assert abs(float(start[100:124, 100:124].mean()) - 127.5) < 2 and float(start[100:124, 100:124].std()) < 2


def test_measure_faithfulness_reads_each_cases_target_from_its_own_rows_of_one_batched_pass() -> None:
    """Two cases with different step counts and targets around one without the check: each curve is the model's own
    p(target) on that case's edited images, framed by the unedited probability (deletion start, insertion end)."""
    import keras

    from gradcam_audit.core.engine.forward import forward_probabilities
    from gradcam_audit.core.evaluate.faithfulness import measure_faithfulness
    from gradcam_audit.core.spec.model import Case, ModelRef, Preprocess, Spec

    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(features)))
    spec = Spec(path=Path("s.yaml"), model=ModelRef(Path("m.keras")), preprocess=Preprocess("builtin", "scale01"))
    generator = np.random.default_rng(0)
    images = [generator.integers(0, 256, (8, 8, 3)).astype(np.uint8) for _ in range(3)]
    heatmaps = [generator.random((8, 8)) for _ in range(3)]
    cases = [Case("a", Path("a.png"), (), max_deletion_auc=0.5, faithfulness_steps=3), Case("b", Path("b.png"), ()),
             Case("c", Path("c.png"), (), min_insertion_auc=0.5, faithfulness_steps=2)]
    targets, before = [2, 0, 1], [0.11, 0.22, 0.33]
    curves = measure_faithfulness(model, spec, cases, images, heatmaps, targets, before, layer="conv", batch_size=5)
    assert curves[1] is None
    for position in (0, 2):
        found = curves[position]
        assert found is not None
        steps = cases[position].faithfulness_steps
        deleted, inserted = curve_images(images[position], heatmaps[position], steps)
        alone = forward_probabilities(model, [*deleted, *inserted], layer="conv", preprocess=spec.preprocess)[:, targets[position]]
        assert found.steps == steps and len(found.deletion) == len(found.insertion) == steps + 1
        assert found.deletion[0] == before[position] and found.insertion[-1] == before[position]
        np.testing.assert_allclose(found.deletion[1:], alone[:steps], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(found.insertion[:-1], alone[steps:], rtol=1e-5, atol=1e-7)
