"""Grad-CAM on a model small enough to compute by hand: feature map, gradients, weights, ReLU, upsampling, mass."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.evaluate.regions import region_mask
from gradcam_audit.core.evaluate.scoring import score_region
from gradcam_audit.core.spec.model import Region, Shape

# Feature map the model will see, one 4×4 array per channel. The image repeats each value over a 2×2
# block, and the model's 2×2 average pooling plus an identity 1×1 conv give these values back exactly.
CHANNEL_ZERO = np.array([[8, 4, 0, 0], [4, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]], dtype=np.float64)
CHANNEL_ONE = np.array([[0, 0, 0, 2], [0, 0, 2, 6], [0, 1, 0, 0], [1, 0, 0, 0]], dtype=np.float64)
# Dense kernel (channel, class): class 0 likes channel 0 and dislikes channel 1; class 1 the reverse;
# class 2 dislikes both (its map is negative wherever anything is active).
DENSE_KERNEL = np.array([[1.0, -0.5, -1.0], [-0.25, 2.0, -3.0]])

# Bilinear weights from 4 feature cells to 8 pixels, written out by hand: pixel p's centre lies at
# feature coordinate p/2 − 0.25; positions beyond the first/last cell centre are clamped to that cell.
UPSAMPLE_4_TO_8 = np.array(
    [
        [1.00, 0.00, 0.00, 0.00],
        [0.75, 0.25, 0.00, 0.00],
        [0.25, 0.75, 0.00, 0.00],
        [0.00, 0.75, 0.25, 0.00],
        [0.00, 0.25, 0.75, 0.00],
        [0.00, 0.00, 0.75, 0.25],
        [0.00, 0.00, 0.25, 0.75],
        [0.00, 0.00, 0.00, 1.00],
    ]
)


def _hand_model() -> Any:
    import keras

    inputs = keras.Input((8, 8, 2), name="image")
    pooled = keras.layers.AveragePooling2D(2, name="blocks")(inputs)
    features = keras.layers.Conv2D(2, 1, use_bias=False, name="features")(pooled)
    averaged = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    logits = keras.layers.Dense(3, name="logits")(averaged)
    model = keras.Model(inputs, logits, name="hand_model")
    model.get_layer("features").set_weights([np.eye(2).reshape(1, 1, 2, 2)])
    model.get_layer("logits").set_weights([DENSE_KERNEL, np.zeros(3)])
    return model


def _hand_image() -> np.ndarray:
    feature_map = np.stack([CHANNEL_ZERO, CHANNEL_ONE], axis=-1)
    return np.kron(feature_map, np.ones((2, 2, 1))).astype(np.float32)  # (8, 8, 2)


def _hand_grad_cam(target: int) -> np.ndarray:
    """Grad-CAM by hand: dy/dA_k(i, j) = W[k, target] / (4·4), so the weight of channel k is W[k, target] / 16."""
    weights = DENSE_KERNEL[:, target] / 16.0
    return weights[0] * CHANNEL_ZERO + weights[1] * CHANNEL_ONE


def test_heatmap_equals_the_hand_computed_grad_cam() -> None:
    model = _hand_model()
    (explanation,) = explain(model, [_hand_image()], layer="features", targets=0)
    expected = np.maximum(_hand_grad_cam(0), 0.0)
    assert explanation.degenerate is None
    np.testing.assert_allclose(explanation.heatmap, expected, atol=1e-6)
    # The logits are the Dense layer applied to the channel means.
    channel_means = np.array([CHANNEL_ZERO.mean(), CHANNEL_ONE.mean()])
    np.testing.assert_allclose(explanation.scores, channel_means @ DENSE_KERNEL, atol=1e-6)
    assert explanation.target_index == 0


def test_upsampled_heatmap_and_box_mass_equal_the_hand_computation() -> None:
    model = _hand_model()
    (explanation,) = explain(model, [_hand_image()], layer="features", targets=1)
    heatmap = np.maximum(_hand_grad_cam(1), 0.0)
    expected_full = UPSAMPLE_4_TO_8 @ heatmap @ UPSAMPLE_4_TO_8.T
    np.testing.assert_allclose(explanation.heatmap_full, expected_full, atol=1e-6)
    # Mass in the top-right quadrant box (x 4..8, y 0..4), by hand and through the scorer.
    expected_mass = expected_full[0:4, 4:8].sum() / expected_full.sum()
    shape = Shape("box", box=(4.0, 0.0, 8.0, 4.0))
    mask = region_mask(shape, (8, 8))
    score = score_region(explanation.heatmap_full, mask, Region("top_right", shape, min_mass=0.5))
    assert score.mass == pytest.approx(expected_mass, abs=1e-6)
    assert expected_mass > 0.5  # class 1 looks at channel 1, which lives in the top-right corner


def test_all_negative_map_is_degenerate_with_a_zero_heatmap() -> None:
    model = _hand_model()
    (explanation,) = explain(model, [_hand_image()], layer="features", targets=2)
    assert _hand_grad_cam(2).max() <= 0.0  # premise: every position argues against class 2
    assert explanation.degenerate is not None and "all-negative" in explanation.degenerate
    assert not np.any(explanation.heatmap) and not np.any(explanation.heatmap_full)
    assert np.all(np.isfinite(explanation.heatmap_full))


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "scorecam", "eigencam"])
def test_all_zero_activations_are_degenerate_never_nan(method: str) -> None:
    model = _hand_model()
    (explanation,) = explain(model, [np.zeros((8, 8, 2), dtype=np.float32)], layer="features", targets=0, method=method)
    assert explanation.degenerate is not None
    assert "all-zero" in explanation.degenerate
    assert np.all(np.isfinite(explanation.heatmap)) and np.all(np.isfinite(explanation.heatmap_full))
    assert not np.any(explanation.heatmap_full)
