"""The spec loader's entry point: a YAML spec file in, a validated Spec out, with every problem's file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gradcam_audit.core.engine.method_names import BOX_FORMATS, RESIZE_FILTERS, RESIZE_MODES, SCORE_KINDS
from gradcam_audit.core.evaluate.removal import REMOVAL_MODES
from gradcam_audit.core.spec.cases import parse_cases
from gradcam_audit.core.spec.checks import ProblemCollector, check_keys, read_boolean, read_choice, read_reason
from gradcam_audit.core.spec.fields import DIRECTORY_DEFAULTS_FIELDS, TOP_LEVEL_FIELDS, names
from gradcam_audit.core.spec.files import load_yaml_mapping, merge_directory_defaults, read_directory_defaults
from gradcam_audit.core.spec.model import Case, ModelRef, ParsedSpec, Spec
from gradcam_audit.core.spec.paths import DEFAULTS_FILE_NAME, SPEC_SUFFIXES, discover_spec_files, display_path, is_spec_file
from gradcam_audit.core.spec.task import parse_detections, parse_task
from gradcam_audit.core.spec.top_level import (
    parse_defaults,
    parse_gate,
    parse_labels,
    parse_layer,
    parse_token_layout,
    parse_methods,
    parse_model,
    parse_output,
    parse_preprocess,
)
from gradcam_audit.errors import Problem, SpecError

# The plugin, the CLI, the importers and validate.py import the path helpers from here, the loader's public face.
__all__ = [
    "DEFAULTS_FILE_NAME",
    "SPEC_SUFFIXES",
    "check_directory_defaults",
    "discover_spec_files",
    "display_path",
    "is_spec_file",
    "load_spec",
    "parse_spec",
]


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
    try:
        return _parse_spec(spec_path, check_images)
    except (RecursionError, MemoryError) as error:
        problem = Problem(display_path(spec_path), "", f"the spec is too large or too deeply nested to check ({type(error).__name__})",
                          fix="make the file smaller and flatter (split it into several spec files)")
    except Exception as error:  # noqa: BLE001 - a user's file must never crash the loader; this is our bug
        problem = Problem(display_path(spec_path), "", f"the loader failed on this file ({type(error).__name__}: {error})",
                          fix="please report this as a gradcam_audit bug, with the file")
    return ParsedSpec(spec_path, None, (problem,))


def _parse_spec(spec_path: Path, check_images: bool) -> ParsedSpec:
    collector = ProblemCollector(spec_path)
    data = load_yaml_mapping(spec_path, collector)
    if data is None:
        return ParsedSpec(spec_path, None, tuple(collector.problems))
    directory_defaults = read_directory_defaults(spec_path, collector)
    check_keys(data, names(TOP_LEVEL_FIELDS), "", collector)
    if directory_defaults is not None:
        merge_directory_defaults(directory_defaults, data)
    spec_dir = spec_path.parent

    # Read before `defaults:`, whose `match_iou` only a detection spec reads (`task:` may come from the directory).
    task = parse_task(data, collector)
    # Precedence, lowest first: top-level box_format/normalized, the directory's defaults, the spec's defaults.
    defaults: dict[str, Any] = {}
    if "box_format" in data:
        defaults["box_format"] = read_choice(data, "box_format", "box_format", BOX_FORMATS, collector, "xyxy")
    if "normalized" in data:
        defaults["normalized"] = read_boolean(data, "normalized", "normalized", collector, False)
    if "removal" in data:
        defaults["removal"] = read_choice(data, "removal", "removal", REMOVAL_MODES, collector, REMOVAL_MODES[0])
    if directory_defaults is not None:
        defaults.update(parse_defaults(directory_defaults, collector, task))
    own_values = parse_defaults(data, collector, task)
    # Baseline rules merge key by key: the spec's `defaults.baseline` refines the directory's.
    own_values["baseline"] = {**defaults.get("baseline", {}), **own_values.get("baseline", {})}
    defaults.update({key: value for key, value in own_values.items() if key != "tags"})
    defaults["tags"] = list(dict.fromkeys([*defaults.get("tags", []), *own_values.get("tags", [])]))

    model = parse_model(data, spec_dir, collector)
    preprocess = parse_preprocess(data, collector)
    resize = read_choice(data, "resize", "resize", RESIZE_MODES, collector, "stretch")
    resize_filter = read_choice(data, "resize_filter", "resize_filter", RESIZE_FILTERS, collector, "") or None
    score = read_choice(data, "score", "score", SCORE_KINDS, collector, "logit")
    labels = parse_labels(data, spec_dir, collector)
    layer = parse_layer(data, collector)
    layer_grid, prefix_tokens = parse_token_layout(data, collector)
    output = parse_output(data, collector)
    methods = parse_methods(data, collector)
    gate = parse_gate(data, collector)
    suite_xfail = read_reason(data, "xfail", "xfail", collector)
    if suite_xfail is not None:
        # Cases inherit the suite's expected failure unless they (or `defaults:`) say otherwise.
        defaults.setdefault("xfail", suite_xfail)

    detections = parse_detections(data, task, collector)
    cases, invalid = parse_cases(data, defaults, labels, spec_dir, check_images, collector, task)
    if gate is not None and gate.transplant is not None:
        check_transplant_region(data, gate.transplant, cases, collector)
    file_problems = tuple(problem for problem in collector.problems if problem.case_index is None)
    spec = Spec(path=spec_path, model=model or ModelRef(spec_path), preprocess=preprocess, resize=resize, resize_filter=resize_filter,
                labels=labels,
                layer=layer, methods=methods, output=output, score=score, cases=tuple(cases), gate=gate,
                invalid_cases=tuple(invalid), xfail=suite_xfail, layer_grid=layer_grid, prefix_tokens=prefix_tokens,
                task=task, detections=detections)
    # With file-level problems the cases cannot run, but their ids are still worth showing.
    return ParsedSpec(spec_path, spec, file_problems)


def check_transplant_region(data: Any, region_name: str, cases: list[Case], collector: ProblemCollector) -> None:
    """`gate.transplant` names a region every valid case has, and every case says its class (donor or recipient)."""
    gate_data = data.get("gate")
    lacking = [case.id for case in cases if all(region.name != region_name for region in case.regions)]
    if lacking:
        names_text = ", ".join(lacking[:10]) + (" …" if len(lacking) > 10 else "")
        collector.add(gate_data, "transplant", "gate.transplant",
                      f"region {region_name!r} is missing from {len(lacking)} of the {len(cases)} valid case(s) ({names_text}): a transplant "
                      "cuts the region from one case and pastes it into another, so every case needs it",
                      f"add a region named {region_name!r} to those cases, or name a region they all have")
    unlabelled = [case.id for case in cases if case.expect_class is None and case.target is None]
    if unlabelled:
        names_text = ", ".join(unlabelled[:10]) + (" …" if len(unlabelled) > 10 else "")
        collector.add(gate_data, "transplant", "gate.transplant",
                      f"{len(unlabelled)} case(s) give neither expect_class nor target ({names_text}): a transplant pairs cases "
                      "of different classes", "add expect_class (the true class) to every case")


def check_directory_defaults(path: Path | str) -> tuple[Problem, ...]:
    """Every problem in a directory's `_defaults.yaml` on its own (keys, types, files), even with no spec beside it."""
    defaults_path = Path(path).resolve()
    collector = ProblemCollector(defaults_path)
    data = load_yaml_mapping(defaults_path, collector)
    if data is None:
        return tuple(collector.problems)
    check_keys(data, names(DIRECTORY_DEFAULTS_FIELDS), "", collector)
    directory = defaults_path.parent
    if "model" in data:
        parse_model(data, directory, collector)
    parse_preprocess(data, collector)
    read_choice(data, "resize", "resize", RESIZE_MODES, collector, "stretch")
    read_choice(data, "resize_filter", "resize_filter", RESIZE_FILTERS, collector, "")
    read_choice(data, "score", "score", SCORE_KINDS, collector, "logit")
    read_choice(data, "box_format", "box_format", BOX_FORMATS, collector, "xyxy")
    read_boolean(data, "normalized", "normalized", collector, False)
    read_choice(data, "removal", "removal", REMOVAL_MODES, collector, REMOVAL_MODES[0])
    parse_labels(data, directory, collector)
    parse_layer(data, collector)
    parse_token_layout(data, collector)
    parse_output(data, collector)
    parse_methods(data, collector)
    parse_gate(data, collector)
    task = parse_task(data, collector)
    if "detections" in data:  # the task may come from the spec beside it: only the value's form is checked here
        parse_detections(data, "detection", collector)
    read_reason(data, "xfail", "xfail", collector)
    parse_defaults(data, collector, task if "task" in data else None)
    return tuple(collector.problems)


def load_spec(path: Path | str, *, check_images: bool = True) -> Spec:
    """Load a spec file, raising SpecError with every problem (file and cases) if anything is wrong."""
    parsed = parse_spec(path, check_images=check_images)
    if parsed.all_problems or parsed.spec is None:
        raise SpecError(list(parsed.all_problems))
    return parsed.spec
