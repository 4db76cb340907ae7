"""Turn a YAML spec file into a validated Spec, collecting every problem with file, line and field."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from gradcam_audit.core.images import image_size
from gradcam_audit.core.method_names import (
    BOX_FORMATS,
    METHOD_NAMES,
    PREPROCESS_BUILTINS,
    PREPROCESS_FAMILIES,
    RESIZE_MODES,
    SCORE_KINDS,
)
from gradcam_audit.core.spec.fields import (
    CALLABLE_PATTERN,
    CASE_FIELDS,
    DEFAULTS_FIELDS,
    DIRECTORY_DEFAULTS_FIELDS,
    GATE_FIELDS,
    MODEL_FIELDS,
    PREPROCESS_AFFINE_FIELDS,
    REGION_FIELDS,
    TAG_PATTERN,
    TOP_LEVEL_FIELDS,
    names,
)
from gradcam_audit.core.spec.model import (
    Case,
    ClassRef,
    Gate,
    InvalidCase,
    ModelRef,
    ParsedSpec,
    Preprocess,
    Region,
    Shape,
    Spec,
)
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.core.spec.yaml_lines import LocatedDict, load_located_yaml, position_of_key, position_of_value
from gradcam_audit.errors import ImageError, Problem, SpecError

DEFAULTS_FILE_NAME = "_defaults.yaml"
SPEC_SUFFIXES = (".yaml", ".yml")
_CALLABLE_HINT = "'package.module:function'"
_CALLABLE = re.compile(CALLABLE_PATTERN)
_TAG = re.compile(TAG_PATTERN)
# (key, share of mass in [0, 1], strictly positive): the numeric thresholds a region (or `defaults:`) may set.
_THRESHOLDS: tuple[tuple[str, bool, bool], ...] = (
    ("min_mass", True, False),
    ("max_mass", True, False),
    ("min_lift", False, True),
    ("min_iou", True, False),
    ("iou_threshold", True, False),
)
_THRESHOLD_FIXES = {
    "min_mass": "a share of the heatmap's mass between 0 and 1, e.g. 0.5 for half",
    "max_mass": "a share of the heatmap's mass between 0 and 1, e.g. 0.05 for a forbidden region",
    "min_iou": "an intersection-over-union between 0 and 1, e.g. 0.3",
    "iou_threshold": "a fraction of the heatmap's maximum between 0 and 1, e.g. 0.5",
    "min_mean_mass": "a mean share of mass between 0 and 1, e.g. 0.4",
    "min_pass_rate": "a share of the cases between 0 and 1, e.g. 0.9 for 90 %",
}
_MISSING = object()


def display_path(path: Path) -> str:
    """The path as a user typed it: relative to the working directory when below it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


class _Collector:
    """Collects problems for one file; every add() knows where in the YAML the mistake is."""

    def __init__(self, file: Path) -> None:
        self.file = display_path(file)
        self.problems: list[Problem] = []
        self._seen: set[tuple[Any, ...]] = set()

    def add(
        self,
        container: Any,
        key: Any,
        field: str,
        message: str,
        fix: str | None = None,
        *,
        case_index: int | None = None,
        at_key: bool = False,
    ) -> None:
        position = position_of_key(container, key) if at_key else position_of_value(container, key)
        # A value merged in from _defaults.yaml is reported in that file, at its own line.
        sources = getattr(container, "key_sources", {})
        file = sources.get(key) if isinstance(key, str) and key in sources else getattr(container, "source_file", None)
        problem = Problem(
            file=file or self.file,
            field=field,
            message=message,
            line=position.line if position else None,
            column=position.column if position else None,
            fix=fix,
            case_index=case_index,
        )
        # Inherited values (a case's box_format, a defaults file) are checked once per region that uses them.
        identity = (problem.file, problem.field, problem.line, problem.column, problem.message, case_index)
        if identity not in self._seen:
            self._seen.add(identity)
            self.problems.append(problem)

    def add_file_problem(self, message: str, fix: str | None = None, line: int | None = None, column: int | None = None) -> None:
        self.problems.append(Problem(self.file, "", message, line=line, column=column, fix=fix))


def _describe(value: Any, budget: int = 80) -> str:
    """A short, bounded rendering of a YAML value (aliases can make reprs huge, so never call repr on containers)."""

    def render(item: Any, depth: int) -> str:
        if isinstance(item, dict):
            if depth > 2:
                return "{...}"
            parts = [f"{render(key, depth + 1)}: {render(val, depth + 1)}" for key, val in list(item.items())[:4]]
            return "{" + ", ".join(parts) + (", ..." if len(item) > 4 else "") + "}"
        if isinstance(item, list):
            if depth > 2:
                return "[...]"
            parts = [render(element, depth + 1) for element in item[:6]]
            return "[" + ", ".join(parts) + (", ..." if len(item) > 6 else "") + "]"
        if isinstance(item, str):
            return repr(item if len(item) <= budget else item[:budget] + "...")
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 10**30:
            return f"{'-' if item < 0 else ''}(a {len(str(abs(item)))}-digit integer)"
        return repr(item)

    text = render(value, 0)
    return text if len(text) <= budget else text[: budget - 3] + "..."


