"""Score-CAM is class-discriminative on the shipped honest model: one image's class-0 and class-1 maps differ.

With the weighting it had before (a softmax over channels of masked-input probabilities, values in [0, 1]),
the two maps of each image correlated 0.96–1.00, so Score-CAM said the same thing whatever class was asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.files.images import read_rgb
from gradcam_audit.core.spec.load import parse_spec
from gradcam_audit.core.spec.model import Spec

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "stripes_honest.yaml"
NUM_IMAGES = 6  # the spec's first six cases: three horizontal, three vertical
MAX_CORRELATION = 0.5
MIN_IMAGES_BELOW = 5


@pytest.fixture(scope="module")
def spec() -> Spec:
    parsed = parse_spec(SPEC_PATH)
    assert parsed.spec is not None, parsed.problems
    return parsed.spec


@pytest.fixture(scope="module")
def model(spec: Spec) -> Any:
    import keras

    return keras.saving.load_model(spec.model.path, compile=False)


def _pearson(first: np.ndarray, second: np.ndarray) -> float:
    first_centred = first.ravel() - first.mean()
    second_centred = second.ravel() - second.mean()
    denominator = float(np.sqrt((first_centred**2).sum() * (second_centred**2).sum()))
    # A flat map has no correlation to speak of; count it as "not below the limit" so the check cannot pass by it.
    return float((first_centred * second_centred).sum()) / denominator if denominator > 0 else float("nan")


def test_scorecam_class_maps_of_one_image_are_not_the_same_map(spec: Spec, model: Any) -> None:
    """Pearson correlation of the layer-resolution heatmaps (after ReLU), class 0 vs class 1, per image."""
    cases = spec.cases[:NUM_IMAGES]
    images = [read_rgb(case.image, 3) for case in cases]
    by_class = [
        explain(model, images, targets=target, method="scorecam", labels=spec.labels, preprocess=spec.preprocess, resize=spec.resize)
        for target in (0, 1)
    ]
    correlations = {}
    for case, first, second in zip(cases, *by_class, strict=True):
        assert first.degenerate is None and second.degenerate is None, (case.id, first.degenerate, second.degenerate)
        correlations[case.id] = _pearson(first.heatmap, second.heatmap)
    below = [case_id for case_id, value in correlations.items() if value < MAX_CORRELATION]
    table = ", ".join(f"{case_id} {value:+.2f}" for case_id, value in correlations.items())
    assert len(below) >= MIN_IMAGES_BELOW, f"class-0 vs class-1 correlations: {table}"
