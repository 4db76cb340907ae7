"""The JSON Schema (draft 2020-12) of spec files, built from ``fields.py`` (and the region
metrics' declared keys) so it cannot drift from the loader.

Run ``python -m gradcam_audit.core.spec.schema`` to rewrite the shipped files in ``gradcam_audit/schema/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gradcam_audit.core.spec.fields import (
    BASELINE_FIELDS,
    BASELINE_REGION_FIELDS,
    CASE_FIELDS,
    DIRECTORY_DEFAULTS_FIELDS,
    GATE_FIELDS,
    TARGET_FIELDS,
    TOP_LEVEL_FIELDS,
    defaults_fields,
    object_schema,
    region_fields,
)
from gradcam_audit.schema import DIRECTORY_DEFAULTS_SCHEMA_PATH, SPEC_SCHEMA_PATH

DRAFT = "https://json-schema.org/draft/2020-12/schema"
GEOMETRY_KEYS = ("box", "polygon", "mask")
GATE_THRESHOLD_KEYS = ("min_pass_rate", "min_mean_mass", "min_mean_lift", "max_transplant_flip_rate", "max_randomization_similarity")


def _definitions() -> dict[str, Any]:
    region = object_schema(region_fields())
    # The loader's rule "exactly one of box, polygon, mask", in schema terms.
    region["oneOf"] = [{"required": [key]} for key in GEOMETRY_KEYS]
    gate = object_schema(GATE_FIELDS)
    # A gate without a threshold could never fail; the loader rejects it too.
    gate["anyOf"] = [{"required": [key]} for key in GATE_THRESHOLD_KEYS]
    # A transplant needs its threshold and the threshold its region, as the loader says.
    gate["dependentRequired"] = {"transplant": ["max_transplant_flip_rate"], "max_transplant_flip_rate": ["transplant"]}
    target = object_schema(TARGET_FIELDS)
    target["oneOf"] = [{"required": ["region"]}, {"required": ["box"]}, {"required": ["polygon"]}]
    return {
        "defaults": object_schema(defaults_fields()),
        "case": object_schema(CASE_FIELDS),
        "target": target,
        "region": region,
        "gate": gate,
        "baseline": object_schema(BASELINE_FIELDS),
        "region_baseline": object_schema(BASELINE_REGION_FIELDS),
    }


def spec_schema() -> dict[str, Any]:
    """The schema of a spec file.

    Only ``cases`` is required: every other top-level key (``model`` included) may come from the directory's
    ``_defaults.yaml``, so requiring it here would flag specs the loader accepts. The loader reports a missing model.
    """
    schema = object_schema(TOP_LEVEL_FIELDS, required=False)
    schema["required"] = ["cases"]
    return {
        "$schema": DRAFT,
        "$id": "urn:gradcam-audit:spec",
        "title": "gradcam_audit spec file",
        "description": "Grad-CAM attention audit: a model, its cases (images with regions) and thresholds.",
        **schema,
        "$defs": _definitions(),
    }


def directory_defaults_schema() -> dict[str, Any]:
    """The schema of a directory's ``_defaults.yaml``: any top-level key but ``cases``, none required."""
    return {
        "$schema": DRAFT,
        "$id": "urn:gradcam-audit:directory-defaults",
        "title": "gradcam_audit _defaults.yaml",
        "description": "Top-level values inherited by every spec file in the same directory.",
        **object_schema(DIRECTORY_DEFAULTS_FIELDS, required=False),
        "$defs": _definitions(),
    }


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as the shipped file holds it (stable key order, UTF-8, trailing newline)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Shipped schema path → the text it must contain."""
    return {
        SPEC_SCHEMA_PATH: schema_text(spec_schema()),
        DIRECTORY_DEFAULTS_SCHEMA_PATH: schema_text(directory_defaults_schema()),
    }


def write_schemas() -> list[Path]:
    """Rewrite the shipped schema files; returns the paths written."""
    written = []
    for path, text in generated_files().items():
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_schemas():
        print(written_path)