def _as_finite_number(value: Any) -> float | None:
    """The value as a finite float, or None for non-numbers, booleans, NaN, ±inf and integers too big for a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _check_keys(mapping: LocatedDict, allowed: tuple[str, ...], prefix: str, collector: _Collector, case_index: int | None = None) -> None:
    for key in mapping:
        if key not in allowed:
            collector.add(
                mapping,
                key,
                f"{prefix}{key}",
                f"unknown key {_describe(key)}{did_you_mean(str(key), allowed)}",
                f"use one of: {listing(allowed, 20)}",
                case_index=case_index,
                at_key=True,
            )
    for key, _position in getattr(mapping, "duplicate_keys", []):
        collector.add(mapping, key, f"{prefix}{key}", f"key {_describe(key)} appears twice; the later value would win silently",
                      "keep one of them", case_index=case_index, at_key=True)


def _number(
    mapping: LocatedDict,
    key: str,
    field: str,
    collector: _Collector,
    *,
    fraction: bool = False,
    positive: bool = False,
    case_index: int | None = None,
) -> float | None:
    if key not in mapping or mapping[key] is None:
        return None
    value = mapping[key]
    expected = "a number between 0 and 1" if fraction else ("a number greater than 0" if positive else "a number")
    fix = _THRESHOLD_FIXES.get(key, "a lift of 1.0 is chance level; use e.g. 1.5" if positive else f"write {key}: <number>")
    number = _as_finite_number(value)
    if number is None:
        collector.add(mapping, key, field, f"expected {expected}, got {_describe(value)}", fix, case_index=case_index)
        return None
    if fraction and not 0.0 <= number <= 1.0:
        collector.add(mapping, key, field, f"got {number:g}, which is outside [0, 1] (expected {expected})", fix,
                      case_index=case_index)
        return None
    if positive and number <= 0:
        collector.add(mapping, key, field, f"got {number:g} (expected {expected})", fix, case_index=case_index)
        return None
    return number


def _boolean(mapping: LocatedDict, key: str, field: str, collector: _Collector, default: bool, case_index: int | None = None) -> bool:
    if key not in mapping:
        return default
    value = mapping[key]
    if not isinstance(value, bool):
        collector.add(mapping, key, field, f"expected true or false, got {_describe(value)}",
                      f"write {key}: true or {key}: false (unquoted)", case_index=case_index)
        return default
    return value


def _choice(mapping: LocatedDict, key: str, field: str, choices: tuple[str, ...], collector: _Collector, default: str,
            case_index: int | None = None) -> str:
    if key not in mapping:
        return default
    value = mapping[key]
    if not isinstance(value, str) or value not in choices:
        collector.add(mapping, key, field, f"got {_describe(value)}, expected one of {listing(choices)}{did_you_mean(str(value), choices)}",
                      f"write {key}: {choices[0]} (or another of the listed values)", case_index=case_index)
        return default
    return value


def _reason(mapping: LocatedDict, key: str, field: str, collector: _Collector, case_index: int | None = None) -> str | None:
    """An xfail reason: non-empty text, or None when absent or invalid (the problem is recorded)."""
    if key not in mapping or mapping[key] is None:
        return None
    value = mapping[key]
    if not isinstance(value, str) or not value.strip():
        collector.add(mapping, key, field, f"expected the reason (text) for the expected failure, got {_describe(value)}",
                      f'write {key}: "why it is expected to fail (issue link)"', case_index=case_index)
        return None
    return value


def _tags(mapping: LocatedDict, field: str, collector: _Collector, case_index: int | None = None) -> list[str]:
    value = mapping.get("tags", [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) and _TAG.match(tag) for tag in value):
        collector.add(mapping, "tags", field, f"expected a list of identifiers (ASCII letters, digits, _), got {_describe(value)}",
                      "tags become pytest markers, e.g. [phone_photo, night]", case_index=case_index)
        return []
    return list(value)


def _load_yaml_mapping(path: Path, collector: _Collector) -> LocatedDict | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        collector.add_file_problem(f"not UTF-8 text ({error.reason} at byte {error.start})", "save the file as UTF-8")
        return None
    except OSError as error:
        collector.add_file_problem(f"cannot read the file ({error.strerror or error})", "check that the file exists and is readable")
        return None
    try:
        data = load_located_yaml(text, collector.file)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        collector.add_file_problem(
            f"YAML syntax error: {error.problem or error.context}",
            "check indentation and quoting on this line (a ':' or '#' inside a value needs quotes)",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        )
        return None
    except yaml.YAMLError as error:
        collector.add_file_problem(f"YAML error: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
                                   "remove control characters and check the YAML syntax")
        return None
    except RecursionError:
        collector.add_file_problem("the YAML is nested too deeply to read", "flatten the structure")
        return None
    if data is None:
        collector.add_file_problem("the file is empty", "add at least `model:` and `cases:`")
        return None
    if not isinstance(data, LocatedDict):
        collector.add_file_problem(f"expected a mapping at the top (model:, cases:, ...), got {_describe(data)}",
                                   "start the file with `model: path/to/model.keras`", line=1)
        return None
    return data


def _directory_defaults(spec_path: Path, collector: _Collector) -> LocatedDict | None:
    """The spec's directory `_defaults.yaml` (its problems are reported in that file), or None."""
    defaults_path = spec_path.parent / DEFAULTS_FILE_NAME
    if not defaults_path.is_file() or defaults_path == spec_path:
        return None
    defaults_collector = _Collector(defaults_path)
    data = _load_yaml_mapping(defaults_path, defaults_collector)
    collector.problems.extend(defaults_collector.problems)
    if data is not None:
        _check_keys(data, names(DIRECTORY_DEFAULTS_FIELDS), "", collector)
    return data


