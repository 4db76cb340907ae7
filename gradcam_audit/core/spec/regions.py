"""Parsing one region of a case: its geometry (box, polygon or mask), its thresholds, and what it inherits."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gradcam_audit.core.files.images import image_size
from gradcam_audit.core.engine.method_names import BOX_FORMATS
from gradcam_audit.core.evaluate.removal import REMOVAL_MODES
from gradcam_audit.core.evaluate.metrics import REGION_METRICS
from gradcam_audit.core.spec.checks import (
    ProblemCollector,
    as_finite_number,
    check_keys,
    describe_value,
    read_boolean,
    read_choice,
    read_spec_key,
)
from gradcam_audit.core.spec.fields import names, region_fields
from gradcam_audit.core.spec.model import Region, Shape
from gradcam_audit.core.spec.paths import resolve_path
from gradcam_audit.core.spec.yaml_lines import LocatedDict
from gradcam_audit.errors import ImageError


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

    def choice(self, key: str, choices: tuple[str, ...], collector: ProblemCollector, default: str, case_index: int) -> str:
        for source, field in self.sources:
            if key in source:
                return read_choice(source, key, f"{field}.{key}", choices, collector, default, case_index)
        return str(self.defaults.get(key, default))

    def boolean(self, key: str, collector: ProblemCollector, default: bool, case_index: int) -> bool:
        for source, field in self.sources:
            if key in source:
                return read_boolean(source, key, f"{field}.{key}", collector, default, case_index)
        return bool(self.defaults.get(key, default))


def parse_region(
    region_data: Any,
    field: str,
    case_data: LocatedDict,
    case_field: str,
    defaults: dict[str, Any],
    spec_dir: Path,
    size: tuple[int, int] | None,
    check_images: bool,
    collector: ProblemCollector,
    case_index: int,
    container: Any,
    index: int,
) -> Region | None:
    if not isinstance(region_data, LocatedDict):
        collector.add(container, index, field, f"expected a mapping with name, box and thresholds, got {describe_value(region_data)}",
                      "write `- {name: object, box: [x_min, y_min, x_max, y_max], min_lift: 1.5}`", case_index=case_index)
        return None
    check_keys(region_data, names(region_fields()), f"{field}.", collector, case_index)
    name = region_data.get("name")
    if not isinstance(name, (str, int)) or isinstance(name, bool) or str(name) == "":
        collector.add(region_data, "name", f"{field}.name", f"every region needs a `name`, got {describe_value(name)}",
                      "add e.g. `name: mug` (shown in failures and the report)", case_index=case_index)
        name = f"region-{index}"

    inherited = _Inherited(region_data, case_data, defaults, field, case_field)
    box_format = inherited.choice("box_format", BOX_FORMATS, collector, "xyxy", case_index)
    normalized = inherited.boolean("normalized", collector, False, case_index)
    removal = inherited.choice("removal", REMOVAL_MODES, collector, REMOVAL_MODES[0], case_index)

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

    thresholds = _read_thresholds(region_data, field, defaults, collector, case_index)
    # A threshold that is written but invalid is reported on its own line; "no threshold" would only mislead.
    written = any(metric.threshold_key in region_data for metric in REGION_METRICS if metric.key.kind != "boolean")
    if not written and not any(thresholds.get(metric.threshold_key) not in (None, False) for metric in REGION_METRICS):
        collector.add(region_data, "name", field, f"region {str(name)!r} has no threshold, so it could never fail",
                      "add min_mass / min_lift (where the model should look), max_mass (where it must not) or max_effect / min_effect",
                      case_index=case_index)
    if shape is None:
        return None
    return Region(name=str(name), shape=shape, thresholds=thresholds, removal=removal, line=region_data.position.line)


def _read_thresholds(
    region_data: LocatedDict, field: str, defaults: dict[str, Any], collector: ProblemCollector, case_index: int
) -> dict[str, float | bool | None]:
    """Every registered metric's keys: the region's own value, else the inherited default; contradictions reported."""
    thresholds: dict[str, float | bool | None] = {}
    for spec_key in REGION_METRICS.spec_keys():
        if spec_key.name in region_data:
            thresholds[spec_key.name] = read_spec_key(region_data, spec_key, f"{field}.{spec_key.name}", collector, case_index)
        else:
            thresholds[spec_key.name] = defaults.get(spec_key.name)
    requiring = [metric.threshold_key for metric in REGION_METRICS if metric.role == "require"]
    forbidding = [metric.threshold_key for metric in REGION_METRICS if metric.role == "forbid"]
    explicit_maximum = any(region_data.get(key) is not None for key in forbidding)
    if explicit_maximum and not any(key in region_data for key in requiring):
        # A forbidden region set up explicitly: inherited minimums (defaults.min_lift) would make it contradictory.
        for key in requiring:
            thresholds[key] = None
    for metric in REGION_METRICS:
        if metric.ceiling is None:
            continue
        low_key, (high_key, what) = metric.threshold_key, metric.ceiling
        minimum, maximum = thresholds.get(low_key), thresholds.get(high_key)
        if isinstance(minimum, float) and isinstance(maximum, float) and minimum > maximum:
            collector.add(region_data, high_key if high_key in region_data else low_key, f"{field}.{high_key}",
                          f"{low_key} {minimum!r} > {high_key} {maximum!r}: {what} can pass",
                          f"lower {low_key} or raise {high_key}", case_index=case_index)
    return thresholds


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
    collector: ProblemCollector,
    case_index: int,
) -> Shape | None:
    raw = region_data["box"]
    numbers = [as_finite_number(item) for item in raw] if isinstance(raw, list) else []
    if len(numbers) != 4 or any(number is None for number in numbers):
        collector.add(region_data, "box", f"{field}.box", f"expected four finite numbers ({box_format}), got {describe_value(raw)}",
                      "write box: [x_min, y_min, x_max, y_max] (or set box_format: xywh / cxcywh)", case_index=case_index)
        return None
    x_min, y_min, x_max, y_max = _convert_box([float(number) for number in numbers if number is not None], box_format)
    if x_min >= x_max or y_min >= y_max:
        collector.add(region_data, "box", f"{field}.box",
                      f"empty box {describe_value(raw)} ({box_format}): expected x_min < x_max and y_min < y_max",
                      "write [x_min, y_min, x_max, y_max], or set box_format: xywh if the last two are width and height",
                      case_index=case_index)
        return None
    reason = _outside((x_min, x_max), (y_min, y_max), normalized, size)
    if reason is not None:
        fix = ("set normalized: false for pixel coordinates" if normalized else
               "boxes are in pixels of the original image, after EXIF rotation; x_max ≤ width, y_max ≤ height")
        collector.add(region_data, "box", f"{field}.box",
                      f"box {describe_value(raw)} ({box_format}) lies (partly) outside the image: {reason}", fix, case_index=case_index)
        return None
    return Shape("box", box=(x_min, y_min, x_max, y_max), normalized=normalized)


def _collinear(points: list[tuple[float, float]]) -> bool:
    """Whether every point lies on one line (or they are all the same point): then the polygon covers no pixel.

    A self-intersecting polygon (a bowtie) is accepted: its signed shoelace area can cancel to 0, but the region's
    pixels are filled with the even-odd rule (``core.regions``), so each lobe counts once and its area is real.
    Only a polygon that is truly flat is refused.
    """
    x0, y0 = points[0]
    direction = next(((x - x0, y - y0) for x, y in points[1:] if (x, y) != (x0, y0)), None)
    if direction is None:
        return True
    scale = max(abs(value) for point in points for value in point) or 1.0
    return all(abs(direction[0] * (y - y0) - direction[1] * (x - x0)) <= 1e-12 * scale * scale for x, y in points)


def _parse_polygon(
    region_data: LocatedDict, field: str, normalized: bool, size: tuple[int, int] | None, collector: ProblemCollector, case_index: int
) -> Shape | None:
    raw = region_data["polygon"]
    points: list[tuple[float, float]] = []
    if isinstance(raw, list):
        for point in raw:
            coordinates = [as_finite_number(item) for item in point] if isinstance(point, list) else []
            if len(coordinates) != 2 or coordinates[0] is None or coordinates[1] is None:
                points = []
                break
            points.append((coordinates[0], coordinates[1]))
    if len(points) < 3:
        collector.add(region_data, "polygon", f"{field}.polygon", f"expected at least three [x, y] points, got {describe_value(raw)}",
                      "write polygon: [[x1, y1], [x2, y2], [x3, y3], ...]", case_index=case_index)
        return None
    if _collinear(points):
        collector.add(region_data, "polygon", f"{field}.polygon",
                      f"polygon {describe_value(raw)} encloses no area (all its points lie on one line)",
                      "give the corners of the region in order around it", case_index=case_index)
        return None
    reason = _outside([x for x, _ in points], [y for _, y in points], normalized, size)
    if reason is not None:
        collector.add(region_data, "polygon", f"{field}.polygon", f"polygon {describe_value(raw)} lies (partly) outside the image: {reason}",
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
    collector: ProblemCollector,
    case_index: int,
) -> Shape | None:
    value = region_data["mask"]
    mask_path = resolve_path(spec_dir, value) if isinstance(value, str) and value else None
    if mask_path is None:
        collector.add(region_data, "mask", f"{field}.mask", f"expected the path of a mask image, got {describe_value(value)}",
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


