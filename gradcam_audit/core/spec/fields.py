"""The spec format's single source of truth: every key, its JSON type, default and meaning.

The loader uses it to reject unknown keys (with a did-you-mean), ``schema.py`` turns it into the shipped
JSON Schema and the spec reference (docs/reference/spec.md) is generated from it, so the three cannot drift. Region metrics'
keys are not written here: each metric declares its own (core/evaluate/metrics.py) and the tables read the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gradcam_audit.core.engine.methods import METHOD_NAMES
from gradcam_audit.core.evaluate.metrics import REGION_METRICS, SpecKey
from gradcam_audit.core.evaluate.removal import REMOVAL_MODES, REMOVALS
from gradcam_audit.core.engine.method_names import (
    BOX_FORMATS,
    DEFAULT_RESIZE_FILTER,
    PREPROCESS_BUILTINS,
    PREPROCESS_FAMILIES,
    RESIZE_FILTERS,
    RESIZE_MODES,
    SCORE_KINDS,
)
from gradcam_audit.core.spec.model import DEFAULT_TRANSPLANT_PAIRS


@dataclass(frozen=True)
class FieldDoc:
    """One key of the spec format."""

    name: str
    json_schema: dict[str, Any]
    description: str
    default: Any = None
    required: bool = False
    example: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_NUMBER_0_1: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}
_POSITIVE: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0}
_CLASS_REF: dict[str, Any] = {"type": ["string", "integer"]}
_FOUR_NUMBERS: dict[str, Any] = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}

# Tags become pytest markers, which must be plain ASCII identifiers to be selectable with `-m`.
TAG_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"
_TAGS: dict[str, Any] = {"type": "array", "items": {"type": "string", "pattern": TAG_PATTERN}}
# "package.module:function": the loader and the schema use the same pattern so they agree on what is valid.
CALLABLE_PATTERN = "^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"


def property_schema(field_doc: FieldDoc) -> dict[str, Any]:
    """The JSON Schema of one key, with its meaning and default so editors can show them on hover."""
    schema = dict(field_doc.json_schema)
    schema["description"] = field_doc.description
    if field_doc.default is not None:
        schema["default"] = field_doc.default
    return schema


def object_schema(fields: tuple[FieldDoc, ...], *, required: bool = True) -> dict[str, Any]:
    """A closed JSON Schema object whose properties are ``fields`` (required ones listed when ``required``)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {field_doc.name: property_schema(field_doc) for field_doc in fields},
        "additionalProperties": False,
    }
    required_names = [field_doc.name for field_doc in fields if field_doc.required]
    if required and required_names:
        schema["required"] = required_names
    return schema


def key_field(key: SpecKey) -> FieldDoc:
    """A region metric's declared key (core/evaluate/metrics.py) as a row of the field table."""
    return FieldDoc(key.name, key.json_schema, key.description, default=key.default, example=key.example)


def region_threshold_fields() -> tuple[FieldDoc, ...]:
    """The keys of the region metrics registered now (limits and their parameters), in the metrics' order."""
    return tuple(key_field(key) for key in REGION_METRICS.spec_keys())


REMOVAL_FIELD = FieldDoc(
    "removal",
    {"enum": list(REMOVAL_MODES)},
    "How a region is removed for `max_effect` / `min_effect`, on the original image before resizing: "
    + ", ".join(f"{operator.name} ({operator.description})" for operator in REMOVALS.values()) + ".",
    default=REMOVAL_MODES[0],
    example="mean",
)

GEOMETRY_DEFAULT_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("box_format", {"enum": list(BOX_FORMATS)}, "How the four numbers of `box` are read: corners, corner+size or centre+size.", default="xyxy", example="xywh"),
    FieldDoc("normalized", {"type": "boolean"}, "Coordinates are fractions of the image's width/height instead of pixels.", default=False, example="true"),
)

# Regression rules against a baseline run (`--gradcam-baseline`, core/baseline/rules.py); defaults in RULE_DEFAULTS there.
BASELINE_REGION_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("max_mass_rise", {"type": "number", "minimum": 0},
             "Against a baseline: a forbidden region's mass may rise by at most this (absolute) over its baseline mass.",
             default=0.02, example="0.05"),
    FieldDoc("max_lift_drop", {"type": "number", "minimum": 0},
             "Against a baseline: a required region's lift may fall by at most this share of its baseline lift (0.25 = 25 %).",
             default=0.25, example="0.1"),
)

