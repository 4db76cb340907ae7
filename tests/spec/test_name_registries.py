"""The CAM methods' and removal operators' registries are their only lists: the loader, schema and docs' reference follow them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gradcam_audit.core.engine import method_names
from gradcam_audit.core.engine.methods import METHOD_NAMES, METHODS
from gradcam_audit.core.evaluate.removal import REMOVAL_MODES, REMOVALS
from gradcam_audit.core.spec.load import parse_spec
from gradcam_audit.core.spec.reference import spec_reference
from gradcam_audit.core.spec.schema import spec_schema
from tests.spec.helpers import REPOSITORY, VALID_SPEC, make_folder, write_spec


def test_the_schema_and_the_reference_list_exactly_the_registered_methods() -> None:
    single, several = spec_schema()["properties"]["method"]["oneOf"]
    assert single["enum"] == several["items"]["enum"] == list(METHODS) == list(METHOD_NAMES)
    (method_row,) = [line for line in spec_reference().splitlines() if line.startswith("| `method` |")]
    type_cell = method_row.split(" | ")[1]
    choices = ", ".join(f"`{name}`" for name in METHODS)
    assert type_cell == f"one of {choices} or list of one of {choices} (at least 1)"


def test_method_names_holds_no_second_list() -> None:
    assert not hasattr(method_names, "METHOD_NAMES") and not hasattr(method_names, "REMOVAL_MODES")


def test_the_removal_key_is_generated_from_the_operators(tmp_path: Path) -> None:
    region_removal = spec_schema()["$defs"]["region"]["properties"]["removal"]
    assert region_removal["enum"] == list(REMOVALS) == list(REMOVAL_MODES) and region_removal["default"] == REMOVAL_MODES[0]
    for operator in REMOVALS.values():
        assert f"{operator.name} ({operator.description})" in region_removal["description"]
    root = make_folder(tmp_path)
    for name in REMOVALS:
        spec = write_spec(root, VALID_SPEC.replace("min_mass: 0.3", f"max_effect: 0.3\n        removal: {name}"), f"{name}.yaml")
        assert parse_spec(spec).all_problems == ()
    unknown = write_spec(root, VALID_SPEC.replace("min_mass: 0.3", "max_effect: 0.3\n        removal: inpant"), "unknown.yaml")
    (problem,) = parse_spec(unknown).all_problems
    assert problem.field == "cases[0].regions[0].removal" and "did you mean 'inpaint'" in problem.message


def test_the_loader_accepts_every_registered_method_and_only_those(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    every = write_spec(root, VALID_SPEC.replace("labels: [cat, dog]", f"labels: [cat, dog]\nmethod: [{', '.join(METHODS)}]"))
    assert parse_spec(every).all_problems == ()
    unknown = write_spec(root, VALID_SPEC.replace("labels: [cat, dog]", "labels: [cat, dog]\nmethod: gradcam+++"), "unknown.yaml")
    (problem,) = parse_spec(unknown).all_problems
    assert problem.field == "method" and "did you mean 'gradcam++'" in problem.message


@pytest.mark.parametrize("module", ["gradcam_audit.core.engine.method_names", "gradcam_audit.core.engine.methods", "gradcam_audit.core.evaluate.removal",
                                    "gradcam_audit.core.spec.load"])
def test_the_names_import_without_tensorflow(module: str) -> None:
    """A fresh process is the point: the test process itself has imported TensorFlow already."""
    code = f"import sys, {module}; print(sorted(name for name in ('tensorflow', 'keras', 'jax') if name in sys.modules))"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPOSITORY, timeout=120, check=True)
    assert completed.stdout.strip() == "[]"
