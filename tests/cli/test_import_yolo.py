"""`gradcam-audit import yolo`: normalised 'class cx cy w h' → pixels of the image read from disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcam_audit.core.spec.load import load_spec
from tests.cli.conftest import assert_clean_error, run_cli, write_image


def yolo_dataset(tmp_path: Path, labels: dict[str, str]) -> Path:
    """Ultralytics layout: data/images/val/*.png and data/labels/val/*.txt, classes in data/classes.txt."""
    write_image(tmp_path / "data" / "images" / "val" / "a.png", (200, 100))
    write_image(tmp_path / "data" / "images" / "val" / "b.jpg", (80, 60))
    write_image(tmp_path / "data" / "images" / "val" / "c.png", (10, 10))  # no label file: unannotated
    (tmp_path / "data" / "classes.txt").write_text("cat\ndog\n", encoding="utf-8")
    folder = tmp_path / "data" / "labels" / "val"
    folder.mkdir(parents=True)
    for name, text in labels.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def import_yolo(tmp_path: Path, folder: Path, model: Path, *extra: str) -> object:
    return run_cli("import", "yolo", folder, "--classes", tmp_path / "data" / "classes.txt", "--model", model,
                   "--labels", "cat,dog", "-o", tmp_path / "specs" / "yolo.yaml", *extra)


def test_yolo_round_trip_converts_normalised_centre_boxes_to_pixels(tmp_path: Path, model_file: Path) -> None:
    folder = yolo_dataset(tmp_path, {"a.txt": "1 0.5 0.5 0.2 0.4\n0 0.125 0.25 0.25 0.5\n", "b.txt": ""})
    result = import_yolo(tmp_path, folder, model_file)
    assert result.returncode == 0, result.stderr
    cases = {case.id: case for case in load_spec(tmp_path / "specs" / "yolo.yaml").cases}
    assert cases["a-dog"].regions[0].shape.box == pytest.approx((80, 30, 120, 70))
    assert cases["a-cat"].regions[0].shape.box == pytest.approx((0, 0, 50, 50))
    assert cases["a-dog"].image.name == "a.png"  # found in images/ beside labels/
    assert "b.jpg" in result.stderr and "c.png" in result.stderr  # empty label file, and no label file


def test_yolo_polygon_lines_become_polygons(tmp_path: Path, model_file: Path) -> None:
    folder = yolo_dataset(tmp_path, {"a.txt": "0 0.1 0.1 0.5 0.1 0.3 0.9\n"})
    assert import_yolo(tmp_path, folder, model_file).returncode == 0
    region = load_spec(tmp_path / "specs" / "yolo.yaml").cases[0].regions[0]
    assert region.shape.kind == "polygon"
    assert [coordinate for point in region.shape.polygon for coordinate in point] == pytest.approx([20, 10, 100, 10, 60, 90])


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ("5 0.5 0.5 0.1 0.1", ["a.txt", "line 1", "class index 5", "2 classes (0..1)"]),
        ("0 0.5 0.5", ["a.txt", "line 1", "got 3 values"]),
        ("cat 0.5 0.5 0.1 0.1", ["a.txt", "line 1", "expected 'class cx cy w h'"]),
        ("0 0.95 0.5 0.2 0.2", ["a.txt", "line 1", "outside the image, which is 200×100"]),
        ("0 50 50 10 10", ["a.txt", "line 1", "not normalised to [0, 1]"]),
    ],
    ids=["class-out-of-range", "too-few-values", "class-not-a-number", "box-outside", "pixels-not-normalised"],
)
def test_yolo_malformed_lines_give_clear_errors(tmp_path: Path, model_file: Path, line: str, fragments: list[str]) -> None:
    folder = yolo_dataset(tmp_path, {"a.txt": line + "\n"})
    assert_clean_error(import_yolo(tmp_path, folder, model_file), *fragments)


def test_yolo_label_file_without_its_image_is_an_error(tmp_path: Path, model_file: Path) -> None:
    folder = yolo_dataset(tmp_path, {"zzz.txt": "0 0.5 0.5 0.1 0.1\n"})
    assert_clean_error(import_yolo(tmp_path, folder, model_file), "zzz.txt", "no image named zzz.*", "--images")