BASELINE_FIELDS: tuple[FieldDoc, ...] = (
    *BASELINE_REGION_FIELDS,
    FieldDoc("must_still_pass", {"type": "boolean"}, "Against a baseline: a case that passed in the baseline must still pass.",
             default=True, example="false"),
    FieldDoc("min_heatmap_similarity", {"type": "number", "minimum": -1, "maximum": 1},
             "Against a baseline: least Spearman rank correlation between the case's heatmap and its baseline heatmap (off unless set).",
             example="0.8"),
)

_BASELINE_DOC = "Regression rules against a baseline run (`--gradcam-baseline`); see `baseline`."
_REGION_BASELINE_DOC = "Regression rules of this region against a baseline run; see `cases[].regions[].baseline`."

_REGION_GEOMETRY_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("name", {"type": "string", "minLength": 1}, "Name shown in failures and the report; unique within the case.", required=True, example="mug"),
    FieldDoc("box", _FOUR_NUMBERS, "Rectangle in original-image coordinates (see `box_format`; x_max/y_max exclusive).", example="[30, 195, 600, 720]"),
    FieldDoc(
        "polygon",
        {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}, "minItems": 3},
        "Polygon as a list of [x, y] points, instead of `box`.",
        example="[[10, 10], [60, 12], [35, 50]]",
    ),
    FieldDoc("mask", {"type": "string"}, "Path (relative to the spec) of a mask image the size of the photo; non-zero pixels are inside.", example="masks/0001.png"),
)

_REGION_OTHER_FIELDS: tuple[FieldDoc, ...] = (
    REMOVAL_FIELD,
    FieldDoc("baseline", {"$ref": "#/$defs/region_baseline"}, _REGION_BASELINE_DOC, example="{max_mass_rise: 0.01}"),
    *GEOMETRY_DEFAULT_FIELDS,
)


def _without_clashes(fields: tuple[FieldDoc, ...]) -> tuple[FieldDoc, ...]:
    """The table, refusing a metric key that another key of the same section already uses."""
    seen: set[str] = set()
    for field_doc in fields:
        if field_doc.name in seen:
            raise ValueError(f"spec key {field_doc.name!r} is declared twice in one section; a region metric must choose another name")
        seen.add(field_doc.name)
    return fields


def region_fields() -> tuple[FieldDoc, ...]:
    """The keys of `cases[].regions[]`: geometry, the registered metrics' keys, removal, baseline, geometry defaults."""
    return _without_clashes((*_REGION_GEOMETRY_FIELDS, *region_threshold_fields(), *_REGION_OTHER_FIELDS))

# Beyond the boxes (core/evaluate/outside_sweep.py): set in a case or in `defaults`, read with the faithfulness keys.
OUTSIDE_EFFECT_FIELD = FieldDoc(
    "max_outside_effect", _NUMBER_0_1,
    "Beyond the boxes: the image outside the required regions (those with min_mass/min_lift; the whole image when there are "
    "none) is cut into a 4×4 grid of cells, the hottest refined into 1/8-side sub-cells; each cell is removed in turn with "
    "`removal`, and the largest drop of p(target) may be at most this (≤ 25 extra images per case, batched).", example="0.15")

# Per-case faithfulness (Petsiuk et al., BMVC 2018): set in a case or in `defaults`.
FAITHFULNESS_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("max_deletion_auc", _NUMBER_0_1,
             "Faithfulness: the heatmap's hottest pixels are blacked out in K steps; the area under p(target) over the deleted share "
             "may be at most this (low = the map found what the model needs).", example="0.3"),
    FieldDoc("min_insertion_auc", _NUMBER_0_1,
             "Faithfulness: starting from a blurred copy, the hottest pixels are put back in K steps; the area under p(target) must be "
             "at least this (high = the map's pixels alone bring the class back).", example="0.6"),
    FieldDoc("faithfulness_steps", {"type": "integer", "minimum": 1, "maximum": 100},
             "K, the steps of each curve (2·K extra images per case, batched, no gradients).", default=10, example="20"),
    OUTSIDE_EFFECT_FIELD,
)

