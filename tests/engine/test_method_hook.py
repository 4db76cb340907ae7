"""The CAM method owns its computation: the engine hands every method one CamBatch (with a forward function)
and calls ``raw_maps``; Score-CAM's masked-input weights are checked here against a hand-computed forward."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine import methods
from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.engine.methods import CamBatch, CamMethod, ScoreCam

# A 2×2 feature map with three channels: channel 1 is constant (no location), so Score-CAM skips it.
ACTIVATIONS = np.stack(
    [
        np.array([[4.0, 0.0], [0.0, 0.0]]),
        np.full((2, 2), 5.0),
        np.array([[0.0, 1.0], [1.0, 3.0]]),
    ],
    axis=-1,
)[np.newaxis]
# 2×2 input: feature cell (i, j) covers exactly input pixel (i, j), so the mask is the normalised channel itself.
INPUT = np.array([[[1.0], [2.0]], [[3.0], [4.0]]], dtype=np.float32)[np.newaxis]


def _fake_forward(seen: list[np.ndarray]) -> Any:
    """Class 1's probability is the masked input's sum / 10 (the unmasked input sums to 10); class 0 the rest."""

    def class_probabilities(inputs: np.ndarray) -> np.ndarray:
        seen.append(inputs.copy())
        positive = inputs.reshape(len(inputs), -1).sum(axis=1) / 10.0
        return np.stack([1.0 - positive, positive], axis=1)

    return class_probabilities


def _batch(target: int, seen: list[np.ndarray], batch_size: int = 8) -> CamBatch:
    return CamBatch(
        inputs=INPUT,
        activations=ACTIVATIONS,
        gradients=np.zeros_like(ACTIVATIONS),
        targets=np.array([target]),
        class_probabilities=_fake_forward(seen),
        batch_size=batch_size,
    )


def test_scorecam_weights_are_the_targets_probability_on_each_masked_input() -> None:
    seen: list[np.ndarray] = []
    # Masks: channel 0 → [[1, 0], [0, 0]], masked sum 1; channel 2 → [[0, 1/3], [1/3, 1]], masked sum 2/3 + 1 + 4.
    class_one = ScoreCam.masked_probabilities(_batch(1, seen))
    np.testing.assert_allclose(class_one, [[0.1, 0.0, (5 / 3 + 4) / 10]], atol=1e-7)
    assert [len(inputs) for inputs in seen] == [2]  # the constant channel never reaches the model
    np.testing.assert_allclose(seen[0][0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]], atol=1e-7)
    class_zero = ScoreCam.masked_probabilities(_batch(0, []))
    np.testing.assert_allclose(class_zero, [[0.9, 0.0, 1 - (5 / 3 + 4) / 10]], atol=1e-7)
    # The map is the probability-weighted sum of the activations, so the two classes weigh channels oppositely.
    expected = 0.1 * ACTIVATIONS[0, :, :, 0] + (5 / 3 + 4) / 10 * ACTIVATIONS[0, :, :, 2]
    np.testing.assert_allclose(ScoreCam().raw_maps(_batch(1, []))[0], expected, atol=1e-7)


def test_scorecam_chunks_masked_inputs_by_the_batch_size() -> None:
    seen: list[np.ndarray] = []
    chunked = ScoreCam.masked_probabilities(_batch(1, seen, batch_size=1))
    assert [len(inputs) for inputs in seen] == [1, 1]
    np.testing.assert_allclose(chunked, ScoreCam.masked_probabilities(_batch(1, [])), rtol=1e-6)


def _tiny_model() -> Any:
    import keras

    keras.utils.set_random_seed(2)
    inputs = keras.Input((12, 12, 3), name="image")
    features = keras.layers.Conv2D(4, 3, activation="relu", name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(pooled), name="hook_probe")


def test_a_new_method_that_reruns_the_model_needs_no_engine_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """explain() treats every method alike: a method overriding raw_maps gets the inputs and the forward pass."""

    class Occlusion(CamMethod):
        """Toy: each position's weight is how much blacking out its input pixel lowers the target's probability."""

        name = "occlusion"
        uses_gradients = False

        def raw_maps(self, batch: CamBatch) -> np.ndarray:
            count, height, width, _ = batch.inputs.shape
            maps = np.zeros((count, height, width))
            base = batch.class_probabilities(batch.inputs)[np.arange(count), batch.targets]
            for row in range(height):
                for column in range(width):
                    occluded = batch.inputs.copy()
                    occluded[:, row, column] = 0.0
                    maps[:, row, column] = base - batch.class_probabilities(occluded)[np.arange(count), batch.targets]
            return maps

    monkeypatch.setitem(methods.METHODS, "occlusion", Occlusion)
    images = [np.random.default_rng(index).integers(0, 256, (12, 12, 3), dtype=np.uint8) for index in range(2)]
    explanations = explain(_tiny_model(), images, layer="features", method="occlusion", targets=1, preprocess="scale01")
    for explanation in explanations:
        assert explanation.method == "occlusion"
        assert explanation.heatmap.shape == (12, 12)
        assert np.all(np.isfinite(explanation.heatmap)) and np.any(explanation.heatmap)
