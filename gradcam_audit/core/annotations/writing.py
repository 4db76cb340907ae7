"""Writing an import plan as a readable spec file: stable key order, provenance comments, checked before it lands."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from gradcam_audit.core.annotations.build import ImportPlan, PlannedCase, PlannedRegion
from gradcam_audit.core.spec.load import display_path, parse_spec
from gradcam_audit.errors import GradcamAuditError, SpecError

_PLAIN = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_ ./+()-]*$")
UNANNOTATED_LISTED = 50
FORMAT_NAMES = {"coco": "COCO", "voc": "Pascal VOC", "yolo": "YOLO", "labelme": "labelme"}


@dataclass(frozen=True)
class Provenance:
    """Where a generated spec came from, written as comments at its top."""

    tool: str  # e.g. "gradcam-audit 0.1.0 (import coco)"
    source: Path
    date: str  # ISO 8601
    command: str


# Control characters (a newline, a tab, an escape) in a name would start a new YAML line or hide text in a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class UnsafeNameError(GradcamAuditError, ValueError):
    """A name or path to be written into the spec contains a control character (a newline, a tab, ...)."""


def refuse_control_characters(text: str, what: str) -> str:
    """``text`` unchanged, or UnsafeNameError naming ``what`` and the character's code point."""
    found = _CONTROL.search(text)
    if found is not None:
        raise UnsafeNameError(f"{what} {text!r} contains the control character U+{ord(found.group()):04X}; "
                              "rename it without newlines, tabs or other control characters")
    return text


def scalar(value: object) -> str:
    """A YAML scalar that reads back as exactly ``value``: plain when that is safe, else double-quoted.

    Text always goes through the YAML emitter (never string formatting), so no value can close its line and
    start a key of its own.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return coordinate(value)
    text = str(value)
    if _PLAIN.match(text) and not text.endswith(" ") and yaml.safe_load(text) == text:
        return text
    emitted = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=1_000_000_000)
    return emitted.rstrip("\n").removesuffix("\n...").rstrip("\n")


def comment(text: str) -> str:
    """Text safe on a ``#`` comment line: control characters shown as escapes, so the comment cannot end early."""
    return _CONTROL.sub(lambda match: ascii(match.group())[1:-1], text)


def coordinate(value: float) -> str:
    """Whole pixels as integers, sub-pixel positions to 1/100 pixel."""
    rounded = round(value, 2)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:g}"


def _path(path: Path, spec_dir: Path) -> str:
    return Path(os.path.relpath(path, spec_dir)).as_posix()


def _region_lines(region: PlannedRegion) -> list[str]:
    lines = [f"      - name: {scalar(region.name)}"]
    if region.box is not None:
        lines.append("        box: [" + ", ".join(coordinate(value) for value in region.box) + "]")
    else:
        points = ", ".join(f"[{coordinate(x)}, {coordinate(y)}]" for x, y in region.polygon)
        lines.append(f"        polygon: [{points}]")
    if region.max_mass is not None:
        lines.append(f"        max_mass: {region.max_mass:g}          # forbidden region: the model must not look here")
    return lines


def _case_lines(case: PlannedCase, spec_dir: Path) -> list[str]:
    lines = [f"  - id: {scalar(case.id)}", f"    image: {scalar(_path(case.image, spec_dir))}"]
    if case.target is not None:
        lines.append(f"    target: {scalar(case.target)}")
    if case.expect_class is not None:
        lines.append(f"    expect_class: {scalar(case.expect_class)}")
    if case.tags:
        lines.append("    tags: [" + ", ".join(scalar(tag) for tag in case.tags) + "]")
    lines.append("    regions:")
    for region in case.regions:
        lines.extend(_region_lines(region))
    return lines


def _refuse_unsafe_names(plan: ImportPlan, spec_path: Path, model: Path) -> None:
    """Every name that becomes a value in the spec is checked before any text is produced."""
    refuse_control_characters(str(spec_path), "the spec file name")
    refuse_control_characters(str(model), "the model path")
    if plan.options.labels_file is not None:
        refuse_control_characters(str(plan.options.labels_file), "the labels file path")
    for label in plan.labels:
        refuse_control_characters(label, "the class name")
    for case in plan.cases:
        refuse_control_characters(case.id, "the case id")
        refuse_control_characters(str(case.image), "the image path")
        for tag in case.tags:
            refuse_control_characters(tag, "the tag")
        for value in (case.target, case.expect_class):
            if isinstance(value, str):
                refuse_control_characters(value, "the class name")
        for region in case.regions:
            refuse_control_characters(region.name, "the category name")


