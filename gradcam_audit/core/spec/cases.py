"""Parsing the `cases:` list: each case's id, image, classes, tags and regions, keeping invalid cases apart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from gradcam_audit.core.files.images import image_size
from gradcam_audit.core.evaluate.removal import REMOVAL_MODES
from gradcam_audit.core.spec.baseline_keys import as_values, inherit, parse_baseline
from gradcam_audit.core.spec.checks import ProblemCollector, check_keys, describe_value, read_reason, read_tags
from gradcam_audit.core.spec.faithfulness_keys import read_faithfulness
from gradcam_audit.core.spec.fields import CASE_FIELDS, names
from gradcam_audit.core.spec.model import Case, ClassRef, InvalidCase, Region
from gradcam_audit.core.spec.paths import resolve_path
from gradcam_audit.core.spec.regions import parse_region
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.core.spec.task import DEFAULT_MATCH_IOU, parse_task_target, target_in_classification
from gradcam_audit.core.spec.yaml_lines import LocatedDict
from gradcam_audit.errors import ImageError


def _class_ref(
    mapping: LocatedDict, key: str, field: str, labels: tuple[str, ...] | None, collector: ProblemCollector, case_index: int
) -> ClassRef | None:
    if key not in mapping or mapping[key] is None:
        return None
    value = mapping[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        collector.add(mapping, key, field, f"expected a class name or index, got {describe_value(value)}",
                      f"write {key}: <class name from labels> or {key}: <index>", case_index=case_index)
        return None
    if isinstance(value, int):
        if value < 0 or (labels is not None and value >= len(labels)):
            limit = f"0..{len(labels) - 1}" if labels else "≥ 0"
            collector.add(mapping, key, field, f"class index {describe_value(value)} is out of range (expected {limit})",
                          "class indices count from 0 in the model's output order", case_index=case_index)
            return None
        return value
    if labels is None:
        collector.add(mapping, key, field, f"class name {describe_value(value)} needs `labels:` at the top of the spec",
                      "add `labels: [...]` in output order, or give the class index", case_index=case_index)
        return None
    if value not in labels:
        collector.add(mapping, key, field, f"unknown class {describe_value(value)}{did_you_mean(value, labels)}",
                      f"use one of the labels: {listing(labels, 30)}", case_index=case_index)
        return None
    return value


def _parse_case(
    case_data: Any,
    index: int,
    cases_list: Any,
    defaults: dict[str, Any],
    labels: tuple[str, ...] | None,
    spec_dir: Path,
    check_images: bool,
    collector: ProblemCollector,
    task: str = "classification",
) -> tuple[Case | None, str, int | None]:
    field = f"cases[{index}]"
    if not isinstance(case_data, LocatedDict):
        collector.add(cases_list, index, field, f"expected a mapping with id, image and regions, got {describe_value(case_data)}",
                      "write `- id: ...` followed by `image:` and `regions:` indented under it", case_index=index)
        return None, f"case-{index}", None
    line = case_data.position.line
    check_keys(case_data, names(CASE_FIELDS), f"{field}.", collector, index)
    raw_id = case_data.get("id")
    if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id).strip() == "":
        collector.add(case_data, "id" if "id" in case_data else None, f"{field}.id",
                      f"every case needs an `id` (text or a number; it becomes the test id), got {describe_value(raw_id)}",
                      "add e.g. `id: mug-0001`", case_index=index)
        case_id = f"case-{index}"
    else:
        case_id = str(raw_id)
    image_value = case_data.get("image")
    image_path: Path | None = None
    size: tuple[int, int] | None = None
    if not isinstance(image_value, str) or not image_value:
        collector.add(case_data, "image" if "image" in case_data else None, f"{field}.image",
                      f"expected an image path, got {describe_value(image_value)}",
                      "add `image: images/0001.jpg` (relative to the spec file)", case_index=index)
    else:
        image_path = resolve_path(spec_dir, image_value)
        if image_path is None:
            collector.add(case_data, "image", f"{field}.image", f"invalid path {describe_value(image_value)}",
                          "remove control characters from the path", case_index=index)
        elif check_images:
            try:
                size = image_size(image_path)
            except ImageError as error:
                fix = ("image paths are relative to the spec file; check the name and the folder" if not image_path.is_file()
                       else "re-export the image (JPEG, PNG, BMP, TIFF, WebP)")
                collector.add(case_data, "image", f"{field}.image", str(error), fix, case_index=index)
                image_path = None
    target_mapping = isinstance(case_data.get("target"), LocatedDict)
    if target_mapping and task == "classification":
        target_in_classification(case_data, field, collector, index)
    target = _class_ref(case_data, "target", f"{field}.target", labels, collector, index) if not target_mapping else None
    expect_class = _class_ref(case_data, "expect_class", f"{field}.expect_class", labels, collector, index)
    tags = tuple(dict.fromkeys([*defaults.get("tags", []), *read_tags(case_data, f"{field}.tags", collector, index)]))
    xfail = read_reason(case_data, "xfail", f"{field}.xfail", collector, index) if "xfail" in case_data else defaults.get("xfail")
    case_baseline = inherit(defaults.get("baseline", {}), parse_baseline(case_data, f"{field}.baseline", collector, case_index=index))
    region_baseline = {key: value for key, value in case_baseline.items() if key in ("max_mass_rise", "max_lift_drop")}
    regions_value = case_data.get("regions")
    regions: list[Region] = []
    if not isinstance(regions_value, list) or not regions_value:
        collector.add(case_data, "regions" if "regions" in case_data else None, f"{field}.regions",
                      f"every case needs at least one region, got {describe_value(regions_value)}",
                      "add `regions: [{name: ..., box: [...], min_lift: 1.5}]`", case_index=index)
    else:
        seen_names: set[str] = set()
        for region_index, region_data in enumerate(regions_value):
            region_field = f"{field}.regions[{region_index}]"
            region = parse_region(region_data, region_field, case_data, field, defaults, spec_dir, size, check_images,
                                  collector, index, regions_value, region_index)
            if region is None:
                continue
            if region.name in seen_names:
                collector.add(region_data, "name", f"{region_field}.name", f"duplicate region name {region.name!r}",
                              "region names must be unique within a case", case_index=index)
            seen_names.add(region.name)
            own_baseline = parse_baseline(region_data, f"{region_field}.baseline", collector, region=True, case_index=index)
            regions.append(replace(region, baseline=as_values(inherit(region_baseline, own_baseline))))
    # Read before giving up on a case without a usable image, so every mistake in the case is reported at once.
    faithfulness: dict[str, Any] = {key: defaults[key] for key in ("max_deletion_auc", "min_insertion_auc", "faithfulness_steps", "max_outside_effect")
                                     if key in defaults}
    faithfulness.update(read_faithfulness(case_data, f"{field}.", collector, index))
    target_shape, match_iou = None, DEFAULT_MATCH_IOU
    if task != "classification":  # `target: {class, region | box | polygon}`, read once the regions are known
        target, target_shape, match_iou = parse_task_target(case_data, field, labels, task, regions, _class_ref, collector, index,
                                                            defaults.get("match_iou", DEFAULT_MATCH_IOU))
    if image_path is None:
        return None, case_id, line
    removal = case_data.get("removal", defaults.get("removal", REMOVAL_MODES[0]))  # an invalid one is reported with the regions
    faithfulness["removal"] = removal if removal in REMOVAL_MODES else REMOVAL_MODES[0]
    case = Case(id=case_id, image=image_path, regions=tuple(regions), target=target, expect_class=expect_class,
                tags=tags, xfail=xfail, line=line, baseline=as_values(case_baseline), **faithfulness,
                target_shape=target_shape, match_iou=match_iou)
    return case, case_id, line


def parse_cases(
    data: LocatedDict,
    defaults: dict[str, Any],
    labels: tuple[str, ...] | None,
    spec_dir: Path,
    check_images: bool,
    collector: ProblemCollector,
    task: str = "classification",
) -> tuple[list[Case], list[InvalidCase]]:
    """The valid cases, and the invalid ones with their problems (kept so their ids still show as failed tests)."""
    cases_value = data.get("cases")
    cases: list[Case] = []
    invalid: list[InvalidCase] = []
    if not isinstance(cases_value, list) or not cases_value:
        message = (f"expected a non-empty list of cases, got {describe_value(cases_value)}" if "cases" in data
                   else "required key 'cases' is missing")
        collector.add(data, "cases" if "cases" in data else None, "cases", message,
                      "add `cases:` with at least one `- id: ..., image: ..., regions: [...]`", at_key=True)
        return cases, invalid
    seen_ids: dict[str, int] = {}
    for index, case_data in enumerate(cases_value):
        before = len(collector.problems)
        case, case_id, line = _parse_case(case_data, index, cases_value, defaults, labels, spec_dir, check_images, collector, task)
        if case_id in seen_ids:
            collector.add(case_data, "id", f"cases[{index}].id",
                          f"duplicate case id {case_id!r} (first used by cases[{seen_ids[case_id]}])",
                          "case ids must be unique within a file: they are the test ids", case_index=index)
            case_id = f"{case_id}#{index}"
        else:
            seen_ids[case_id] = index
        case_problems = collector.problems[before:]
        if case_problems or case is None:
            invalid.append(InvalidCase(case_id, index, tuple(case_problems), line))
        else:
            cases.append(case)
    return cases, invalid