def _merge_directory_defaults(directory_defaults: LocatedDict, data: LocatedDict) -> None:
    """Put a directory's top-level values under the spec's own, remembering their file and lines."""
    for key, value in directory_defaults.items():
        if key in data or key in ("defaults", "cases"):
            continue  # `defaults:` is merged key by key; `cases:` never comes from _defaults.yaml (reported there)
        data[key] = value
        data.key_positions[key] = directory_defaults.key_positions[key]
        data.value_positions[key] = directory_defaults.value_positions[key]
        data.key_sources[key] = directory_defaults.source_file or DEFAULTS_FILE_NAME


def _parse_defaults(container: LocatedDict, collector: _Collector) -> dict[str, Any]:
    """Validate a `defaults:` mapping; returns only the valid values (the invalid ones are reported)."""
    if "defaults" not in container or container["defaults"] is None:
        return {}
    mapping = container["defaults"]
    if not isinstance(mapping, LocatedDict):
        collector.add(container, "defaults", "defaults", f"expected a mapping such as {{min_lift: 1.2}}, got {_describe(mapping)}",
                      "indent the default values under `defaults:`")
        return {}
    _check_keys(mapping, names(DEFAULTS_FIELDS), "defaults.", collector)
    values: dict[str, Any] = {}
    for key, fraction, positive in _THRESHOLDS:
        number = _number(mapping, key, f"defaults.{key}", collector, fraction=fraction, positive=positive)
        if number is not None:
            values[key] = number
    if "peak_inside" in mapping:
        values["peak_inside"] = _boolean(mapping, "peak_inside", "defaults.peak_inside", collector, False)
    if "box_format" in mapping:
        values["box_format"] = _choice(mapping, "box_format", "defaults.box_format", BOX_FORMATS, collector, "xyxy")
    if "normalized" in mapping:
        values["normalized"] = _boolean(mapping, "normalized", "defaults.normalized", collector, False)
    reason = _reason(mapping, "xfail", "defaults.xfail", collector)
    if reason is not None:
        values["xfail"] = reason
    values["tags"] = _tags(mapping, "defaults.tags", collector)
    return values


def _parse_model(data: LocatedDict, spec_dir: Path, collector: _Collector) -> ModelRef | None:
    if "model" not in data:
        collector.add(data, "model", "model", "required key 'model' is missing",
                      "add `model: path/to/model.keras` (relative to this file)")
        return None
    value = data["model"]
    loader: str | None = None
    safe_mode = True
    if isinstance(value, LocatedDict):
        _check_keys(value, names(MODEL_FIELDS), "model.", collector)
        raw_loader = value.get("loader")
        safe_mode = _boolean(value, "safe_mode", "model.safe_mode", collector, True)
        if raw_loader is not None:
            if isinstance(raw_loader, str) and _CALLABLE.match(raw_loader):
                loader = raw_loader
            else:
                collector.add(value, "loader", "model.loader", f"expected {_CALLABLE_HINT}, got {_describe(raw_loader)}",
                              "e.g. loader: my_project.models:load_model (a function taking the path, returning a keras.Model)")
                return None
        path_value = value.get("path")
        if not isinstance(path_value, str) or not path_value:
            collector.add(value, "path", "model.path", f"expected a file path, got {_describe(path_value)}",
                          "add `path: path/to/model.keras` (relative to this file)")
            return None
        container, key = value, "path"
    elif isinstance(value, str) and value:
        path_value, container, key = value, data, "model"
    else:
        collector.add(data, "model", "model", f"expected a path or {{path: ..., loader: ...}}, got {_describe(value)}",
                      "write `model: path/to/model.keras` (relative to this file)")
        return None
    model_path = _resolve(spec_dir, path_value)
    if model_path is None:
        collector.add(container, key, "model", f"invalid path {_describe(path_value)}", "remove control characters from the path")
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


def _resolve(base: Path, relative: str) -> Path | None:
    """``base / relative`` made absolute; None for paths the OS cannot represent (a NUL byte)."""
    if "\x00" in relative:
        return None
    try:
        return (base / relative).resolve()
    except (OSError, ValueError, RuntimeError):
        return None


def _parse_preprocess(data: LocatedDict, collector: _Collector) -> Preprocess:
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
        collector.add(data, "preprocess", "preprocess", f"unknown preprocessing {_describe(value)}{did_you_mean(value, choices)}", fix)
        return Preprocess("builtin", "none")
    if isinstance(value, LocatedDict):
        _check_keys(value, names(PREPROCESS_AFFINE_FIELDS), "preprocess.", collector)
        scale = _number(value, "scale", "preprocess.scale", collector, positive=True) or 1.0
        vectors: dict[str, tuple[float, ...]] = {}
        for key in ("mean", "std"):
            raw = value.get(key, [])
            numbers = [_as_finite_number(item) for item in raw] if isinstance(raw, list) else None
            if numbers is None or any(number is None for number in numbers):
                collector.add(value, key, f"preprocess.{key}", f"expected a list of finite numbers, got {_describe(raw)}",
                              f"one value per channel, e.g. {key}: [0.5, 0.5, 0.5]")
                numbers = []
            vectors[key] = tuple(float(number) for number in numbers if number is not None)
        if any(number == 0 for number in vectors["std"]):
            collector.add(value, "std", "preprocess.std", f"got {list(vectors['std'])}: a std of 0 would divide by zero",
                          "use the dataset's standard deviation per channel, e.g. [0.229, 0.224, 0.225]")
        return Preprocess("affine", "affine", scale=scale, mean=vectors["mean"], std=vectors["std"])
    collector.add(data, "preprocess", "preprocess", f"expected a name or {{scale, mean, std}}, got {_describe(value)}", fix)
    return Preprocess("builtin", "none")


