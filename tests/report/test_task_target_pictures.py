"""A segmentation or detection case shows what it explained: results.json carries the target and the matched detection
(TaskTargetRecord), the case's pictures draw them (target dashed white, detection solid magenta), the report says them
in words, and a merged report re-draws them from the stored record. Real runs of the shipped task models."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from gradcam_audit.core.records.codec import from_data, to_data
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.records.task_target import TaskTargetRecord
from gradcam_audit.rendering.pictures.marks import DETECTION_COLOUR, TARGET_COLOUR
from gradcam_audit.rendering.pictures.overlay import case_pictures
from tests.cli.conftest import run_cli

REPOSITORY = Path(__file__).resolve().parents[2]
# The spec's target box for the unmatched case lies in the empty bottom-left corner of scene-0000: no candidate overlaps it.
UNMATCHED_BOX = [0, 44, 14, 62]
SCALE = 2  # 64-px scenes are drawn at 128 px (OverlayStyle.min_side)


def _task_folder(root: Path) -> None:
    """specs/tasks (two cases each, plus a detection case whose box nothing matches) and models/, as shipped."""
    (root / "models").mkdir()
    for task in ("detection", "segmentation"):
        shutil.copy(REPOSITORY / "models" / f"{task}_honest.keras", root / "models")
    shutil.copytree(REPOSITORY / "specs" / "tasks" / "images", root / "specs" / "tasks" / "images")
    shutil.copy(REPOSITORY / "specs" / "tasks" / "grid_decoder.py", root / "specs" / "tasks")
    for task in ("detection", "segmentation"):
        spec = yaml.safe_load((REPOSITORY / "specs" / "tasks" / f"{task}_honest.yaml").read_text(encoding="utf-8"))
        spec["cases"] = spec["cases"][:2]
        spec.pop("gate")
        if task == "detection":
            spec["cases"].append({"id": "nothing-there", "image": "images/scene-0000.png",
                                  "target": {"class": "horizontal", "box": UNMATCHED_BOX, "match_iou": 0.5},
                                  "regions": [{"name": "corner", "box": UNMATCHED_BOX, "max_mass": 0.5}]})
        (root / "specs" / "tasks" / f"{task}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")


def _articles(html: str) -> dict[tuple[str, str], str]:
    """Each case's <article> in the report by (suite, case id)."""
    found = {}
    for article in html.split("<article ")[1:]:
        suite = re.search(r'data-suite="([^"]*)"', article)
        case_id = re.search(r'data-id="([^"]*)"', article)
        assert suite and case_id
        found[(Path(suite.group(1)).stem, case_id.group(1))] = article.split("</article>")[0]
    return found


def _overlay(article: str) -> np.ndarray:
    """The case's heatmap overlay (an inline data URI) as (H, W, 3) integers."""
    from PIL import Image

    source = re.search(r'<img src="data:image/[a-z]+;base64,([^"]+)"[^>]*alt="Heatmap of where', article)
    assert source, "no inline overlay picture"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.group(1)))).convert("RGB")).astype(int)


def _on_edges(picture: np.ndarray, box: list[float], colour: tuple[int, int, int], tolerance: int) -> list[float]:
    """For each edge of ``box`` (original pixels), the share of its length with ``colour`` within the line's width."""
    x0, y0, x1, y1 = (round(value * SCALE) for value in box)
    close = np.all(np.abs(picture - np.array(colour)) <= tolerance, axis=2)

    def share(band: np.ndarray) -> float:
        return float(np.mean(band.any(axis=0 if band.shape[0] <= band.shape[1] else 1)))

    # The outline is drawn on the box's edge, inwards: look 3 px either side of it, along the inner part of the edge.
    return [share(close[max(y0 - 3, 0):y0 + 3, x0 + 4:x1 - 4]), share(close[max(y1 - 3, 0):y1 + 3, x0 + 4:x1 - 4]),
            share(close[y0 + 4:y1 - 4, max(x0 - 3, 0):x0 + 3]), share(close[y0 + 4:y1 - 4, max(x1 - 3, 0):x1 + 3])]


