"""validate --deep runs the model on the cases and warns (never fails) when the predictions look wrong for the spec's
preprocess: a model with its own Rescaling layer given `preprocess: scale01` collapses to one class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gradcam_audit.core.prediction_hints import prediction_symptom
from gradcam_audit.core.validate import validate_paths
from tests.spec.helpers import write_spec

LABELS = ["red", "green", "blue", "dark", "bright"]
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}
STEEPNESS = 40.0


def colour_model(path: Path, rescale: float, feature_scale: float) -> Path:
    """A classifier whose class is decided by the scale of its input, saved and used from the file.

    After its own Rescaling(``rescale``) a 1×1 convolution (× ``feature_scale``) and the pooling give the mean R, G, B,
    in 0–1 when the input is scaled as the model expects. Then a pure colour scores its class (logit +20) above
    "dark" (0); scaled 255 times too small every colour logit is −20, so every image is "dark"; 255 times too large,
    "bright" (2·40·(R+G+B) − 120) outscores the colour.
    """
    import keras

    inputs = keras.Input((24, 24, 3))
    scaled = keras.layers.Rescaling(rescale, name="rescale")(inputs)
    features = keras.layers.Conv2D(3, 1, activation="relu", name="conv")(scaled)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    outputs = keras.layers.Dense(len(LABELS), activation="softmax", name="classes")(pooled)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([(np.eye(3) * feature_scale).astype(np.float32).reshape(1, 1, 3, 3), np.zeros(3, np.float32)])
    weights = np.zeros((3, len(LABELS)), np.float32)
    weights[:, :3] = np.eye(3) * STEEPNESS
    weights[:, 4] = 2 * STEEPNESS
    bias = np.array([-STEEPNESS / 2] * 3 + [0.0, -3 * STEEPNESS], np.float32)
    model.get_layer("classes").set_weights([weights, bias])
    model.save(path)
    return path


def colour_spec(root: Path, model: Path, preprocess: str) -> Path:
    """Six cases, two of each colour, each expecting its colour."""
    cases = []
    for number, (name, colour) in enumerate(list(COLOURS.items()) * 2):
        image = root / "images" / f"{name}-{number}.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 24), colour).save(image)
        cases.append(f"  - id: {name}-{number}\n    image: images/{image.name}\n    expect_class: {name}\n"
                     "    regions: [{name: all, box: [0, 0, 32, 24], min_mass: 0.5}]\n")
    return write_spec(root, f"model: {model.name}\npreprocess: {preprocess}\nlabels: [{', '.join(LABELS)}]\ncases:\n" + "".join(cases),
                      name=f"colours-{preprocess}.yaml")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("colour-models")
    colour_model(root / "rescales_itself.keras", 1 / 255, 1.0)  # takes 0–255 pixels
    colour_model(root / "expects_0_1.keras", 255.0, 1 / 255)  # takes 0–1 pixels
    return root


def test_a_model_that_rescales_itself_given_scale01_collapses_and_the_hint_names_preprocess_none(models: Path) -> None:
    spec = colour_spec(models, models / "rescales_itself.keras", "scale01")
    report = validate_paths([spec], deep=True)
    assert report.ok and report.problems == ()  # a warning, not a problem
    assert len(report.hints) == 1
    hint = report.hints[0]
    assert hint.file.endswith("colours-scale01.yaml")
    assert "all 6 cases predicted 'dark' with p≈1.00, while their expect_class / target name 3 classes" in hint.message
    assert "preprocess: scale01 (resize_filter: bilinear)" in hint.message
    assert "its Rescaling layer 'rescale'" in hint.message and "scales the pixels twice: use `preprocess: none`" in hint.message
    assert "docs/your-model.md" in hint.message
    assert report.summary().startswith("ok: 1 spec file(s), 6 case(s), no problems") and "1 warning" in report.summary()


def test_the_same_model_given_preprocess_none_gets_no_hint(models: Path) -> None:
    report = validate_paths([colour_spec(models, models / "rescales_itself.keras", "none")], deep=True)
    assert report.ok and report.hints == ()
    assert "warning" not in report.summary()


def test_the_hint_names_what_init_would_choose(models: Path) -> None:
    """A model that multiplies its input by 255 given 0–255 pixels: every image is "bright"; init would say scale01."""
    report = validate_paths([colour_spec(models, models / "expects_0_1.keras", "none")], deep=True)
    assert report.ok and len(report.hints) == 1
    message = report.hints[0].message
    assert "all 6 cases predicted 'bright'" in message and "preprocess: none" in message
    assert "`gradcam-audit init --model` would choose `preprocess: scale01` (found: its Rescaling layer 'rescale' multiplies" in message
    assert validate_paths([colour_spec(models, models / "expects_0_1.keras", "scale01")], deep=True).hints == ()


def test_the_symptoms_in_words() -> None:
    ids = ["a", "b", "c", "d"]
    uniform = np.array([[0.3, 0.35, 0.35], [0.34, 0.33, 0.33], [0.9, 0.05, 0.05], [0.4, 0.3, 0.3]])
    assert prediction_symptom(uniform, ids, [(0,)] * 4, [None] * 4, None) == (
        "the model is unsure on 3 of 4 cases: the top probability is below 0.50 (1.5 ÷ 3 classes), close to a uniform guess")
    confident = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.9, 0.05, 0.05]])
    labels = ["cat", "dog", "bird"]
    assert prediction_symptom(confident, ids, [(1,), (0,), (1,), (0,)], [1, 0, 1, 0], labels) == (
        "the prediction differs from expect_class on 3 of 4 cases (e.g. a: expected 'dog', predicted 'cat' with p=0.90)")
    assert prediction_symptom(confident, ids, [(0,), (1,), (2,), (0,)], [0, 1, 2, 0], labels) is None
    # Too few cases to say anything about the model; one class named: predicting it every time is right.
    assert prediction_symptom(confident[:2], ids[:2], [(1,), (0,)], [1, 0], labels) is None
    same = np.array([[0.9, 0.1]] * 4)
    assert prediction_symptom(same, ids, [(0,)] * 4, [0] * 4, None) is None
    assert prediction_symptom(same, ids, [(0,), (1,), (0,), (0,)], [None] * 4, None) == (
        "all 4 cases predicted 'class 0' with p≈0.90, while their expect_class / target name 2 classes")
