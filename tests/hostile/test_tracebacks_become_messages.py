"""Inputs that used to end in a traceback: each is now a message naming the file, field or argument, and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gradcam_audit.core.validate import validate_paths
from tests.hostile.conftest import HEALTHY_SPEC, HONEST_MODEL, STRIPES_IMAGES, assert_message, spec_folder, write_png

EXPLAIN = ("--labels", "horizontal,vertical", "--preprocess", "scale01")


def save_model(path: Path, kind: str) -> Path:
    import keras

    if kind == "two_inputs":
        first, second = keras.Input((16, 16, 3)), keras.Input((16, 16, 3))
        features = keras.layers.Conv2D(2, 3, name="conv")(keras.layers.Add()([first, second]))
        outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
        model = keras.Model([first, second], outputs)
    else:
        inputs = keras.Input((16, 16, 4))
        features = keras.layers.Conv2D(2, 3, name="conv")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features)))
    model.save(path)
    return path


@pytest.mark.parametrize("kind, fragment", [("two_inputs", "2 inputs"), ("four_channels", "4 input channels")])
def test_explain_with_an_unusable_model_says_why(cli, tmp_path: Path, kind: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    model = save_model(tmp_path / f"{kind}.keras", kind)
    outcome = cli("explain", STRIPES_IMAGES / "stripes-0000.png", "--model", model, *EXPLAIN, "-o", tmp_path / "o.png")
    assert_message(outcome, "--model", fragment)


def test_validate_deep_with_a_two_input_model_still_checks_the_other_specs(tmp_path: Path) -> None:
    folder = spec_folder(tmp_path)
    save_model(folder / "model.keras", "two_inputs")
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(HONEST_MODEL, other / "model.keras")
    write_png(other / "images" / "a.png")
    (other / "wrong_layer.yaml").write_text(HEALTHY_SPEC.replace("labels: [cat, dog]", "labels: [cat, dog]\nlayer: no_such_layer"),
                                            encoding="utf-8")
    report = validate_paths([folder, other], deep=True)
    messages = [problem.format() for problem in report.problems]
    assert any("healthy.yaml" in text and "2 inputs" in text for text in messages), messages
    assert any("wrong_layer.yaml" in text and "no_such_layer" in text for text in messages), messages


@pytest.mark.parametrize("box", ["nan,0,10,10", "0,0,inf,10", "-inf,0,10,10", "0,0,10,1e999"])
def test_explain_refuses_a_non_finite_box(cli, tmp_path: Path, box: str) -> None:  # type: ignore[no-untyped-def]
    outcome = cli("explain", STRIPES_IMAGES / "stripes-0000.png", "--model", HONEST_MODEL, *EXPLAIN, f"--box={box}",
                  "-o", tmp_path / "o.png")
    assert_message(outcome, "--box", "finite")


def test_explain_on_a_folder_reports_the_bad_image_and_explains_the_rest(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(STRIPES_IMAGES / "stripes-0000.png", folder / "good-1.png")
    shutil.copy(STRIPES_IMAGES / "stripes-0001.png", folder / "good-2.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a truncated PNG
    outcome = cli("explain", folder, "--model", HONEST_MODEL, *EXPLAIN, "-o", tmp_path / "out")
    assert_message(outcome, "broken.png", "1 of 3 image(s) could not be explained", exit_codes=(1,))
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["good-1.overlay.png", "good-2.overlay.png"]


def test_a_custom_loader_that_raises_gives_its_message_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "hostile_loader.py"
    module.write_text("def load(path):\n    raise RuntimeError('weights server unreachable')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = spec_folder(tmp_path / "specs")
    spec = folder / "healthy.yaml"
    spec.write_text(HEALTHY_SPEC.replace("model: model.keras", "model: {path: model.keras, loader: 'hostile_loader:load'}"),
                    encoding="utf-8")
    report = validate_paths([spec], deep=True)
    text = "\n".join(problem.format() for problem in report.problems)
    assert "weights server unreachable" in text and "hostile_loader.py:2" in text and "RuntimeError" in text, text


COCO_HOSTILE = {
    "deeply_nested": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "huge_number": ('{"images": [{"id": 1, "file_name": "a.png", "width": 1e400, "height": 48}], '
                    '"categories": [{"id": 1, "name": "cat"}], "annotations": []}', "width and height must be finite"),
    "huge_bbox": ('{"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}], "categories": [{"id": 1, "name": "cat"}], '
                  '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1e400, 5]}]}', "non-finite"),
    "list_as_image_id": ('{"images": [{"id": [1], "file_name": "a.png", "width": 64, "height": 48}], '
                         '"categories": [{"id": 1, "name": "cat"}], "annotations": []}', "images[0]: id must be an integer"),
    "list_as_category_id": ('{"images": [], "categories": [{"id": [1, 2], "name": "cat"}], "annotations": []}',
                            "categories[0]: id must be an integer"),
    "dict_as_image_id_reference": ('{"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}], '
                                   '"categories": [{"id": 1, "name": "cat"}], '
                                   '"annotations": [{"id": 1, "image_id": {"a": 1}, "category_id": 1, "bbox": [0, 0, 5, 5]}]}',
                                   "image_id must be an integer"),
}


@pytest.mark.parametrize("name", sorted(COCO_HOSTILE))
def test_hostile_coco_exports_are_messages(cli, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    text, fragment = COCO_HOSTILE[name]
    write_png(tmp_path / "a.png")
    source = tmp_path / "instances.json"
    source.write_text(text, encoding="utf-8")
    outcome = cli("import", "coco", source, "--model", tmp_path / "m.keras", "--no-check-model", "-o", tmp_path / "s.yaml")
    assert_message(outcome, "instances.json", fragment)


@pytest.mark.parametrize("label", ["$\\notacommand$", "$x^$", "\\$ and $", "$$", "a_{b}$"])
def test_labels_that_look_like_mathtext_are_drawn_as_plain_text(label: str) -> None:
    from gradcam_audit.core.ledger.entries import CaseEntry
    from gradcam_audit.core.ledger.run_results import RunResults
    from gradcam_audit.core.records.results import CaseResult, ClassInfo
    from gradcam_audit.core.records.regions import RegionScore
    from gradcam_audit.core.records.codec import from_data
    from gradcam_audit.rendering.html.charts import suite_charts

    region = from_data(RegionScore, {"name": label, "role": "required", "mass": 0.5, "lift": 2.0, "area_share": 0.25}, "region")
    result = CaseResult(spec="s.yaml", id="c", method="gradcam", verdict="passed", regions=(region,),
                        target=ClassInfo(index=0, label=label))
    case = CaseEntry(spec="s.yaml", id="c", method="gradcam", status="passed", result=result)
    charts = suite_charts(RunResults(cases=(case,)))
    assert list(charts) == ["s.yaml"]


def test_a_huge_image_is_refused_with_the_pixel_limit(tmp_path: Path) -> None:
    from PIL import Image

    folder = spec_folder(tmp_path)
    Image.new("L", (13000, 13000)).save(folder / "images" / "a.png")  # 169 megapixels, a few hundred kB as PNG
    report = validate_paths([folder / "healthy.yaml"])
    text = "\n".join(problem.format() for problem in report.problems)
    assert "13000×13000" in text and "89,478,485 pixels" in text and "GRADCAM_MAX_IMAGE_PIXELS" in text, text


def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcam_audit.core.files.images import read_rgb
    from gradcam_audit.errors import ImageError

    write_png(tmp_path / "bomb.png", (400, 300))
    monkeypatch.setenv("GRADCAM_MAX_IMAGE_PIXELS", "10000")
    with pytest.raises(ImageError, match="over the limit of 10,000 pixels"):
        read_rgb(tmp_path / "bomb.png")


def test_an_exif_rotated_mask_is_oriented_like_the_photo(tmp_path: Path) -> None:
    from PIL import Image

    from gradcam_audit.core.files.images import read_mask

    mask = Image.new("L", (48, 64), 0)  # stored portrait; EXIF orientation 6 turns it to 64×48 landscape
    mask.paste(255, (0, 0, 10, 5))
    exif = Image.Exif()
    exif[0x0112] = 6
    mask.save(tmp_path / "mask.png", exif=exif)
    inside = read_mask(tmp_path / "mask.png", (64, 48))
    assert inside.shape == (48, 64) and inside.sum() == 50
    folder = spec_folder(tmp_path / "specs")
    shutil.copy(tmp_path / "mask.png", folder / "mask.png")
    (folder / "healthy.yaml").write_text(HEALTHY_SPEC.replace("box: [1, 1, 30, 30]", "mask: mask.png"), encoding="utf-8")
    assert validate_paths([folder]).ok


def test_results_json_written_by_a_run_still_reads(tmp_path: Path) -> None:
    """The field check accepts what the plugin writes (a guard against the check drifting from the format)."""
    from gradcam_audit.cli.results_input import read_results_file
    from gradcam_audit.core.ledger.entries import CaseEntry
    from gradcam_audit.core.ledger.results_file import write_results
    from gradcam_audit.core.ledger.run_results import RunResults
    from gradcam_audit.core.records.results import CaseResult
    from gradcam_audit.core.records.regions import RegionScore
    from gradcam_audit.core.records.codec import from_data

    region = from_data(RegionScore, {"name": "cat", "role": "required", "mass": 0.5, "lift": 2.0, "area_share": 0.25,
                                     "outline": [[0, 0], [1, 0], [1, 1]]}, "region")
    result = CaseResult(spec="s", id="c", method="gradcam", verdict="passed", regions=(region,), image_size=(4, 3))
    path = tmp_path / "results.json"
    write_results(RunResults(cases=(CaseEntry(spec="s", id="c", method="gradcam", status="passed", result=result,
                                              images={"overlay": "case_images/c.png"}),)), path)
    assert read_results_file(path).cases[0].id == "c"
    json.loads(path.read_text(encoding="utf-8"))
