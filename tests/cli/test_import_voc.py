"""`gradcam-audit import voc`: 1-based inclusive <bndbox> corners → [xmin-1, ymin-1, xmax, ymax]."""

from __future__ import annotations

from pathlib import Path

from gradcam_audit.core.spec.load import load_spec
from tests.cli.conftest import assert_clean_error, run_cli, write_image


def voc_xml(filename: str, size: tuple[int, int] | None, objects: list[tuple[str, tuple[int, int, int, int] | None]]) -> str:
    parts = ["<annotation>", "  <folder>VOC2012</folder>", f"  <filename>{filename}</filename>"]
    if size is not None:
        parts.append(f"  <size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>")
    for name, box in objects:
        parts += ["  <object>", f"    <name>{name}</name>", "    <pose>Unspecified</pose>", "    <difficult>0</difficult>"]
        if box is not None:
            parts.append("    <bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox>".format(*box))
        parts.append("  </object>")
    parts.append("</annotation>")
    return "\n".join(parts) + "\n"


def voc_devkit(tmp_path: Path, files: dict[str, str]) -> Path:
    """VOCdevkit/VOC2012 with Annotations/ and JPEGImages/ (real JPEGs)."""
    root = tmp_path / "VOCdevkit" / "VOC2012"
    (root / "Annotations").mkdir(parents=True)
    write_image(root / "JPEGImages" / "2008_000001.jpg", (120, 90))
    write_image(root / "JPEGImages" / "2008_000002.jpg", (50, 40))
    for name, text in files.items():
        (root / "Annotations" / name).write_text(text, encoding="utf-8")
    return root


def test_voc_round_trip_converts_one_based_inclusive_corners(tmp_path: Path, model_file: Path) -> None:
    root = voc_devkit(tmp_path, {
        "2008_000001.xml": voc_xml("2008_000001.jpg", (120, 90), [("cat", (11, 21, 40, 60)), ("dog", (1, 1, 120, 90))]),
        "2008_000002.xml": voc_xml("2008_000002.jpg", (50, 40), []),
    })
    spec_path = tmp_path / "specs" / "voc.yaml"
    result = run_cli("import", "voc", root, "--model", model_file, "--labels", "cat,dog", "-o", spec_path)
    assert result.returncode == 0, result.stderr
    cases = {case.id: case for case in load_spec(spec_path).cases}
    assert cases["2008_000001-cat"].regions[0].shape.box == (10, 20, 40, 60)
    # A box over the whole image (1..120 inclusive) is exactly the image: [0, 0, 120, 90].
    assert cases["2008_000001-dog"].regions[0].shape.box == (0, 0, 120, 90)
    assert "2008_000002.jpg" in result.stderr  # the file with no <object> is reported


def test_voc_object_without_bndbox_is_a_clear_error(tmp_path: Path, model_file: Path) -> None:
    root = voc_devkit(tmp_path, {"2008_000001.xml": voc_xml("2008_000001.jpg", (120, 90), [("cat", None)])})
    result = run_cli("import", "voc", root, "--model", model_file, "--labels", "cat", "-o", tmp_path / "specs" / "voc.yaml")
    assert_clean_error(result, "2008_000001.xml", "object[0] (cat)", "xmin, ymin, xmax, ymax")


def test_voc_box_outside_and_missing_filename_are_all_reported(tmp_path: Path, model_file: Path) -> None:
    root = voc_devkit(tmp_path, {
        "2008_000001.xml": voc_xml("2008_000001.jpg", (120, 90), [("cat", (100, 10, 130, 20))]),
        "2008_000002.xml": "<annotation><object><name>cat</name></object></annotation>",
    })
    result = run_cli("import", "voc", root, "--model", model_file, "--labels", "cat", "-o", tmp_path / "specs" / "voc.yaml")
    assert_clean_error(result, "2 problems", "2008_000001.xml: object[0] (cat)", "outside the image, which is 120×90",
                       "2008_000002.xml: <filename>: missing <filename>")