# `task: segmentation` / `task: detection`: what a case explains (core/engine/targets.py, core/spec/task.py).
TASK_NAMES: tuple[str, ...] = ("classification", "segmentation", "detection")
_POLYGON: dict[str, Any] = {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}, "minItems": 3}
TARGET_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("class", _CLASS_REF, "The class explained, by name (needs `labels`) or index.", required=True, example="car"),
    FieldDoc("region", {"type": "string", "minLength": 1},
             "Segmentation: the name of one of the case's regions whose pixels are explained.", example="road"),
    FieldDoc("box", _FOUR_NUMBERS,
             "Segmentation: the pixels of this box; detection: the box a detection must match. [x0, y0, x1, y1] in original-image pixels.",
             example="[12, 30, 40, 62]"),
    FieldDoc("polygon", _POLYGON, "Segmentation: the pixels of this polygon, a list of [x, y] points.", example="[[10, 10], [60, 12], [35, 50]]"),
    FieldDoc("match_iou", _NUMBER_0_1,
             "Detection: least IoU between the target box and the matched detection (the confident candidate with the highest IoU). "
             "Unset: `defaults.match_iou`, else 0.5.", default=0.5, example="0.3"),
)
# The file's (or directory's) `defaults.match_iou`: every detection target's unless the target sets its own.
MATCH_IOU_DEFAULT_FIELD = FieldDoc(
    "match_iou", _NUMBER_0_1, "Detection (`task: detection` only): the `match_iou` of every case's target that does not set its own.",
    default=0.5, example="0.3")
_TARGET_DOC = ("Class to explain, by name (needs `labels`) or index. Default: the predicted class. With `task: segmentation` or "
               "`detection`: a mapping {class, region | box | polygon[, match_iou]}, see `cases[].target`.")

CASE_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("id", {"type": ["string", "integer"]}, "Unique id within the file; becomes the pytest test id.", required=True, example="mug-0000"),
    FieldDoc("image", {"type": "string"}, "Image path relative to the spec file (JPEG/PNG/...; EXIF orientation applied).", required=True, example="images/0000.jpg"),
    FieldDoc("target", {"oneOf": [_CLASS_REF, {"$ref": "#/$defs/target"}]}, _TARGET_DOC, example="cup"),
    FieldDoc("expect_class", _CLASS_REF, "The prediction must also be this class ('right class, right reason'); segmentation: the "
             "majority class over the target pixels; detection: the matched detection's class.", example="cup"),
    FieldDoc("tags", _TAGS, "Tags (ASCII identifiers); each becomes a pytest marker (`-m tag`).", default=[], example="[mugs, phone_photo]"),
    FieldDoc("xfail", {"type": "string", "minLength": 1}, "Expected failure with its reason; strict (a pass fails the run).", example='"known weakness, see #12"'),
    FieldDoc("regions", {"type": "array", "items": {"$ref": "#/$defs/region"}, "minItems": 1}, "Regions to check; at least one.", required=True,
             example="[{name: mug, box: [30, 195, 600, 720], min_lift: 1.5}]"),
    REMOVAL_FIELD,
    *FAITHFULNESS_FIELDS,
    FieldDoc("baseline", {"$ref": "#/$defs/baseline"}, _BASELINE_DOC, example="{min_heatmap_similarity: 0.8}"),
    *GEOMETRY_DEFAULT_FIELDS,
)

_DEFAULTS_OTHER_FIELDS: tuple[FieldDoc, ...] = (
    REMOVAL_FIELD,
    *FAITHFULNESS_FIELDS,
    FieldDoc("baseline", {"$ref": "#/$defs/baseline"}, _BASELINE_DOC, example="{max_mass_rise: 0.05, max_lift_drop: 0.2}"),
    *GEOMETRY_DEFAULT_FIELDS,
    FieldDoc("xfail", {"type": "string", "minLength": 1}, "Mark every case of the file as an expected failure, with this reason.", example='"model known to use the watermark"'),
    FieldDoc("tags", _TAGS, "Tags added to every case.", default=[], example="[smoke]"),
    MATCH_IOU_DEFAULT_FIELD,
)


def defaults_fields() -> tuple[FieldDoc, ...]:
    """The keys of `defaults:`: every registered region metric's keys, then the case-level defaults."""
    return _without_clashes((*region_threshold_fields(), *_DEFAULTS_OTHER_FIELDS))


