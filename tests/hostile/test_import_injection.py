"""`gradcam-audit import`: nothing from an argument or an annotation can become live YAML in the generated spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gradcam_audit.core.annotations.writing import comment, scalar
from tests.hostile.conftest import assert_message, write_png

INJECTED = "x\nxfail: injected\n"


def coco_export(folder: Path, category: str = "cat", image_folder: str = "images") -> Path:
    write_png(folder / image_folder / "a.png", (64, 48))
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
            "categories": [{"id": 1, "name": category}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 20, 20]}]}
    path = folder / "instances.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("where", ["out", "category", "images_folder"])
def test_a_newline_in_a_name_is_refused_and_never_written_as_yaml(cli, tmp_path: Path, where: str) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "model.keras"
    model.write_bytes(b"placeholder")
    folder = f"img{INJECTED}" if where == "images_folder" else "images"
    source = coco_export(tmp_path, category=INJECTED if where == "category" else "cat", image_folder=folder)
    out = tmp_path / "specs" / (f"pets{INJECTED}.yaml" if where == "out" else "pets.yaml")
    labels = () if where == "category" else ("--labels", "cat")  # the category name becomes the label itself
    outcome = cli("import", "coco", source, "--images", tmp_path / folder, "--model", model, *labels, "-o", out)
    assert_message(outcome, "control character U+000A")
    for written in tmp_path.rglob("*.yaml"):
        assert "xfail" not in yaml.safe_load(written.read_text(encoding="utf-8"))


@pytest.mark.parametrize("text", [INJECTED, "a: b", "- item", "# c", "'q\"", "\u2028next", "null", " lead", "é\t"])
def test_every_scalar_reads_back_as_exactly_itself(text: str) -> None:
    assert yaml.safe_load(f"key: {scalar(text)}\nother: 1\n") == {"key": text, "other": 1}


def test_a_comment_cannot_end_its_line() -> None:
    text = "# command: " + comment(f"gradcam-audit import coco -o '{INJECTED}'") + "\nmodel: m\n"
    assert yaml.safe_load(text) == {"model": "m"}