def _parse_labels(data: LocatedDict, spec_dir: Path, collector: _Collector) -> tuple[str, ...] | None:
    if "labels" not in data or data["labels"] is None:
        return None
    value = data["labels"]
    fix = "give a list [a, b, ...] in output order, or a text file (relative to the spec) with one class name per line"
    if isinstance(value, list):
        if not all(isinstance(item, (str, int)) and not isinstance(item, bool) for item in value):
            collector.add(data, "labels", "labels", f"expected class names (text), got {_describe(value)}", fix)
            return None
        labels = [str(item) for item in value]
    elif isinstance(value, str) and value:
        labels_path = _resolve(spec_dir, value)
        if labels_path is None or not labels_path.is_file():
            collector.add(data, "labels", "labels", f"labels file not found: {labels_path or value}", fix)
            return None
        try:
            text = labels_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            collector.add(data, "labels", "labels", f"cannot read labels file {labels_path} ({error})", "save it as UTF-8 text")
            return None
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        collector.add(data, "labels", "labels", f"expected a list of class names or a file path, got {_describe(value)}", fix)
        return None
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        collector.add(data, "labels", "labels", f"duplicate class names: {', '.join(duplicates)}",
                      "each class name must appear once, in the model's output order")
    if not labels:
        collector.add(data, "labels", "labels", "the list of labels is empty", fix)
        return None
    return tuple(labels)


def _parse_methods(data: LocatedDict, collector: _Collector) -> tuple[str, ...]:
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
            collector.add(container, key, field, f"unknown method {_describe(method)}{did_you_mean(str(method), METHOD_NAMES)}", fix)
            continue
        if method.lower() not in methods:
            methods.append(method.lower())
    return tuple(methods) or ("gradcam",)


