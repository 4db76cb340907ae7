"""Results, baselines and annotation exports go through one bounded, strict JSON reader (core/files/json_input.py).

Deep nesting, numbers that overflow to infinity, huge integers, a boolean schema and a text threshold are a message
naming the file and the field, with exit status 2 (the caller's input), never a traceback or 1 ("regressed").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.core.ledger.run_results import SCHEMA_VERSION
from tests.hostile.conftest import Outcome, assert_message, spec_folder, write_png

REGION = {"name": "cat", "role": "target", "mass": 0.5, "lift": 1.0, "area_share": 0.2}


def case(**result_fields: Any) -> dict[str, Any]:
    result = {"spec": "specs/pets.yaml", "id": "cat-0001", "method": "gradcam", "verdict": "passed", "regions": [dict(REGION)],
              **result_fields}
    return {"spec": "specs/pets.yaml", "id": "cat-0001", "method": "gradcam", "status": "passed", "result": result}


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    path.write_text(text, encoding="utf-8")
    return path


def good_run(folder: Path) -> Path:
    return write(folder, json.dumps({"schema": SCHEMA_VERSION, "cases": [case()]}))


DEEP = "[" * 100_000 + "]" * 100_000
# Each hostile file: its text and the words its message must hold (the field path where there is one).
HOSTILE: dict[str, tuple[str, tuple[str, ...]]] = {
    "deep_100000": (DEEP, ("nested too deeply",)),
    "deep_500_in_a_field": ('{"schema": 2, "cases": [], "notes": ' + "[" * 500 + "]" * 500 + "}", ("notes", "nested too deeply")),
    "mass_1e400": (json.dumps({"schema": SCHEMA_VERSION, "cases": [case()]}).replace('"mass": 0.5', '"mass": 1e400'),
                   ("cases[0].result.regions[0].mass", "infinity")),
    "huge_integer": (json.dumps({"schema": SCHEMA_VERSION, "cases": [case()]}).replace('"lift": 1.0', '"lift": 1' + "0" * 400),
                     ("cases[0].result.regions[0].lift", "digits")),
    "nan": (json.dumps({"schema": SCHEMA_VERSION, "cases": [case()]}).replace('"mass": 0.5', '"mass": NaN'),
            ("cases[0].result.regions[0].mass", "NaN")),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_report_refuses_a_hostile_results_file_with_exit_2(cli: Callable[..., Outcome], tmp_path: Path, name: str) -> None:
    text, words = HOSTILE[name]
    path = write(tmp_path / "run", text)
    outcome = cli("report", path, "-o", tmp_path / "index.html")
    assert_message(outcome, "results.json", *words, exit_codes=(1, 2))  # report's bad input is 1 (tests/cli/test_report.py)


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("side", ["baseline", "candidate"])
def test_compare_refuses_a_hostile_file_with_exit_2_never_1(cli: Callable[..., Outcome], tmp_path: Path, name: str, side: str) -> None:
    text, words = HOSTILE[name]
    hostile = write(tmp_path / "hostile", text)
    good = good_run(tmp_path / "good")
    base, candidate = (hostile, good) if side == "baseline" else (good, hostile)
    outcome = cli("compare", base, candidate, "-o", tmp_path / "compare.html")
    assert_message(outcome, "results.json", *words, exit_codes=(2,))


def test_a_boolean_schema_is_not_schema_1(cli: Callable[..., Outcome], tmp_path: Path) -> None:
    document = {"schema": True, "cases": [{"case": "c1", "suite": "s", "status": "passed", "method": "gradcam"}]}
    base = write(tmp_path / "base", json.dumps(document))
    outcome = cli("compare", base, good_run(tmp_path / "good"), "-o", tmp_path / "compare.html")
    assert_message(outcome, "schema", "expected an integer", "true", exit_codes=(2,))


def test_a_text_gate_threshold_in_a_candidate_is_a_message(cli: Callable[..., Outcome], tmp_path: Path) -> None:
    gate = {"spec": "specs/pets.yaml", "status": "not_run", "cause": "other_shard", "thresholds": {"min_pass_rate": "high"},
            "methods": ["gradcam"], "result": None}
    candidate = write(tmp_path / "candidate", json.dumps({"schema": SCHEMA_VERSION, "cases": [case()], "gates": [gate]}))
    outcome = cli("compare", good_run(tmp_path / "base"), candidate, "-o", tmp_path / "compare.html")
    assert_message(outcome, "results.json", "gates[0].thresholds.min_pass_rate", "expected a number", '"high"', exit_codes=(2,))
    report = cli("report", candidate, "-o", tmp_path / "index.html")
    assert_message(report, "results.json", "gates[0].thresholds.min_pass_rate", "expected a number", exit_codes=(1, 2))


def test_pytest_baseline_too_deep_is_a_usage_error_not_internalerror(pytester: pytest.Pytester) -> None:
    specs = spec_folder(pytester.path / "specs")
    write(pytester.path / "released", DEEP)
    result = pytester.runpytest("--gradcam-specs", str(specs), "--gradcam-baseline", "released/results.json", "-p", "no:cacheprovider")
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output and "RecursionError" not in output, output
    assert "nested too deeply" in output, output
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize("value", ["1" + "0" * 400, "1e400", "-1e400"])
def test_a_coco_bbox_beyond_float_is_a_problem_not_a_crash(tmp_path: Path, value: str) -> None:
    from gradcam_audit.core.annotations.coco import read_coco
    from gradcam_audit.core.annotations.errors import AnnotationError

    write_png(tmp_path / "images" / "a.png", (64, 48))
    text = ('{"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}], "categories": [{"id": 1, "name": "cat"}], '
            '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, ' + value + ', 4]}]}')
    source = tmp_path / "instances.json"
    source.write_text(text, encoding="utf-8")
    with pytest.raises(AnnotationError) as raised:
        read_coco(source, images_dir=tmp_path / "images")
    assert "annotations[0]" in str(raised.value) and "non-finite" in str(raised.value), str(raised.value)


def test_the_strict_reader_keeps_ordinary_numbers(tmp_path: Path) -> None:
    from gradcam_audit.core.files.json_input import parse_json_text

    data = parse_json_text('{"a": [1, -2.5, 1e300, 123456789012345678, true, null], "b": {"c": 0.0}}', "x.json")
    assert data == {"a": [1, -2.5, 1e300, 123456789012345678, True, None], "b": {"c": 0.0}}
