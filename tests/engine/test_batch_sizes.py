"""Explaining images in batches gives the results of explaining them one at a time, within float32 rounding.

Not bit for bit: oneDNN picks other kernels for other batch sizes, so the logits of one image differ in the
last bits (9.5e-7 seen on a loaded machine) between a batch of 1 and a batch of 8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.files.images import read_rgb
from gradcam_audit.core.spec.load import parse_spec
SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "stripes_honest.yaml"
RTOL = 1e-5


def assert_close_across_kernels(actual: np.ndarray, expected: np.ndarray) -> None:
    """rtol 1e-5 of each value, and an atol of 1e-6 of the array's largest magnitude for values near zero."""
    atol = 1e-6 * max(float(np.abs(expected).max()), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=atol)


@pytest.fixture(scope="module")
def stripes() -> tuple[Any, list[np.ndarray], Any]:
    import keras

    parsed = parse_spec(SPEC_PATH)
    assert parsed.spec is not None, parsed.problems
    spec = parsed.spec
    model = keras.saving.load_model(spec.model.path, compile=False)
    return model, [read_rgb(case.image, 3) for case in spec.cases[:8]], spec


@pytest.mark.parametrize("method", ["gradcam", "scorecam"])
def test_batched_results_equal_one_at_a_time_within_tolerance(method: str, stripes: tuple[Any, list[np.ndarray], Any]) -> None:
    model, images, spec = stripes
    options: dict[str, Any] = {"method": method, "preprocess": spec.preprocess, "resize": spec.resize}
    batched = explain(model, images, batch_size=8, **options)
    one_at_a_time = explain(model, images, batch_size=1, **options)
    for together, alone in zip(batched, one_at_a_time, strict=True):
        assert together.target_index == alone.target_index and together.degenerate == alone.degenerate
        for field in ("scores", "probabilities", "heatmap", "heatmap_full"):
            assert_close_across_kernels(getattr(together, field), getattr(alone, field))