def _class_ref(
    mapping: LocatedDict, key: str, field: str, labels: tuple[str, ...] | None, collector: _Collector, case_index: int
) -> ClassRef | None:
    if key not in mapping or mapping[key] is None:
        return None
    value = mapping[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        collector.add(mapping, key, field, f"expected a class name or index, got {_describe(value)}",
                      f"write {key}: <class name from labels> or {key}: <index>", case_index=case_index)
        return None
    if isinstance(value, int):
        if value < 0 or (labels is not None and value >= len(labels)):
            limit = f"0..{len(labels) - 1}" if labels else "≥ 0"
            collector.add(mapping, key, field, f"class index {_describe(value)} is out of range (expected {limit})",
                          "class indices count from 0 in the model's output order", case_index=case_index)
            return None
        return value
    if labels is None:
        collector.add(mapping, key, field, f"class name {_describe(value)} needs `labels:` at the top of the spec",
                      "add `labels: [...]` in output order, or give the class index", case_index=case_index)
        return None
    if value not in labels:
        collector.add(mapping, key, field, f"unknown class {_describe(value)}{did_you_mean(value, labels)}",
                      f"use one of the labels: {listing(labels, 30)}", case_index=case_index)
        return None
    return value


def _convert_box(numbers: list[float], box_format: str) -> tuple[float, float, float, float]:
    a, b, c, d = numbers
    if box_format == "xywh":
        return (a, b, a + c, b + d)
    if box_format == "cxcywh":
        return (a - c / 2, b - d / 2, a + c / 2, b + d / 2)
    return (a, b, c, d)


class _Inherited:
    """Looks a key up in the region, then the case, then `defaults:`; remembers where the value came from."""

    def __init__(self, region_data: LocatedDict, case_data: LocatedDict, defaults: dict[str, Any], region_field: str, case_field: str) -> None:
        self.sources = ((region_data, region_field), (case_data, case_field))
        self.defaults = defaults

    def choice(self, key: str, choices: tuple[str, ...], collector: _Collector, default: str, case_index: int) -> str:
        for source, field in self.sources:
            if key in source:
                return _choice(source, key, f"{field}.{key}", choices, collector, default, case_index)
        return str(self.defaults.get(key, default))

    def boolean(self, key: str, collector: _Collector, default: bool, case_index: int) -> bool:
        for source, field in self.sources:
            if key in source:
                return _boolean(source, key, f"{field}.{key}", collector, default, case_index)
        return bool(self.defaults.get(key, default))


def _parse_region(
    region_data: Any,
    field: str,
    case_data: LocatedDict,
    case_field: str,
    defaults: dict[str, Any],
    spec_dir: Path,
    size: tuple[int, int] | None,
    check_images: bool,
    collector: _Collector,
    case_index: int,
    container: Any,
    index: int,
) -> Region | None:
    if not isinstance(region_data, LocatedDict):
        collector.add(container, index, field, f"expected a mapping with name, box and thresholds, got {_describe(region_data)}",
                      "write `- {name: object, box: [x_min, y_min, x_max, y_max], min_lift: 1.5}`", case_index=case_index)
        return None
    _check_keys(region_data, names(REGION_FIELDS), f"{field}.", collector, case_index)
    name = region_data.get("name")
    if not isinstance(name, (str, int)) or isinstance(name, bool) or str(name) == "":
        collector.add(region_data, "name", f"{field}.name", f"every region needs a `name`, got {_describe(name)}",
                      "add e.g. `name: mug` (shown in failures and the report)", case_index=case_index)
        name = f"region-{index}"

    inherited = _Inherited(region_data, case_data, defaults, field, case_field)
    box_format = inherited.choice("box_format", BOX_FORMATS, collector, "xyxy", case_index)
    normalized = inherited.boolean("normalized", collector, False, case_index)

    geometry_keys = [key for key in ("box", "polygon", "mask") if key in region_data]
    shape: Shape | None = None
    if len(geometry_keys) != 1:
        received = f"got {', '.join(geometry_keys)}" if geometry_keys else "got none of them"
        collector.add(region_data, geometry_keys[1] if len(geometry_keys) > 1 else None, field,
                      f"a region needs exactly one of box, polygon, mask ({received})",
                      "e.g. `box: [x_min, y_min, x_max, y_max]` in pixels of the original image", case_index=case_index)
    elif geometry_keys[0] == "box":
        shape = _parse_box(region_data, field, box_format, normalized, size, collector, case_index)
    elif geometry_keys[0] == "polygon":
        shape = _parse_polygon(region_data, field, normalized, size, collector, case_index)
    else:
        shape = _parse_mask(region_data, field, spec_dir, size, check_images, collector, case_index)

    thresholds: dict[str, float | None] = {}
    for key, fraction, positive in _THRESHOLDS:
        if key in region_data:
            thresholds[key] = _number(region_data, key, f"{field}.{key}", collector, fraction=fraction, positive=positive,
                                      case_index=case_index)
        else:
            thresholds[key] = defaults.get(key)
    peak_inside = _boolean(region_data, "peak_inside", f"{field}.peak_inside", collector, bool(defaults.get("peak_inside", False)), case_index)
    if region_data.get("max_mass") is not None and "min_mass" not in region_data and "min_lift" not in region_data:
        # A forbidden region set up explicitly: inherited minimums (defaults.min_lift) would make it contradictory.
        thresholds["min_mass"] = None
        thresholds["min_lift"] = None
    minimum, maximum = thresholds["min_mass"], thresholds["max_mass"]
    if minimum is not None and maximum is not None and minimum > maximum:
        collector.add(region_data, "max_mass" if "max_mass" in region_data else "min_mass", f"{field}.max_mass",
                      f"min_mass {minimum:g} > max_mass {maximum:g}: no heatmap can pass",
                      "lower min_mass or raise max_mass", case_index=case_index)
    if not any(thresholds[key] is not None for key in ("min_mass", "max_mass", "min_lift", "min_iou")) and not peak_inside:
        collector.add(region_data, "name", field, f"region {str(name)!r} has no threshold, so it could never fail",
                      "add min_mass / min_lift (where the model should look) or max_mass (where it must not)",
                      case_index=case_index)
    if shape is None:
        return None
    return Region(
        name=str(name),
        shape=shape,
        min_mass=thresholds["min_mass"],
        max_mass=thresholds["max_mass"],
        min_lift=thresholds["min_lift"],
        peak_inside=peak_inside,
        min_iou=thresholds["min_iou"],
        iou_threshold=thresholds["iou_threshold"] if thresholds["iou_threshold"] is not None else 0.5,
        line=region_data.position.line,
    )


def _outside(xs: Iterable[float], ys: Iterable[float], normalized: bool, size: tuple[int, int] | None) -> str | None:
    """Why coordinates fall outside the image (or [0, 1] when normalised), or None when they fit."""
    tolerance = 1e-9
    if normalized:
        if all(-tolerance <= v <= 1 + tolerance for v in (*xs, *ys)):
            return None
        return "normalized coordinates must lie in [0, 1]"
    if size is None:
        return None
    width, height = size
    if all(-tolerance <= x <= width + tolerance for x in xs) and all(-tolerance <= y <= height + tolerance for y in ys):
        return None
    return f"the image is {width}×{height} pixels (width×height)"


def _parse_box(
    region_data: LocatedDict,
    field: str,
    box_format: str,
    normalized: bool,
    size: tuple[int, int] | None,
    collector: _Collector,
    case_index: int,
) -> Shape | None:
    raw = region_data["box"]
    numbers = [_as_finite_number(item) for item in raw] if isinstance(raw, list) else []
    if len(numbers) != 4 or any(number is None for number in numbers):
        collector.add(region_data, "box", f"{field}.box", f"expected four finite numbers ({box_format}), got {_describe(raw)}",
                      "write box: [x_min, y_min, x_max, y_max] (or set box_format: xywh / cxcywh)", case_index=case_index)
        return None
    x_min, y_min, x_max, y_max = _convert_box([float(number) for number in numbers if number is not None], box_format)
    if x_min >= x_max or y_min >= y_max:
        collector.add(region_data, "box", f"{field}.box",
                      f"empty box {_describe(raw)} ({box_format}): expected x_min < x_max and y_min < y_max",
                      "write [x_min, y_min, x_max, y_max], or set box_format: xywh if the last two are width and height",
                      case_index=case_index)
        return None
    reason = _outside((x_min, x_max), (y_min, y_max), normalized, size)
    if reason is not None:
        fix = ("set normalized: false for pixel coordinates" if normalized else
               "boxes are in pixels of the original image, after EXIF rotation; x_max ≤ width, y_max ≤ height")
        collector.add(region_data, "box", f"{field}.box", f"box {_describe(raw)} ({box_format}) lies (partly) outside the image: {reason}",
                      fix, case_index=case_index)
        return None
    return Shape("box", box=(x_min, y_min, x_max, y_max), normalized=normalized)


def _polygon_area(points: list[tuple[float, float]]) -> float:
    # Shoelace formula: a polygon whose points are collinear or repeated covers no pixel.
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def _parse_polygon(
    region_data: LocatedDict, field: str, normalized: bool, size: tuple[int, int] | None, collector: _Collector, case_index: int
) -> Shape | None:
    raw = region_data["polygon"]
    points: list[tuple[float, float]] = []
    if isinstance(raw, list):
        for point in raw:
            coordinates = [_as_finite_number(item) for item in point] if isinstance(point, list) else []
            if len(coordinates) != 2 or coordinates[0] is None or coordinates[1] is None:
                points = []
                break
            points.append((coordinates[0], coordinates[1]))
    if len(points) < 3:
        collector.add(region_data, "polygon", f"{field}.polygon", f"expected at least three [x, y] points, got {_describe(raw)}",
                      "write polygon: [[x1, y1], [x2, y2], [x3, y3], ...]", case_index=case_index)
        return None
    if _polygon_area(points) <= 0:
        collector.add(region_data, "polygon", f"{field}.polygon", f"polygon {_describe(raw)} encloses no area (its points are collinear)",
                      "give the corners of the region in order around it", case_index=case_index)
        return None
    reason = _outside([x for x, _ in points], [y for _, y in points], normalized, size)
    if reason is not None:
        collector.add(region_data, "polygon", f"{field}.polygon", f"polygon {_describe(raw)} lies (partly) outside the image: {reason}",
                      "polygon points are [x, y] in pixels of the original image (or fractions with normalized: true)",
                      case_index=case_index)
        return None
    return Shape("polygon", polygon=tuple(points), normalized=normalized)


def _parse_mask(
    region_data: LocatedDict,
    field: str,
    spec_dir: Path,
    size: tuple[int, int] | None,
    check_images: bool,
    collector: _Collector,
    case_index: int,
) -> Shape | None:
    value = region_data["mask"]
    mask_path = _resolve(spec_dir, value) if isinstance(value, str) and value else None
    if mask_path is None:
        collector.add(region_data, "mask", f"{field}.mask", f"expected the path of a mask image, got {_describe(value)}",
                      "write mask: masks/0001.png (relative to the spec; non-zero pixels are inside)", case_index=case_index)
        return None
    if not mask_path.is_file():
        collector.add(region_data, "mask", f"{field}.mask", f"mask file not found: {mask_path}",
                      "mask paths are relative to the spec file; check the name and the folder", case_index=case_index)
        return None
    if check_images:
        try:
            mask_size = image_size(mask_path)
        except ImageError as error:
            collector.add(region_data, "mask", f"{field}.mask", str(error), "re-export the mask as a PNG", case_index=case_index)
            return None
        if size is not None and mask_size != size:
            collector.add(region_data, "mask", f"{field}.mask",
                          f"mask is {mask_size[0]}×{mask_size[1]} but the image is {size[0]}×{size[1]} (width×height)",
                          "draw the mask at the image's size", case_index=case_index)
            return None
    return Shape("mask", mask_path=mask_path)


def _parse_case(
    case_data: Any,
    index: int,
    cases_list: Any,
    defaults: dict[str, Any],
    labels: tuple[str, ...] | None,
    spec_dir: Path,
    check_images: bool,
    collector: _Collector,
) -> tuple[Case | None, str, int | None]:
    field = f"cases[{index}]"
    if not isinstance(case_data, LocatedDict):
        collector.add(cases_list, index, field, f"expected a mapping with id, image and regions, got {_describe(case_data)}",
                      "write `- id: ...` followed by `image:` and `regions:` indented under it", case_index=index)
        return None, f"case-{index}", None
    line = case_data.position.line
    _check_keys(case_data, names(CASE_FIELDS), f"{field}.", collector, index)
    raw_id = case_data.get("id")
    if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id).strip() == "":
        collector.add(case_data, "id" if "id" in case_data else None, f"{field}.id",
                      f"every case needs an `id` (text or a number; it becomes the test id), got {_describe(raw_id)}",
                      "add e.g. `id: mug-0001`", case_index=index)
        case_id = f"case-{index}"
    else:
        case_id = str(raw_id)
    image_value = case_data.get("image")
    image_path: Path | None = None
    size: tuple[int, int] | None = None
    if not isinstance(image_value, str) or not image_value:
        collector.add(case_data, "image" if "image" in case_data else None, f"{field}.image",
                      f"expected an image path, got {_describe(image_value)}",
                      "add `image: images/0001.jpg` (relative to the spec file)", case_index=index)
    else:
        image_path = _resolve(spec_dir, image_value)
        if image_path is None:
            collector.add(case_data, "image", f"{field}.image", f"invalid path {_describe(image_value)}",
                          "remove control characters from the path", case_index=index)
        elif check_images:
            try:
                size = image_size(image_path)
            except ImageError as error:
                fix = ("image paths are relative to the spec file; check the name and the folder" if not image_path.is_file()
                       else "re-export the image (JPEG, PNG, BMP, TIFF, WebP)")
                collector.add(case_data, "image", f"{field}.image", str(error), fix, case_index=index)
                image_path = None
    target = _class_ref(case_data, "target", f"{field}.target", labels, collector, index)
    expect_class = _class_ref(case_data, "expect_class", f"{field}.expect_class", labels, collector, index)
    tags = tuple(dict.fromkeys([*defaults.get("tags", []), *_tags(case_data, f"{field}.tags", collector, index)]))
    xfail = _reason(case_data, "xfail", f"{field}.xfail", collector, index) if "xfail" in case_data else defaults.get("xfail")
    regions_value = case_data.get("regions")
    regions: list[Region] = []
    if not isinstance(regions_value, list) or not regions_value:
        collector.add(case_data, "regions" if "regions" in case_data else None, f"{field}.regions",
                      f"every case needs at least one region, got {_describe(regions_value)}",
                      "add `regions: [{name: ..., box: [...], min_lift: 1.5}]`", case_index=index)
    else:
        seen_names: set[str] = set()
        for region_index, region_data in enumerate(regions_value):
            region_field = f"{field}.regions[{region_index}]"
            region = _parse_region(region_data, region_field, case_data, field, defaults, spec_dir, size, check_images,
                                   collector, index, regions_value, region_index)
            if region is None:
                continue
            if region.name in seen_names:
                collector.add(region_data, "name", f"{region_field}.name", f"duplicate region name {region.name!r}",
                              "region names must be unique within a case", case_index=index)
            seen_names.add(region.name)
            regions.append(region)
    if image_path is None:
        return None, case_id, line
    case = Case(id=case_id, image=image_path, regions=tuple(regions), target=target, expect_class=expect_class,
                tags=tags, xfail=xfail, line=line)
    return case, case_id, line


