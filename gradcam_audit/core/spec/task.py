"""The spec's `task:` and `detections:` keys, and a segmentation or detection case's `target: {class, region | box | polygon}`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from gradcam_audit.core.spec.checks import ProblemCollector, as_finite_number, check_keys, describe_value, read_choice, read_number
from gradcam_audit.core.spec.fields import CALLABLE_PATTERN, TARGET_FIELDS, TASK_NAMES, names
from gradcam_audit.core.spec.model import ClassRef, Region, Shape
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.core.spec.yaml_lines import LocatedDict

KERAS_HUB_DECODER = "keras_hub"
DEFAULT_MATCH_IOU = 0.5
_CALLABLE = re.compile(CALLABLE_PATTERN)
_AREA_KEYS = ("region", "box", "polygon")

# (mapping, key, field, labels, collector, case index) → the class reference, or None after reporting a problem.
ClassReader = Callable[[LocatedDict, str, str, "tuple[str, ...] | None", ProblemCollector, int], "ClassRef | None"]


def parse_task(data: LocatedDict, collector: ProblemCollector) -> str:
    """`task:` (classification when absent)."""
    return read_choice(data, "task", "task", TASK_NAMES, collector, "classification")


def parse_detections(data: LocatedDict, task: str, collector: ProblemCollector) -> str | None:
    """`detections:`: required by `task: detection`, meaningless for the other tasks."""
    value = data.get("detections")
    fix = ("write detections: keras_hub (a keras-hub object detector) or detections: my_decoder:decode (a function beside the spec "
           "mapping the raw output to {boxes, class_logits, objectness})")
    if value is None:
        if task == "detection":
            collector.add(data, "task", "detections", "`task: detection` needs `detections:`, how the model's raw output becomes "
                          "candidate boxes and class logits", fix)
        return None
    if task != "detection":
        collector.add(data, "detections", "detections", f"`detections:` is only read with `task: detection` (the task is {task})",
                      "add `task: detection`, or remove `detections:`")
        return None
    if not isinstance(value, str) or not (value == KERAS_HUB_DECODER or _CALLABLE.match(value)):
        collector.add(data, "detections", "detections", f"expected 'keras_hub' or 'module:function', got {describe_value(value)}", fix)
        return None
    return value


def _box(mapping: LocatedDict, field: str, collector: ProblemCollector, index: int) -> Shape | None:
    value = mapping["box"]
    numbers = [as_finite_number(item) for item in value] if isinstance(value, list) and len(value) == 4 else None
    if numbers is None or any(number is None for number in numbers):
        collector.add(mapping, "box", f"{field}.box", f"expected [x0, y0, x1, y1], four finite numbers, got {describe_value(value)}",
                      "write the box in original-image pixels, e.g. box: [12, 30, 40, 62]", case_index=index)
        return None
    x0, y0, x1, y1 = (float(number) for number in numbers if number is not None)
    if not (x1 > x0 and y1 > y0):
        collector.add(mapping, "box", f"{field}.box", f"the box {describe_value(value)} is empty (x1 must exceed x0 and y1 exceed y0)",
                      "write [x0, y0, x1, y1]: the top-left corner, then the bottom-right one", case_index=index)
        return None
    return Shape("box", box=(x0, y0, x1, y1))


def _polygon(mapping: LocatedDict, field: str, collector: ProblemCollector, index: int) -> Shape | None:
    value = mapping["polygon"]
    points: list[tuple[float, float]] = []
    if isinstance(value, list) and len(value) >= 3:
        for point in value:
            pair = [as_finite_number(item) for item in point] if isinstance(point, list) and len(point) == 2 else None
            if pair is None or pair[0] is None or pair[1] is None:
                break
            points.append((float(pair[0]), float(pair[1])))
    if len(points) < 3 or not isinstance(value, list) or len(points) != len(value):
        collector.add(mapping, "polygon", f"{field}.polygon", f"expected at least three [x, y] points, got {describe_value(value)}",
                      "write polygon: [[10, 10], [60, 12], [35, 50]] in original-image pixels", case_index=index)
        return None
    return Shape("polygon", polygon=tuple(points))


def parse_task_target(case_data: LocatedDict, field: str, labels: tuple[str, ...] | None, task: str, regions: Sequence[Region],
                      read_class: ClassReader, collector: ProblemCollector, index: int,
                      default_match_iou: float = DEFAULT_MATCH_IOU) -> tuple[ClassRef | None, Shape | None, float]:
    """A segmentation / detection case's target: (class, the pixels or box, match_iou). Problems name the field and a fix.

    ``default_match_iou``: `defaults.match_iou` (the spec's, else its directory's), used when the target sets none.
    """
    value = case_data.get("target")
    target_field = f"{field}.target"
    area_fix = ("write target: {class: car, box: [12, 30, 40, 62]}" if task == "detection"
                else "write target: {class: road, region: <a region's name>} (or box: / polygon: instead of region:)")
    if not isinstance(value, LocatedDict):
        collector.add(case_data, "target" if "target" in case_data else None, target_field,
                      f"a {task} case needs a target mapping with a class and {'the box a detection must match' if task == 'detection' else 'the pixels explained'}, "
                      f"got {describe_value(value)}", area_fix, case_index=index)
        return None, None, default_match_iou
    check_keys(value, names(TARGET_FIELDS), f"{target_field}.", collector, index)
    if "class" not in value:
        collector.add(case_data, "target", f"{target_field}.class", "the target names no class", area_fix, case_index=index)
    class_ref = read_class(value, "class", f"{target_field}.class", labels, collector, index)
    given = [key for key in _AREA_KEYS if key in value]
    allowed = ("box",) if task == "detection" else _AREA_KEYS
    shape: Shape | None = None
    if len(given) != 1 or given[0] not in allowed:
        collector.add(case_data, "target", target_field,
                      f"a {task} target needs exactly one of {', '.join(allowed)}, got {', '.join(given) or 'none'}", area_fix,
                      case_index=index)
    elif given[0] == "box":
        shape = _box(value, target_field, collector, index)
    elif given[0] == "polygon":
        shape = _polygon(value, target_field, collector, index)
    else:
        region_names = [region.name for region in regions]
        name = value["region"]
        found = next((region for region in regions if region.name == name), None)
        if found is None:
            collector.add(value, "region", f"{target_field}.region",
                          f"the case has no region {describe_value(name)}{did_you_mean(str(name), region_names)}",
                          f"name one of the case's regions: {listing(region_names) or 'none'}", case_index=index)
        else:
            shape = found.shape
    own_match_iou = read_match_iou(value, f"{target_field}.match_iou", task, collector, index)
    return class_ref, shape, default_match_iou if own_match_iou is None else own_match_iou


def read_match_iou(mapping: LocatedDict, field: str, task: str | None, collector: ProblemCollector,
                   case_index: int | None = None) -> float | None:
    """`match_iou` of a target or of `defaults:` (None when absent or invalid, then reported).

    Only `task: detection` reads it; ``task`` None (a directory's `_defaults.yaml` checked without its spec, which
    may set the task) checks the value's form alone.
    """
    if "match_iou" not in mapping:
        return None
    if task is not None and task != "detection":
        collector.add(mapping, "match_iou", field, f"`match_iou` is only read with `task: detection` (the task is {task})",
                      "remove `match_iou`, or add `task: detection` at the top of the spec", case_index=case_index)
        return None
    return read_number(mapping, "match_iou", field, collector, fraction=True, case_index=case_index,
                       fix="write match_iou: 0.5 (the usual detection match; lower accepts looser boxes)")


def target_in_classification(case_data: LocatedDict, field: str, collector: ProblemCollector, index: int) -> None:
    """A `target:` mapping in a classification spec: the task is missing."""
    collector.add(case_data, "target", f"{field}.target", "a target with pixels or a box needs `task: segmentation` or "
                  "`task: detection` at the top of the spec", "add `task: segmentation` (or detection), or write target: <class>",
                  case_index=index)