def _engine_match(folder: Path, case_id: str) -> Any:
    """The detection the engine itself matches for the case, asked directly (the spec's model, layer, method and target)."""
    import keras

    from gradcam_audit.core.engine.explain import explain
    from gradcam_audit.core.files.images import read_rgb
    from gradcam_audit.core.run.task_cases import case_task_target, task_head
    from gradcam_audit.core.spec.load import load_spec

    spec = load_spec(folder / "specs" / "tasks" / "detection.yaml")
    case = next(case for case in spec.cases if case.id == case_id)
    model = keras.models.load_model(spec.model.path, compile=False)
    image = read_rgb(case.image)
    target = case_task_target(case, (image.shape[1], image.shape[0]), spec)
    (explanation,) = explain(model, [image], targets=[case.target], method="layercam", labels=spec.labels,
                             **spec.engine.explain_options(), task=task_head(spec, model), task_targets=[target])
    return explanation.detection


@pytest.mark.slow
def test_a_task_run_records_draws_and_says_what_each_case_explained(pytester: pytest.Pytester) -> None:
    _task_folder(pytester.path)
    pytester.runpytest("--gradcam-specs", "specs/tasks/detection.yaml", "--gradcam-specs", "specs/tasks/segmentation.yaml",
                       "--gradcam-report", "out/index.html", "-p", "no:cacheprovider")
    document = json.loads((pytester.path / "out" / "results.json").read_text(encoding="utf-8"))
    records = {(Path(case["spec"]).stem, case["id"]): case["result"].get("task_target") for case in document["cases"]}
    assert set(records) == {("detection", "scene-0000"), ("detection", "scene-0001"), ("detection", "nothing-there"),
                            ("segmentation", "scene-0000"), ("segmentation", "scene-0001")}

    # results.json: the matched box is the engine's, in original pixels; the target is the spec's box / the region's pixels.
    for case_id in ("scene-0000", "scene-0001"):
        record = from_data(TaskTargetRecord, records[("detection", case_id)], "results.json")
        assert record is not None and record.task == "detection" and record.matched is True
        match = _engine_match(pytester.path, case_id)
        assert match.matched and record.candidate == match.candidate
        assert record.detection_box == pytest.approx(match.box, abs=1e-6)
        assert record.iou == pytest.approx(match.iou, abs=1e-6) and record.iou >= record.match_iou
    unmatched = from_data(TaskTargetRecord, records[("detection", "nothing-there")], "results.json")
    assert unmatched is not None and unmatched.matched is False and unmatched.box == tuple(map(float, UNMATCHED_BOX))
    assert unmatched.iou == pytest.approx(0.0, abs=1e-6)
    segmented = from_data(TaskTargetRecord, records[("segmentation", "scene-0000")], "results.json")
    assert segmented is not None and segmented.task == "segmentation" and segmented.region == "square"
    assert segmented.outline == ((21, 29), (43, 29), (43, 51), (21, 51)) and segmented.pixel_count == 22 * 22
    assert segmented.detection_box is None

    # The run's pictures: the matched box in magenta along its four edges; the target dashed white; none on a segmenter.
    html = (pytester.path / "out" / "index.html").read_text(encoding="utf-8")
    articles = _articles(html)
    for case_id in ("scene-0000", "scene-0001"):
        record = from_data(TaskTargetRecord, records[("detection", case_id)], "results.json")
        assert record is not None and record.detection_box is not None and record.box is not None
        overlay = _overlay(articles[("detection", case_id)])  # lossy (WebP / JPEG): colours within a tolerance
        assert min(_on_edges(overlay, list(record.detection_box), DETECTION_COLOUR, 100)) > 0.5, case_id
        assert max(_on_edges(overlay, list(record.box), TARGET_COLOUR, 40)) > 0.25, case_id  # dashes: part of each edge
    segmenter = _overlay(articles[("segmentation", "scene-0000")])
    assert not np.any(np.all(np.abs(segmenter - np.array(DETECTION_COLOUR)) <= 100, axis=2))
    assert max(_on_edges(segmenter, [21, 29, 43, 51], TARGET_COLOUR, 40)) > 0.25

    # The case says it in words beside its pictures, and its legend names the two shapes.
    matched_record = from_data(TaskTargetRecord, records[("detection", "scene-0000")], "results.json")
    assert matched_record is not None and matched_record.detection_box is not None and matched_record.probability is not None
    box = ", ".join(f"{value:.0f}" for value in matched_record.detection_box)
    words = (f"Explained: class &#39;horizontal&#39; in the target box [21, 29, 43, 51]; matched detection box [{box}] "
             f"IoU {matched_record.iou:.2f}, p={matched_record.probability:.2f}.")
    assert words in articles[("detection", "scene-0000")]
    assert "solid magenta box: the matched detection" in articles[("detection", "scene-0000")]
    assert "no detection matched: best IoU 0.00 (match_iou 0.5)" in articles[("detection", "nothing-there")]
    assert ("Explained: class &#39;horizontal&#39; summed over the 484 target pixels (region &#39;square&#39;); mean p="
            in articles[("segmentation", "scene-0000")])

    # A merge re-draws the pictures from the stored heatmap and record (the inline run left no picture files): exact PNG colours.
    merged = run_cli("report", "out/results.json", "-o", "merged/index.html", cwd=pytester.path)
    assert merged.returncode == 1, merged.stderr  # the unmatched case failed
    redrawn = _articles((pytester.path / "merged" / "index.html").read_text(encoding="utf-8"))
    for case_id in ("scene-0000", "scene-0001"):
        record = from_data(TaskTargetRecord, records[("detection", case_id)], "results.json")
        assert record is not None and record.detection_box is not None
        assert "data:image/png;base64," in redrawn[("detection", case_id)]
        assert min(_on_edges(_overlay(redrawn[("detection", case_id)]), list(record.detection_box), DETECTION_COLOUR, 0)) > 0.9
    assert words in redrawn[("detection", "scene-0000")]
    # Exact white is only the target's dashes (no colormap blend reaches it): about half of each edge of the segmenter's target.
    assert min(_on_edges(_overlay(redrawn[("segmentation", "scene-0000")]), [21, 29, 43, 51], TARGET_COLOUR, 0)) > 0.3


