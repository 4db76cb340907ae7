"""`report` merges and `compare` pages show a picture for every case even from default (inline) runs, whose picture
files are gone: drawn from the compact heatmap the results carry, over the image when its spec's folder holds it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.cli.main import main
from tests.baseline.conftest import HONEST_MODEL, SHORTCUT_MODEL, shipped_cases
from tests.plugin.conftest import write_spec  # noqa: F401 - fixture used here


def local_cases(pytester: pytest.Pytester, count: int) -> list[dict[str, Any]]:
    """The shipped cases with their images copied beside the spec (images/…), as a user's project holds them."""
    cases = shipped_cases(count)
    for case in cases:
        source = Path(case["image"])
        target = pytester.path / "images" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        case["image"] = f"images/{source.name}"
    return cases


def case_pictures(html: str) -> list[str]:
    return re.findall(r'<img[^>]*src="(data:image/png;base64,[^"]+)"', html)


def test_the_readme_shard_recipe_merges_into_a_report_with_pictures(pytester: pytest.Pytester, write_spec: Callable[..., Path],
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(cases=local_cases(pytester, 4))
    shards = []
    for shard in (1, 2):
        result = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-shard", f"{shard}/2", "--gradcam-json", f"shard{shard}.json",
                                    "-p", "no:cacheprovider")
        result.assert_outcomes(passed=2)
        shards.append(pytester.path / f"shard{shard}.json")
    assert main(["report", *map(str, shards), "-o", str(pytester.path / "merged.html")]) == 0, capsys.readouterr()
    html = (pytester.path / "merged.html").read_text(encoding="utf-8")
    assert "Drawn from the heatmap stored in the results" in html
    assert html.count('<article class="case ') == 4 and len(case_pictures(html)) >= 2 * 4  # regions and overlay for each case


def test_compare_of_two_inline_runs_shows_pictures_and_an_image_outside_the_spec_folder_is_not_read(
        pytester: pytest.Pytester, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(cases=shipped_cases(2))  # images outside the spec's folder: only the heatmap is drawn
    pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-report", "released/index.html", "-p", "no:cacheprovider").assert_outcomes(passed=2)
    spec.write_text(spec.read_text(encoding="utf-8").replace(str(HONEST_MODEL), str(SHORTCUT_MODEL)), encoding="utf-8")
    pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-report", "candidate/index.html", "-p", "no:cacheprovider")
    out = pytester.path / "compare.html"
    main(["compare", "released/results.json", "candidate/results.json", "-o", str(out)])
    html = out.read_text(encoding="utf-8")
    assert "Traceback" not in capsys.readouterr().err
    assert "Drawn from the heatmap stored in the results" in html
    assert len(case_pictures(html)) >= 2  # one drawn heatmap per candidate case, no photo (it lies outside the spec folder)
    # The baseline side too: its run kept no picture files either, so its stored heatmap is drawn beside the candidate's.
    baseline_side, candidate_side = html.count('alt="Baseline heatmap of'), html.count('alt="Heatmap now of')
    assert baseline_side == candidate_side >= 1, (baseline_side, candidate_side)


def test_the_drawn_overlay_lies_over_the_image_only_inside_the_spec_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from gradcam_audit.core.records.comparison import CompactHeatmap
    from gradcam_audit.core.records.results import CaseResult
    from gradcam_audit.rendering.pictures.heatmap_pictures import drawn_pictures
    from tests.hostile.conftest import write_png

    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "suite.yaml").write_text("cases: []\n", encoding="utf-8")
    write_png(tmp_path / "specs" / "images" / "a.png", (64, 48))
    write_png(tmp_path / "elsewhere" / "b.png", (64, 48))
    heatmap = CompactHeatmap.encode(np.arange(48, dtype=float).reshape(6, 8))
    inside = CaseResult(spec="specs/suite.yaml", id="a", method="gradcam", verdict="passed", image="specs/images/a.png",
                        image_size=(64, 48), heatmap=heatmap)
    monkeypatch.chdir(tmp_path)
    assert set(drawn_pictures(inside, tmp_path, print)) == {"regions", "overlay"}
    for image in ("elsewhere/b.png", "../outside.png", "/etc/passwd", "specs/suite.yaml"):
        outside = CaseResult(spec="specs/suite.yaml", id="a", method="gradcam", verdict="passed", image=image, image_size=(64, 48),
                             heatmap=heatmap)
        assert set(drawn_pictures(outside, tmp_path, print)) == {"overlay"}, image  # the heatmap alone
