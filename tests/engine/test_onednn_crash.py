"""TF 2.21 + oneDNN: the backward pass of a small 1×1 stride-2 Conv2D corrupts the heap (double free,
"malloc(): corrupted top size", segfault) when run eagerly. Both scripts run in a subprocess so that a crash
is a failed test, not a dead test runner, with oneDNN at its default (TF_ENABLE_ONEDNN_OPTS unset)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# Input → 3×3 conv with 3 channels (the layer we explain) → 1×1 stride-2 conv, 16 filters → GAP → Dense.
# The stride-2 conv sits AFTER the explained layer, so the engine must differentiate through it.
_CRASH_SHAPE_MODEL = """
import os, sys
import numpy as np
import keras
keras.utils.set_random_seed(0)
inputs = keras.Input((32, 32, 3))
features = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="features")(inputs)
strided = keras.layers.Conv2D(16, 1, strides=2, name="pointwise")(features)
pooled = keras.layers.GlobalAveragePooling2D()(strided)
model = keras.Model(inputs, keras.layers.Dense(3)(pooled))
images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
"""

_NAIVE_EAGER_GRADIENT = """
import tensorflow as tf
batch = tf.constant(images[:1].astype(np.float32) / 255.0)
for _ in range(20):
    with tf.GradientTape() as tape:
        tape.watch(batch)
        score = tf.reduce_sum(model(batch)[:, 0])
    gradient = tape.gradient(score, batch)
print("finite", bool(np.all(np.isfinite(gradient.numpy()))))
"""

_ENGINE = """
from gradcam_audit.core.engine.explain import explain
heatmaps = []
for _ in range(20):
    for count in (1, 2):
        heatmaps += [e.heatmap_full for e in explain(model, list(images[:count]), layer="features", preprocess="scale01")]
print("finite", all(bool(np.all(np.isfinite(h))) for h in heatmaps), "nonzero", all(float(h.max()) > 0 for h in heatmaps))
"""


def _run_isolated(script: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CRASH_SHAPE_MODEL + script)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="module")
def eager_gradient_crashes() -> bool:
    """Whether the bug reproduces here: it depends on the CPU (oneDNN picks kernels per CPU), so it is measured."""
    return _run_isolated(_NAIVE_EAGER_GRADIENT).returncode != 0


def test_premise_the_naive_eager_gradient_crashes_on_this_shape(eager_gradient_crashes: bool) -> None:
    """Without this premise the engine test below would prove nothing; skip (not pass) if TF fixed the bug."""
    if not eager_gradient_crashes:
        pytest.skip("this TensorFlow/oneDNN build no longer crashes on a small 1×1 stride-2 conv's eager gradient on this CPU")


def test_engine_survives_the_oneDNN_crash_shape_in_a_subprocess() -> None:
    result = _run_isolated(_ENGINE)
    assert result.returncode == 0, f"engine subprocess died with exit code {result.returncode}:\n{result.stderr[-2000:]}"
    assert "finite True nonzero True" in result.stdout, result.stdout + result.stderr[-2000:]


def test_the_compiled_step_is_what_protects_the_engine(eager_gradient_crashes: bool) -> None:
    """The same engine run eagerly (tf.config.run_functions_eagerly) crashes: the graph-mode step is the fix,
    so a refactor that moved the gradient out of the tf.function would bring the crash back."""
    if not eager_gradient_crashes:  # the eager engine meets the same bug, so it cannot crash either (a subprocess saved)
        pytest.skip("this TensorFlow/oneDNN build does not crash eagerly on this shape on this CPU")
    result = _run_isolated("import tensorflow as tf\ntf.config.run_functions_eagerly(True)\n" + _ENGINE)
    if result.returncode == 0:
        pytest.skip("this TensorFlow/oneDNN build no longer crashes eagerly on this shape")
    assert result.returncode != 0