def render_spec(plan: ImportPlan, spec_path: Path, model: Path, provenance: Provenance, *, preprocess: str | None = None) -> str:
    """The spec file's text. Paths (model, images, labels file) are written relative to ``spec_path``'s folder."""
    spec_dir = spec_path.resolve().parent
    options = plan.options
    _refuse_unsafe_names(plan, spec_path, model)
    lines = [
        f"# Generated by {provenance.tool} from a {FORMAT_NAMES.get(plan.annotations.format, plan.annotations.format)} export.",
        f"# source: {comment(_path(provenance.source.resolve(), spec_dir))}",
        f"# date: {comment(provenance.date)}",
        f"# command: {comment(provenance.command)}",
        "# Thresholds are starting points: tune them under `defaults:` (or per region) once you have seen the report.",
    ]
    if plan.labels_from_annotations:
        lines.append("# labels: taken from the annotations, NOT checked against the model: make sure the order is the")
        lines.append("# model's output order (or re-import with --labels / --labels-file).")
    for note in plan.notes:
        lines.append(f"# note: {comment(note)}")
    if plan.unannotated:
        lines.append(f"# {len(plan.unannotated)} image(s) without annotations, so without a case:")
        for image in plan.unannotated[:UNANNOTATED_LISTED]:
            lines.append(f"#   {comment(_path(image.image, spec_dir))}")
        if len(plan.unannotated) > UNANNOTATED_LISTED:
            lines.append(f"#   ... and {len(plan.unannotated) - UNANNOTATED_LISTED} more")
    lines.append(f"model: {scalar(_path(model.resolve(), spec_dir))}")
    if preprocess:
        lines.append(f"preprocess: {scalar(preprocess)}")
    if options.labels_file is not None:
        lines.append(f"labels: {scalar(_path(options.labels_file.resolve(), spec_dir))}")
    else:
        lines.append("labels: [" + ", ".join(scalar(label) for label in plan.labels) + "]")
    thresholds = [f"min_lift: {options.min_lift:g}"] if options.min_lift is not None else []
    if options.min_mass is not None:
        thresholds.append(f"min_mass: {options.min_mass:g}")
    lines.append("defaults:                 # thresholds of every required region (forbidden ones set max_mass)")
    lines.extend(f"  {threshold}" for threshold in thresholds)
    lines.append("cases:")
    for case in plan.cases:
        lines.extend(_case_lines(case, spec_dir))
    return "\n".join(lines) + "\n"


class SpecExistsError(GradcamAuditError, FileExistsError):
    """The output spec exists and overwriting was not asked for."""


def write_spec(text: str, path: Path, *, check_model: bool = True, overwrite: bool = False) -> Path:
    """Check the text loads as a valid spec at ``path`` (images, boxes, labels; the model file unless
    ``check_model`` is False), then write it. Nothing is written when it does not validate.

    Raises:
        SpecExistsError: ``path`` exists and ``overwrite`` is False.
        SpecError: the generated spec does not validate (every problem, located in ``path``).
    """
    path = path.resolve()
    if path.exists() and not overwrite:
        raise SpecExistsError(f"{display_path(path)} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Validated in place (relative paths and a folder's _defaults.yaml resolve as they will), under a hidden name.
    draft = path.with_name(f".{path.name}.draft")
    draft.write_text(text, encoding="utf-8")
    try:
        parsed = parse_spec(draft)
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
    problems = [
        replace(problem, file=display_path(path))
        for problem in parsed.all_problems
        if check_model or not (problem.field == "model" and "not found" in problem.message)
    ]
    if problems or (parsed.spec is None and check_model):
        draft.unlink(missing_ok=True)
        raise SpecError(problems)
    os.replace(draft, path)
    return path
