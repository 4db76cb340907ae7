"""A final softmax or sigmoid is found however it is written (layer, ``activation=``, keras op), its logit is
explained, and its probabilities are never squashed twice; where the logit cannot be reached, the engine says so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain

SIZE = 24
CLASSES = 3


def _images(count: int = 3) -> list[np.ndarray]:
    generator = np.random.default_rng(4)
    return [generator.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(count)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _squashed(scores: np.ndarray, sigmoid: bool) -> np.ndarray:
    """One squashing of the reported scores: a softmax, or for one sigmoid unit (scores (−l, l)) (1 − σ(l), σ(l))."""
    if sigmoid:
        positive = 1.0 / (1.0 + np.exp(-scores[1]))
        return np.array([1.0 - positive, positive])
    return _softmax(scores)


def _squash_layer(kind: str) -> Callable[[Any], Any]:
    import keras

    squashings: dict[str, Callable[[Any], Any]] = {
        "keras.ops.softmax": keras.ops.softmax,
        "keras.ops.sigmoid": keras.ops.sigmoid,
        "keras.activations.softmax": keras.activations.softmax,  # an op too, when called on a symbolic tensor
        "layers.Softmax": keras.layers.Softmax(name="squash"),
        "layers.Activation": keras.layers.Activation("softmax", name="squash"),
    }
    return squashings[kind]


def _saved_pair(kind: str, directory: Path) -> tuple[Any, Any]:
    """(the model ending in the logit Dense, the same weights ending in the squashing), both saved and reloaded."""
    import keras

    keras.utils.set_random_seed(9)
    units = 1 if kind.endswith("sigmoid") else CLASSES
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    hidden = keras.layers.Conv2D(6, 3, activation="relu", name="conv1")(inputs)
    features = keras.layers.Conv2D(8, 3, activation="relu", name="features")(hidden)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    logits = keras.layers.Dense(units, name="logits")(pooled)
    squashed = _squash_layer(kind)(logits)
    reloaded = []
    for name, model in (("plain", keras.Model(inputs, logits, name="plain")), ("squashed", keras.Model(inputs, squashed, name="squashed"))):
        path = directory / f"{name}.keras"
        model.save(path)
        reloaded.append(keras.saving.load_model(path, compile=False))
    return reloaded[0], reloaded[1]


def _max_normalised(heatmap: np.ndarray) -> np.ndarray:
    return heatmap / heatmap.max()


SQUASHINGS = ["keras.ops.softmax", "keras.ops.sigmoid", "keras.activations.softmax", "layers.Softmax", "layers.Activation"]


@pytest.mark.parametrize("kind", SQUASHINGS)
@pytest.mark.parametrize("method", ["gradcam", "scorecam"])
def test_final_squashing_explains_the_same_map_as_the_model_without_it(kind: str, method: str, tmp_path: Path) -> None:
    """Before the op was detected, a model ending in keras.ops.softmax had its probabilities softmaxed again."""
    plain, squashed = _saved_pair(kind, tmp_path)
    targets = 1 if kind.endswith("sigmoid") else None
    with_squash = explain(squashed, _images(), method=method, targets=targets, preprocess="scale01")
    without = explain(plain, _images(), method=method, targets=targets, preprocess="scale01")
    squash = "sigmoid" if kind.endswith("sigmoid") else "softmax"
    for squashed_explanation, plain_explanation in zip(with_squash, without, strict=True):
        assert squashed_explanation.degenerate is None and plain_explanation.degenerate is None
        difference = np.abs(_max_normalised(squashed_explanation.heatmap) - _max_normalised(plain_explanation.heatmap)).max()
        assert difference < 1e-4
        # The reported scores are the logits, the probabilities one squashing of them (not two).
        logits = plain_explanation.scores
        np.testing.assert_allclose(squashed_explanation.scores, logits, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(squashed_explanation.probabilities, _squashed(logits, sigmoid=squash == "sigmoid"), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(plain_explanation.probabilities, squashed_explanation.probabilities, rtol=1e-5, atol=1e-6)
        assert squashed_explanation.score_kind == f"logit (input of the final {squash})"
        assert plain_explanation.score_kind == "logit (model output, no final softmax)"


@pytest.mark.parametrize("kind", ["keras.ops.softmax", "keras.ops.sigmoid"])
def test_final_squashing_op_on_request_explains_the_probability(kind: str, tmp_path: Path) -> None:
    _, squashed = _saved_pair(kind, tmp_path)
    images = _images()
    output = np.asarray(squashed(np.stack(images).astype(np.float32) / np.float32(255.0)), dtype=np.float64)
    squash = "sigmoid" if kind.endswith("sigmoid") else "softmax"
    for index, explanation in enumerate(explain(squashed, images, score="probability", targets=1, preprocess="scale01")):
        expected = np.array([1.0 - output[index, 0], output[index, 0]]) if squash == "sigmoid" else output[index]
        np.testing.assert_allclose(explanation.probabilities, expected, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(explanation.scores, explanation.probabilities, atol=1e-7)
        assert explanation.score_kind == f"probability (output of the final {squash})"


# -- a softmax the engine cannot see --------------------------------------------------------------------


def _subclassed(final: str) -> Any:
    """A subclassed model; ``final`` is "tf.nn.softmax" (hidden in call), "none", or "softmax_below_1"
    (a softmax only while every pixel is at most 1, as on the engine's own test inputs, logits otherwise)."""
    import keras
    import tensorflow as tf

    class HiddenSoftmaxNet(keras.Model):
        def __init__(self) -> None:
            super().__init__(name=f"subclassed_{final.replace('.', '_')}")
            self.features = keras.layers.Conv2D(6, 3, activation="relu", name="features")
            self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
            self.head = keras.layers.Dense(CLASSES, name="head")

        def logits(self, inputs: Any) -> Any:
            return self.head(self.pool(self.features(inputs)))

        def call(self, inputs: Any) -> Any:
            logits = self.logits(inputs)
            if final == "tf.nn.softmax":
                return tf.nn.softmax(logits)
            if final == "softmax_below_1":
                return tf.where(tf.reduce_max(inputs) <= 1.0, tf.nn.softmax(logits), logits)
            return logits

    keras.utils.set_random_seed(9)
    model = HiddenSoftmaxNet()
    model(np.zeros((1, SIZE, SIZE, 3), dtype=np.float32))
    return model


def _model_output(model: Any, images: list[np.ndarray], scale: float) -> np.ndarray:
    return np.asarray(model(np.stack(images).astype(np.float32) / np.float32(scale)), dtype=np.float64)


def test_hidden_softmax_is_reported_as_a_probability_and_not_softmaxed_again() -> None:
    model = _subclassed("tf.nn.softmax")
    images = _images()
    output = _model_output(model, images, 255.0)
    for index, explanation in enumerate(explain(model, images, preprocess="scale01")):
        np.testing.assert_allclose(explanation.probabilities, output[index], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(explanation.scores, output[index], rtol=1e-5, atol=1e-7)
        assert explanation.degenerate is None
        assert explanation.score_kind == "probability (the model's output is already a softmax; its logit cannot be reached)"
    (by_probability,) = explain(model, images[:1], score="probability", preprocess="scale01")
    assert by_probability.score_kind == "probability (the model's output is already a softmax)"
    np.testing.assert_allclose(by_probability.probabilities, output[0], rtol=1e-5, atol=1e-7)


def test_subclassed_logits_are_still_called_logits() -> None:
    model = _subclassed("none")
    images = _images()
    output = _model_output(model, images, 255.0)
    for index, explanation in enumerate(explain(model, images, preprocess="scale01")):
        assert explanation.score_kind == "logit (model output, no final softmax)"
        np.testing.assert_allclose(explanation.scores, output[index], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(explanation.probabilities, _softmax(output[index]), rtol=1e-5, atol=1e-6)


def test_an_output_that_is_a_distribution_only_on_the_test_inputs_is_judged_on_the_real_batch() -> None:
    """The engine's test inputs lie in [0, 1]; unscaled 0–255 pixels make this model return logits, and each
    batch's own output decides, so those logits are softmaxed and called logits."""
    model = _subclassed("softmax_below_1")
    images = _images()
    logits = _model_output(model, images, 1.0)
    assert np.any(logits < 0) or not np.allclose(logits.sum(axis=1), 1.0)  # premise: not a distribution
    for index, explanation in enumerate(explain(model, images, preprocess="none")):
        assert explanation.score_kind == "logit (model output, no final softmax)"
        np.testing.assert_allclose(explanation.probabilities, _softmax(logits[index]), rtol=1e-5, atol=1e-6)
    (scaled,) = explain(model, images[:1], preprocess="scale01")
    assert scaled.score_kind == "probability (the model's output is already a softmax; its logit cannot be reached)"
