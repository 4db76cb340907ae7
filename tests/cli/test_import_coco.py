"""`gradcam-audit import coco`: COCO bbox [x, y, w, h] → our xyxy boxes, in a spec that loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gradcam_audit.core.spec.load import load_spec
from tests.cli.conftest import assert_clean_error, run_cli, write_image


def coco_export(tmp_path: Path, **changes: Any) -> Path:
    """A COCO export: a PNG with a cat and a watermark, a JPEG with a dog (sub-pixel bbox), an unlabelled PNG."""
    images_dir = tmp_path / "data" / "images"
    write_image(images_dir / "cat.png", (100, 80))
    write_image(images_dir / "dog.jpg", (64, 48))
    write_image(images_dir / "empty.png", (32, 32))
    data: dict[str, Any] = {
        "images": [
            {"id": 1, "file_name": "cat.png", "width": 100, "height": 80},
            {"id": 2, "file_name": "dog.jpg", "width": 64, "height": 48},
            {"id": 3, "file_name": "empty.png", "width": 32, "height": 32},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 7, "name": "watermark"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40]},
            {"id": 11, "image_id": 1, "category_id": 7, "bbox": [0, 0, 10, 5]},
            {"id": 12, "image_id": 2, "category_id": 2, "bbox": [5.5, 6.25, 20, 10]},
        ],
    }
    data.update(changes)
    path = tmp_path / "data" / "instances.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def import_coco(tmp_path: Path, model: Path, *extra: str, source: Path | None = None) -> Any:
    source = source or coco_export(tmp_path)
    return run_cli("import", "coco", source, "--images", tmp_path / "data" / "images", "--model", model,
                   "--out", tmp_path / "specs" / "pets.yaml", *extra)


def test_coco_round_trip_gives_the_same_pixel_boxes(tmp_path: Path, model_file: Path) -> None:
    result = import_coco(tmp_path, model_file, "--labels", "cat,dog", "--forbid", "watermark")
    assert result.returncode == 0, result.stderr
    spec = load_spec(tmp_path / "specs" / "pets.yaml")
    cases = {case.id: case for case in spec.cases}
    assert sorted(cases) == ["cat", "dog"]
    cat, watermark = cases["cat"].regions
    assert (cat.name, cat.shape.box, cat.min_lift, cat.max_mass) == ("cat", (10, 20, 40, 60), 1.5, None)
    assert (watermark.name, watermark.shape.box, watermark.max_mass) == ("watermark", (0, 0, 10, 5), 0.05)
    assert watermark.is_forbidden and not watermark.is_required
    assert cases["dog"].regions[0].shape.box == pytest.approx((5.5, 6.25, 25.5, 16.25))
    assert (cases["cat"].target, cases["cat"].expect_class, cases["cat"].tags) == ("cat", "cat", ("cat",))
    assert spec.labels == ("cat", "dog")
    assert cases["cat"].image == (tmp_path / "data" / "images" / "cat.png").resolve()


def test_coco_written_spec_is_readable_with_provenance_and_relative_paths(tmp_path: Path, model_file: Path) -> None:
    result = import_coco(tmp_path, model_file, "--labels", "cat,dog", "--forbid", "watermark")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "specs" / "pets.yaml").read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("gradcam-audit" in line and "import coco" in line for line in header)
    assert "# source: ../data/instances.json" in text
    assert any(line.startswith("# date: ") for line in header)
    assert any(line.startswith("# command: gradcam-audit import coco") for line in header)
    data = yaml.safe_load(text)
    assert list(data) == ["model", "labels", "defaults", "cases"]
    assert data["model"] == "../models/model.keras"
    assert data["cases"][0]["image"] == "../data/images/cat.png"
    assert list(data["cases"][0]) == ["id", "image", "target", "expect_class", "tags", "regions"]
    assert "box: [10, 20, 40, 60]" in text  # flow style, whole pixels as integers


def test_coco_images_without_annotations_are_reported_not_dropped(tmp_path: Path, model_file: Path) -> None:
    result = import_coco(tmp_path, model_file, "--labels", "cat,dog", "--forbid", "watermark")
    assert result.returncode == 0, result.stderr
    assert "1 image(s) have no annotations" in result.stderr and "empty.png" in result.stderr
    text = (tmp_path / "specs" / "pets.yaml").read_text(encoding="utf-8")
    assert "# 1 image(s) without annotations, so without a case:" in text
    assert "#   ../data/images/empty.png" in text


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"annotations": [{"id": 10, "image_id": 1, "category_id": 1}]}, ["instances.json", "annotations[0] (id 10)", "'bbox'"]),
        ({"annotations": [{"id": 10, "image_id": 99, "category_id": 1, "bbox": [1, 1, 2, 2]}]},
         ["instances.json", "annotations[0] (id 10)", "image_id 99 is not the id of any entry in images[]"]),
        ({"annotations": [{"id": 10, "image_id": 1, "category_id": 5, "bbox": [1, 1, 2, 2]}]},
         ["annotations[0] (id 10)", "category_id 5", "1 (cat), 2 (dog), 7 (watermark)"]),
        ({"annotations": [{"id": 10, "image_id": 1, "category_id": 1, "bbox": [90, 20, 30, 40]}]},
         ["annotations[0] (id 10)", "lies outside the image, which is 100×80 pixels", "--clip-boxes"]),
        ({"images": [{"id": 1, "file_name": "missing.png", "width": 10, "height": 10}]}, ["images[0] (id 1)", "missing.png", "not found"]),
        ({"images": [{"id": 1, "file_name": "cat.png", "width": 50, "height": 80}]}, ["images[0] (id 1)", "100×80"]),
        ({"categories": None}, ["'categories' is not a list"]),
    ],
    ids=["missing-bbox", "unknown-image-id", "unknown-category-id", "box-outside", "missing-image", "size-mismatch", "no-categories"],
)
def test_coco_malformed_files_give_clear_errors_naming_file_and_entry(
    tmp_path: Path, model_file: Path, changes: dict[str, Any], fragments: list[str]
) -> None:
    result = import_coco(tmp_path, model_file, "--labels", "cat,dog,watermark", source=coco_export(tmp_path, **changes))
    assert_clean_error(result, *fragments)
    assert result.returncode == 1
    assert not (tmp_path / "specs" / "pets.yaml").exists()


def test_coco_invalid_json_is_a_clear_error(tmp_path: Path, model_file: Path) -> None:
    coco_export(tmp_path)
    source = tmp_path / "broken.json"
    source.write_text("{not json", encoding="utf-8")
    assert_clean_error(import_coco(tmp_path, model_file, source=source), "broken.json", "not valid JSON")


def test_coco_clip_boxes_cuts_boxes_to_the_image(tmp_path: Path, model_file: Path) -> None:
    source = coco_export(tmp_path, annotations=[{"id": 10, "image_id": 1, "category_id": 1, "bbox": [90, 70, 30, 40]}])
    result = import_coco(tmp_path, model_file, "--labels", "cat,dog", "--clip-boxes", source=source)
    assert result.returncode == 0, result.stderr
    assert load_spec(tmp_path / "specs" / "pets.yaml").cases[0].regions[0].shape.box == (90, 70, 100, 80)


def test_coco_categories_unknown_to_the_model_list_both_sides(tmp_path: Path, model_file: Path) -> None:
    result = import_coco(tmp_path, model_file, "--labels", "kitty,doggo")
    assert_clean_error(result, "instances.json", "not among the model's labels", "'cat'", "'dog'",
                       "annotation categories: cat, dog, watermark", "model labels: kitty, doggo", "--map")
    assert result.returncode == 1


def test_coco_map_renames_categories_to_the_models_labels(tmp_path: Path, model_file: Path) -> None:
    result = import_coco(tmp_path, model_file, "--labels", "kitty,doggo", "--map", "cat=kitty,dog=doggo", "--ignore", "watermark")
    assert result.returncode == 0, result.stderr
    spec = load_spec(tmp_path / "specs" / "pets.yaml")
    assert {(case.target, case.regions[0].name) for case in spec.cases} == {("kitty", "kitty"), ("doggo", "doggo")}
    assert all(len(case.regions) == 1 for case in spec.cases)  # the ignored watermark is gone


def test_coco_forbid_of_an_unknown_category_suggests_the_right_name(tmp_path: Path, model_file: Path) -> None:
    result = import_coco(tmp_path, model_file, "--labels", "cat,dog", "--forbid", "watermak")
    assert_clean_error(result, "--forbid", "'watermak' is not a category", "did you mean 'watermark'")


def test_coco_several_objects_one_case_by_default_or_one_per_object(tmp_path: Path, model_file: Path) -> None:
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10]},
        {"id": 3, "image_id": 1, "category_id": 2, "bbox": [50, 50, 10, 10]},
        {"id": 4, "image_id": 1, "category_id": 7, "bbox": [90, 0, 10, 10]},
    ]
    source = coco_export(tmp_path, annotations=annotations)
    assert import_coco(tmp_path, model_file, "--labels", "cat,dog", "--forbid", "watermark", source=source).returncode == 0
    cases = {case.id: case for case in load_spec(tmp_path / "specs" / "pets.yaml").cases}
    # One case per target class (a case explains one class), each with every forbidden region.
    assert {case_id: [region.name for region in case.regions] for case_id, case in cases.items()} == {
        "cat-cat": ["cat", "cat-2", "watermark"],
        "cat-dog": ["dog", "watermark"],
    }
    result = import_coco(tmp_path, model_file, "--labels", "cat,dog", "--forbid", "watermark", "--per-object", "--force", source=source)
    assert result.returncode == 0, result.stderr
    per_object = load_spec(tmp_path / "specs" / "pets.yaml").cases
    assert [(case.id, [region.name for region in case.regions]) for case in per_object] == [
        ("cat-cat-1", ["cat", "watermark"]),
        ("cat-cat-2", ["cat", "watermark"]),
        ("cat-dog-3", ["dog", "watermark"]),
    ]
    assert [case.regions[0].shape.box for case in per_object] == [(0, 0, 10, 10), (20, 20, 30, 30), (50, 50, 60, 60)]


def test_coco_without_labels_takes_them_from_the_annotations_and_warns(tmp_path: Path, model_file: Path) -> None:
    result = import_coco(tmp_path, model_file, "--forbid", "watermark")
    assert result.returncode == 0, result.stderr
    assert "no --labels given" in result.stderr
    assert load_spec(tmp_path / "specs" / "pets.yaml").labels == ("cat", "dog")


def test_coco_thresholds_come_from_the_options(tmp_path: Path, model_file: Path) -> None:
    result = import_coco(tmp_path, model_file, "--labels", "cat,dog", "--forbid", "watermark",
                         "--min-lift", "2", "--min-mass", "0.3", "--max-mass", "0.1", "--no-expect-class")
    assert result.returncode == 0, result.stderr
    case = next(case for case in load_spec(tmp_path / "specs" / "pets.yaml").cases if case.id == "cat")
    assert (case.regions[0].min_lift, case.regions[0].min_mass, case.regions[1].max_mass) == (2.0, 0.3, 0.1)
    assert case.expect_class is None


def test_coco_model_must_exist_unless_no_check_model(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "later.keras"
    result = import_coco(tmp_path, missing, "--labels", "cat,dog", "--forbid", "watermark")
    assert_clean_error(result, "--model", "not found", "--no-check-model")
    assert result.returncode == 2
    result = import_coco(tmp_path, missing, "--labels", "cat,dog", "--forbid", "watermark", "--no-check-model")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((tmp_path / "specs" / "pets.yaml").read_text(encoding="utf-8"))["model"] == "../models/later.keras"


def test_coco_refuses_to_overwrite_without_force(tmp_path: Path, model_file: Path) -> None:
    assert import_coco(tmp_path, model_file, "--labels", "cat,dog", "--forbid", "watermark").returncode == 0
    result = import_coco(tmp_path, model_file, "--labels", "cat,dog", "--forbid", "watermark")
    assert_clean_error(result, "pets.yaml exists", "--force")
