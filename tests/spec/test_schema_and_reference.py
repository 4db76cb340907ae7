"""The shipped JSON Schema and the docs' spec reference are generated from fields.py and agree with the loader."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gradcam_audit.core.spec.fields import FieldDoc, sections
from gradcam_audit.core.spec.load import parse_spec
from gradcam_audit.core.spec.reference import EXAMPLE_SPEC, spec_reference
from gradcam_audit.core.spec.schema import directory_defaults_schema, generated_files, spec_schema
from tests.spec.helpers import REPOSITORY, VALID_SPEC, make_folder, write_spec

REGENERATE = os.environ.get("GRADCAM_AUDIT_REGENERATE") == "1"


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_shipped_schema_files_equal_the_generated_ones() -> None:
    for path, text in generated_files().items():
        if REGENERATE:
            path.write_text(text, encoding="utf-8")
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is out of date; run GRADCAM_AUDIT_REGENERATE=1 pytest tests/spec to rewrite it"
        )


def test_docs_reference_equals_the_generated_one() -> None:
    page = REPOSITORY / "docs" / "reference" / "spec.md"
    if REGENERATE:
        page.write_text(spec_reference(), encoding="utf-8")
    assert page.read_text(encoding="utf-8") == spec_reference(), (
        "docs/reference/spec.md is out of date; run GRADCAM_AUDIT_REGENERATE=1 pytest tests/spec to rewrite it"
    )


def test_every_spec_in_the_repository_matches_the_schema() -> None:
    validator = _validator(spec_schema())
    spec_paths = sorted((REPOSITORY / "specs").rglob("*.y*ml"))
    assert spec_paths
    for path in spec_paths:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        schema = directory_defaults_schema() if path.name == "_defaults.yaml" else spec_schema()
        errors = [error.message for error in _validator(schema).iter_errors(document)]
        assert not errors, f"{path}: {errors}"
    assert validator.is_valid(yaml.safe_load(VALID_SPEC))


def test_reference_example_matches_the_schema_and_the_loader(tmp_path: Path) -> None:
    assert _validator(spec_schema()).is_valid(yaml.safe_load(EXAMPLE_SPEC))
    root = make_folder(tmp_path / "specs")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "kitchen.keras").write_bytes(b"placeholder")
    parsed = parse_spec(write_spec(root, EXAMPLE_SPEC), check_images=False)
    assert parsed.all_problems == ()


def _field_docs() -> list[tuple[str, FieldDoc]]:
    return [(section, field_doc) for section, fields in sections().items() for field_doc in fields]


@pytest.mark.parametrize(("section", "field_doc"), _field_docs(), ids=[f"{s}:{f.name}" for s, f in _field_docs()])
def test_each_documented_example_and_default_matches_its_own_schema(section: str, field_doc: FieldDoc) -> None:
    schema = {**field_doc.json_schema, "$defs": spec_schema()["$defs"]}
    validator = _validator(schema)
    if field_doc.example:
        assert validator.is_valid(yaml.safe_load(field_doc.example)), f"{section}.{field_doc.name}: {field_doc.example}"
    if field_doc.default is not None:
        assert validator.is_valid(field_doc.default), f"{section}.{field_doc.name} default {field_doc.default!r}"


def test_reference_lists_every_key_of_every_section() -> None:
    reference = (REPOSITORY / "docs" / "reference" / "spec.md").read_text(encoding="utf-8")
    for section, fields in sections().items():
        table = reference.split(f"\n## `{section}`\n", 1)[1].split("\n## ", 1)[0]
        for field_doc in fields:
            assert f"| `{field_doc.name}` |" in table, f"{section}: {field_doc.name}"
    assert "# yaml-language-server: $schema=" in reference


MALFORMED = {
    "unknown key": ("min_mass: 0.3", "min_mas: 0.3"),
    "threshold above 1": ("min_mass: 0.3", "min_mass: 1.3"),
    "lift of 0": ("min_lift: 1.5", "min_lift: 0"),
    "three numbers in a box": ("box: [0, 0, 20, 20]", "box: [0, 0, 20]"),
    "unknown box format": ("box: [0, 0, 20, 20]", "box: [0, 0, 20, 20]\n        box_format: xxyy"),
    "two geometries": ("box: [0, 0, 20, 20]", "box: [0, 0, 20, 20]\n        mask: m.png"),
    "tag with a dash": ("target: cat", "target: cat\n    tags: [phone-photo]"),
    "empty cases": (None, "model: model.keras\ncases: []\n"),
    "unknown preprocess": ("labels: [cat, dog]", "labels: [cat, dog]\npreprocess: xceptoin"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_schema_and_loader_reject_the_same_malformed_specs(kind: str, tmp_path: Path) -> None:
    old, new = MALFORMED[kind]
    text = new if old is None else VALID_SPEC.replace(old, new, 1)
    assert text != VALID_SPEC
    assert not _validator(spec_schema()).is_valid(yaml.safe_load(text))
    root = make_folder(tmp_path)
    assert parse_spec(write_spec(root, text)).all_problems
