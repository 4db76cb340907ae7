"""The causal keys in the spec: loader, inheritance, errors with file:line, overrides, schema."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from gradcam_audit.core.plan import apply_overrides, parse_overrides
from gradcam_audit.core.evaluate.metrics import OVERRIDABLE_KEYS
from gradcam_audit.core.spec.load import parse_spec
from gradcam_audit.core.spec.schema import spec_schema
from tests.spec.helpers import make_folder, marked_line, write_spec

HEADER = """
model: model.keras
labels: [cat, dog]
"""


def _spec(tmp_path: Path, body: str) -> Path:
    folder = make_folder(tmp_path)
    return write_spec(folder, HEADER + body)


def test_effect_keys_and_removal_are_read_and_inherited(tmp_path: Path) -> None:
    path = _spec(tmp_path, """
removal: blur
defaults:
  max_effect: 0.5
cases:
  - id: first
    image: images/a.png
    regions:
      - name: tag
        box: [0, 0, 10, 10]
      - name: body
        box: [10, 10, 40, 30]
        min_effect: 0.3
        removal: noise
  - id: second
    image: images/b.png
    removal: mean
    regions:
      - name: tag
        box: [0, 0, 10, 10]
""")
    parsed = parse_spec(path)
    assert parsed.all_problems == ()
    assert parsed.spec is not None
    first, second = parsed.spec.cases
    assert (first.regions[0].max_effect, first.regions[0].removal) == (0.5, "blur")
    assert (first.regions[1].min_effect, first.regions[1].max_effect, first.regions[1].removal) == (0.3, 0.5, "noise")
    assert second.regions[0].removal == "mean"
    assert first.regions[0].has_effect_check and first.regions[0].is_forbidden


def test_the_default_removal_is_inpaint(tmp_path: Path) -> None:
    path = _spec(tmp_path, """
cases:
  - id: first
    image: images/a.png
    regions:
      - {name: tag, box: [0, 0, 10, 10], max_effect: 0.1}
""")
    spec = parse_spec(path).spec
    assert spec is not None and spec.cases[0].regions[0].removal == "inpaint"


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ("max_effect: 1.5  # <-", "max_effect", "outside [0, 1]"),
        ("removal: inpaints  # <-", "removal", "did you mean 'inpaint'"),
        ("min_effect: nope  # <-", "min_effect", "expected a number between 0 and 1"),
    ],
)
def test_bad_causal_region_keys_are_errors_at_their_line(tmp_path: Path, line: str, field: str, words: str) -> None:
    path = _spec(tmp_path, f"""
cases:
  - id: first
    image: images/a.png
    regions:
      - name: tag
        box: [0, 0, 10, 10]
        max_mass: 0.1
        {line}
""")
    problems = parse_spec(path).all_problems
    assert any(problem.field.endswith(field) and words in problem.message and problem.line == marked_line(path)
               for problem in problems), problems


def test_min_effect_above_max_effect_can_never_pass(tmp_path: Path) -> None:
    path = _spec(tmp_path, """
cases:
  - id: first
    image: images/a.png
    regions:
      - {name: tag, box: [0, 0, 10, 10], min_effect: 0.5, max_effect: 0.1}
""")
    assert any("min_effect 0.5 > max_effect 0.1" in problem.message for problem in parse_spec(path).all_problems)


def test_an_effect_region_outside_the_picture_is_a_spec_error_with_its_line(tmp_path: Path) -> None:
    path = _spec(tmp_path, """
cases:
  - id: first
    image: images/a.png
    regions:
      - name: tag
        box: [50, 40, 90, 60]  # <-
        max_effect: 0.1
""")
    problems = parse_spec(path).all_problems
    assert any("outside the image" in problem.message and problem.line == marked_line(path) for problem in problems), problems


def test_a_transplant_region_missing_from_some_cases_is_a_spec_error_at_the_gate(tmp_path: Path) -> None:
    path = _spec(tmp_path, """
gate:
  transplant: tag  # <-
  max_transplant_flip_rate: 0.05
cases:
  - id: first
    image: images/a.png
    expect_class: cat
    regions:
      - {name: tag, box: [0, 0, 10, 10], max_mass: 0.1}
  - id: second
    image: images/b.png
    expect_class: dog
    regions:
      - {name: body, box: [0, 0, 10, 10], min_mass: 0.1}
""")
    parsed = parse_spec(path)
    (problem,) = [problem for problem in parsed.problems if problem.field == "gate.transplant"]
    assert "missing from 1 of the 2 valid case(s) (second)" in problem.message
    assert problem.line == marked_line(path) and problem.file.endswith("spec.yaml")


def test_transplant_and_its_threshold_come_together(tmp_path: Path) -> None:
    path = _spec(tmp_path, """
gate:
  max_transplant_flip_rate: 0.05  # <-
  transplant_pairs: 0
cases:
  - id: first
    image: images/a.png
    regions:
      - {name: tag, box: [0, 0, 10, 10], max_mass: 0.1}
""")
    messages = [(problem.field, problem.message) for problem in parse_spec(path).problems]
    assert ("gate.max_transplant_flip_rate", "`max_transplant_flip_rate` needs `transplant` as well") in messages
    assert any(field == "gate.transplant_pairs" and "whole number" in message for field, message in messages)


def test_gate_causal_keys_are_read(tmp_path: Path) -> None:
    path = _spec(tmp_path, """
gate:
  transplant: tag
  max_transplant_flip_rate: 0.05
  transplant_pairs: 10
  max_randomization_similarity: 0.5
cases:
  - id: first
    image: images/a.png
    expect_class: cat
    regions:
      - {name: tag, box: [0, 0, 10, 10], max_mass: 0.1}
""")
    parsed = parse_spec(path)
    assert parsed.all_problems == ()
    assert parsed.spec is not None and parsed.spec.gate is not None
    gate = parsed.spec.gate
    assert (gate.transplant, gate.max_transplant_flip_rate, gate.transplant_pairs, gate.max_randomization_similarity) == ("tag", 0.05, 10, 0.5)
    assert gate.needs_evidence


def test_effect_thresholds_can_be_overridden(tmp_path: Path) -> None:
    assert {"max_effect", "min_effect"} <= set(OVERRIDABLE_KEYS)
    path = _spec(tmp_path, """
cases:
  - id: first
    image: images/a.png
    regions:
      - {name: tag, box: [0, 0, 10, 10], max_effect: 0.1}
      - {name: body, box: [10, 10, 40, 30], min_mass: 0.2}
""")
    spec = parse_spec(path).spec
    assert spec is not None
    changed = apply_overrides(spec, parse_overrides(["max_effect=0.5"]))
    assert changed.cases[0].regions[0].max_effect == 0.5 and changed.cases[0].regions[1].max_effect is None


def test_the_schema_knows_the_causal_keys() -> None:
    validator = jsonschema.Draft202012Validator(spec_schema())
    document = yaml.safe_load("""
model: m.keras
removal: mean
gate: {transplant: tag, max_transplant_flip_rate: 0.05, transplant_pairs: 8, max_randomization_similarity: 0.5}
defaults: {max_effect: 0.1, removal: noise}
cases:
  - id: a
    image: a.png
    removal: blur
    regions: [{name: tag, box: [0, 0, 1, 1], max_effect: 0.1, min_effect: 0.0, removal: inpaint}]
""")
    assert validator.is_valid(document)
    document["cases"][0]["regions"][0]["removal"] = "erase"
    assert not validator.is_valid(document)
