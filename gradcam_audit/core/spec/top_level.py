"""Parsing the spec's top-level fields: model, preprocess, labels, method, layer, output, gate and `defaults:`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gradcam_audit.core.engine.methods import METHOD_NAMES
from gradcam_audit.core.engine.method_names import BOX_FORMATS, PREPROCESS_BUILTINS, PREPROCESS_FAMILIES
from gradcam_audit.core.evaluate.removal import REMOVAL_MODES
from gradcam_audit.core.spec.baseline_keys import parse_baseline
from gradcam_audit.core.spec.faithfulness_keys import read_faithfulness
from gradcam_audit.core.evaluate.metrics import REGION_METRICS
from gradcam_audit.core.spec.checks import (
    ProblemCollector,
    as_finite_number,
    check_keys,
    describe_value,
    read_boolean,
    read_choice,
    read_number,
    read_reason,
    read_spec_key,
    read_tags,
)
from gradcam_audit.core.spec.fields import (
    CALLABLE_PATTERN,
    GATE_FIELDS,
    MODEL_FIELDS,
    PREPROCESS_AFFINE_FIELDS,
    defaults_fields,
    names,
)
from gradcam_audit.core.spec.limits import LIMIT_SETTING_FIX, read_bounded_text, spec_bytes_fix
from gradcam_audit.core.spec.model import DEFAULT_TRANSPLANT_PAIRS, Gate, ModelRef, Preprocess
from gradcam_audit.core.spec.paths import resolve_path
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.core.spec.task import read_match_iou
from gradcam_audit.core.spec.yaml_lines import LocatedDict
from gradcam_audit.errors import InputTooLargeError, LimitSettingError

_CALLABLE_HINT = "'package.module:function'"
_CALLABLE = re.compile(CALLABLE_PATTERN)


def parse_defaults(container: LocatedDict, collector: ProblemCollector, task: str | None = None) -> dict[str, Any]:
    """Validate a `defaults:` mapping; returns only the valid values (the invalid ones are reported).

    ``task``: the spec's task, for the keys only one task reads (`match_iou`); None when not known (a directory's
    `_defaults.yaml` checked on its own).
    """
    if "defaults" not in container or container["defaults"] is None:
        return {}
    mapping = container["defaults"]
    if not isinstance(mapping, LocatedDict):
        collector.add(container, "defaults", "defaults", f"expected a mapping such as {{min_lift: 1.2}}, got {describe_value(mapping)}",
                      "indent the default values under `defaults:`")
        return {}
    check_keys(mapping, names(defaults_fields()), "defaults.", collector)
    values: dict[str, Any] = {}
    for key in REGION_METRICS.spec_keys():  # every registered region metric's keys, as it declares them
        value = read_spec_key(mapping, key, f"defaults.{key.name}", collector)
        if value is not None:
            values[key.name] = value
    if "box_format" in mapping:
        values["box_format"] = read_choice(mapping, "box_format", "defaults.box_format", BOX_FORMATS, collector, "xyxy")
    if "normalized" in mapping:
        values["normalized"] = read_boolean(mapping, "normalized", "defaults.normalized", collector, False)
    if "removal" in mapping:
        values["removal"] = read_choice(mapping, "removal", "defaults.removal", REMOVAL_MODES, collector, REMOVAL_MODES[0])
    values.update(read_faithfulness(mapping, "defaults.", collector))
    reason = read_reason(mapping, "xfail", "defaults.xfail", collector)
    if reason is not None:
        values["xfail"] = reason
    values["tags"] = read_tags(mapping, "defaults.tags", collector)
    if "baseline" in mapping:
        values["baseline"] = parse_baseline(mapping, "defaults.baseline", collector)
    match_iou = read_match_iou(mapping, "defaults.match_iou", task, collector)
    if match_iou is not None:
        values["match_iou"] = match_iou
    return values


def parse_model(data: LocatedDict, spec_dir: Path, collector: ProblemCollector) -> ModelRef | None:
    if "model" not in data:
        collector.add(data, "model", "model", "required key 'model' is missing",
                      "add `model: path/to/model.keras` (relative to this file)")
        return None
    value = data["model"]
    loader: str | None = None
    safe_mode = True
    if isinstance(value, LocatedDict):
        check_keys(value, names(MODEL_FIELDS), "model.", collector)
        raw_loader = value.get("loader")
        safe_mode = read_boolean(value, "safe_mode", "model.safe_mode", collector, True)
        if raw_loader is not None:
            if isinstance(raw_loader, str) and _CALLABLE.match(raw_loader):
                loader = raw_loader
            else:
                collector.add(value, "loader", "model.loader", f"expected {_CALLABLE_HINT}, got {describe_value(raw_loader)}",
                              "e.g. loader: my_project.models:load_model (a function taking the path, returning a keras.Model)")
                return None
        path_value = value.get("path")
        if not isinstance(path_value, str) or not path_value:
            collector.add(value, "path", "model.path", f"expected a file path, got {describe_value(path_value)}",
                          "add `path: path/to/model.keras` (relative to this file)")
            return None
        container, key = value, "path"
    elif isinstance(value, str) and value:
        path_value, container, key = value, data, "model"
    else:
        collector.add(data, "model", "model", f"expected a path or {{path: ..., loader: ...}}, got {describe_value(value)}",
                      "write `model: path/to/model.keras` (relative to this file)")
        return None
    model_path = resolve_path(spec_dir, path_value)
    if model_path is None:
        collector.add(container, key, "model", f"invalid path {describe_value(path_value)}", "remove control characters from the path")
        return None
    if loader is None and not model_path.exists():
        collector.add(container, key, "model", f"model file not found: {model_path}",
                      "model paths are relative to the spec file; check the name and the folder")
        return None
    if loader is None and model_path.is_dir():
        collector.add(
            container,
            key,
            "model",
            f"{model_path} is a directory (a TensorFlow SavedModel?): Keras 3 cannot reach its layers for Grad-CAM",
            "save the model as .keras (model.save('m.keras')) or give {path: ..., loader: 'package.module:function'}",
        )
        return None
    if loader is None and model_path.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        collector.add(container, key, "model", f"unsupported model file type {model_path.suffix!r} (expected .keras or .h5)",
                      "use a .keras or .h5 file, or give a custom loader")
        return None
    return ModelRef(path=model_path, loader=loader, safe_mode=safe_mode)


def parse_preprocess(data: LocatedDict, collector: ProblemCollector) -> Preprocess:
    if "preprocess" not in data:
        return Preprocess("builtin", "none")
    value = data["preprocess"]
    choices = (*PREPROCESS_BUILTINS, *PREPROCESS_FAMILIES)
    fix = f"use one of: {listing(choices, 20)}; or {{scale, mean, std}}; or {_CALLABLE_HINT}"
    if isinstance(value, str):
        if value in PREPROCESS_BUILTINS:
            return Preprocess("builtin", value)
        if value in PREPROCESS_FAMILIES:
            return Preprocess("family", value)
        if _CALLABLE.match(value):
            return Preprocess("callable", value)
        collector.add(data, "preprocess", "preprocess", f"unknown preprocessing {describe_value(value)}{did_you_mean(value, choices)}", fix)
        return Preprocess("builtin", "none")
    if isinstance(value, LocatedDict):
        check_keys(value, names(PREPROCESS_AFFINE_FIELDS), "preprocess.", collector)
        scale = read_number(value, "scale", "preprocess.scale", collector, positive=True) or 1.0
        vectors: dict[str, tuple[float, ...]] = {}
        for key in ("mean", "std"):
            raw = value.get(key, [])
            numbers = [as_finite_number(item) for item in raw] if isinstance(raw, list) else None
            if numbers is None or any(number is None for number in numbers):
                collector.add(value, key, f"preprocess.{key}", f"expected a list of finite numbers, got {describe_value(raw)}",
                              f"one value per channel, e.g. {key}: [0.5, 0.5, 0.5]")
                numbers = []
            vectors[key] = tuple(float(number) for number in numbers if number is not None)
        if any(number == 0 for number in vectors["std"]):
            collector.add(value, "std", "preprocess.std", f"got {list(vectors['std'])}: a std of 0 would divide by zero",
                          "use the dataset's standard deviation per channel, e.g. [0.229, 0.224, 0.225]")
        return Preprocess("affine", "affine", scale=scale, mean=vectors["mean"], std=vectors["std"])
    collector.add(data, "preprocess", "preprocess", f"expected a name or {{scale, mean, std}}, got {describe_value(value)}", fix)
    return Preprocess("builtin", "none")


def parse_labels(data: LocatedDict, spec_dir: Path, collector: ProblemCollector) -> tuple[str, ...] | None:
    if "labels" not in data or data["labels"] is None:
        return None
    value = data["labels"]
    fix = "give a list [a, b, ...] in output order, or a text file (relative to the spec) with one class name per line"
    if isinstance(value, list):
        if not all(isinstance(item, (str, int)) and not isinstance(item, bool) for item in value):
            collector.add(data, "labels", "labels", f"expected class names (text), got {describe_value(value)}", fix)
            return None
        labels = [str(item) for item in value]
    elif isinstance(value, str) and value:
        labels_path = resolve_path(spec_dir, value)
        if labels_path is None or not labels_path.is_file():
            collector.add(data, "labels", "labels", f"labels file not found: {labels_path or value}", fix)
            return None
        try:
            text = read_bounded_text(labels_path, "labels file")
        except InputTooLargeError as error:
            collector.add(data, "labels", "labels", f"{labels_path}: {error}", spec_bytes_fix())
            return None
        except LimitSettingError as error:
            collector.add(data, "labels", "labels", str(error), LIMIT_SETTING_FIX)
            return None
        except (OSError, UnicodeDecodeError) as error:
            collector.add(data, "labels", "labels", f"cannot read labels file {labels_path} ({error})", "save it as UTF-8 text")
            return None
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        collector.add(data, "labels", "labels", f"expected a list of class names or a file path, got {describe_value(value)}", fix)
        return None
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        collector.add(data, "labels", "labels", f"duplicate class names: {', '.join(duplicates)}",
                      "each class name must appear once, in the model's output order")
    if not labels:
        collector.add(data, "labels", "labels", "the list of labels is empty", fix)
        return None
    return tuple(labels)


def parse_methods(data: LocatedDict, collector: ProblemCollector) -> tuple[str, ...]:
    value = data.get("method", "gradcam")
    fix = f"use one of: {listing(METHOD_NAMES)}"
    if isinstance(value, list) and not value:
        collector.add(data, "method", "method", "got an empty list of methods", fix)
    values = value if isinstance(value, list) else [value]
    methods: list[str] = []
    for index, method in enumerate(values):
        if not isinstance(method, str) or method.lower() not in METHOD_NAMES:
            container, key = (value, index) if isinstance(value, list) else (data, "method")
            field = f"method[{index}]" if isinstance(value, list) else "method"
            collector.add(container, key, field, f"unknown method {describe_value(method)}{did_you_mean(str(method), METHOD_NAMES)}", fix)
            continue
        if method.lower() not in methods:
            methods.append(method.lower())
    return tuple(methods) or ("gradcam",)


def parse_gate(data: LocatedDict, collector: ProblemCollector) -> Gate | None:
    if "gate" not in data or data["gate"] is None:
        return None
    value = data["gate"]
    if not isinstance(value, LocatedDict):
        collector.add(data, "gate", "gate", f"expected a mapping such as {{min_pass_rate: 0.9}}, got {describe_value(value)}",
                      "indent the gate's thresholds under `gate:`")
        return None
    check_keys(value, names(GATE_FIELDS), "gate.", collector)
    transplant = value.get("transplant")
    if transplant is not None and (not isinstance(transplant, (str, int)) or isinstance(transplant, bool) or str(transplant) == ""):
        collector.add(value, "transplant", "gate.transplant", f"expected the name of a region, got {describe_value(transplant)}",
                      "write transplant: corner-tag (a region every case has)")
        transplant = None
    flip_rate = read_number(value, "max_transplant_flip_rate", "gate.max_transplant_flip_rate", collector, fraction=True)
    if (transplant is None) != (flip_rate is None) and not collector_has(collector, "gate.transplant", "gate.max_transplant_flip_rate"):
        present, missing = ("transplant", "max_transplant_flip_rate") if transplant is not None else ("max_transplant_flip_rate", "transplant")
        collector.add(value, present, f"gate.{present}", f"`{present}` needs `{missing}` as well",
                      "write both, e.g. transplant: corner-tag and max_transplant_flip_rate: 0.05")
    pairs = value.get("transplant_pairs", DEFAULT_TRANSPLANT_PAIRS)
    if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 1:
        collector.add(value, "transplant_pairs", "gate.transplant_pairs", f"expected a whole number ≥ 1, got {describe_value(pairs)}",
                      f"write transplant_pairs: {DEFAULT_TRANSPLANT_PAIRS} (pairs are sampled deterministically)")
        pairs = DEFAULT_TRANSPLANT_PAIRS
    gate = Gate(
        min_pass_rate=read_number(value, "min_pass_rate", "gate.min_pass_rate", collector, fraction=True),
        min_mean_mass=read_number(value, "min_mean_mass", "gate.min_mean_mass", collector, fraction=True),
        min_mean_lift=read_number(value, "min_mean_lift", "gate.min_mean_lift", collector, positive=True),
        per_class=read_boolean(value, "per_class", "gate.per_class", collector, False),
        transplant=None if transplant is None else str(transplant),
        max_transplant_flip_rate=flip_rate,
        transplant_pairs=pairs,
        max_randomization_similarity=read_number(value, "max_randomization_similarity", "gate.max_randomization_similarity", collector,
                                                 fraction=True),
        max_outside_dependence_rate=read_number(value, "max_outside_dependence_rate", "gate.max_outside_dependence_rate", collector,
                                                fraction=True),
        line=value.position.line,
    )
    threshold_keys = ("min_pass_rate", "min_mean_mass", "min_mean_lift", "max_transplant_flip_rate", "max_randomization_similarity",
                      "max_outside_dependence_rate")
    if not any(key in value for key in threshold_keys):
        collector.add(data, "gate", "gate", "the gate sets no threshold, so it could never fail",
                      "add min_pass_rate, min_mean_mass, min_mean_lift, max_transplant_flip_rate, max_randomization_similarity "
                      "or max_outside_dependence_rate")
    return gate


def collector_has(collector: ProblemCollector, *fields: str) -> bool:
    """Whether a problem was already recorded for one of these fields (one mistake, one message)."""
    return any(problem.field in fields for problem in collector.problems)


def parse_layer(data: LocatedDict, collector: ProblemCollector) -> str:
    layer = data.get("layer", "auto")
    if not isinstance(layer, str) or not layer.strip():
        collector.add(data, "layer", "layer", f"expected 'auto' or a layer name, got {describe_value(layer)}",
                      "write layer: auto, or a layer name / nested path such as xception/block14_sepconv2_act")
        return "auto"
    return layer


def parse_token_layout(data: LocatedDict, collector: ProblemCollector) -> tuple[tuple[int, int] | None, int | None]:
    """`layer_grid: [h, w]` and `prefix_tokens: N`, for transformer token layers whose layout is ambiguous."""
    grid: tuple[int, int] | None = None
    prefix: int | None = None
    value = data.get("layer_grid")
    if value is not None:
        if (isinstance(value, list) and len(value) == 2
                and all(isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in value)):
            grid = (value[0], value[1])
        else:
            collector.add(data, "layer_grid", "layer_grid", f"expected [h, w], two whole numbers ≥ 1, got {describe_value(value)}",
                          "write the patch grid of the token layer, e.g. layer_grid: [14, 14] for a 224×224 input with 16-pixel patches")
    value = data.get("prefix_tokens")
    if value is not None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            prefix = value
        else:
            collector.add(data, "prefix_tokens", "prefix_tokens", f"expected a whole number ≥ 0, got {describe_value(value)}",
                          "write the number of tokens before the patches, e.g. prefix_tokens: 1 for a class token")
    return grid, prefix


def parse_output(data: LocatedDict, collector: ProblemCollector) -> str | int:
    output = data.get("output", 0)
    if isinstance(output, bool) or not isinstance(output, (str, int)) or (isinstance(output, int) and output < 0):
        collector.add(data, "output", "output", f"expected an output name or index (≥ 0), got {describe_value(output)}",
                      "write output: 0 (the first output) or the output layer's name")
        return 0
    return output