def _parse_gate(data: LocatedDict, collector: _Collector) -> Gate | None:
    if "gate" not in data or data["gate"] is None:
        return None
    value = data["gate"]
    if not isinstance(value, LocatedDict):
        collector.add(data, "gate", "gate", f"expected a mapping such as {{min_pass_rate: 0.9}}, got {_describe(value)}",
                      "indent the gate's thresholds under `gate:`")
        return None
    _check_keys(value, names(GATE_FIELDS), "gate.", collector)
    gate = Gate(
        min_pass_rate=_number(value, "min_pass_rate", "gate.min_pass_rate", collector, fraction=True),
        min_mean_mass=_number(value, "min_mean_mass", "gate.min_mean_mass", collector, fraction=True),
        min_mean_lift=_number(value, "min_mean_lift", "gate.min_mean_lift", collector, positive=True),
        per_class=_boolean(value, "per_class", "gate.per_class", collector, False),
        line=value.position.line,
    )
    if not any(key in value for key in ("min_pass_rate", "min_mean_mass", "min_mean_lift")):
        collector.add(data, "gate", "gate", "the gate sets no threshold, so it could never fail",
                      "add min_pass_rate, min_mean_mass or min_mean_lift")
    return gate


def _parse_layer(data: LocatedDict, collector: _Collector) -> str:
    layer = data.get("layer", "auto")
    if not isinstance(layer, str) or not layer.strip():
        collector.add(data, "layer", "layer", f"expected 'auto' or a layer name, got {_describe(layer)}",
                      "write layer: auto, or a layer name / nested path such as xception/block14_sepconv2_act")
        return "auto"
    return layer


