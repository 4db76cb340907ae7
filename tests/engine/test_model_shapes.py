"""The engine on every model shape users bring: fresh and reloaded, Functional, Sequential, nested, subclassed,
multi-output, final softmax/sigmoid, and the targets/outputs/layers they name (right and wrong)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.errors import ModelError

SIZE = 32


def _images(count: int = 2, size: int = SIZE, seed: int = 0) -> list[np.ndarray]:
    generator = np.random.default_rng(seed)
    return [generator.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


def _assert_usable(explanation: Any) -> None:
    """A finite, non-zero map and no degenerate reason."""
    assert explanation.degenerate is None, explanation.degenerate
    assert np.all(np.isfinite(explanation.heatmap_full))
    assert explanation.heatmap.max() > 0


def _functional(final_activation: str | None = "softmax", units: int = 3) -> Any:
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    hidden = keras.layers.Conv2D(6, 3, activation="relu", name="conv1")(inputs)
    features = keras.layers.Conv2D(8, 3, activation="relu", name="features")(hidden)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    outputs = keras.layers.Dense(units, activation=final_activation, name="head")(pooled)
    return keras.Model(inputs, outputs, name="functional_net")


def _sequential() -> Any:
    import keras

    keras.utils.set_random_seed(5)
    return keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv1"),
            keras.layers.Conv2D(8, 3, activation="relu", name="features"),
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ],
        name="sequential_net",
    )


def _reload(model: Any, path: Path) -> Any:
    import keras

    model.save(path)
    return keras.saving.load_model(path, compile=False)


def _classic_recipe_gradient(model: Any, image: np.ndarray) -> Any:
    """The sub-model recipe most Grad-CAM tutorials use (Keras docs' "Grad-CAM class activation visualization")."""
    import keras
    import tensorflow as tf

    sub_model = keras.Model(model.layers[0].input, [model.get_layer("features").output, model.layers[-1].output])
    with tf.GradientTape() as tape:
        activations, predictions = sub_model(image[np.newaxis].astype(np.float32))
        score = predictions[:, 0]
    return tape.gradient(score, activations)


# -- Functional and Sequential, fresh and reloaded ------------------------------------------------


@pytest.mark.parametrize("fmt", ["fresh", "keras"])
def test_functional_model(fmt: str, tmp_path: Path) -> None:
    fresh = _functional()
    model = fresh if fmt == "fresh" else _reload(fresh, tmp_path / "model.keras")
    explanations = explain(model, _images())
    assert [e.layer for e in explanations] == ["features", "features"]
    for explanation, reference in zip(explanations, explain(fresh, _images()), strict=True):
        _assert_usable(explanation)
        np.testing.assert_allclose(explanation.heatmap, reference.heatmap, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fmt", ["fresh", "keras", "h5"])
def test_sequential_model_gives_the_same_map_fresh_and_reloaded(fmt: str, tmp_path: Path) -> None:
    fresh = _sequential()
    model = fresh if fmt == "fresh" else _reload(fresh, tmp_path / f"model.{fmt}")
    explanations = explain(model, _images())
    for explanation, reference in zip(explanations, explain(fresh, _images()), strict=True):
        assert explanation.layer == "features"
        _assert_usable(explanation)
        np.testing.assert_allclose(explanation.heatmap, reference.heatmap, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_classic_recipe_loses_the_gradient_on_a_reloaded_sequential(fmt: str, tmp_path: Path) -> None:
    """Why the engine captures during the model's own forward pass: on a reloaded Sequential the sub-model
    recipe silently returns a None gradient (Keras 3.15), while on the fresh model it works."""
    image = _images(1)[0]
    fresh = _sequential()
    assert _classic_recipe_gradient(fresh, image) is not None
    reloaded = _reload(fresh, tmp_path / f"model.{fmt}")
    assert _classic_recipe_gradient(reloaded, image) is None
    _assert_usable(explain(reloaded, [image])[0])


# -- nested backbone --------------------------------------------------------------------------------


def test_nested_backbone_auto_layer_is_the_backbones_last_feature_map(nested_mobilenet: Any) -> None:
    explanations = explain(nested_mobilenet, _images(2, size=96))
    for explanation in explanations:
        assert explanation.layer == "mobilenetv2_1.00_96/out_relu"
        assert explanation.heatmap.shape == (3, 3)
        assert np.all(np.isfinite(explanation.heatmap_full))
    assert any(explanation.degenerate is None for explanation in explanations)


@pytest.mark.parametrize("layer", ["mobilenetv2_1.00_96/block_13_expand_relu", "block_13_expand_relu"])
def test_nested_backbone_named_layer_by_path_or_bare_name(nested_mobilenet: Any, layer: str) -> None:
    (explanation,) = explain(nested_mobilenet, _images(1, size=96), layer=layer)
    assert explanation.layer == "mobilenetv2_1.00_96/block_13_expand_relu"
    assert explanation.heatmap.shape == (6, 6)
    assert np.all(np.isfinite(explanation.heatmap))
    assert explanation.heatmap.max() > 0


# -- subclassed -------------------------------------------------------------------------------------


def test_subclassed_model() -> None:
    import keras

    class TinyNet(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="tiny_net")
            self.features = keras.layers.Conv2D(6, 3, activation="relu", name="features")
            self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
            self.head = keras.layers.Dense(3, name="head")

        def call(self, inputs: Any) -> Any:
            return self.head(self.pool(self.features(inputs)))

    keras.utils.set_random_seed(5)
    model = TinyNet()
    model(np.zeros((1, SIZE, SIZE, 3), dtype=np.float32))
    explanations = explain(model, _images())
    for explanation in explanations:
        assert explanation.layer == "features"
        assert "no graph" in explanation.layer_reason
        _assert_usable(explanation)


# -- multi-output -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_headed() -> Any:
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    features = keras.layers.Conv2D(8, 3, activation="relu", name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    species = keras.layers.Dense(3, activation="softmax", name="species")(pooled)
    is_pet = keras.layers.Dense(1, activation="sigmoid", name="is_pet")(pooled)
    return keras.Model(inputs, [species, is_pet], name="two_headed")


@pytest.mark.parametrize(("output", "num_scores"), [(0, 3), ("species", 3), (1, 2), ("is_pet", 2)])
def test_multi_output_picks_the_output_by_index_or_name(two_headed: Any, output: str | int, num_scores: int) -> None:
    (explanation,) = explain(two_headed, _images(1), output=output)
    assert explanation.scores.shape == (num_scores,)
    squash = "softmax" if num_scores == 3 else "sigmoid"
    assert explanation.score_kind == f"logit (input of the final {squash})"
    _assert_usable(explanation)


@pytest.mark.parametrize("output", ["is_cat", 2])
def test_multi_output_unknown_output_is_a_model_error(two_headed: Any, output: str | int) -> None:
    with pytest.raises(ModelError, match="output"):
        explain(two_headed, _images(1), output=output)


# -- final squashing: logits by default, probabilities on request ------------------------------------


def _pre_activation_logits(model: Any, image: np.ndarray) -> np.ndarray:
    import keras

    scaled = image[np.newaxis].astype(np.float32) / np.float32(255.0)
    pooled = keras.Model(model.inputs, model.get_layer("pool").output)(scaled)
    kernel, bias = model.get_layer("head").get_weights()
    return np.asarray(pooled)[0] @ kernel + bias


def test_final_softmax_explains_the_logit_by_default_and_says_so() -> None:
    model = _functional("softmax")
    image = _images(1)[0]
    (by_logit,) = explain(model, [image], preprocess="scale01")
    (by_probability,) = explain(model, [image], score="probability", preprocess="scale01")
    logits = _pre_activation_logits(model, image)
    assert by_logit.score_kind == "logit (input of the final softmax)"
    np.testing.assert_allclose(by_logit.scores, logits, atol=1e-5)
    np.testing.assert_allclose(by_logit.probabilities, np.exp(logits) / np.exp(logits).sum(), atol=1e-6)
    assert by_probability.score_kind == "probability (output of the final softmax)"
    np.testing.assert_allclose(by_probability.scores, by_probability.probabilities, atol=1e-7)
    # The probability's gradient goes through the softmax Jacobian, so the maps differ.
    assert not np.allclose(by_logit.heatmap / by_logit.heatmap.max(), by_probability.heatmap / max(by_probability.heatmap.max(), 1e-12))


def test_final_sigmoid_is_two_classes_explained_by_its_logit() -> None:
    model = _functional("sigmoid", units=1)
    image = _images(1)[0]
    (explanation,) = explain(model, [image], targets=1, preprocess="scale01")
    logit = float(_pre_activation_logits(model, image)[0])
    assert explanation.score_kind == "logit (input of the final sigmoid)"
    np.testing.assert_allclose(explanation.scores, [-logit, logit], atol=1e-5)
    probability = 1.0 / (1.0 + np.exp(-logit))
    np.testing.assert_allclose(explanation.probabilities, [1 - probability, probability], atol=1e-6)
    (negative,) = explain(model, [image], targets=0, preprocess="scale01")
    # The negative class's gradient is the positive's with the sign flipped: the raw maps are opposite.
    assert not np.allclose(negative.heatmap, explanation.heatmap)
    (probability_score,) = explain(model, [image], targets=1, score="probability", preprocess="scale01")
    assert probability_score.score_kind == "probability (output of the final sigmoid)"


# -- targets --------------------------------------------------------------------------------------------


LABELS = ["ant", "bee", "cat"]


def test_targets_none_int_name_and_per_image_list() -> None:
    model = _functional()
    images = _images(3)
    predicted = [e.predicted_index for e in explain(model, images)]
    assert [e.target_index for e in explain(model, images)] == predicted
    assert [e.target_index for e in explain(model, images, targets=2)] == [2, 2, 2]
    assert [e.target_index for e in explain(model, images, targets="bee", labels=LABELS)] == [1, 1, 1]
    mixed = explain(model, images, targets=[0, "cat", None], labels=LABELS)
    assert [e.target_index for e in mixed] == [0, 2, predicted[2]]
    # Different targets give different maps (the target really reaches the gradient).
    by_target = [explain(model, images[:1], targets=target)[0].heatmap for target in range(3)]
    assert not np.allclose(by_target[0], by_target[1]) or not np.allclose(by_target[1], by_target[2])


def test_target_list_of_the_wrong_length_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="got 2 targets for 3 images"):
        explain(_functional(), _images(3), targets=[0, 1])


def test_out_of_range_target_names_the_class_count() -> None:
    with pytest.raises(ModelError, match=r"target class 7 is out of range: the model's output has 3 classes \(0\.\.2\)"):
        explain(_functional(), _images(1), targets=7)


def test_unknown_class_name_suggests_the_closest_label() -> None:
    with pytest.raises(ModelError, match="did you mean 'cat'"):
        explain(_functional(), _images(1), targets="cta", labels=LABELS)


def test_unknown_layer_lists_candidates_and_the_closest_match() -> None:
    with pytest.raises(ModelError) as raised:
        explain(_functional(), _images(1), layer="featurs")
    message = str(raised.value)
    assert "has no layer 'featurs'" in message
    assert "Did you mean 'features'?" in message
    assert "features, conv1" in message  # spatial candidates, latest first


# -- a layer with no trainable weight before it ---------------------------------------------------------


@pytest.mark.parametrize("layer_kind", ["average_pooling", "activation"])
def test_parameter_free_layer_on_the_input_still_gets_gradients(layer_kind: str) -> None:
    """A GradientTape records only ops fed by a watched tensor or a trainable variable: a pooling or
    activation layer right on the input has neither, so unless the engine watches the captured output the
    gradient is None and the heatmap silently comes out all-zero."""
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    if layer_kind == "average_pooling":
        features = keras.layers.AveragePooling2D(4, name="features")(inputs)
    else:
        features = keras.layers.Activation("relu", name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(pooled), name="parameter_free")
    for explanation in explain(model, _images(), layer="features", method="hirescam"):
        _assert_usable(explanation)
