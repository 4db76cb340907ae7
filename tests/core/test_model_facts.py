"""What `init --model` reads from a model: class count and names, preprocessing, the auto layer, each with why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.annotations.model_facts import ModelFactsError, find_preprocess, inspect_model, read_model_facts


def _head(features: Any, units: int, activation: str = "softmax") -> Any:
    import keras

    return keras.layers.Dense(units, activation=activation, name="predictions")(keras.layers.GlobalAveragePooling2D()(features))


def _saved(model: Any, path: Path) -> Path:
    model.save(path)
    return path


def test_a_saved_sequential_model_that_rescales_its_input_needs_no_preprocessing(tmp_path: Path) -> None:
    import keras

    model = keras.Sequential([keras.Input((40, 30, 3)), keras.layers.Rescaling(1 / 127.5, offset=-1, name="to_unit_range"),
                              keras.layers.Conv2D(6, 3, name="features"), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")], name="sequential_classifier")
    facts = read_model_facts(_saved(model, tmp_path / "sequential.keras"))
    assert (facts.preprocess.value, facts.preprocess.found) == ("none", True)
    assert "to_unit_range" in facts.preprocess.reason and "offset -1" in facts.preprocess.reason
    assert facts.input_size == "40×30×3" and facts.labels == ("class_0", "class_1", "class_2") and not facts.labels_found
    assert facts.layer.value == "features" and facts.layer.reason.startswith("auto: last layer")


def test_a_normalization_layer_at_the_input_decides_by_the_units_of_its_mean(tmp_path: Path) -> None:
    import keras

    def model_with(normalization: Any) -> Any:
        inputs = keras.Input((16, 16, 3))
        return keras.Model(inputs, _head(keras.layers.Conv2D(4, 3)(normalization(inputs)), 4))

    adapted = keras.layers.Normalization(name="pixel_statistics")
    adapted.adapt(np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3)).astype("float32"))
    on_raw_pixels = read_model_facts(_saved(model_with(adapted), tmp_path / "raw.keras")).preprocess
    assert (on_raw_pixels.value, on_raw_pixels.found) == ("none", True) and "pixel_statistics" in on_raw_pixels.reason
    # ImageNet's statistics in 0–1 units: the model expects pixels divided by 255 before its Normalization.
    imagenet = keras.layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.052, 0.050, 0.051], name="imagenet_statistics")
    on_unit_pixels = read_model_facts(_saved(model_with(imagenet), tmp_path / "unit.keras")).preprocess
    assert (on_unit_pixels.value, on_unit_pixels.found) == ("scale01", True) and "0–1 units" in on_unit_pixels.reason


def test_a_single_sigmoid_unit_is_two_classes(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((24, 24, 3))
    model = keras.Model(inputs, _head(keras.layers.Conv2D(4, 3, name="conv")(keras.layers.Rescaling(1 / 255)(inputs)), 1, "sigmoid"))
    facts = read_model_facts(_saved(model, tmp_path / "binary.keras"))
    assert facts.labels == ("class_0", "class_1")
    assert "one unit" in facts.classes_reason and "sigmoid" in facts.classes_reason


def test_a_keras_applications_backbone_nested_in_the_users_model_names_its_family(tmp_path: Path) -> None:
    import keras

    backbone = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(64, 64, 3))
    inputs = keras.Input((64, 64, 3))
    model = keras.Model(inputs, _head(backbone(inputs), 6), name="kitchen")
    facts = read_model_facts(_saved(model, tmp_path / "kitchen.keras"))
    assert (facts.preprocess.value, facts.preprocess.found) == ("mobilenet_v2", True)
    # The engine's own choice, with the nested path an audit uses (its last layer, 2×2, is spatial at 64 px).
    assert facts.layer.value == f"{backbone.name}/out_relu" and "2×2×1280" in facts.layer.reason
    assert facts.num_classes == 6


def test_class_names_the_model_carries_become_the_labels() -> None:
    import keras

    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, _head(keras.layers.Conv2D(4, 3)(inputs), 3))
    model.class_names = ["cup", "fork", "glass"]
    facts = inspect_model(model)
    assert facts.labels == ("cup", "fork", "glass") and facts.labels_found
    assert "class_names" in facts.classes_reason
    model.class_names = ["cup", "fork"]  # not one per output: not the model's class names
    assert inspect_model(model).labels == ("class_0", "class_1", "class_2")



@pytest.mark.parametrize(("family", "builder", "size"), [
    ("xception", "Xception", 71), ("resnet50", "ResNet50", 32), ("vgg16", "VGG16", 32), ("efficientnet", "EfficientNetB0", 32),
    ("densenet", "DenseNet121", 32), ("resnet_v2", "ResNet50V2", 32),
])
def test_keras_applications_models_are_recognised_by_their_layer_names(family: str, builder: str, size: int) -> None:
    import keras

    model = getattr(keras.applications, builder)(weights=None, input_shape=(size, size, 3), classes=3)
    finding = find_preprocess(model)
    assert (finding.value, finding.found) == (family, True), finding.reason


def test_a_model_with_several_inputs_is_refused_with_why() -> None:
    import keras

    first, second = keras.Input((16, 16, 3)), keras.Input((16, 16, 3))
    model = keras.Model([first, second], _head(keras.layers.Conv2D(4, 3)(keras.layers.Add()([first, second])), 2))
    with pytest.raises(ModelFactsError, match="2 inputs"):
        inspect_model(model)


def test_the_first_spec_wraps_many_labels_and_writes_odd_names_through_the_yaml_emitter() -> None:
    import yaml

    from gradcam_audit.core.annotations.first_spec import render_first_spec
    from gradcam_audit.core.annotations.model_facts import Finding, ModelFacts

    names = ("a: b", "#hash", "it's", "[x]", "yes", "12", *(f"class_{index}" for index in range(6, 300)))
    facts = ModelFacts(model_name="odd: 'name'\nsecond line", input_size="224×224×3", labels=names, labels_found=True,
                       classes_reason="output layer 'predictions': 300 units, final softmax",
                       preprocess=Finding("xception", True, "layer names of keras.applications Xception"),
                       layer=Finding("block14_sepconv2_act", True, "auto: last layer"), notes=())
    text = render_first_spec("../models/a #b: c.keras", facts)
    spec = yaml.safe_load(text)
    assert tuple(spec["labels"]) == names
    assert spec["model"] == "../models/a #b: c.keras" and spec["preprocess"] == "xception"
    assert spec["cases"][0]["target"] == "a: b"
    assert max(len(line) for line in text.splitlines() if line.startswith(("labels", "  "))) <= 120
    # A newline in a model-supplied name stays inside its comment line.
    assert "second line" not in spec and "\\nsecond line" in text


def test_the_vocabulary_of_an_inverse_string_lookup_becomes_the_labels(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((16, 16, 3))
    probabilities = _head(keras.layers.Conv2D(4, 3, name="conv")(keras.layers.Rescaling(1 / 255)(inputs)), 3)
    # A model that also outputs the predicted class's name: its StringLookup holds the names in output order.
    lookup = keras.layers.StringLookup(vocabulary=["cup", "fork", "glass"], invert=True, name="class_names")
    model = keras.Model(inputs, [probabilities, lookup(keras.ops.argmax(probabilities, axis=-1))])
    facts = read_model_facts(_saved(model, tmp_path / "named.keras"))
    assert facts.labels == ("cup", "fork", "glass") and facts.labels_found  # the out-of-vocabulary token is not a class
    assert "StringLookup layer 'class_names'" in facts.classes_reason
    assert any("2 outputs" in note for note in facts.notes)
