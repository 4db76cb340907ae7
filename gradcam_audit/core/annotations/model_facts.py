"""What a model file says about how to audit it: classes, input, preprocessing and the layer Grad-CAM would read.

`gradcam-audit init --model` prints these facts and writes them, commented, into a first spec. Every finding says
why; what cannot be told from the model is said to be a guess, never presented as a fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradcam_audit.core.engine.layers import iter_layers
from gradcam_audit.errors import GradcamAuditError

# keras.applications families, recognised by layer names their builders always give (bare names, so a backbone
# nested in the user's model counts too). Checked in order: earlier entries are the more specific ones.
_FAMILY_SIGNATURES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (family, application, every pattern must match some layer name, no layer name may match these)
    ("xception", "Xception", (r"block\d+_sepconv\d+", r"block1_conv1"), ()),
    ("inception_resnet_v2", "InceptionResNetV2", (r"block35_\d+_mixed", r"conv_7b|block17_\d+_mixed"), ()),
    ("inception_v3", "InceptionV3", (r"mixed0", r"mixed1"), (r"block35_\d+_mixed",)),
    ("nasnet", "NASNetMobile / NASNetLarge", (r"stem_conv1", r"reduction_conv_1_stem_1"), ()),
    ("convnext", "ConvNeXt", (r"convnext_\w+_stem",), ()),
    ("efficientnet", "EfficientNetB0…B7", (r"stem_conv", r"block1a_dwconv", r"top_conv"), ()),
    ("efficientnet_v2", "EfficientNetV2", (r"stem_conv", r"block1a_project_conv", r"top_conv"), (r"block1a_dwconv",)),
    ("densenet", "DenseNet121 / 169 / 201", (r"conv2_block1_concat", r"pool2_conv"), ()),
    ("resnet_v2", "ResNet50V2 / 101V2 / 152V2", (r"conv2_block1_preact_bn", r"conv1_conv"), ()),
    ("resnet", "ResNet101 / ResNet152", (r"conv1_conv", r"conv2_block1_1_conv", r"conv4_block7_out"), (r"conv2_block1_concat",)),
    ("resnet50", "ResNet50", (r"conv1_conv", r"conv2_block1_1_conv"), (r"conv2_block1_concat", r"conv2_block1_preact_bn")),
    ("mobilenet_v3", "MobileNetV3Small / Large", (r"conv_bn", r"expanded_conv(_\d+)?_depthwise"), (r"bn_Conv1",)),
    ("mobilenet_v2", "MobileNetV2", (r"bn_Conv1", r"expanded_conv_depthwise"), ()),
    ("mobilenet", "MobileNet", (r"conv_dw_1", r"conv_pw_1"), ()),
    ("vgg19", "VGG19", (r"block1_conv1", r"block5_conv4"), (r"block\d+_sepconv\d+",)),
    ("vgg16", "VGG16", (r"block1_conv1", r"block5_conv3"), (r"block\d+_sepconv\d+", r"block5_conv4")),
)

# What each family's preprocess_input does to 0–255 RGB pixels.
_FAMILY_EFFECT = {
    **dict.fromkeys(("xception", "inception_resnet_v2", "inception_v3", "nasnet", "mobilenet", "mobilenet_v2", "resnet_v2"),
                    "scales pixels to −1…1"),
    **dict.fromkeys(("resnet", "resnet50", "vgg16", "vgg19"), "converts RGB to BGR and subtracts the ImageNet mean (caffe mode)"),
    "densenet": "scales to 0–1, then subtracts the ImageNet mean and divides by its std (torch mode)",
    **dict.fromkeys(("efficientnet", "efficientnet_v2", "mobilenet_v3", "convnext"),
                    "passes pixels through: the model rescales them itself"),
}
_PASS_THROUGH_FAMILIES = ("efficientnet", "efficientnet_v2", "mobilenet_v3", "convnext")
_NAME_ATTRIBUTES = ("class_names", "labels", "classes")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class ModelFactsError(GradcamAuditError, ValueError):
    """The model cannot be inspected (not loadable, or not an image classifier gradcam_audit can explain)."""


@dataclass(frozen=True)
class Finding:
    """One fact about the model: the value to write in the spec, whether it was found or guessed, and why."""

    value: str
    found: bool
    reason: str


@dataclass(frozen=True)
class ModelFacts:
    """What ``read_model_facts`` found. ``labels`` has one name per class (placeholders unless the model names them)."""

    model_name: str
    input_size: str  # "224×224×3", or "any×any×3" when the model takes any size
    labels: tuple[str, ...]
    labels_found: bool
    classes_reason: str
    preprocess: Finding
    layer: Finding
    notes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.labels)


def read_model_facts(path: Path) -> ModelFacts:
    """Load the model file (safe_mode on: no Lambda code runs) and inspect it.

    Raises:
        ModelFactsError: the file cannot be loaded, or its input is not a single image batch.
    """
    from gradcam_audit.core.run.models import load_model
    from gradcam_audit.core.spec.model import ModelRef
    from gradcam_audit.errors import ModelError

    try:
        model = load_model(ModelRef(path.resolve(), safe_mode=True))
    except ModelError as error:
        raise ModelFactsError(str(error)) from None
    return inspect_model(model)


def inspect_model(model: Any) -> ModelFacts:
    """The facts of a loaded Keras model (see ModelFacts).

    Raises:
        ModelFactsError: the model's input is not a single image batch.
    """
    from gradcam_audit.core.engine.explain import engine_for
    from gradcam_audit.core.run.models import single_image_input_problem
    from gradcam_audit.errors import ModelError

    problem = single_image_input_problem(model)
    if problem is not None:
        raise ModelFactsError(f"model {model.name!r}: {problem}")
    notes: list[str] = []
    try:
        # The engine's own rules, so init reports exactly the layer and class count an audit will use.
        engine = engine_for(model)
    except ModelError as error:
        raise ModelFactsError(f"model {model.name!r}: {error}") from None
    height, width, channels = engine.input_shape
    input_size = f"{height or 'any'}×{width or 'any'}×{channels}"
    num_classes = engine.num_classes or 2
    outputs = list(getattr(model, "outputs", None) or [])
    if len(outputs) > 1:
        notes.append(f"the model has {len(outputs)} outputs; the spec explains output 0 (set `output:` to choose another)")
    labels, labels_found, labels_source = _labels(model, num_classes)
    layer = Finding(engine.layer_choice.path, True, engine.layer_choice.reason)
    return ModelFacts(
        model_name=str(model.name),
        input_size=input_size,
        labels=labels,
        labels_found=labels_found,
        classes_reason=f"{_output_description(engine, outputs)}; names {labels_source}",
        preprocess=find_preprocess(model),
        layer=layer,
        notes=tuple(notes),
    )


def _output_description(engine: Any, outputs: list[Any]) -> str:
    units = int(outputs[engine.output_index].shape[-1]) if outputs and outputs[engine.output_index].shape[-1] is not None else None
    name = getattr(engine.output_layer, "name", None)
    where = f"output layer {name!r}" if name else "the model's output"
    squash = f", final {engine.squash}" if engine.squash else ", no final softmax (logits)"
    if units == 1:
        return f"{where}: one unit{squash}, read as two classes (class 0: output near 0, class 1: output near 1)"
    return f"{where}: {units if units is not None else engine.num_classes} units{squash}"


def _acceptable_names(candidate: Any, count: int) -> tuple[str, ...] | None:
    if isinstance(candidate, np.ndarray):
        candidate = candidate.tolist()
    if not isinstance(candidate, (list, tuple)) or len(candidate) != count:
        return None
    names = tuple(str(item) for item in candidate)
    if any(not name.strip() or _UNPRINTABLE.search(name) for name in names) or len(set(names)) != len(names):
        return None
    return names


def _labels(model: Any, count: int) -> tuple[tuple[str, ...], bool, str]:
    """(names, found in the model, where from): an attribute or config entry, an inverse StringLookup, else placeholders."""
    for attribute in _NAME_ATTRIBUTES:
        names = _acceptable_names(getattr(model, attribute, None), count)
        if names is not None:
            return names, True, f"from the model's `{attribute}` attribute"
    try:
        config = model.get_config()
    except Exception:  # noqa: BLE001 - a subclassed model without get_config: no names there
        config = None
    if isinstance(config, dict):
        for attribute in _NAME_ATTRIBUTES:
            names = _acceptable_names(config.get(attribute), count)
            if names is not None:
                return names, True, f"from the model's config entry `{attribute}`"
    for path, layer in iter_layers(model):
        if type(layer).__name__ == "StringLookup" and getattr(layer, "invert", False):
            vocabulary = list(layer.get_vocabulary())
            out_of_vocabulary = int(getattr(layer, "num_oov_indices", 0) or 0)
            for candidate in (vocabulary, vocabulary[out_of_vocabulary:]):
                names = _acceptable_names(candidate, count)
                if names is not None:
                    return names, True, f"from the vocabulary of its StringLookup layer {path!r}"
    placeholders = tuple(f"class_{index}" for index in range(count))
    return placeholders, False, "not in the model: placeholders, to be replaced by the class names in output order"


def find_preprocess(model: Any) -> Finding:
    """The spec's ``preprocess`` for ``model``: a keras.applications family its layer names match, ``none`` when it
    rescales or normalises its input itself, ``scale01`` when that in-model step expects 0–1 input, else a guess."""
    names = {path.rsplit("/", 1)[-1] for path, _ in iter_layers(model)}
    family = _family(names)
    own_step = _input_preprocessing(model)
    if family is not None:
        name, application, evidence = family
        reason = (f"layer names of keras.applications {application} ({', '.join(evidence)}); "
                  f"its preprocess_input {_FAMILY_EFFECT[name]}")
        if name in _PASS_THROUGH_FAMILIES and own_step is None:
            return Finding(name, False, reason + ", but this model has no Rescaling/Normalization layer at its input "
                           "(built with include_preprocessing=False?): give the scaling its training used instead")
        return Finding(name, True, reason)
    if own_step is not None:
        return own_step
    return Finding("scale01", False, "could not tell: no Rescaling or Normalization layer at the model's input and no "
                   "keras.applications layer names; scale01 (pixels ÷ 255) is a guess")


def _family(names: set[str]) -> tuple[str, str, list[str]] | None:
    for family, application, required, forbidden in _FAMILY_SIGNATURES:
        evidence = [next((name for name in sorted(names) if re.fullmatch(pattern, name)), None) for pattern in required]
        excluded = any(re.fullmatch(pattern, name) for pattern in forbidden for name in names)
        if all(evidence) and not excluded:
            return family, application, [name for name in evidence if name]
    return None


def _weights_count(layer: Any) -> int:
    try:
        return len(layer.weights)
    except (AttributeError, ValueError):
        return 0


def _input_preprocessing(model: Any) -> Finding | None:
    """A Rescaling or Normalization layer before the first layer with weights: the model scales its own input."""
    for path, layer in iter_layers(model):
        kind = type(layer).__name__
        if kind == "Rescaling":
            scale = float(np.max(np.abs(np.asarray(layer.scale, dtype=np.float64))))
            offset = np.asarray(layer.offset, dtype=np.float64).ravel().tolist()
            if scale > 10:  # it multiplies: its input is expected in 0–1
                return Finding("scale01", True, f"its Rescaling layer {path!r} multiplies its input by {scale:g}, so it "
                               "expects pixels in 0–1")
            return Finding("none", True, f"its Rescaling layer {path!r} (scale {scale:.6g}, offset "
                           f"{', '.join(f'{value:g}' for value in offset)}) scales 0–255 pixels itself")
        if kind == "Normalization":
            mean = np.asarray(getattr(layer, "mean", 0.0), dtype=np.float64).ravel()
            shown = ", ".join(f"{value:.3g}" for value in mean[:4])
            if mean.size and float(np.max(np.abs(mean))) <= 1.5:
                # A mean in 0–1 units was measured on (or copied for) images already divided by 255.
                return Finding("scale01", True, f"its Normalization layer {path!r} normalises the input itself, with a "
                               f"mean of {shown}: in 0–1 units, so it expects pixels divided by 255 first")
            return Finding("none", True, f"its Normalization layer {path!r} (mean {shown}) normalises 0–255 pixels itself")
        if _weights_count(layer) and not isinstance(getattr(layer, "layers", None), list):
            return None  # the first layer that computes something: any later rescaling is not the input's
    return None