def _parse_output(data: LocatedDict, collector: _Collector) -> str | int:
    output = data.get("output", 0)
    if isinstance(output, bool) or not isinstance(output, (str, int)) or (isinstance(output, int) and output < 0):
        collector.add(data, "output", "output", f"expected an output name or index (≥ 0), got {_describe(output)}",
                      "write output: 0 (the first output) or the output layer's name")
        return 0
    return output


def parse_spec(path: Path | str, *, check_images: bool = True) -> ParsedSpec:
    """Read and validate one spec file without raising for the user's mistakes.

    Args:
        path: the spec file. Its directory's ``_defaults.yaml`` (if any) supplies top-level keys it does not set.
        check_images: open every image (and mask) to check it exists, decodes, and contains the regions.

    Returns:
        A ParsedSpec whose ``problems`` are file-level; case-level problems are attached to
        ``spec.invalid_cases`` so the valid cases still run.
    """
    spec_path = Path(path).resolve()
    collector = _Collector(spec_path)
    data = _load_yaml_mapping(spec_path, collector)
    if data is None:
        return ParsedSpec(spec_path, None, tuple(collector.problems))
    directory_defaults = _directory_defaults(spec_path, collector)
    _check_keys(data, names(TOP_LEVEL_FIELDS), "", collector)
    if directory_defaults is not None:
        _merge_directory_defaults(directory_defaults, data)
    spec_dir = spec_path.parent

    # Precedence, lowest first: top-level box_format/normalized, the directory's defaults, the spec's defaults.
    defaults: dict[str, Any] = {}
    if "box_format" in data:
        defaults["box_format"] = _choice(data, "box_format", "box_format", BOX_FORMATS, collector, "xyxy")
    if "normalized" in data:
        defaults["normalized"] = _boolean(data, "normalized", "normalized", collector, False)
    if directory_defaults is not None:
        defaults.update(_parse_defaults(directory_defaults, collector))
    own_values = _parse_defaults(data, collector)
    defaults.update({key: value for key, value in own_values.items() if key != "tags"})
    defaults["tags"] = list(dict.fromkeys([*defaults.get("tags", []), *own_values.get("tags", [])]))

    model = _parse_model(data, spec_dir, collector)
    preprocess = _parse_preprocess(data, collector)
    resize = _choice(data, "resize", "resize", RESIZE_MODES, collector, "stretch")
    score = _choice(data, "score", "score", SCORE_KINDS, collector, "logit")
    labels = _parse_labels(data, spec_dir, collector)
    layer = _parse_layer(data, collector)
    output = _parse_output(data, collector)
    methods = _parse_methods(data, collector)
    gate = _parse_gate(data, collector)
    suite_xfail = _reason(data, "xfail", "xfail", collector)
    if suite_xfail is not None:
        # Cases inherit the suite's expected failure unless they (or `defaults:`) say otherwise.
        defaults.setdefault("xfail", suite_xfail)

    cases_value = data.get("cases")
    cases: list[Case] = []
    invalid: list[InvalidCase] = []
    if not isinstance(cases_value, list) or not cases_value:
        message = f"expected a non-empty list of cases, got {_describe(cases_value)}" if "cases" in data else "required key 'cases' is missing"
        collector.add(data, "cases" if "cases" in data else None, "cases", message,
                      "add `cases:` with at least one `- id: ..., image: ..., regions: [...]`", at_key=True)
    else:
        seen_ids: dict[str, int] = {}
        for index, case_data in enumerate(cases_value):
            before = len(collector.problems)
            case, case_id, line = _parse_case(case_data, index, cases_value, defaults, labels, spec_dir, check_images, collector)
            if case_id in seen_ids:
                collector.add(case_data, "id", f"cases[{index}].id",
                              f"duplicate case id {case_id!r} (first used by cases[{seen_ids[case_id]}])",
                              "case ids must be unique within a file: they are the test ids", case_index=index)
                case_id = f"{case_id}#{index}"
            else:
                seen_ids[case_id] = index
            case_problems = collector.problems[before:]
            if case_problems or case is None:
                xfail = case.xfail if case is not None else _invalid_case_xfail(case_data, defaults)
                invalid.append(InvalidCase(case_id, index, tuple(case_problems), line, xfail))
            else:
                cases.append(case)
    file_problems = tuple(problem for problem in collector.problems if problem.case_index is None)
    spec = Spec(path=spec_path, model=model or ModelRef(spec_path), preprocess=preprocess, resize=resize, labels=labels,
                layer=layer, methods=methods, output=output, score=score, cases=tuple(cases), gate=gate,
                invalid_cases=tuple(invalid), xfail=suite_xfail)
    # With file-level problems the cases cannot run, but their ids are still worth showing.
    return ParsedSpec(spec_path, spec, file_problems)


