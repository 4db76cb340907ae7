"""Case pictures of different cases never overwrite each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.rendering.pictures.overlay import render_case_images


def test_ids_differing_in_punctuation_and_specs_with_one_name_get_distinct_files(tmp_path: Path) -> None:
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    heatmap = np.ones((16, 16))
    results = [
        CaseResult(spec="a/suite.yaml", id="c d", method="gradcam", verdict="passed"),
        CaseResult(spec="a/suite.yaml", id="c_d", method="gradcam", verdict="passed"),
        CaseResult(spec="b/suite.yaml", id="c d", method="gradcam", verdict="passed"),
    ]
    written = [render_case_images(result, image, heatmap, tmp_path)["overlay"] for result in results]
    assert len(set(written)) == 3
