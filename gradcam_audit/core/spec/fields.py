"""The spec format's single source of truth: every key, its JSON type, default and meaning.

The loader uses it to reject unknown keys (with a did-you-mean), ``schema.py`` turns it into the shipped
JSON Schema and the README's spec reference is generated from it, so the three cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gradcam_audit.core.method_names import (
    BOX_FORMATS,
    METHOD_NAMES,
    PREPROCESS_BUILTINS,
    PREPROCESS_FAMILIES,
    RESIZE_MODES,
    SCORE_KINDS,
)


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

REGION_THRESHOLD_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("min_mass", _NUMBER_0_1, "Least share of the heatmap's mass that must fall inside the region.", example="0.5"),
    FieldDoc("max_mass", _NUMBER_0_1, "Largest share of the heatmap's mass allowed inside (a forbidden region).", example="0.05"),
    FieldDoc(
        "min_lift",
        _POSITIVE,
        "Least lift: mass inside ÷ share of the image the region covers (chance level is 1.0).",
        example="1.5",
    ),
    FieldDoc(
        "peak_inside",
        {"type": "boolean"},
        "Pointing game: the heatmap's maximum must lie inside the region (15 px tolerance, Zhang et al.).",
        default=False,
        example="true",
    ),
    FieldDoc("min_iou", _NUMBER_0_1, "Least IoU between the region and the heatmap thresholded at `iou_threshold` × its maximum.", example="0.3"),
    FieldDoc("iou_threshold", _NUMBER_0_1, "Fraction of the heatmap's maximum above which a pixel counts as 'attended' for `min_iou`.", default=0.5, example="0.5"),
)

GEOMETRY_DEFAULT_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("box_format", {"enum": list(BOX_FORMATS)}, "How the four numbers of `box` are read: corners, corner+size or centre+size.", default="xyxy", example="xywh"),
    FieldDoc("normalized", {"type": "boolean"}, "Coordinates are fractions of the image's width/height instead of pixels.", default=False, example="true"),
)

REGION_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("name", {"type": "string", "minLength": 1}, "Name shown in failures and the report; unique within the case.", required=True, example="mug"),
    FieldDoc("box", _FOUR_NUMBERS, "Rectangle in original-image coordinates (see `box_format`; x_max/y_max exclusive).", example="[30, 195, 600, 720]"),
    FieldDoc(
        "polygon",
        {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}, "minItems": 3},
        "Polygon as a list of [x, y] points, instead of `box`.",
        example="[[10, 10], [60, 12], [35, 50]]",
    ),
    FieldDoc("mask", {"type": "string"}, "Path (relative to the spec) of a mask image the size of the photo; non-zero pixels are inside.", example="masks/0001.png"),
    *REGION_THRESHOLD_FIELDS,
    *GEOMETRY_DEFAULT_FIELDS,
)

CASE_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("id", {"type": ["string", "integer"]}, "Unique id within the file; becomes the pytest test id.", required=True, example="mug-0000"),
    FieldDoc("image", {"type": "string"}, "Image path relative to the spec file (JPEG/PNG/...; EXIF orientation applied).", required=True, example="images/0000.jpg"),
    FieldDoc("target", _CLASS_REF, "Class to explain, by name (needs `labels`) or index. Default: the predicted class.", example="cup"),
    FieldDoc("expect_class", _CLASS_REF, "The prediction must also be this class ('right class, right reason').", example="cup"),
    FieldDoc("tags", {"type": "array", "items": {"type": "string"}}, "Tags; each becomes a pytest marker (`-m tag`).", default=[], example="[mugs, phone-photo]"),
    FieldDoc("xfail", {"type": "string", "minLength": 1}, "Expected failure with its reason; strict (a pass fails the run).", example='"known weakness, see #12"'),
    FieldDoc("regions", {"type": "array", "items": {"$ref": "#/$defs/region"}, "minItems": 1}, "Regions to check; at least one.", required=True),
    *GEOMETRY_DEFAULT_FIELDS,
)

DEFAULTS_FIELDS: tuple[FieldDoc, ...] = (
    *REGION_THRESHOLD_FIELDS,
    *GEOMETRY_DEFAULT_FIELDS,
    FieldDoc("xfail", {"type": "string", "minLength": 1}, "Mark every case of the file as an expected failure, with this reason.", example='"model known to use the watermark"'),
    FieldDoc("tags", {"type": "array", "items": {"type": "string"}}, "Tags added to every case.", default=[], example="[smoke]"),
)

GATE_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc("min_pass_rate", _NUMBER_0_1, "Least share of the file's cases that must pass (expected failures count as not passed).", example="0.9"),
    FieldDoc("min_mean_mass", _NUMBER_0_1, "Least mean mass over the required regions (those with min_mass/min_lift).", example="0.4"),
    FieldDoc("min_mean_lift", _POSITIVE, "Least mean lift over the required regions.", example="1.5"),
    FieldDoc("per_class", {"type": "boolean"}, "Apply the gate to each target class separately.", default=False, example="true"),
)

TOP_LEVEL_FIELDS: tuple[FieldDoc, ...] = (
    FieldDoc(
        "model",
        {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {"path": {"type": "string"}, "loader": {"type": "string"}, "safe_mode": {"type": "boolean"}},
                    "required": ["path"],
                    "additionalProperties": False,
                },
            ]
        },
        "Model file relative to the spec (.keras or legacy .h5), or {path, loader: 'package.module:function', safe_mode}.",
        required=True,
        example="../models/kitchen.keras",
    ),
    FieldDoc(
        "preprocess",
        {
            "oneOf": [
                {"enum": [*PREPROCESS_BUILTINS, *PREPROCESS_FAMILIES]},
                {"type": "string", "pattern": "^[A-Za-z_][\\w.]*:[A-Za-z_]\\w*$"},
                {
                    "type": "object",
                    "properties": {
                        "scale": {"type": "number"},
                        "mean": {"type": "array", "items": {"type": "number"}},
                        "std": {"type": "array", "items": {"type": "number"}},
                    },
                    "additionalProperties": False,
                },
            ]
        },
        "How pixels (0–255 RGB) become model input: a keras.applications family, scale01, none, {scale, mean, std} "
        "(x / scale − mean) / std, or 'package.module:function'.",
        default="none",
        example="xception",
    ),
    FieldDoc("resize", {"enum": list(RESIZE_MODES)}, "How the image is fitted to the model's input size; heatmaps are mapped back exactly.", default="stretch", example="letterbox"),
    FieldDoc(
        "labels",
        {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]},
        "Class names in output order, or a text file with one name per line.",
        example="[cup, fork, glass]",
    ),
    FieldDoc("layer", {"type": "string"}, "Layer to explain: 'auto' or a name/path such as 'xception/block14_sepconv2_act'.", default="auto", example="conv3"),
    FieldDoc(
        "method",
        {"oneOf": [{"enum": list(METHOD_NAMES)}, {"type": "array", "items": {"enum": list(METHOD_NAMES)}, "minItems": 1}]},
        "CAM method, or a list: each case then runs once per method.",
        default="gradcam",
        example="[gradcam, gradcam++]",
    ),
    FieldDoc("output", {"type": ["string", "integer"]}, "For multi-output models: the output to explain, by name or index.", default=0, example="species"),
    FieldDoc("score", {"enum": list(SCORE_KINDS)}, "Score to differentiate: 'logit' (pre-softmax, the paper's y^c) or 'probability'.", default="logit", example="probability"),
    FieldDoc("defaults", {"type": "object"}, "Values applied to every case and region unless set there.", example="{min_lift: 1.2}"),
    FieldDoc("cases", {"type": "array", "items": {"$ref": "#/$defs/case"}, "minItems": 1}, "The cases; at least one.", required=True),
    FieldDoc("gate", {"$ref": "#/$defs/gate"}, "Suite-level verdict, reported as its own test after the cases.", example="{min_pass_rate: 0.9}"),
    FieldDoc(
        "xfail",
        {"type": "string", "minLength": 1},
        "Mark the whole suite (every case and the gate) as an expected failure, with this reason; strict: a pass fails the run.",
        example='"known shortcut, tracked in #42"',
    ),
)

SECTIONS: dict[str, tuple[FieldDoc, ...]] = {
    "top level": TOP_LEVEL_FIELDS,
    "defaults": DEFAULTS_FIELDS,
    "cases[]": CASE_FIELDS,
    "cases[].regions[]": REGION_FIELDS,
    "gate": GATE_FIELDS,
}


def names(fields: tuple[FieldDoc, ...]) -> tuple[str, ...]:
    return tuple(field_doc.name for field_doc in fields)