GATE_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("min_pass_rate", _NUMBER_0_1, "Least share of the file's cases that must pass (expected failures count as not passed).", example="0.9"),
    FieldDoc("min_mean_mass", _NUMBER_0_1, "Least mean mass over the required regions (those with min_mass/min_lift).", example="0.4"),
    FieldDoc("min_mean_lift", _POSITIVE, "Least mean lift over the required regions.", example="1.5"),
    FieldDoc("per_class", {"type": "boolean"}, "Apply the gate to each target class separately.", default=False, example="true"),
    FieldDoc("transplant", {"type": "string", "minLength": 1},
             "Region name (present in every case) whose content is cut from cases of one expected class and pasted at the same place "
             "into cases of the other classes, for `max_transplant_flip_rate`.", example="corner-tag"),
    FieldDoc("max_transplant_flip_rate", _NUMBER_0_1,
             "Largest share of transplant pairs whose prediction changes to the donor's class (needs `transplant`).", example="0.05"),
    FieldDoc("transplant_pairs", {"type": "integer", "minimum": 1},
             "Most (donor, recipient) pairs tried, a deterministic sample of all pairs of different classes.", default=DEFAULT_TRANSPLANT_PAIRS,
             example="128"),
    FieldDoc("max_randomization_similarity", _NUMBER_0_1,
             "Sanity check (Adebayo et al. 2018): the mean Spearman rank correlation between each case's heatmap and the heatmap of the "
             "same architecture with every weight re-initialised (fixed seed) may be at most this.", example="0.5"),
    FieldDoc("max_outside_dependence_rate", _NUMBER_0_1,
             "Largest share of the cases measured with `max_outside_effect` that fail it; the gate's result lists the findings "
             "(the cases' hotspots grouped by position).", example="0.1"),
)

MODEL_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("path", {"type": "string", "minLength": 1}, "Model file (or whatever the custom loader reads), relative to the spec.", required=True, example="../models/kitchen.keras"),
    FieldDoc("loader", {"type": "string", "pattern": CALLABLE_PATTERN}, "Function called with the path, returning a keras.Model (for custom layers).", example="my_project.models:load"),
    FieldDoc("safe_mode", {"type": "boolean"}, "Keras safe mode; set false only for trusted files with Lambda layers.", default=True, example="false"),
)

PREPROCESS_AFFINE_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("scale", _POSITIVE, "Pixels are divided by this first.", default=1.0, example="255"),
    FieldDoc("mean", {"type": "array", "items": {"type": "number"}}, "Subtracted after scaling: one value, or one per channel.", default=[], example="[0.485, 0.456, 0.406]"),
    FieldDoc("std", {"type": "array", "items": {"type": "number", "not": {"const": 0}}}, "Divides last: one value, or one per channel; no zeros.", default=[], example="[0.229, 0.224, 0.225]"),
)