def test_the_target_and_detection_are_drawn_only_from_the_record() -> None:
    """Drawn beside the regions (labels never over the boxes, never cut); without a record, no magenta or white box."""
    record = TaskTargetRecord("detection", 0, "car", 0.91, ((20, 20), (40, 20), (40, 40), (20, 40)), box=(20, 20, 40, 40),
                              match_iou=0.5, detection_box=(22, 18, 44, 42), candidate=3, iou=0.69, matched=True)
    result = CaseResult(spec="specs/cars.yaml", id="car-1", method="gradcam", verdict="passed", task_target=record)
    grey = np.full((64, 64, 3), 90, dtype=np.uint8)
    heatmap = np.zeros((64, 64))
    heatmap[30, 30] = 1.0
    for kind, picture in case_pictures(result, grey, heatmap).items():
        pixels = np.asarray(picture.convert("RGB")).astype(int)
        assert pixels.shape[0] >= 128 and pixels.shape[1] == 128, kind  # nothing cut; a strip above only if needed
        top = pixels.shape[0] - 128 if kind == "regions" else 0
        shown = pixels[top:top + 128]
        assert min(_on_edges(shown, [22, 18, 44, 42], DETECTION_COLOUR, 0)) > 0.9, kind
        assert max(_on_edges(shown, [20, 20, 40, 40], TARGET_COLOUR, 0)) > 0.25, kind
    for kind, picture in case_pictures(replace(result, task_target=None), grey, heatmap).items():
        pixels = np.asarray(picture.convert("RGB")).astype(int)
        assert not np.any(np.all(pixels == np.array(DETECTION_COLOUR), axis=2)), kind
        assert max(_on_edges(pixels[:128], [20, 20, 40, 40], TARGET_COLOUR, 0)) == 0.0, kind
    assert from_data(CaseResult, json.loads(json.dumps(to_data(result))), "results").task_target == record
    assert "task_target" not in to_data(replace(result, task_target=None))  # a classifier's results stay as they were
