"""Turn a YAML spec file into a validated Spec, collecting every problem with file, line and field."""

from __future__ import annotations

import os
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
    CASE_FIELDS,
    DEFAULTS_FIELDS,
    GATE_FIELDS,
    REGION_FIELDS,
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
        file: str | None = None,
    ) -> None:
        position = position_of_key(container, key) if at_key else position_of_value(container, key)
        self.problems.append(
            Problem(
                file=file or self.file,
                field=field,
                message=message,
                line=position.line if position else None,
                column=position.column if position else None,
                fix=fix,
                case_index=case_index,
            )
        )


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_keys(mapping: LocatedDict, allowed: tuple[str, ...], prefix: str, collector: _Collector, case_index: int | None = None) -> None:
    for key in mapping:
        if key not in allowed:
            collector.add(
                mapping,
                key,
                f"{prefix}{key}",
                f"unknown key {key!r}{did_you_mean(str(key), allowed)}",
                f"use one of: {listing(allowed, 20)}",
                case_index=case_index,
                at_key=True,
            )
    for key, _position in getattr(mapping, "duplicate_keys", []):
        collector.add(mapping, key, f"{prefix}{key}", f"key {key!r} appears twice; the later value would win silently",
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
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        collector.add(mapping, key, field, f"expected a number, got {_describe(value)}", case_index=case_index)
        return None
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        collector.add(mapping, key, field, f"expected a finite number, got {value}", case_index=case_index)
        return None
    if fraction and not 0.0 <= number <= 1.0:
        collector.add(mapping, key, field, f"{number:g} is outside [0, 1]",
                      f"{key} is a share of the heatmap's mass, e.g. 0.5 for half", case_index=case_index)
        return None
    if positive and number <= 0:
        collector.add(mapping, key, field, f"{number:g} must be greater than 0",
                      "a lift of 1.0 is chance level; use e.g. 1.5", case_index=case_index)
        return None
    return number


def _boolean(mapping: LocatedDict, key: str, field: str, collector: _Collector, default: bool, case_index: int | None = None) -> bool:
    if key not in mapping:
        return default
    value = mapping[key]
    if not isinstance(value, bool):
        collector.add(mapping, key, field, f"expected true or false, got {_describe(value)}", case_index=case_index)
        return default
    return value


def _choice(mapping: LocatedDict, key: str, field: str, choices: tuple[str, ...], collector: _Collector, default: str) -> str:
    if key not in mapping:
        return default
    value = mapping[key]
    if value not in choices:
        collector.add(mapping, key, field, f"{_describe(value)} is not one of {listing(choices)}{did_you_mean(str(value), choices)}")
        return default
    return str(value)


class _Defaults:
    """Values from `defaults:` (and a directory's _defaults.yaml) applied to cases and regions."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def _load_yaml_mapping(path: Path, collector: _Collector) -> LocatedDict | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        collector.problems.append(Problem(collector.file, "", f"not UTF-8 text ({error})", fix="save the file as UTF-8"))
        return None
    except OSError as error:
        collector.problems.append(Problem(collector.file, "", f"cannot read the file ({error.strerror})"))
        return None
    try:
        data = load_located_yaml(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        collector.problems.append(
            Problem(
                collector.file,
                "",
                f"YAML syntax error: {error.problem or error.context}",
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                fix="check indentation and quoting on this line (a ':' or '#' inside a value needs quotes)",
            )
        )
        return None
    except yaml.YAMLError as error:
        collector.problems.append(Problem(collector.file, "", f"YAML error: {error}"))
        return None
    if data is None:
        collector.problems.append(Problem(collector.file, "", "the file is empty", fix="add at least `model:` and `cases:`"))
        return None
    if not isinstance(data, LocatedDict):
        collector.problems.append(
            Problem(collector.file, "", f"expected a mapping at the top (model:, cases:, ...), got a {type(data).__name__}", line=1)
        )
        return None
    return data


def _directory_defaults(spec_path: Path) -> tuple[LocatedDict | None, list[Problem]]:
    defaults_path = spec_path.parent / DEFAULTS_FILE_NAME
    if not defaults_path.is_file() or defaults_path == spec_path:
        return None, []
    collector = _Collector(defaults_path)
    data = _load_yaml_mapping(defaults_path, collector)
    if data is not None:
        _check_keys(data, tuple(n for n in names(TOP_LEVEL_FIELDS) if n != "cases"), "", collector)
    return data, collector.problems


def _parse_model(data: LocatedDict, spec_dir: Path, collector: _Collector) -> ModelRef | None:
    if "model" not in data:
        collector.add(data, "model", "model", "required key 'model' is missing",
                      "add `model: path/to/model.keras` (relative to this file)")
        return None
    value = data["model"]
    loader: str | None = None
    safe_mode = True
    if isinstance(value, LocatedDict):
        _check_keys(value, ("path", "loader", "safe_mode"), "model.", collector)
        loader = value.get("loader")
        safe_mode = _boolean(value, "safe_mode", "model.safe_mode", collector, True)
        if loader is not None and (not isinstance(loader, str) or ":" not in loader):
            collector.add(value, "loader", "model.loader", f"expected {_CALLABLE_HINT}, got {_describe(loader)}")
            loader = None
        path_value = value.get("path")
        if not isinstance(path_value, str):
            collector.add(value, "path", "model.path", f"expected a file path, got {_describe(path_value)}")
            return None
        container, key = value, "path"
    elif isinstance(value, str):
        path_value, container, key = value, data, "model"
    else:
        collector.add(data, "model", "model", f"expected a path or {{path: ..., loader: ...}}, got {_describe(value)}")
        return None
    model_path = (spec_dir / path_value).resolve()
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
        collector.add(container, key, "model", f"unsupported model file type {model_path.suffix!r}",
                      "use a .keras or .h5 file, or give a custom loader")
        return None
    return ModelRef(path=model_path, loader=loader, safe_mode=safe_mode)


def _parse_preprocess(data: LocatedDict, collector: _Collector) -> Preprocess:
    if "preprocess" not in data:
        return Preprocess("builtin", "none")
    value = data["preprocess"]
    choices = (*PREPROCESS_BUILTINS, *PREPROCESS_FAMILIES)
    if isinstance(value, str):
        if value in PREPROCESS_BUILTINS:
            return Preprocess("builtin", value)
        if value in PREPROCESS_FAMILIES:
            return Preprocess("family", value)
        if ":" in value:
            return Preprocess("callable", value)
        collector.add(data, "preprocess", "preprocess", f"unknown preprocessing {value!r}{did_you_mean(value, choices)}",
                      f"use one of: {listing(choices, 20)}; or {{scale, mean, std}}; or {_CALLABLE_HINT}")
        return Preprocess("builtin", "none")
    if isinstance(value, LocatedDict):
        _check_keys(value, ("scale", "mean", "std"), "preprocess.", collector)
        scale = _number(value, "scale", "preprocess.scale", collector, positive=True) or 1.0
        vectors: dict[str, tuple[float, ...]] = {}
        for key in ("mean", "std"):
            raw = value.get(key, [])
            if not isinstance(raw, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
                collector.add(value, key, f"preprocess.{key}", f"expected a list of numbers, got {_describe(raw)}")
                raw = []
            vectors[key] = tuple(float(v) for v in raw)
        if any(v == 0 for v in vectors["std"]):
            collector.add(value, "std", "preprocess.std", "a std of 0 would divide by zero")
        return Preprocess("affine", "affine", scale=scale, mean=vectors["mean"], std=vectors["std"])
    collector.add(data, "preprocess", "preprocess", f"expected a name or {{scale, mean, std}}, got {_describe(value)}")
    return Preprocess("builtin", "none")


def _parse_labels(data: LocatedDict, spec_dir: Path, collector: _Collector) -> tuple[str, ...] | None:
    if "labels" not in data or data["labels"] is None:
        return None
    value = data["labels"]
    if isinstance(value, list):
        labels = [str(item) for item in value]
    elif isinstance(value, str):
        labels_path = (spec_dir / value).resolve()
        if not labels_path.is_file():
            collector.add(data, "labels", "labels", f"labels file not found: {labels_path}",
                          "give a list [a, b, ...] or a text file with one class name per line")
            return None
        labels = [line.strip() for line in labels_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        collector.add(data, "labels", "labels", f"expected a list of class names or a file path, got {_describe(value)}")
        return None
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        collector.add(data, "labels", "labels", f"duplicate class names: {', '.join(duplicates)}")
    if not labels:
        collector.add(data, "labels", "labels", "the list of labels is empty")
        return None
    return tuple(labels)


def _parse_methods(data: LocatedDict, collector: _Collector) -> tuple[str, ...]:
    value = data.get("method", "gradcam")
    values = value if isinstance(value, list) else [value]
    methods: list[str] = []
    for index, method in enumerate(values):
        if not isinstance(method, str) or method.lower() not in METHOD_NAMES:
            container, key = (value, index) if isinstance(value, list) else (data, "method")
            collector.add(container, key, "method", f"unknown method {_describe(method)}{did_you_mean(str(method), METHOD_NAMES)}",
                          f"use one of: {listing(METHOD_NAMES)}")
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
        collector.add(mapping, key, field, f"expected a class name or index, got {_describe(value)}", case_index=case_index)
        return None
    if isinstance(value, int):
        if value < 0 or (labels is not None and value >= len(labels)):
            limit = f"0..{len(labels) - 1}" if labels else "≥ 0"
            collector.add(mapping, key, field, f"class index {value} is out of range (expected {limit})", case_index=case_index)
            return None
        return value
    if labels is None:
        collector.add(mapping, key, field, f"class name {value!r} needs `labels:` at the top of the spec",
                      "add `labels: [...]` in output order, or give the class index", case_index=case_index)
        return None
    if value not in labels:
        collector.add(mapping, key, field, f"unknown class {value!r}{did_you_mean(value, labels)}",
                      f"labels are: {listing(labels, 30)}", case_index=case_index)
        return None
    return value


def _convert_box(numbers: list[float], box_format: str) -> tuple[float, float, float, float]:
    a, b, c, d = numbers
    if box_format == "xywh":
        return (a, b, a + c, b + d)
    if box_format == "cxcywh":
        return (a - c / 2, b - d / 2, a + c / 2, b + d / 2)
    return (a, b, c, d)


def _parse_region(
    region_data: Any,
    field: str,
    case_data: LocatedDict,
    defaults: _Defaults,
    spec_dir: Path,
    image_size_or_none: tuple[int, int] | None,
    collector: _Collector,
    case_index: int,
    container: Any,
    index: int,
) -> Region | None:
    if not isinstance(region_data, LocatedDict):
        collector.add(container, index, field, f"expected a mapping with name, box and thresholds, got {_describe(region_data)}",
                      case_index=case_index)
        return None
    _check_keys(region_data, names(REGION_FIELDS), f"{field}.", collector, case_index)
    name = region_data.get("name")
    if not isinstance(name, (str, int)) or isinstance(name, bool) or str(name) == "":
        collector.add(region_data, "name", f"{field}.name", "every region needs a `name` (shown in failures and the report)",
                      case_index=case_index)
        name = f"region-{index}"

    def inherited(key: str, default: Any = None) -> Any:
        for source in (region_data, case_data):
            if key in source:
                return source[key]
        return defaults.get(key, default)

    box_format = inherited("box_format", "xyxy")
    if box_format not in BOX_FORMATS:
        collector.add(region_data, "box_format", f"{field}.box_format", f"{_describe(box_format)} is not one of {listing(BOX_FORMATS)}",
                      case_index=case_index)
        box_format = "xyxy"
    normalized = inherited("normalized", False)
    if not isinstance(normalized, bool):
        collector.add(region_data, "normalized", f"{field}.normalized", f"expected true or false, got {_describe(normalized)}",
                      case_index=case_index)
        normalized = False

    geometry_keys = [key for key in ("box", "polygon", "mask") if key in region_data]
    shape: Shape | None = None
    if len(geometry_keys) != 1:
        message = "needs exactly one of box, polygon, mask" + (f" (got {', '.join(geometry_keys)})" if geometry_keys else "")
        collector.add(region_data, geometry_keys[1] if len(geometry_keys) > 1 else "name", field, message,
                      "e.g. `box: [x_min, y_min, x_max, y_max]` in pixels of the original image", case_index=case_index)
    elif geometry_keys[0] == "box":
        shape = _parse_box(region_data, field, box_format, normalized, image_size_or_none, collector, case_index)
    elif geometry_keys[0] == "polygon":
        shape = _parse_polygon(region_data, field, normalized, collector, case_index)
    else:
        mask_value = region_data["mask"]
        mask_path = (spec_dir / str(mask_value)).resolve()
        if not mask_path.is_file():
            collector.add(region_data, "mask", f"{field}.mask", f"mask file not found: {mask_path}", case_index=case_index)
        else:
            shape = Shape("mask", mask_path=mask_path)

    thresholds: dict[str, float | None] = {}
    for key, fraction, positive in (("min_mass", True, False), ("max_mass", True, False), ("min_lift", False, True),
                                    ("min_iou", True, False), ("iou_threshold", True, False)):
        source = region_data if key in region_data else (case_data if key in case_data else None)
        if source is not None:
            thresholds[key] = _number(source, key, f"{field}.{key}", collector, fraction=fraction, positive=positive, case_index=case_index)
        else:
            thresholds[key] = defaults.get(key)
    peak_inside = _boolean(region_data, "peak_inside", f"{field}.peak_inside", collector, bool(defaults.get("peak_inside", False)), case_index)
    if thresholds["min_mass"] is not None and thresholds["max_mass"] is not None and thresholds["min_mass"] > thresholds["max_mass"]:
        collector.add(region_data, "max_mass", f"{field}.max_mass",
                      f"min_mass {thresholds['min_mass']:g} > max_mass {thresholds['max_mass']:g}: no heatmap can pass",
                      case_index=case_index)
    if region_data.get("max_mass") is not None and "min_mass" not in region_data and "min_lift" not in region_data:
        # A forbidden region set up explicitly: inherited minimums (defaults.min_lift) would make it contradictory.
        thresholds["min_mass"] = None
        thresholds["min_lift"] = None
    if not any(thresholds[key] is not None for key in ("min_mass", "max_mass", "min_lift", "min_iou")) and not peak_inside:
        collector.add(region_data, "name", field, f"region {name!r} has no threshold, so it could never fail",
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
    if (
        not isinstance(raw, list)
        or len(raw) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
    ):
        collector.add(region_data, "box", f"{field}.box", f"expected four numbers [x_min, y_min, x_max, y_max], got {_describe(raw)}",
                      case_index=case_index)
        return None
    x_min, y_min, x_max, y_max = _convert_box([float(v) for v in raw], box_format)
    if x_min >= x_max or y_min >= y_max:
        collector.add(region_data, "box", f"{field}.box",
                      f"empty box {raw} ({box_format}): x_min must be < x_max and y_min < y_max",
                      "write [x_min, y_min, x_max, y_max], or set box_format: xywh if the last two are width and height",
                      case_index=case_index)
        return None
    if normalized and not all(-1e-9 <= v <= 1 + 1e-9 for v in (x_min, y_min, x_max, y_max)):
        collector.add(region_data, "box", f"{field}.box", f"normalized box {raw} has coordinates outside [0, 1]",
                      "set normalized: false for pixel coordinates", case_index=case_index)
        return None
    if size is not None and not normalized:
        width, height = size
        if x_min < 0 or y_min < 0 or x_max > width or y_max > height:
            collector.add(region_data, "box", f"{field}.box",
                          f"box {raw} lies (partly) outside the image, which is {width}×{height} pixels (width×height)",
                          "boxes are in pixels of the original image, after EXIF rotation; x_max ≤ width, y_max ≤ height",
                          case_index=case_index)
            return None
    return Shape("box", box=(x_min, y_min, x_max, y_max), normalized=normalized)


def _parse_polygon(region_data: LocatedDict, field: str, normalized: bool, collector: _Collector, case_index: int) -> Shape | None:
    raw = region_data["polygon"]
    ok = isinstance(raw, list) and len(raw) >= 3 and all(
        isinstance(point, list) and len(point) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
        for point in raw
    )
    if not ok:
        collector.add(region_data, "polygon", f"{field}.polygon", f"expected at least three [x, y] points, got {_describe(raw)}",
                      case_index=case_index)
        return None
    return Shape("polygon", polygon=tuple((float(x), float(y)) for x, y in raw), normalized=normalized)


def _parse_case(
    case_data: Any,
    index: int,
    cases_list: Any,
    defaults: _Defaults,
    labels: tuple[str, ...] | None,
    spec_dir: Path,
    check_images: bool,
    collector: _Collector,
) -> tuple[Case | None, str, int | None]:
    field = f"cases[{index}]"
    if not isinstance(case_data, LocatedDict):
        collector.add(cases_list, index, field, f"expected a mapping with id, image and regions, got {_describe(case_data)}",
                      case_index=index)
        return None, f"case-{index}", None
    line = case_data.position.line
    _check_keys(case_data, names(CASE_FIELDS), f"{field}.", collector, index)
    raw_id = case_data.get("id")
    if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id).strip() == "":
        collector.add(case_data, "id", f"{field}.id", "every case needs an `id` (it becomes the test id)",
                      "add e.g. `id: mug-0001`", case_index=index, at_key="id" in case_data)
        case_id = f"case-{index}"
    else:
        case_id = str(raw_id)
    image_value = case_data.get("image")
    image_path: Path | None = None
    size: tuple[int, int] | None = None
    if not isinstance(image_value, str):
        collector.add(case_data, "image", f"{field}.image", f"expected an image path, got {_describe(image_value)}",
                      case_index=index)
    else:
        image_path = (spec_dir / image_value).resolve()
        if check_images:
            try:
                size = image_size(image_path)
            except ImageError as error:
                collector.add(case_data, "image", f"{field}.image", str(error), case_index=index)
                image_path = None
    target = _class_ref(case_data, "target", f"{field}.target", labels, collector, index)
    expect_class = _class_ref(case_data, "expect_class", f"{field}.expect_class", labels, collector, index)
    tags_value = case_data.get("tags", [])
    if not isinstance(tags_value, list) or not all(isinstance(tag, str) and tag.isidentifier() for tag in tags_value):
        collector.add(case_data, "tags", f"{field}.tags", f"expected a list of identifiers (letters, digits, _), got {_describe(tags_value)}",
                      "tags become pytest markers, e.g. [phone_photo, night]", case_index=index)
        tags_value = []
    tags = tuple(dict.fromkeys([*defaults.get("tags", []), *tags_value]))
    xfail = case_data.get("xfail", defaults.get("xfail"))
    if xfail is not None and (not isinstance(xfail, str) or not xfail.strip()):
        collector.add(case_data, "xfail", f"{field}.xfail", "expected a reason (text) for the expected failure", case_index=index)
        xfail = None
    regions_value = case_data.get("regions")
    regions: list[Region] = []
    if not isinstance(regions_value, list) or not regions_value:
        collector.add(case_data, "regions" if "regions" in case_data else "id", f"{field}.regions",
                      "every case needs at least one region", "add `regions: [{name: ..., box: [...], min_lift: 1.5}]`",
                      case_index=index)
    else:
        seen_names: set[str] = set()
        for region_index, region_data in enumerate(regions_value):
            region = _parse_region(region_data, f"{field}.regions[{region_index}]", case_data, defaults, spec_dir, size,
                                   collector, index, regions_value, region_index)
            if region is None:
                continue
            if region.name in seen_names:
                collector.add(region_data, "name", f"{field}.regions[{region_index}].name", f"duplicate region name {region.name!r}",
                              case_index=index)
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
        collector.add(data, "gate", "gate", f"expected a mapping such as {{min_pass_rate: 0.9}}, got {_describe(value)}")
        return None
    _check_keys(value, names(GATE_FIELDS), "gate.", collector)
    gate = Gate(
        min_pass_rate=_number(value, "min_pass_rate", "gate.min_pass_rate", collector, fraction=True),
        min_mean_mass=_number(value, "min_mean_mass", "gate.min_mean_mass", collector, fraction=True),
        min_mean_lift=_number(value, "min_mean_lift", "gate.min_mean_lift", collector, positive=True),
        per_class=_boolean(value, "per_class", "gate.per_class", collector, False),
        line=value.position.line,
    )
    if gate.min_pass_rate is None and gate.min_mean_mass is None and gate.min_mean_lift is None:
        collector.add(data, "gate", "gate", "the gate sets no threshold, so it could never fail",
                      "add min_pass_rate, min_mean_mass or min_mean_lift")
    return gate


def _merged(directory_defaults: LocatedDict | None, data: LocatedDict) -> tuple[LocatedDict, dict[str, Any]]:
    """Top-level values of the spec, with a directory's _defaults.yaml underneath; returns (top, defaults)."""
    defaults_values: dict[str, Any] = {}
    if directory_defaults is not None:
        for key, value in directory_defaults.items():
            if key not in data and key != "defaults":
                data[key] = value
                data.key_positions[key] = data.position
                data.value_positions[key] = data.position
        if isinstance(directory_defaults.get("defaults"), dict):
            defaults_values.update(directory_defaults["defaults"])
    return data, defaults_values


def parse_spec(path: Path | str, *, check_images: bool = True) -> ParsedSpec:
    """Read and validate one spec file without raising for the user's mistakes.

    Returns a ParsedSpec whose ``problems`` are file-level; case-level problems are attached to
    ``spec.invalid_cases`` so the valid cases still run.
    """
    spec_path = Path(path).resolve()
    collector = _Collector(spec_path)
    data = _load_yaml_mapping(spec_path, collector)
    if data is None:
        return ParsedSpec(spec_path, None, tuple(collector.problems))
    directory_defaults, defaults_problems = _directory_defaults(spec_path)
    collector.problems.extend(defaults_problems)
    _check_keys(data, names(TOP_LEVEL_FIELDS), "", collector)
    data, defaults_values = _merged(directory_defaults, data)
    spec_dir = spec_path.parent

    defaults_data = data.get("defaults")
    if defaults_data is not None:
        if not isinstance(defaults_data, LocatedDict):
            collector.add(data, "defaults", "defaults", f"expected a mapping such as {{min_lift: 1.2}}, got {_describe(defaults_data)}")
        else:
            _check_keys(defaults_data, names(DEFAULTS_FIELDS), "defaults.", collector)
            for key, fraction, positive in (("min_mass", True, False), ("max_mass", True, False), ("min_lift", False, True),
                                            ("min_iou", True, False), ("iou_threshold", True, False)):
                if key in defaults_data:
                    defaults_data[key] = _number(defaults_data, key, f"defaults.{key}", collector, fraction=fraction, positive=positive)
            defaults_values.update(defaults_data)
    defaults = _Defaults(defaults_values)

    model = _parse_model(data, spec_dir, collector)
    preprocess = _parse_preprocess(data, collector)
    resize = _choice(data, "resize", "resize", RESIZE_MODES, collector, "stretch")
    score = _choice(data, "score", "score", SCORE_KINDS, collector, "logit")
    labels = _parse_labels(data, spec_dir, collector)
    layer = data.get("layer", "auto")
    if not isinstance(layer, str) or not layer.strip():
        collector.add(data, "layer", "layer", f"expected 'auto' or a layer name, got {_describe(layer)}")
        layer = "auto"
    output = data.get("output", 0)
    if isinstance(output, bool) or not isinstance(output, (str, int)):
        collector.add(data, "output", "output", f"expected an output name or index, got {_describe(output)}")
        output = 0
    methods = _parse_methods(data, collector)
    gate = _parse_gate(data, collector)
    suite_xfail = data.get("xfail")
    if suite_xfail is not None and (not isinstance(suite_xfail, str) or not suite_xfail.strip()):
        collector.add(data, "xfail", "xfail", "expected a reason (text) for the expected failure of the suite")
        suite_xfail = None
    if suite_xfail is not None:
        # Cases inherit the suite's expected failure unless they say otherwise.
        defaults_values.setdefault("xfail", suite_xfail)

    cases_value = data.get("cases")
    cases: list[Case] = []
    invalid: list[InvalidCase] = []
    if not isinstance(cases_value, list) or not cases_value:
        collector.add(data, "cases" if "cases" in data else "model", "cases",
                      "the spec has no cases" if "cases" in data else "required key 'cases' is missing",
                      "add `cases:` with at least one `- id: ..., image: ..., regions: [...]`", at_key=True)
    else:
        file_level = len(collector.problems)
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
                xfail = case_data.get("xfail", defaults.get("xfail")) if isinstance(case_data, LocatedDict) else None
                invalid.append(InvalidCase(case_id, index, tuple(case_problems), line, xfail if isinstance(xfail, str) else None))
            else:
                cases.append(case)
        del file_level
    file_problems = tuple(problem for problem in collector.problems if problem.case_index is None)
    if model is None or any(problem.case_index is None for problem in collector.problems):
        return ParsedSpec(spec_path, _spec_or_none(spec_path, model, preprocess, resize, labels, layer, methods, output, score, cases, gate, invalid), file_problems)
    spec = Spec(path=spec_path, model=model, preprocess=preprocess, resize=resize, labels=labels, layer=layer,
                methods=methods, output=output, score=score, cases=tuple(cases), gate=gate, invalid_cases=tuple(invalid),
                xfail=suite_xfail)
    return ParsedSpec(spec_path, spec, ())


def _spec_or_none(spec_path: Path, model: ModelRef | None, preprocess: Preprocess, resize: str, labels: tuple[str, ...] | None,
                  layer: str, methods: tuple[str, ...], output: str | int, score: str, cases: list[Case], gate: Gate | None,
                  invalid: list[InvalidCase]) -> Spec | None:
    """With file-level problems the cases cannot run, but their ids are still worth showing."""
    return Spec(path=spec_path, model=model or ModelRef(spec_path), preprocess=preprocess, resize=resize, labels=labels,
                layer=layer, methods=methods, output=output, score=score, cases=tuple(cases), gate=gate,
                invalid_cases=tuple(invalid))


def load_spec(path: Path | str, *, check_images: bool = True) -> Spec:
    """Load a spec file, raising SpecError with every problem (file and cases) if anything is wrong."""
    parsed = parse_spec(path, check_images=check_images)
    if parsed.all_problems or parsed.spec is None:
        raise SpecError(list(parsed.all_problems))
    return parsed.spec


def is_spec_file(path: Path) -> bool:
    return path.suffix.lower() in SPEC_SUFFIXES and path.name != DEFAULTS_FILE_NAME


def discover_spec_files(paths: Iterable[Path | str]) -> list[Path]:
    """Every spec file under the given files/directories, sorted, without duplicates."""
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
