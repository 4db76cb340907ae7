"""The docs site's spec reference page (``docs/reference/spec.md``), generated from ``fields.py`` (and the region
metrics) like the JSON Schema, so neither can drift. ``python -m gradcam_audit.core.spec.reference`` rewrites it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gradcam_audit.core.spec.fields import CALLABLE_PATTERN, TAG_PATTERN, FieldDoc, sections

# Where each `$ref` of the schema is described in the reference.
_REFERENCE_SECTIONS = {
    "#/$defs/case": "mapping, see `cases[]`",
    "#/$defs/region": "mapping, see `cases[].regions[]`",
    "#/$defs/gate": "mapping, see `gate`",
    "#/$defs/defaults": "mapping, see `defaults`",
    "#/$defs/baseline": "mapping, see `baseline`",
    "#/$defs/region_baseline": "mapping, see `cases[].regions[].baseline`",
}

EXAMPLE_SPEC = """\
# yaml-language-server: $schema=../.venv/lib/python3.11/site-packages/gradcam_audit/schema/spec.schema.json
model: ../models/kitchen.keras          # or {path: ..., loader: "my_project.models:load", safe_mode: true}
preprocess: xception                    # or scale01, none, {scale: 255, mean: [...], std: [...]}, "pkg.mod:function"
resize: letterbox
labels: [cup, fork, glass]              # or labels.txt, one name per line
layer: auto                             # or "xception/block14_sepconv2_act"
method: [gradcam, gradcam++]
box_format: xyxy
defaults:
  min_lift: 1.5
  tags: [kitchen]
gate:
  min_pass_rate: 0.9
cases:
  - id: mug-0001
    image: images/mug-0001.jpg
    target: cup
    expect_class: cup
    tags: [phone_photo]
    regions:
      - name: mug
        box: [30, 195, 600, 720]
        min_mass: 0.5
      - name: watermark
        box: [0.8, 0.9, 1.0, 1.0]
        normalized: true
        max_mass: 0.05
  - id: fork-0002
    image: images/fork-0002.jpg
    xfail: "known weakness, see #12"
    regions:
      - name: fork
        polygon: [[10, 10], [60, 12], [35, 50]]
        peak_inside: true
