"""One malformed spec per error kind: each problem names the file, the line, the field, what was received and a fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gradcam_audit.core.spec.load import load_spec, parse_spec
from gradcam_audit.errors import SpecError
from tests.spec.helpers import make_folder, marked_line, write_spec


def _corrupt(name: str) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        (root / "images" / name).write_bytes(b"this is not a PNG at all")

    return corrupt


def _truncate(name: str) -> Callable[[Path], None]:
    def truncate(root: Path) -> None:
        path = root / "images" / name
        path.write_bytes(path.read_bytes()[:60])

    return truncate


def _small_mask(root: Path) -> None:
    from PIL import Image

    Image.new("L", (10, 10)).save(root / "mask.png")


@dataclass(frozen=True)
class Kind:
    """An error kind: the spec that triggers it, the field it must name, and text the message and fix must contain."""

    name: str
    spec: str
    field: str
    message: str
    fix: str = ""
    prepare: Callable[[Path], None] | None = None


def _case(region: str, *, case_extra: str = "", top_extra: str = "") -> str:
    """A one-case spec whose single region is ``region`` (indented YAML lines)."""
    return f"""
model: model.keras
labels: [cat, dog]
{top_extra}
cases:
  - id: only
    image: images/a.png
{case_extra}
    regions:
      - name: body
{region}
"""


KINDS = [
    Kind("unknown key with did-you-mean", _case("        box: [1, 1, 9, 9]\n        min_mas: 0.3  # <-"),
         "cases[0].regions[0].min_mas", "did you mean 'min_mass'", "min_mass"),
    Kind("unknown top-level key", "model: model.keras\ncase:  # <-\n  - id: x\n", "case", "did you mean 'cases'", "cases"),
    Kind("unknown class name", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3", case_extra="    target: dgo  # <-"),
         "cases[0].target", "unknown class 'dgo' (did you mean 'dog'?)", "cat, dog"),
    Kind("class index out of range", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3", case_extra="    target: 7  # <-"),
         "cases[0].target", "class index 7 is out of range (expected 0..1)", "count from 0"),
    Kind("unknown preprocess", "model: model.keras\npreprocess: xceptoin  # <-\n" + _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3").split("\n", 2)[2],
         "preprocess", "unknown preprocessing 'xceptoin' (did you mean 'xception'?)", "scale01"),
    Kind("unknown method", "model: model.keras\nmethod: gradcma  # <-\n" + _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3").split("\n", 2)[2],
         "method", "did you mean 'gradcam'", "gradcam++"),
    Kind("unknown resize mode", "model: model.keras\nresize: crop  # <-\n" + _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3").split("\n", 2)[2],
         "resize", "got 'crop', expected one of stretch, center_crop, letterbox", "resize:"),
    Kind("duplicate case ids", """
model: model.keras
cases:
  - id: same
    image: images/a.png
    regions: [{name: r, box: [1, 1, 9, 9], min_mass: 0.2}]
  - id: same  # <-
    image: images/b.png
    regions: [{name: r, box: [1, 1, 9, 9], min_mass: 0.2}]