TOP_LEVEL_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc(
        "model",
        {"oneOf": [{"type": "string", "minLength": 1}, object_schema(MODEL_FIELDS)]},
        "Model file relative to the spec (.keras or legacy .h5), or {path, loader: 'package.module:function', safe_mode}.",
        required=True,
        example="../models/kitchen.keras",
    ),
    FieldDoc(
        "preprocess",
        {
            "oneOf": [
                {"enum": [*PREPROCESS_BUILTINS, *PREPROCESS_FAMILIES]},
                {"type": "string", "pattern": CALLABLE_PATTERN},
                object_schema(PREPROCESS_AFFINE_FIELDS),
            ]
        },
        "How pixels (0–255 RGB) become model input: a keras.applications family, scale01, none, {scale, mean, std} "
        "(x / scale − mean) / std, or 'package.module:function'.",
        default="none",
        example="xception",
    ),
    FieldDoc("task", {"enum": list(TASK_NAMES)},
             "What the model does: classification (one score per class), segmentation (a score per pixel and class: a case explains "
             "the class's logits summed over its target pixels) or detection (candidates with boxes: a case explains the class logit "
             "of the detection matching its target box).", default="classification", example="segmentation"),
    FieldDoc("detections", {"oneOf": [{"const": "keras_hub"}, {"type": "string", "pattern": CALLABLE_PATTERN}]},
             "Detection: how the raw output becomes candidates: 'keras_hub' (a keras-hub object detector's own anchors and box coding) "
             "or 'module:function' (beside the spec or importable) returning {boxes: (B, K, 4) xyxy in model-input pixels, "
             "class_logits: (B, K, C), objectness: (B, K) logits, optional}, written with keras.ops.", example="grid_decoder:decode"),
    FieldDoc("resize", {"enum": list(RESIZE_MODES)}, "How the image is fitted to the model's input size; heatmaps are mapped back exactly.", default="stretch", example="letterbox"),
    FieldDoc("resize_filter", {"enum": list(RESIZE_FILTERS)},
             "Resampling filter used to fit the image (use the one the model was trained with); regions map back the same way "
             "for every filter. Unset: --gradcam-resize-filter / ini gradcam_resize_filter, else bilinear.",
             default=DEFAULT_RESIZE_FILTER, example="bicubic"),
    FieldDoc(
        "labels",
        {"oneOf": [{"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1}, {"type": "string", "minLength": 1}]},
        "Class names in output order, or a text file (relative to the spec) with one name per line.",
        example="[cup, fork, glass]",
    ),
    FieldDoc("layer", {"type": "string", "minLength": 1}, "Layer to explain: 'auto' or a name/path such as 'xception/block14_sepconv2_act'.", default="auto", example="conv3"),
    FieldDoc("layer_grid", {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2},
             "Vision transformers: the [h, w] patch grid of the token layer (and attention), when its token count is ambiguous.", example="[14, 14]"),
    FieldDoc("prefix_tokens", {"type": "integer", "minimum": 0},
             "Vision transformers: tokens before the patch tokens (class, distillation, register tokens), when ambiguous.", example="1"),
    FieldDoc(
        "method",
        {"oneOf": [{"enum": list(METHOD_NAMES)}, {"type": "array", "items": {"enum": list(METHOD_NAMES)}, "minItems": 1}]},
        "CAM method (case-insensitive), or a list: each case then runs once per method.",
        default="gradcam",
        example="[gradcam, gradcam++]",
    ),
    FieldDoc("output", {"type": ["string", "integer"]}, "For multi-output models: the output to explain, by name or index.", default=0, example="species"),
    FieldDoc("score", {"enum": list(SCORE_KINDS)}, "Score to differentiate: 'logit' (pre-softmax, the paper's y^c) or 'probability'.", default="logit", example="probability"),
    FieldDoc(REMOVAL_FIELD.name, REMOVAL_FIELD.json_schema, REMOVAL_FIELD.description + " File-level default (same as in `defaults`).",
             default=REMOVAL_FIELD.default, example=REMOVAL_FIELD.example),
    *(
        FieldDoc(geometry.name, geometry.json_schema, geometry.description + " File-level default (same as in `defaults`).",
                 default=geometry.default, example=geometry.example)
        for geometry in GEOMETRY_DEFAULT_FIELDS
    ),
    FieldDoc("defaults", {"$ref": "#/$defs/defaults"}, "Values applied to every case and region unless set there.", example="{min_lift: 1.2}"),
    FieldDoc("cases", {"type": "array", "items": {"$ref": "#/$defs/case"}, "minItems": 1}, "The cases; at least one.", required=True,
             example="[{id: mug-0001, image: images/mug-0001.jpg, regions: [{name: mug, box: [30, 195, 600, 720], min_lift: 1.5}]}]"),
    FieldDoc("gate", {"$ref": "#/$defs/gate"}, "Suite-level verdict, reported as its own test after the cases.", example="{min_pass_rate: 0.9}"),
    FieldDoc(
        "xfail",
        {"type": "string", "minLength": 1},
        "Mark the whole suite (every case and the gate) as an expected failure, with this reason; strict: a pass fails the run.",
        example='"known shortcut, tracked in #42"',
    ),
)

def sections() -> dict[str, tuple[FieldDoc, ...]]:
    """Every section of the spec format with its keys, as the reference and the schema list them."""
    return {
        "top level": TOP_LEVEL_FIELDS,
        "model (mapping form)": MODEL_FIELDS,
        "preprocess (mapping form)": PREPROCESS_AFFINE_FIELDS,
        "defaults": defaults_fields(),
        "cases[]": CASE_FIELDS,
        "cases[].target (segmentation, detection)": TARGET_FIELDS,
        "cases[].regions[]": region_fields(),
        "gate": GATE_FIELDS,
        "baseline": BASELINE_FIELDS,
        "cases[].regions[].baseline": BASELINE_REGION_FIELDS,
    }


# Every top-level key but `cases` may come from the directory's `_defaults.yaml` instead of the spec itself.
DIRECTORY_DEFAULTS_FIELDS: tuple[FieldDoc, ...] = tuple(field_doc for field_doc in TOP_LEVEL_FIELDS if field_doc.name != "cases")


def names(fields: tuple[FieldDoc, ...]) -> tuple[str, ...]:
    """The keys of a table, in order."""
    return tuple(field_doc.name for field_doc in fields)