"""


def _cell(text: str) -> str:
    # A '|' inside a table cell would end the cell; newlines would end the row.
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"`{text}`"


def describe_type(schema: dict[str, Any]) -> str:
    """A short human description of a field's JSON Schema, e.g. 'number in [0, 1]'."""
    if "$ref" in schema:
        return _REFERENCE_SECTIONS.get(schema["$ref"], "mapping")
    if "oneOf" in schema:
        return " or ".join(describe_type(option) for option in schema["oneOf"])
    if "enum" in schema:
        return "one of " + ", ".join(_code(choice) for choice in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(describe_type({**schema, "type": single}) for single in kind)
    if kind == "number":
        if "minimum" in schema and "maximum" in schema:
            return f"number in [{schema['minimum']}, {schema['maximum']}]"
        if "exclusiveMinimum" in schema:
            return f"number > {schema['exclusiveMinimum']}"
        return "number"
    if kind == "string":
        pattern = schema.get("pattern")
        if pattern == CALLABLE_PATTERN:
            return "`package.module:function`"
        if pattern == TAG_PATTERN:
            return "identifier"
        return "text"
    if kind == "array":
        items = schema.get("items", {})
        count = ""
        if schema.get("minItems") is not None and schema.get("minItems") == schema.get("maxItems"):
            count = f"{schema['minItems']} "
            item_text = describe_type(items) + "s"
            return count + item_text
        if items.get("type") == "array":
            return "list of [x, y] points" + (f" (at least {schema['minItems']})" if "minItems" in schema else "")
        suffix = f" (at least {schema['minItems']})" if "minItems" in schema else ""
        return f"list of {describe_type(items)}{suffix}"
    if kind == "object":
        return "mapping"
    if kind in ("integer", "boolean"):
        return str(kind)
    return "any"


def _default_text(field_doc: FieldDoc) -> str:
    if field_doc.required:
        return "**required**"
    if field_doc.default is None:
        return "—"
    return _code(field_doc.default)


def field_table(fields: tuple[FieldDoc, ...]) -> str:
    """One Markdown table: key, type, default, meaning, example."""
    lines = ["| Key | Type | Default | Meaning | Example |", "|---|---|---|---|---|"]
    for field_doc in fields:
        example = _code(field_doc.example) if field_doc.example else ""
        cells = [_code(field_doc.name), describe_type(field_doc.json_schema), _default_text(field_doc), field_doc.description, example]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def spec_reference() -> str:
    """The spec reference page in Markdown: a level-1 title, one level-2 section (a field table) per spec section."""
    parts = [
        "# Spec reference",
        "",
        "<!-- Generated from gradcam_audit/core/spec/fields.py and the region metrics of gradcam_audit/core/evaluate/metrics.py by "
        "`python -m gradcam_audit.core.spec.reference`; do not edit by hand. -->",
        "",
        "A spec is a YAML file (`*.yaml` / `*.yml`). Paths in it (model, labels, images, masks) are relative to the spec file. "
        "Every key of every section is listed below; unknown keys are errors (with a did-you-mean). "
        "Boxes are `[x_min, y_min, x_max, y_max]` in pixels of the original image (after EXIF rotation), "
        "x_max/y_max exclusive, unless `box_format` / `normalized` say otherwise.",
        "",
        "```yaml",
        EXAMPLE_SPEC.rstrip("\n"),
        "```",
        "",
        "**Inheritance.** A value is looked up in the region, then its case (`box_format`, `normalized`), then the "
        "spec's `defaults:`, then the `defaults:` of a `_defaults.yaml` in the same directory, then the top-level "
        "`box_format` / `normalized`. Every other top-level key (`model`, `preprocess`, `labels`, `gate`, `xfail`, ...) "
        "that a spec does not set is taken from that `_defaults.yaml`, which may hold any top-level key but `cases`. "
        "A region with only `max_mass` is a forbidden region: inherited `min_mass` / `min_lift` do not apply to it. "
        "A top-level `xfail` marks the whole suite (every case and the gate) as a strict expected failure.",
        "",
        "**Editor support.** The package ships a JSON Schema (draft 2020-12) generated from the same field tables as "
        "the loader: `gradcam_audit/schema/spec.schema.json` (and `directory-defaults.schema.json` for `_defaults.yaml`). "
        "With the YAML language server (VS Code's YAML extension, Neovim, Helix, ...), put this first line in a spec, "
        "with the path to the installed file (`python -c \"import gradcam_audit.schema as s; print(s.SPEC_SCHEMA_PATH)\"` "
        "prints it) or to a copy in your repository:",
        "",
        "```yaml",
        "# yaml-language-server: $schema=path/to/gradcam_audit/schema/spec.schema.json",
        "```",
        "",
        "**Checking specs.** `gradcam-audit validate specs/` checks everything that can be checked without running "
        "the model (keys, types, ranges, class names, duplicate ids, images, boxes inside the images) and lists every "
        "problem with file, line, field and a fix; `--deep` also loads each model and checks the layer, the number of "
        "labels against the output size and the input's channels.",
    ]
    for title, fields in sections().items():
        parts.extend(["", f"## `{title}`", "", field_table(fields)])
    return "\n".join(parts) + "\n"


def write_docs_reference(page_path: Path) -> None:
    """Rewrite the docs site's spec reference page at ``page_path``."""
    page_path.write_text(spec_reference(), encoding="utf-8")


if __name__ == "__main__":
    write_docs_reference(Path(__file__).resolve().parents[3] / "docs" / "reference" / "spec.md")
