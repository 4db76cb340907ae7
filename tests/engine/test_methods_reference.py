"""Each CAM method against an independent, loop-by-loop NumPy implementation of its paper's formula.

Activations and gradients for the reference come from the classic sub-model recipe (a fresh Functional
model has the graph for it) and eager GradientTape, not from the engine's capture.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import engine_for, explain
from gradcam_audit.core.engine.methods import get_method

INPUT_SIZE = 16
NUM_IMAGES = 2


def _reference_model() -> Any:
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    hidden = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    features = keras.layers.Conv2D(5, 3, activation="relu", name="features")(hidden)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    logits = keras.layers.Dense(3, name="logits")(pooled)
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, probabilities, name="reference_model")


@pytest.fixture(scope="module")
def model() -> Any:
    return _reference_model()


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    generator = np.random.default_rng(11)
    return [generator.uniform(0, 4, (INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32) for _ in range(NUM_IMAGES)]


@pytest.fixture(scope="module")
def independent(model: Any, images: list[np.ndarray]) -> dict[str, Any]:
    """Activations (B, h, w, K), gradients of each image's predicted logit, targets: via the sub-model recipe."""
    import keras
    import tensorflow as tf

    sub_model = keras.Model(model.inputs, [model.get_layer("features").output, model.get_layer("logits").output])
    batch = tf.constant(np.stack(images))
    with tf.GradientTape() as tape:
        activations, logits = sub_model(batch)
        targets = np.argmax(logits.numpy(), axis=1)
        total = tf.reduce_sum(tf.gather(logits, targets, batch_dims=1))
    gradients = tape.gradient(total, activations)
    return {
        "activations": activations.numpy().astype(np.float64),
        "gradients": gradients.numpy().astype(np.float64),
        "targets": targets,
    }


# -- reference formulas, one loop at a time ---------------------------------------------------------


def _weighted_sum(activations: np.ndarray, weights: list[float]) -> np.ndarray:
    height, width, channels = activations.shape
    result = np.zeros((height, width))
    for row in range(height):
        for column in range(width):
            for channel in range(channels):
                result[row, column] += weights[channel] * activations[row, column, channel]
    return result


