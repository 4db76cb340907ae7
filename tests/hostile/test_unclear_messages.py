"""Messages that used to mislead: each now says what is really wrong, with the file, line and field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gradcam_audit.core.spec.load import parse_spec
from gradcam_audit.core.validate import validate_paths
from tests.hostile.conftest import HEALTHY_SPEC, assert_message, spec_folder


def problems_of(path: Path) -> list[str]:
    parsed = parse_spec(path)
    return [problem.format() for problem in parsed.all_problems]


@pytest.mark.parametrize("where", ["case_list", "case_key", "region"])
def test_tabs_in_indentation_are_named_with_the_fix(cli, tmp_path: Path, where: str) -> None:  # type: ignore[no-untyped-def]
    folder = spec_folder(tmp_path)
    lines = HEALTHY_SPEC.splitlines()
    index = {"case_list": 3, "case_key": 4, "region": 7}[where]
    lines[index] = "\t" + lines[index].lstrip(" ")
    (folder / "tabs.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = cli("validate", folder)
    assert_message(outcome, f"tabs.yaml:{index + 1}:", "tab", "spaces", "of 2 spec file(s)")
    assert "healthy.yaml" not in outcome.output


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_an_image_that_is_not_a_regular_file_says_so(tmp_path: Path, kind: str) -> None:
    folder = spec_folder(tmp_path)
    odd = folder / "images" / "odd.png"
    odd.mkdir() if kind == "folder" else os.mkfifo(odd)
    spec = folder / "healthy.yaml"
    spec.write_text(HEALTHY_SPEC.replace("images/a.png", "images/odd.png"), encoding="utf-8")
    text = "\n".join(problems_of(spec))
    assert "not a regular file" in text and "cases[0].image" in text and "not found" not in text, text


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"<html>not a model</html>"])
def test_a_corrupt_keras_file_is_called_not_a_valid_archive(cli, tmp_path: Path, content: bytes) -> None:  # type: ignore[no-untyped-def]
    folder = spec_folder(tmp_path)
    (folder / "model.keras").write_bytes(content)
    outcome = cli("validate", "--deep", folder / "healthy.yaml")
    assert_message(outcome, "healthy.yaml", "model", "not a valid Keras archive")
    assert "File not found" not in outcome.output


@pytest.mark.parametrize("value, shown", [("1.0000001", "1.0000001"), ("-0.0000001", "-1e-07"), ("1.0e-320", None)])
def test_an_out_of_range_threshold_shows_the_value_exactly_and_nothing_spurious(tmp_path: Path, value: str, shown: str | None) -> None:
    folder = spec_folder(tmp_path)
    spec = folder / "healthy.yaml"
    spec.write_text(HEALTHY_SPEC.replace("min_mass: 0.3", f"min_mass: {value}"), encoding="utf-8")
    problems = problems_of(spec)
    if shown is None:  # a tiny positive number is a valid share
        assert problems == []
        return
    assert len(problems) == 1, problems
    assert f"got {shown}," in problems[0] and "regions[0].min_mass" in problems[0] and "got 1," not in problems[0]


@pytest.mark.parametrize("value, word", [(".nan", "not a number"), (".inf", "infinite"), ("-.inf", "infinite"), (".NaN", "not a number")])
@pytest.mark.parametrize("key", ["min_mass", "max_mass", "min_lift", "min_iou"])
def test_non_finite_thresholds_are_refused(tmp_path: Path, value: str, word: str, key: str) -> None:
    folder = spec_folder(tmp_path)
    spec = folder / "healthy.yaml"
    spec.write_text(HEALTHY_SPEC.replace("min_mass: 0.3", f"{key}: {value}"), encoding="utf-8")
    problems = problems_of(spec)
    assert len(problems) == 1 and word in problems[0] and f"regions[0].{key}" in problems[0], problems


def test_a_bowtie_polygon_is_accepted_and_its_area_is_both_lobes(tmp_path: Path) -> None:
    """A self-intersecting polygon is filled even-odd, so each lobe counts once: accepted, never called collinear."""
    import numpy as np

    from gradcam_audit.core.evaluate.regions import region_mask

    folder = spec_folder(tmp_path)
    spec = folder / "healthy.yaml"
    spec.write_text(HEALTHY_SPEC.replace("box: [1, 1, 30, 30]", "polygon: [[0, 0], [20, 20], [20, 0], [0, 20]]"), encoding="utf-8")
    parsed = parse_spec(spec)
    assert parsed.all_problems == () and parsed.spec is not None
    mask = region_mask(parsed.spec.cases[0].regions[0].shape, (64, 48))
    assert int(np.sum(mask)) == 200  # two triangles of 100 pixels each


def test_a_truly_collinear_polygon_is_still_refused(tmp_path: Path) -> None:
    folder = spec_folder(tmp_path)
    spec = folder / "healthy.yaml"
    spec.write_text(HEALTHY_SPEC.replace("box: [1, 1, 30, 30]", "polygon: [[0, 0], [10, 10], [20, 20], [5, 5]]"), encoding="utf-8")
    assert any("lie on one line" in text for text in problems_of(spec))


def test_a_broken_spec_never_hides_a_healthy_one(tmp_path: Path) -> None:
    folder = spec_folder(tmp_path)
    (folder / "broken.yaml").write_bytes(b"\xff\xfe\x00 not utf-8")
    report = validate_paths([folder])
    assert report.files == 2 and {Path(problem.file).name for problem in report.problems} == {"broken.yaml"}
