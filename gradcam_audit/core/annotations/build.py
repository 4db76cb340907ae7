"""From an annotation export to the cases of a spec: category → label mapping, required and forbidden regions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gradcam_audit.core.annotations.errors import AnnotationError
from gradcam_audit.core.annotations.model import AnnotatedImage, AnnotatedObject, AnnotationSet
from gradcam_audit.core.spec.load import display_path
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.errors import Problem


@dataclass(frozen=True)
class ImportOptions:
    """How annotations become cases.

    Attributes:
        labels: the model's class names in output order; None: taken from the annotations (order unverified).
        labels_file: where ``labels`` came from, written into the spec instead of the list.
        renames: (category, label) pairs applied first, for categories named differently from the model's labels.
        forbidden: categories (before or after renaming) that become forbidden regions (``max_mass``), never targets.
        ignored: categories (before or after renaming) left out entirely.
        min_lift / min_mass: thresholds of the required regions (written once, under ``defaults:``).
        max_mass: threshold of the forbidden regions.
        per_object: one case per required object instead of one per image (and target class).
        expect_class: also require the prediction to be the annotated class.
    """

    labels: tuple[str, ...] | None = None
    labels_file: Path | None = None
    renames: tuple[tuple[str, str], ...] = ()
    forbidden: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    min_lift: float | None = 1.5
    min_mass: float | None = None
    max_mass: float = 0.05
    per_object: bool = False
    expect_class: bool = True


@dataclass(frozen=True)
class PlannedRegion:
    name: str
    box: tuple[float, float, float, float] | None
    polygon: tuple[tuple[float, float], ...]
    max_mass: float | None  # set for forbidden regions only; required ones inherit `defaults:`
    category: str


@dataclass(frozen=True)
class PlannedCase:
    id: str
    image: Path
    target: str | None
    expect_class: str | None
    tags: tuple[str, ...]
    regions: tuple[PlannedRegion, ...]


@dataclass(frozen=True)
class ImportPlan:
    """The cases to write, and what the user must hear about (unannotated images, guessed labels, skipped shapes)."""

    annotations: AnnotationSet
    options: ImportOptions
    labels: tuple[str, ...]
    labels_from_annotations: bool
    cases: tuple[PlannedCase, ...]
    unannotated: tuple[AnnotatedImage, ...]
    notes: tuple[str, ...]


def tag_for(category: str) -> str:
    """A pytest-marker-safe tag for a class name ('traffic light' → 'traffic_light')."""
    tag = re.sub(r"\W+", "_", category).strip("_") or "class"
    return tag if tag.isidentifier() else f"class_{tag}"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate = f"{name}-{number}"
        number += 1
    taken.add(candidate)
    return candidate


def _resolve_categories(annotations: AnnotationSet, options: ImportOptions) -> tuple[dict[str, str], set[str], set[str], tuple[str, ...], bool]:
    """(rename map over every category, forbidden labels, ignored labels, labels, labels came from annotations)."""
    source = display_path(annotations.source)
    problems: list[Problem] = []
    categories = annotations.categories
    rename = {category: category for category in categories}
    for old, new in options.renames:
        if old not in rename:
            problems.append(Problem(source, "--map", f"{old!r} is not a category of the annotations{did_you_mean(old, categories)}",
                                    fix=f"categories are: {listing(categories, 30)}"))
            continue
        rename[old] = new
    renamed = set(rename.values())

    def chosen(names: tuple[str, ...], option: str) -> set[str]:
        found: set[str] = set()
        for name in names:
            if name in renamed:
                found.add(name)
            elif name in rename:
                found.add(rename[name])
            else:
                problems.append(Problem(source, option, f"{name!r} is not a category of the annotations{did_you_mean(name, categories)}",
                                        fix=f"categories are: {listing(categories, 30)}"))
        return found

    forbidden = chosen(options.forbidden, "--forbid")
    ignored = chosen(options.ignored, "--ignore")
    # Only categories some object uses must be labels: exports often declare every class of a project.
    used = {annotated_object.category for image in annotations.images for annotated_object in image.objects}
    target_labels = [rename[category] for category in categories if category in used]
    target_labels = [label for label in dict.fromkeys(target_labels) if label not in forbidden and label not in ignored]
    labels_from_annotations = options.labels is None
    labels = options.labels if options.labels is not None else tuple(target_labels)
    unknown = [label for label in target_labels if label not in labels]
    if unknown:
        originals = {label: [category for category, new in rename.items() if new == label] for label in unknown}
        described = ", ".join(
            repr(label) + (f" (renamed from {', '.join(map(repr, originals[label]))})" if originals[label] != [label] else "")
            + did_you_mean(label, labels)
            for label in unknown
        )
        problems.append(Problem(
            source,
            "categories",
            f"annotation categories that are not among the model's labels: {described}\n"
            f"    annotation categories: {listing(categories, 40)}\n"
            f"    model labels: {listing(labels, 40)}",
            fix="rename them with --map category=label, or leave them out with --ignore / make them forbidden regions with --forbid",
        ))
    if problems:
        raise AnnotationError(problems)
    return rename, forbidden, ignored, tuple(labels), labels_from_annotations


def _region(annotated_object: AnnotatedObject, label: str, taken: set[str], max_mass: float | None) -> PlannedRegion:
    return PlannedRegion(_unique(label, taken), annotated_object.box, annotated_object.polygon, max_mass, label)


def plan_import(annotations: AnnotationSet, options: ImportOptions) -> ImportPlan:
    """Decide the cases: by default one per image and target class, all its objects of that class as required
    regions plus every forbidden object; with ``per_object`` one case per required object.

    An image with objects of several target classes becomes one case per class, since a case explains one class.

    Raises:
        AnnotationError: --map / --forbid / --ignore name no category; categories missing from the labels.
    """
    rename, forbidden, ignored, labels, labels_from_annotations = _resolve_categories(annotations, options)
    cases: list[PlannedCase] = []
    unannotated: list[AnnotatedImage] = []
    notes = list(annotations.notes)
    case_ids: set[str] = set()
    for image in annotations.images:
        kept = [(annotated_object, rename[annotated_object.category]) for annotated_object in image.objects if rename[annotated_object.category] not in ignored]
        required = [(annotated_object, label) for annotated_object, label in kept if label not in forbidden]
        forbidden_objects = [(annotated_object, label) for annotated_object, label in kept if label in forbidden]
        if not kept:
            unannotated.append(image)
            continue
        base_id = image.case_name.replace("/", "-")
        groups: list[tuple[str | None, list[tuple[AnnotatedObject, str]]]] = []
        if options.per_object:
            groups = [(label, [(annotated_object, label)]) for annotated_object, label in required]
        else:
            by_label: dict[str, list[tuple[AnnotatedObject, str]]] = {}
            for annotated_object, object_label in required:
                by_label.setdefault(object_label, []).append((annotated_object, object_label))
            groups = list(by_label.items())
        if not groups:
            groups = [(None, [])]
            notes.append(f"{image.entry}: only forbidden objects; its case explains the predicted class")
        several = len(groups) > 1
        for number, (label, objects) in enumerate(groups, start=1):
            if options.per_object and several:
                suffix = f"-{label}-{number}"
            elif several:
                suffix = f"-{label}"
            else:
                suffix = ""
            taken: set[str] = set()
            regions = [_region(annotated_object, region_label, taken, None) for annotated_object, region_label in objects]
            regions += [_region(annotated_object, region_label, taken, options.max_mass) for annotated_object, region_label in forbidden_objects]
            cases.append(PlannedCase(
                id=_unique(base_id + suffix, case_ids),
                image=image.image,
                target=label,
                expect_class=label if options.expect_class else None,
                tags=(tag_for(label),) if label is not None else (),
                regions=tuple(regions),
            ))
    return ImportPlan(annotations, options, labels, labels_from_annotations, tuple(cases), tuple(unannotated), tuple(notes))
