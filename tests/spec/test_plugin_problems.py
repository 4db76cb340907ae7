"""Through `pytest --gradcam-specs`: spec problems are readable failures without tracebacks, and never hide the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.spec.helpers import HONEST_MODEL, STRIPES_IMAGE

_GOOD_CASE = """
  - id: good-case
    image: stripes.png
    target: horizontal
    regions:
      - {name: stripes, box: [27, 30, 43, 46], min_lift: 1.0}
"""
_HEADER = "model: model.keras\npreprocess: scale01\nlabels: [horizontal, vertical]\ncases:\n"


def _project(root: Path) -> Path:
    shutil.copy(HONEST_MODEL, root / "model.keras")
    shutil.copy(STRIPES_IMAGE, root / "stripes.png")
    (root / "broken_file.yaml").write_text(
        "model: model.keras\npreprocess: xceptoin\nlabels: [horizontal, vertical]\ncases:\n" + _GOOD_CASE, encoding="utf-8")
    (root / "mixed.yaml").write_text(
        _HEADER + _GOOD_CASE + """
  - id: bad-case
    image: stripes.png
    target: horizntal
    regions:
      - {name: stripes, box: [27, 30, 43, 46], min_mas: 0.2}
""", encoding="utf-8")
    (root / "clean.yaml").write_text(_HEADER + _GOOD_CASE, encoding="utf-8")
    return root


def test_bad_specs_fail_readably_while_other_files_and_cases_run(pytester: pytest.Pytester) -> None:
    root = _project(pytester.path)
    mixed_lines = (root / "mixed.yaml").read_text(encoding="utf-8").splitlines()
    target_line = next(number for number, line in enumerate(mixed_lines, 1) if "horizntal" in line)
    key_line = next(number for number, line in enumerate(mixed_lines, 1) if "min_mas:" in line)
    result = pytester.runpytest("--gradcam-specs", str(pytester.path), "--gradcam-no-report", "-p", "no:cacheprovider")
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*broken_file.yaml F*", "*clean.yaml .*", "*mixed.yaml .F*"])
    # The file-level problem: file, line, column, field, received value with did-you-mean, fix.
    # Plain substring checks: fnmatch would read "[1]" in field paths as a character class.
    assert "broken_file.yaml:2:13: preprocess: unknown preprocessing 'xceptoin' (did you mean 'xception'?)" in output
    assert "    fix: use one of: scale01, none, xception" in output
    # Both problems of the bad case, in one go, each with its line.
    assert f"mixed.yaml:{target_line}:13: cases[1].target: unknown class 'horizntal' (did you mean 'horizontal'?)" in output
    assert f"mixed.yaml:{key_line}:48: cases[1].regions[0].min_mas: unknown key 'min_mas' (did you mean 'min_mass'?)" in output