""", "cases[1].id", "duplicate case id 'same' (first used by cases[0])", "unique"),
    Kind("duplicate YAML key", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3\n        min_mass: 0.4  # <-"),
         "cases[0].regions[0].min_mass", "appears twice", "keep one"),
    Kind("box with x_min >= x_max", _case("        box: [30, 1, 10, 9]  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].box", "empty box [30, 1, 10, 9] (xyxy): expected x_min < x_max", "box_format: xywh"),
    Kind("box that is not four numbers", _case("        box: [1, 2, 3]  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].box", "expected four finite numbers (xyxy), got [1, 2, 3]", "x_min"),
    Kind("box with NaN", _case("        box: [1, 2, .nan, 9]  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].box", "expected four finite numbers", "x_min"),
    Kind("box outside the image", _case("        box: [10, 10, 70, 40]  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].box", "the image is 64×48 pixels", "x_max ≤ width"),
    Kind("normalized box outside [0, 1]", _case("        box: [0.1, 0.1, 1.5, 0.5]  # <-\n        normalized: true\n        min_mass: 0.3"),
         "cases[0].regions[0].box", "normalized coordinates must lie in [0, 1]", "normalized: false"),
    Kind("polygon outside the image", _case("        polygon: [[1, 1], [100, 1], [50, 30]]  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].polygon", "the image is 64×48 pixels", "[x, y]"),
    Kind("polygon with too few points", _case("        polygon: [[1, 1], [10, 1]]  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].polygon", "expected at least three [x, y] points", "polygon:"),
    Kind("collinear polygon", _case("        polygon: [[1, 1], [5, 5], [9, 9]]  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].polygon", "encloses no area", "corners"),
    Kind("two geometries", _case("        box: [1, 1, 9, 9]\n        polygon: [[1, 1], [9, 1], [5, 8]]  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0]", "exactly one of box, polygon, mask (got box, polygon)", "box:"),
    Kind("mask of the wrong size", _case("        mask: mask.png  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].mask", "mask is 10×10 but the image is 64×48", "image's size", _small_mask),
    Kind("missing mask", _case("        mask: masks/none.png  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].mask", "mask file not found: ", "relative to the spec"),
    Kind("threshold above 1", _case("        box: [1, 1, 9, 9]\n        min_mass: 1.5  # <-"),
         "cases[0].regions[0].min_mass", "got 1.5, which is outside [0, 1]", "between 0 and 1"),
    Kind("threshold below 0", _case("        box: [1, 1, 9, 9]\n        max_mass: -0.1  # <-"),
         "cases[0].regions[0].max_mass", "outside [0, 1]", "between 0 and 1"),
    Kind("threshold that is text", _case("        box: [1, 1, 9, 9]\n        min_mass: half  # <-"),
         "cases[0].regions[0].min_mass", "expected a number between 0 and 1, got 'half'", "between 0 and 1"),
    Kind("lift not above 0", _case("        box: [1, 1, 9, 9]\n        min_lift: 0  # <-"),
         "cases[0].regions[0].min_lift", "got 0 (expected a number greater than 0)", "chance level"),
    Kind("gate rate above 1", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3", top_extra="gate:\n  min_pass_rate: 90  # <-"),
         "gate.min_pass_rate", "got 90, which is outside [0, 1]", "0.9"),
    Kind("contradictory thresholds", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.5\n        max_mass: 0.2  # <-"),
         "cases[0].regions[0].max_mass", "min_mass 0.5 > max_mass 0.2", "lower min_mass"),
    Kind("region without threshold", _case("        box: [1, 1, 9, 9]").replace("      - name: body", "      - name: body  # <-"),
         "cases[0].regions[0]", "has no threshold", "max_mass"),
    Kind("unknown box_format", _case("        box: [1, 1, 9, 9]\n        box_format: xxyy  # <-\n        min_mass: 0.3"),
         "cases[0].regions[0].box_format", "got 'xxyy', expected one of xyxy, xywh, cxcywh", "box_format:"),
    Kind("tags that are not identifiers", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3", case_extra="    tags: [phone-photo]  # <-"),
         "cases[0].tags", "got ['phone-photo']", "phone_photo"),
    Kind("missing image", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3").replace("image: images/a.png", "image: images/none.png  # <-"),
         "cases[0].image", "image not found: ", "relative to the spec"),
    Kind("unreadable image", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3").replace("image: images/a.png", "image: images/a.png  # <-"),
         "cases[0].image", "not an image Pillow can read", "re-export", _corrupt("a.png")),
    Kind("truncated image", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3").replace("image: images/a.png", "image: images/a.png  # <-"),
         "cases[0].image", "a.png", "re-export", _truncate("a.png")),
    Kind("case without regions", "model: model.keras\ncases:\n  - id: lonely  # <-\n    image: images/a.png\n",
         "cases[0].regions", "every case needs at least one region, got None", "regions:"),
    Kind("empty cases", "model: model.keras\ncases: []  # <-\n", "cases", "expected a non-empty list of cases, got []", "- id:"),
    Kind("missing model file", "model: models/none.keras  # <-\ncases: []\n", "model", "model file not found: ", "relative to the spec"),
    Kind("model loader that is not a callable", "model: {path: model.keras, loader: not-a-function}  # <-\ncases: []\n",
         "model.loader", "expected 'package.module:function', got 'not-a-function'", "loader:"),
    Kind("class name without labels", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3", case_extra="    target: cat  # <-").replace("labels: [cat, dog]\n", ""),
         "cases[0].target", "needs `labels:`", "class index"),
    Kind("labels file missing", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3").replace("labels: [cat, dog]", "labels: classes.txt  # <-"),
         "labels", "labels file not found: ", "one class name per line"),
    Kind("std of zero", "model: model.keras\npreprocess: {scale: 255, mean: [0.5], std: [0]}  # <-\ncases: []\n",
         "preprocess.std", "a std of 0 would divide by zero", "standard deviation"),
    Kind("xfail without a reason", _case("        box: [1, 1, 9, 9]\n        min_mass: 0.3", top_extra='xfail: ""  # <-'),
         "xfail", "expected the reason (text)", "xfail:"),
]


@pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])
def test_each_error_kind_names_file_line_field_and_fix(kind: Kind, tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    if kind.prepare is not None:
        kind.prepare(root)
    path = write_spec(root, kind.spec)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    matching = [problem for problem in raised.value.problems if problem.field == kind.field and kind.message in problem.message]
    assert matching, f"no problem for {kind.field} containing {kind.message!r}; got:\n{raised.value}"
    problem = matching[0]
    assert Path(problem.file).resolve() == path.resolve()
    assert problem.line == marked_line(path)
    assert problem.column is not None
    assert problem.fix and kind.fix in problem.fix
    text = str(raised.value)
    assert f"{problem.file}:{problem.line}:{problem.column}: {kind.field}: " in text
    assert "Traceback" not in text


def test_yaml_syntax_error_points_at_its_line(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    path = write_spec(root, "model: model.keras\ncases:\n  - id: a\n    image: [unclosed  # <-\n")
    parsed = parse_spec(path)
    assert parsed.spec is None
    (problem,) = parsed.problems
    assert problem.message.startswith("YAML syntax error")
    assert problem.line is not None and problem.line >= marked_line(path)
    assert problem.fix


def test_all_errors_of_a_spec_are_reported_in_one_go(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    path = write_spec(root, """
        model: model.keras
        preprocess: xceptoin
        labels: [cat, dog]
        cases:
          - id: a
            image: images/none.png
            regions: [{name: r, box: [30, 1, 10, 9], min_mass: 0.3}]
          - id: a
            image: images/b.png
            target: dgo
            regions: [{name: r, box: [1, 1, 9, 9], min_mas: 0.3, min_lift: 1.2}]
        """)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    fields = {problem.field for problem in raised.value.problems}
    assert {"preprocess", "cases[0].image", "cases[0].regions[0].box", "cases[1].id", "cases[1].target",
            "cases[1].regions[0].min_mas"} <= fields
    assert str(raised.value).startswith(f"{len(raised.value.problems)} problems in spec")


def test_an_inherited_mistake_is_reported_once_where_it_is_written(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    path = write_spec(root, """
        model: model.keras
        cases:
          - id: a
            image: images/a.png
            box_format: xxyy  # <-
            regions:
              - {name: one, box: [1, 1, 9, 9], min_mass: 0.3}
              - {name: two, box: [1, 1, 9, 9], min_mass: 0.3}
        """)
    problems = [problem for problem in parse_spec(path).all_problems if "xxyy" in problem.message]
    assert [(problem.field, problem.line) for problem in problems] == [("cases[0].box_format", marked_line(path))]


def test_a_forbidden_region_ignores_inherited_minimums(tmp_path: Path) -> None:
    """Regression: defaults.min_mass used to be compared with a region's own max_mass and flagged as contradictory."""
    root = make_folder(tmp_path)
    path = write_spec(root, """
        model: model.keras
        defaults: {min_mass: 0.5, min_lift: 1.5}
        cases:
          - id: a
            image: images/a.png
            regions:
              - {name: object, box: [1, 1, 30, 30]}
              - {name: watermark, box: [40, 30, 64, 48], max_mass: 0.05}
        """)
    spec = load_spec(path)
    watermark = spec.cases[0].regions[1]
    assert (watermark.min_mass, watermark.min_lift, watermark.max_mass, watermark.is_forbidden) == (None, None, 0.05, True)
    assert spec.cases[0].regions[0].min_mass == 0.5


def test_values_python_cannot_turn_into_floats_are_problems_not_crashes(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    huge = "9" * 400
    path = write_spec(root, f"""
        model: model.keras
        cases:
          - id: a
            image: images/a.png
            regions: [{{name: r, box: [1, 1, {huge}, 9], min_lift: {huge}, min_mass: .inf}}]
        """)
    fields = {problem.field for problem in parse_spec(path).all_problems}
    assert {"cases[0].regions[0].box", "cases[0].regions[0].min_lift", "cases[0].regions[0].min_mass"} <= fields