def reference_gradcam(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    height, width, channels = activations.shape
    weights = [sum(gradients[i, j, k] for i in range(height) for j in range(width)) / (height * width) for k in range(channels)]
    return _weighted_sum(activations, weights)


def reference_gradcam_plus_plus(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    height, width, channels = activations.shape
    weights = []
    for k in range(channels):
        activation_sum = sum(activations[a, b, k] for a in range(height) for b in range(width))
        weight = 0.0
        for i in range(height):
            for j in range(width):
                g = gradients[i, j, k]
                denominator = 2 * g**2 + activation_sum * g**3
                alpha = g**2 / denominator if denominator != 0 else 0.0
                weight += alpha * max(g, 0.0)
        weights.append(weight)
    return _weighted_sum(activations, weights)


def reference_hirescam(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    height, width, channels = activations.shape
    result = np.zeros((height, width))
    for i in range(height):
        for j in range(width):
            result[i, j] = sum(gradients[i, j, k] * activations[i, j, k] for k in range(channels))
    return result


def reference_xgradcam(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    height, width, channels = activations.shape
    weights = []
    for k in range(channels):
        numerator = sum(activations[i, j, k] * gradients[i, j, k] for i in range(height) for j in range(width))
        denominator = sum(activations[i, j, k] for i in range(height) for j in range(width))
        weights.append(numerator / denominator if denominator != 0 else 0.0)
    return _weighted_sum(activations, weights)


def reference_layercam(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    height, width, channels = activations.shape
    result = np.zeros((height, width))
    for i in range(height):
        for j in range(width):
            result[i, j] = sum(max(gradients[i, j, k], 0.0) * activations[i, j, k] for k in range(channels))
    return result


def reference_eigencam(activations: np.ndarray) -> np.ndarray:
    """First principal component via the covariance's eigenvector (not an SVD); oriented so the projection
    correlates positively with the channel-summed activations, as the engine documents."""
    height, width, channels = activations.shape
    rows = [activations[i, j, :] for i in range(height) for j in range(width)]
    mean = [sum(row[k] for row in rows) / len(rows) for k in range(channels)]
    centred = np.array([[row[k] - mean[k] for k in range(channels)] for row in rows])
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    component = eigenvectors[:, -1]
    projection = [sum(centred[p, k] * component[k] for k in range(channels)) for p in range(len(rows))]
    channel_sums = [sum(row) for row in rows]
    mean_sum = sum(channel_sums) / len(channel_sums)
    if sum(projection[p] * (channel_sums[p] - mean_sum) for p in range(len(rows))) < 0:
        projection = [-value for value in projection]
    return np.array(projection).reshape(height, width)


def _bilinear_upsample(channel: np.ndarray, size: int) -> np.ndarray:
    """Half-pixel-centre bilinear resize of a square map to size×size, clamped at the borders."""
    feature_size = channel.shape[0]
    result = np.zeros((size, size))
    for y in range(size):
        for x in range(size):
            source_y = min(max((y + 0.5) * feature_size / size - 0.5, 0.0), feature_size - 1.0)
            source_x = min(max((x + 0.5) * feature_size / size - 0.5, 0.0), feature_size - 1.0)
            y0, x0 = int(math.floor(source_y)), int(math.floor(source_x))
            y1, x1 = min(y0 + 1, feature_size - 1), min(x0 + 1, feature_size - 1)
            dy, dx = source_y - y0, source_x - x0
            result[y, x] = (
                channel[y0, x0] * (1 - dy) * (1 - dx)
                + channel[y0, x1] * (1 - dy) * dx
                + channel[y1, x0] * dy * (1 - dx)
                + channel[y1, x1] * dy * dx
            )
    return result


def reference_scorecam(model: Any, image: np.ndarray, activations: np.ndarray, target: int) -> np.ndarray:
    """Wang et al. 2020 as the authors' code weights it (haofanwang/Score-CAM): mask = min-max normalised
    upsampled channel; weight = the target's softmax probability on image·mask; a constant channel is skipped.
    The model ends in a Softmax layer, so its output is that probability."""
    channels = activations.shape[2]
    weights = []
    for k in range(channels):
        upsampled = _bilinear_upsample(activations[:, :, k], INPUT_SIZE)
        spread = upsampled.max() - upsampled.min()
        if spread == 0:
            weights.append(0.0)
            continue
        mask = (upsampled - upsampled.min()) / spread
        masked = (image * mask[:, :, np.newaxis])[np.newaxis].astype(np.float32)
        weights.append(float(np.asarray(model(masked, training=False))[0, target]))
    return _weighted_sum(activations, weights)


GRADIENT_REFERENCES = {
    "gradcam": reference_gradcam,
    "gradcam++": reference_gradcam_plus_plus,
    "hirescam": reference_hirescam,
    "xgradcam": reference_xgradcam,
    "layercam": reference_layercam,
}


def _reference_map(method: str, model: Any, image: np.ndarray, activations: np.ndarray, gradients: np.ndarray, target: int) -> np.ndarray:
    if method == "scorecam":
        return reference_scorecam(model, image, activations, target)
    if method == "eigencam":
        return reference_eigencam(activations)
    return GRADIENT_REFERENCES[method](activations, gradients)


def _assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("method", sorted(GRADIENT_REFERENCES) + ["eigencam"])
def test_method_raw_map_matches_the_papers_formula(method: str, independent: dict[str, Any]) -> None:
    activations, gradients = independent["activations"], independent["gradients"]
    raw_maps = get_method(method).raw_map(activations, gradients)
    for index in range(NUM_IMAGES):
        _assert_close(raw_maps[index], _reference_map(method, None, np.empty(0), activations[index], gradients[index], -1))


@pytest.mark.parametrize("method", sorted(GRADIENT_REFERENCES) + ["eigencam", "scorecam"])
def test_engine_heatmap_matches_the_reference(method: str, model: Any, images: list[np.ndarray], independent: dict[str, Any]) -> None:
    explanations = explain(model, images, layer="features", method=method)
    for index, explanation in enumerate(explanations):
        target = int(independent["targets"][index])
        assert explanation.target_index == target
        expected = _reference_map(method, model, images[index], independent["activations"][index], independent["gradients"][index], target)
        assert expected.max() > 0, "premise: the reference map has positive evidence to compare"
        _assert_close(explanation.heatmap, np.maximum(expected, 0.0))
        assert explanation.degenerate is None


def test_scorecam_runs_masked_images_in_batches_over_channels(model: Any, images: list[np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engine_for(model, layer="features")
    original = engine._forward_only
    batch_sizes: list[int] = []

    def counting(inputs: Any, targets: Any) -> Any:
        batch_sizes.append(int(inputs.shape[0]))
        return original(inputs, targets)

    monkeypatch.setattr(engine, "_forward_only", counting)
    explain(model, images, layer="features", method="scorecam", batch_size=2)
    channels = 5
    # One forward pass for the two images themselves, then per image ceil(5 / 2) = 3 passes of masked copies,
    # instead of one pass per channel.
    assert batch_sizes == [2] + [2, 2, 1] * NUM_IMAGES
    batch_sizes.clear()
    explain(model, images, layer="features", method="scorecam", batch_size=32)
    assert batch_sizes == [2] + [channels] * NUM_IMAGES
