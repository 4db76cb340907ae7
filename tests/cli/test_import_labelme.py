"""`gradcam-audit import labelme`: rectangles (corners in any order) → boxes, polygons → polygons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gradcam_audit.core.spec.load import load_spec
from tests.cli.conftest import assert_clean_error, run_cli, write_image


def labelme_file(folder: Path, image: str, size: tuple[int, int], shapes: list[dict[str, Any]]) -> Path:
    write_image(folder / image, size)
    data = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image, "imageData": None,
            "imageHeight": size[1], "imageWidth": size[0]}
    path = folder / (Path(image).stem + ".json")
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def rectangle(label: str, points: list[list[float]]) -> dict[str, Any]:
    return {"label": label, "points": points, "group_id": None, "description": "", "shape_type": "rectangle", "flags": {}}


def test_labelme_round_trip_rectangles_in_any_order_and_polygons(tmp_path: Path, model_file: Path) -> None:
    folder = tmp_path / "shots"
    labelme_file(folder, "mug.jpg", (90, 70), [
        rectangle("mug", [[40, 60], [10, 20]]),  # drawn from bottom-right to top-left
        {"label": "plate", "points": [[50, 10], [80, 10], [65, 40]], "shape_type": "polygon"},
        {"label": "mug", "points": [[5, 5]], "shape_type": "point"},  # no area: skipped with a warning
    ])
    write_image(folder / "unlabelled.png", (20, 20))  # labelme writes no JSON for it
    spec_path = tmp_path / "specs" / "shots.yaml"
    result = run_cli("import", "labelme", folder, "--model", model_file, "--labels", "mug,plate", "--per-object", "-o", spec_path)
    assert result.returncode == 0, result.stderr
    cases = load_spec(spec_path).cases
    assert [case.id for case in cases] == ["mug-mug-1", "mug-plate-2"]
    assert cases[0].regions[0].shape.box == (10, 20, 40, 60)
    assert cases[1].regions[0].shape.kind == "polygon"
    assert cases[1].regions[0].shape.polygon == ((50, 10), (80, 10), (65, 40))
    assert "skipped a 'point' shape" in result.stderr
    assert "unlabelled.png" in result.stderr


def test_labelme_bad_shapes_and_size_mismatch_are_reported_together(tmp_path: Path, model_file: Path) -> None:
    folder = tmp_path / "shots"
    labelme_file(folder, "a.png", (50, 50), [rectangle("mug", [[10, 10]]), {"points": [[1, 1], [2, 2]], "shape_type": "rectangle"},
                                              rectangle("mug", [[10, 10], [60, 20]])])
    broken = labelme_file(folder, "b.png", (30, 30), [])
    data = json.loads(broken.read_text(encoding="utf-8"))
    data["imageWidth"] = 31
    broken.write_text(json.dumps(data), encoding="utf-8")
    result = run_cli("import", "labelme", folder, "--model", model_file, "--labels", "mug", "-o", tmp_path / "specs" / "s.yaml")
    assert_clean_error(result, "4 problems", "a.json: shapes[0] (mug): a rectangle has two corner points, got 1",
                       "a.json: shapes[1]: missing 'label'", "a.json: shapes[2] (mug): box [10, 10, 60, 20]",
                       "b.json: imagePath 'b.png'", "says the image is 31×30 pixels but b.png is 30×30")