def check_directory_defaults(path: Path | str) -> tuple[Problem, ...]:
    """Every problem in a directory's `_defaults.yaml` on its own (keys, types, files), even with no spec beside it."""
    defaults_path = Path(path).resolve()
    collector = _Collector(defaults_path)
    data = _load_yaml_mapping(defaults_path, collector)
    if data is None:
        return tuple(collector.problems)
    _check_keys(data, names(DIRECTORY_DEFAULTS_FIELDS), "", collector)
    directory = defaults_path.parent
    if "model" in data:
        _parse_model(data, directory, collector)
    _parse_preprocess(data, collector)
    _choice(data, "resize", "resize", RESIZE_MODES, collector, "stretch")
    _choice(data, "score", "score", SCORE_KINDS, collector, "logit")
    _choice(data, "box_format", "box_format", BOX_FORMATS, collector, "xyxy")
    _boolean(data, "normalized", "normalized", collector, False)
    _parse_labels(data, directory, collector)
    _parse_layer(data, collector)
    _parse_output(data, collector)
    _parse_methods(data, collector)
    _parse_gate(data, collector)
    _reason(data, "xfail", "xfail", collector)
    _parse_defaults(data, collector)
    return tuple(collector.problems)


def _invalid_case_xfail(case_data: Any, defaults: dict[str, Any]) -> str | None:
    xfail = case_data.get("xfail", defaults.get("xfail")) if isinstance(case_data, LocatedDict) else defaults.get("xfail")
    return xfail if isinstance(xfail, str) and xfail.strip() else None


def load_spec(path: Path | str, *, check_images: bool = True) -> Spec:
    """Load a spec file, raising SpecError with every problem (file and cases) if anything is wrong."""
    parsed = parse_spec(path, check_images=check_images)
    if parsed.all_problems or parsed.spec is None:
        raise SpecError(list(parsed.all_problems))
    return parsed.spec


def is_spec_file(path: Path) -> bool:
    """A .yaml/.yml file that is not a directory's `_defaults.yaml`."""
    return path.suffix.lower() in SPEC_SUFFIXES and path.name != DEFAULTS_FILE_NAME


def discover_spec_files(paths: Iterable[Path | str]) -> list[Path]:
    """Every spec file under the given files/directories, sorted, without duplicates (missing paths are skipped)."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if candidate.is_file() and is_spec_file(candidate):
                    found[candidate] = None
        elif path.is_file():
            found[path] = None
    return list(found)
