"""Segmentation and detection specs end to end: `task:`, `target: {class, region | box}`, a decoder beside the spec,
causal checks on the same pixels / candidate, and a failed match as a failed case in plain words."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gradcam_audit.core.audit import run_audit
from gradcam_audit.core.spec.load import parse_spec
from tests.engine.test_task_targets import DETECT_BIAS, DETECT_KERNEL, SEGMENT_BIAS, SEGMENT_KERNEL, _image, _model

DECODER = '''
import numpy as np
import keras


def decode(raw_output):
    cells = np.array([[2 * j, 2 * i, 2 * j + 2, 2 * i + 2] for i in range(4) for j in range(4)], dtype=np.float32)
    zeros = keras.ops.reshape(raw_output[..., :1], (-1, 16, 1)) * 0.0
    return {"boxes": zeros + cells[np.newaxis], "class_logits": keras.ops.reshape(raw_output[..., 1:], (-1, 16, 2)),
            "objectness": keras.ops.reshape(raw_output[..., 0], (-1, 16))}
'''


def _folder(tmp_path: Path, task: str) -> Path:
    kernel, bias, outputs = (SEGMENT_KERNEL, SEGMENT_BIAS, 3) if task == "segmentation" else (DETECT_KERNEL, DETECT_BIAS, 3)
    _model(outputs, kernel, bias, f"{task}_model").save(tmp_path / "model.keras")
    image = _image()
    Image.fromarray(np.concatenate([image, np.zeros((8, 8, 1), np.uint8)], axis=-1)[:, :, :3]).save(tmp_path / "scene.png")
    (tmp_path / "grid_decoder_for_tests.py").write_text(DECODER, encoding="utf-8")
    return tmp_path


def _write(folder: Path, text: str) -> Path:
    path = folder / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _three_channel_model(folder: Path, task: str) -> None:
    """The hand model reads two channels; the PNG has three (the third zero): a 1×1 conv drops it first."""
    import keras

    kernel, bias = (SEGMENT_KERNEL, SEGMENT_BIAS) if task == "segmentation" else (DETECT_KERNEL, DETECT_BIAS)
    inputs = keras.Input((8, 8, 3), name="image")
    two = keras.layers.Conv2D(2, 1, use_bias=False, name="drop_third")(inputs)
    pooled = keras.layers.AveragePooling2D(2, name="blocks")(two)
    features = keras.layers.Conv2D(2, 1, use_bias=False, name="features")(pooled)
    head = keras.layers.Conv2D(3, 1, name="head")(features)
    model = keras.Model(inputs, head)
    model.get_layer("drop_third").set_weights([np.eye(3)[:, :2].reshape(1, 1, 3, 2)])
    model.get_layer("features").set_weights([np.eye(2).reshape(1, 1, 2, 2)])
    model.get_layer("head").set_weights([kernel.reshape(1, 1, 2, 3), bias])
    model.save(folder / "model.keras")


@pytest.fixture
def segmentation_folder(tmp_path: Path) -> Path:
    folder = _folder(tmp_path, "segmentation")
    _three_channel_model(folder, "segmentation")
    return folder


@pytest.fixture
def detection_folder(tmp_path: Path) -> Path:
    folder = _folder(tmp_path, "detection")
    _three_channel_model(folder, "detection")
    return folder


def test_segmentation_spec_runs_with_region_targets_causal_checks_and_the_majority_class(segmentation_folder: Path) -> None:
    spec = _write(segmentation_folder, """
        model: model.keras
        task: segmentation
        labels: [road, car, sky]
        layer: features
        cases:
          - id: top-left
            image: scene.png
            target: {class: road, region: corner}
            expect_class: road
            regions:
              - {name: corner, box: [0, 0, 4, 4], min_mass: 0.0, max_effect: 1.0}
          - id: polygon-car
            image: scene.png
            target: {class: car, polygon: [[0, 4], [8, 4], [8, 8], [0, 8]]}
            expect_class: sky
            regions:
              - {name: lower, box: [0, 4, 8, 8], min_mass: 0.0}
        """)
    ledger = run_audit([spec])
    by_id = {entry.id: entry for entry in ledger.cases}
    features = _image()[::2, ::2].astype(np.float64)
    pixel_logits = features @ SEGMENT_KERNEL + SEGMENT_BIAS
    top_left = by_id["top-left"]
    assert top_left.status == "passed", top_left.reason
    assert top_left.result is not None and top_left.result.target is not None
    assert top_left.result.target.logit == pytest.approx(pixel_logits[0:2, 0:2, 0].sum(), rel=1e-5)
    assert top_left.result.regions[0].causal is not None  # measured on the same pixels
    lower = by_id["polygon-car"]
    majority = int(np.bincount(pixel_logits[2:4].reshape(-1, 3).argmax(axis=-1), minlength=3).argmax())
    assert (lower.status == "passed") == (majority == 2), lower.reason


def test_detection_spec_matches_the_box_and_a_miss_is_a_failed_case_in_plain_words(detection_folder: Path) -> None:
    spec = _write(detection_folder, """
        model: model.keras
        task: detection
        detections: grid_decoder_for_tests:decode
        labels: [car, bike]
        layer: features
        cases:
          - id: matched
            image: scene.png
            target: {class: bike, box: [2, 2, 4, 4]}
            regions:
              - {name: cell, box: [2, 2, 4, 4], min_mass: 0.0, max_effect: 1.0}
          - id: missed
            image: scene.png
            target: {class: car, box: [0, 0, 1, 1]}
            regions:
              - {name: cell, box: [0, 0, 2, 2], min_mass: 0.0}
        """)
    ledger = run_audit([spec])
    by_id = {entry.id: entry for entry in ledger.cases}
    assert by_id["matched"].status == "passed", by_id["matched"].reason
    result = by_id["matched"].result
    assert result is not None and result.target is not None
    outputs = _image()[::2, ::2].astype(np.float64) @ DETECT_KERNEL + DETECT_BIAS
    assert result.target.logit == pytest.approx(outputs[1, 1, 2], rel=1e-5)
    assert any(note.startswith("detection target: candidate #5, box [2.0, 2.0, 4.0, 4.0], IoU 1.00") for note in result.notes)
    assert by_id["missed"].status == "failed"
    assert by_id["missed"].reason == "no detection of class 'car' overlaps the box: best IoU 0.25 (match_iou 0.5)"


@pytest.mark.parametrize(("text", "field", "words"), [
    ("task: detection\ncases: [{id: a, image: scene.png, target: {class: 0, box: [0, 0, 2, 2]}, regions: [{name: r, box: [0, 0, 2, 2]}]}]",
     "detections", "needs `detections:`"),
    ("cases: [{id: a, image: scene.png, target: {class: 0, box: [0, 0, 2, 2]}, regions: [{name: r, box: [0, 0, 2, 2]}]}]",
     "cases[0].target", "task: segmentation"),
    ("task: segmentation\ncases: [{id: a, image: scene.png, target: {class: 0, region: rr}, regions: [{name: r, box: [0, 0, 2, 2]}]}]",
     "cases[0].target.region", "no region 'rr'"),
    ("task: segmentation\ncases: [{id: a, image: scene.png, target: 0, regions: [{name: r, box: [0, 0, 2, 2]}]}]",
     "cases[0].target", "needs a target mapping"),
    ("task: detection\ndetections: keras_hub\ncases: [{id: a, image: scene.png, target: {class: 0, region: r}, regions: [{name: r, box: [0, 0, 2, 2]}]}]",
     "cases[0].target", "exactly one of box"),
])
def test_task_mistakes_name_the_field_the_line_and_a_fix(segmentation_folder: Path, text: str, field: str, words: str) -> None:
    spec = segmentation_folder / "bad.yaml"
    spec.write_text("model: model.keras\n" + text + "\n", encoding="utf-8")
    problems = parse_spec(spec).all_problems
    matching = [problem for problem in problems if problem.field == field and words in problem.message]
    assert matching, [f"{problem.field}: {problem.message}" for problem in problems]
    assert matching[0].line is not None and matching[0].fix


def test_deep_validation_of_a_detection_spec_reads_the_decoder_not_the_raw_output_size(detection_folder: Path) -> None:
    from gradcam_audit.core.spec.load import load_spec
    from gradcam_audit.core.validate import deep_problems

    spec = _write(detection_folder, """
        model: model.keras
        task: detection
        detections: grid_decoder_for_tests:decode
        labels: [car, bike]
        cases:
          - id: matched
            image: scene.png
            target: {class: bike, box: [2, 2, 4, 4]}
            regions:
              - {name: cell, box: [2, 2, 4, 4], min_mass: 0.0}
        """)
    # The raw output has 3 channels (objectness + 2 classes) for 2 labels: only the decoder knows the classes.
    assert deep_problems(load_spec(spec)) == []


def test_defaults_match_iou_applies_to_every_detection_target_and_a_target_overrides_it(detection_folder: Path) -> None:
    spec = _write(detection_folder, """
        model: model.keras
        task: detection
        detections: grid_decoder_for_tests:decode
        labels: [car, bike]
        layer: features
        defaults: {match_iou: 0.2}
        cases:
          - id: loose
            image: scene.png
            target: {class: car, box: [0, 0, 1, 1]}
            regions:
              - {name: cell, box: [0, 0, 2, 2], min_mass: 0.0}
          - id: strict
            image: scene.png
            target: {class: car, box: [0, 0, 1, 1], match_iou: 0.5}
            regions:
              - {name: cell, box: [0, 0, 2, 2], min_mass: 0.0}
        """)
    parsed = parse_spec(spec)
    assert parsed.all_problems == ()
    assert parsed.spec is not None
    assert {case.id: case.match_iou for case in parsed.spec.cases} == {"loose": 0.2, "strict": 0.5}
    # The box covers a quarter of the confident cell (0, 0): IoU 0.25 matches at 0.2, not at 0.5.
    by_id = {entry.id: entry for entry in run_audit([spec]).cases}
    assert by_id["loose"].status == "passed", by_id["loose"].reason
    assert by_id["strict"].status == "failed"
    assert by_id["strict"].reason == "no detection of class 'car' overlaps the box: best IoU 0.25 (match_iou 0.5)"


def test_directory_defaults_match_iou_applies_and_the_spec_defaults_refine_it(detection_folder: Path) -> None:
    (detection_folder / "_defaults.yaml").write_text("task: detection\ndefaults: {match_iou: 0.3}\n", encoding="utf-8")
    cases = """
        cases:
          - {id: a, image: scene.png, target: {class: 0, box: [0, 0, 2, 2]}, regions: [{name: r, box: [0, 0, 2, 2], min_mass: 0}]}
          - {id: b, image: scene.png, target: {class: 0, box: [0, 0, 2, 2], match_iou: 0.9},
             regions: [{name: r, box: [0, 0, 2, 2], min_mass: 0}]}
        """
    inherited = _write(detection_folder, "model: model.keras\ndetections: grid_decoder_for_tests:decode\n" + textwrap.dedent(cases))
    parsed = parse_spec(inherited)
    assert parsed.all_problems == () and parsed.spec is not None
    assert [case.match_iou for case in parsed.spec.cases] == [0.3, 0.9]
    inherited.write_text("model: model.keras\ndetections: grid_decoder_for_tests:decode\ndefaults: {match_iou: 0.7}\n"
                         + textwrap.dedent(cases), encoding="utf-8")
    parsed = parse_spec(inherited)
    assert parsed.spec is not None and [case.match_iou for case in parsed.spec.cases] == [0.7, 0.9]


@pytest.mark.parametrize(("text", "field", "words", "fix"), [
    ("task: segmentation\ndefaults: {match_iou: 0.3}\n"
     "cases: [{id: a, image: scene.png, target: {class: 0, region: r}, regions: [{name: r, box: [0, 0, 2, 2]}]}]",
     "defaults.match_iou", "only read with `task: detection` (the task is segmentation)", "task: detection"),
    ("defaults: {match_iou: 0.3}\ncases: [{id: a, image: scene.png, regions: [{name: r, box: [0, 0, 2, 2]}]}]",
     "defaults.match_iou", "only read with `task: detection` (the task is classification)", "remove `match_iou`"),
    ("task: detection\ndetections: keras_hub\ndefaults: {match_iou: 1.5}\n"
     "cases: [{id: a, image: scene.png, target: {class: 0, box: [0, 0, 2, 2]}, regions: [{name: r, box: [0, 0, 2, 2]}]}]",
     "defaults.match_iou", "between 0 and 1", "match_iou: 0.5"),
    ("task: segmentation\n"
     "cases: [{id: a, image: scene.png, target: {class: 0, region: r, match_iou: 0.3}, regions: [{name: r, box: [0, 0, 2, 2]}]}]",
     "cases[0].target.match_iou", "only read with `task: detection`", "task: detection"),
])
def test_match_iou_mistakes_name_the_field_and_a_fix(segmentation_folder: Path, text: str, field: str, words: str, fix: str) -> None:
    spec = segmentation_folder / "bad.yaml"
    spec.write_text("model: model.keras\n" + text + "\n", encoding="utf-8")
    problems = parse_spec(spec).all_problems
    matching = [problem for problem in problems if problem.field == field and words in problem.message]
    assert matching, [f"{problem.field}: {problem.message}" for problem in problems]
    assert matching[0].line is not None and matching[0].fix is not None and fix in matching[0].fix


def test_directory_defaults_file_checked_alone_reads_match_iou_by_its_own_task(tmp_path: Path) -> None:
    from gradcam_audit.core.spec.load import check_directory_defaults

    defaults = tmp_path / "_defaults.yaml"
    defaults.write_text("defaults: {match_iou: 0.3}\n", encoding="utf-8")
    assert check_directory_defaults(defaults) == ()  # the task may come from the specs beside it
    defaults.write_text("task: segmentation\ndefaults: {match_iou: 0.3}\n", encoding="utf-8")
    assert [problem.field for problem in check_directory_defaults(defaults)] == ["defaults.match_iou"]
