"""What valid specs turn into: box formats, normalised coordinates, polygons, masks, _defaults.yaml inheritance."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from gradcam_audit.core.spec.load import load_spec, parse_spec
from tests.spec.helpers import VALID_SPEC, make_folder, marked_line, write_spec


def _one_region(root: Path, region: str, top: str = "", case: str = "") -> Path:
    return write_spec(root, f"""
model: model.keras
{top}
cases:
  - id: a
    image: images/a.png
{case}
    regions:
      - {region}
""")


@pytest.mark.parametrize(
    ("box_format", "numbers", "expected"),
    [
        ("xyxy", "[10, 5, 30, 25]", (10.0, 5.0, 30.0, 25.0)),
        ("xywh", "[10, 5, 20, 20]", (10.0, 5.0, 30.0, 25.0)),
        ("cxcywh", "[20, 15, 20, 20]", (10.0, 5.0, 30.0, 25.0)),
    ],
)
def test_box_formats_are_stored_as_corners(box_format: str, numbers: str, expected: tuple[float, ...], tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    path = _one_region(root, f"{{name: r, box: {numbers}, box_format: {box_format}, min_mass: 0.2}}")
    assert load_spec(path).cases[0].regions[0].shape.box == expected


def test_box_format_and_normalized_apply_from_file_level_down_to_the_region(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    path = write_spec(root, """
        model: model.keras
        box_format: xywh
        normalized: true
        cases:
          - id: file-level
            image: images/a.png
            regions: [{name: r, box: [0.1, 0.1, 0.5, 0.5], min_mass: 0.2}]
          - id: case-level
            image: images/a.png
            box_format: xyxy
            normalized: false
            regions:
              - {name: pixels, box: [1, 2, 30, 40], min_mass: 0.2}
              - {name: region-level, box: [0.5, 0.5, 0.2, 0.4], normalized: true, box_format: cxcywh, min_mass: 0.2}
        """)
    first, second = load_spec(path).cases
    assert first.regions[0].shape.box == pytest.approx((0.1, 0.1, 0.6, 0.6))
    assert first.regions[0].shape.normalized is True
    assert second.regions[0].shape.box == (1.0, 2.0, 30.0, 40.0)
    assert second.regions[0].shape.normalized is False
    assert second.regions[1].shape.box == pytest.approx((0.4, 0.3, 0.6, 0.7))
    assert second.regions[1].shape.normalized is True


def test_defaults_section_overrides_the_file_level_box_format(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    path = _one_region(root, "{name: r, box: [10, 5, 20, 20], min_mass: 0.2}", top="box_format: xyxy\ndefaults: {box_format: xywh}")
    assert load_spec(path).cases[0].regions[0].shape.box == (10.0, 5.0, 30.0, 25.0)


def test_polygon_and_mask_regions(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    Image.new("L", (64, 48)).save(root / "mask.png")
    path = write_spec(root, """
        model: model.keras
        cases:
          - id: a
            image: images/a.png
            regions:
              - {name: triangle, polygon: [[1, 1], [60, 2], [30, 40]], min_lift: 1.2}
              - {name: normalised, polygon: [[0, 0], [1, 0], [0.5, 1]], normalized: true, peak_inside: true}
              - {name: painted, mask: mask.png, max_mass: 0.1}
        """)
    triangle, normalised, painted = load_spec(path).cases[0].regions
    assert triangle.shape.kind == "polygon" and triangle.shape.polygon == ((1.0, 1.0), (60.0, 2.0), (30.0, 40.0))
    assert normalised.shape.normalized and normalised.peak_inside
    assert painted.shape.kind == "mask" and painted.shape.mask_path == (root / "mask.png").resolve()


def test_directory_defaults_are_inherited_and_overridable(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    (root / "labels.txt").write_text("cat\ndog\n", encoding="utf-8")
    write_spec(root, """
        model: model.keras
        labels: labels.txt
        preprocess: scale01
        method: [gradcam, hirescam]
        defaults: {min_lift: 1.5, tags: [suite]}
        gate: {min_pass_rate: 0.8}
        """, name="_defaults.yaml")
    inheriting = write_spec(root, """
        defaults: {tags: [own]}
        cases:
          - {id: a, image: images/a.png, target: dog, regions: [{name: r, box: [1, 1, 9, 9]}]}
        """, name="inheriting.yaml")
    overriding = write_spec(root, """
        preprocess: none
        method: gradcam
        defaults: {min_lift: 3}
        cases:
          - {id: a, image: images/a.png, regions: [{name: r, box: [1, 1, 9, 9], min_lift: 2}, {name: s, box: [1, 1, 9, 9]}]}
        """, name="overriding.yaml")
    spec = load_spec(inheriting)
    assert spec.model.path == (root / "model.keras").resolve()
    assert spec.labels == ("cat", "dog") and spec.preprocess.name == "scale01" and spec.methods == ("gradcam", "hirescam")
    assert spec.gate is not None and spec.gate.min_pass_rate == 0.8
    assert spec.cases[0].regions[0].min_lift == 1.5
    assert spec.cases[0].tags == ("suite", "own")
    other = load_spec(overriding)
    assert other.preprocess.name == "none" and other.methods == ("gradcam",)
    assert [region.min_lift for region in other.cases[0].regions] == [2.0, 3.0]


def test_problems_in_directory_defaults_name_that_file_and_its_line(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    defaults_path = write_spec(root, """
        model: model.keras
        resize: strech  # <-
        defaults:
          min_mass: 2  # <min
        """, name="_defaults.yaml")
    spec_path = write_spec(root, "cases:\n  - {id: a, image: images/a.png, regions: [{name: r, box: [1, 1, 9, 9]}]}\n")
    problems = {problem.field: problem for problem in parse_spec(spec_path).problems}
    assert Path(problems["resize"].file).resolve() == defaults_path.resolve()
    assert problems["resize"].line == marked_line(defaults_path)
    assert "did you mean 'stretch'" in problems["resize"].message
    assert problems["defaults.min_mass"].line == marked_line(defaults_path, "# <min")
    assert Path(problems["defaults.min_mass"].file).resolve() == defaults_path.resolve()


def test_cases_are_not_allowed_in_directory_defaults(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    write_spec(root, "model: model.keras\ncases: []  # <-\n", name="_defaults.yaml")
    spec_path = write_spec(root, "cases:\n  - {id: a, image: images/a.png, regions: [{name: r, box: [1, 1, 9, 9], min_mass: 0.1}]}\n")
    (problem,) = parse_spec(spec_path).problems
    assert problem.field == "cases" and "unknown key" in problem.message and problem.file.endswith("_defaults.yaml")


def test_one_bad_case_never_hides_the_others(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    path = write_spec(root, VALID_SPEC.replace("box: [0, 0, 20, 20]", "box: [0, 0, 200, 20]"))
    parsed = parse_spec(path)
    assert parsed.problems == ()
    assert parsed.spec is not None
    assert [case.id for case in parsed.spec.cases] == ["first"]
    (invalid,) = parsed.spec.invalid_cases
    assert (invalid.id, invalid.index) == ("second", 1)
    assert invalid.problems[0].field == "cases[1].regions[0].box"


def test_suite_xfail_marks_every_case_and_the_spec(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    path = write_spec(root, 'xfail: "known shortcut"\n' + VALID_SPEC.lstrip("\n"))
    spec = load_spec(path)
    assert spec.xfail == "known shortcut"
    assert [case.xfail for case in spec.cases] == ["known shortcut", "known shortcut"]


def test_model_mapping_and_affine_preprocess(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    path = write_spec(root, VALID_SPEC.replace(
        "model: model.keras",
        "model: {path: model.keras, loader: 'my_project.models:load', safe_mode: false}\n"
        "preprocess: {scale: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}"))
    spec = load_spec(path)
    assert (spec.model.loader, spec.model.safe_mode) == ("my_project.models:load", False)
    assert spec.preprocess.kind == "affine" and spec.preprocess.scale == 255 and len(spec.preprocess.std) == 3


def test_the_shipped_example_specs_load(tmp_path: Path) -> None:
    repository = Path(__file__).resolve().parents[2]
    for path in sorted((repository / "specs").glob("*.yaml")):
        spec = load_spec(path)
        assert len(spec.cases) == 24 and spec.labels == ("horizontal", "vertical")
