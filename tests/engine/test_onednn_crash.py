"""TF 2.21 + oneDNN: the backward pass of a small 1×1 stride-2 Conv2D corrupts the heap (double free,
"malloc(): corrupted top size", segfault) when run eagerly, on some CPUs only. The engine's guard is to
differentiate only inside its compiled tf.function (graph mode). Every test here asserts on every CPU: the
gradients are compared with a hand-computed reference and the mode of every `GradientTape.gradient` call is
recorded. The scripts run in a subprocess so that a crash is a failed test, not a dead test runner, with
oneDNN at its default (TF_ENABLE_ONEDNN_OPTS unset): one process runs all three parts in turn (each start costs
TensorFlow's import), and a part that a crash before it kept from running gets a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

# Input → 3×3 conv with 3 channels (the layer we explain) → 1×1 stride-2 conv, 16 filters → GAP → Dense.
# The stride-2 conv sits AFTER the explained layer, so the engine must differentiate through it.
# Past the explained layer everything is linear, so the gradient of logit c with respect to the explained
# layer's output is known by hand: on the even rows and columns (the pixels the stride-2 conv reads)
# Σ_f pointwise[k, f] · dense[f, c] / 16², and zero elsewhere, whatever the image.
_CRASH_SHAPE_MODEL = """
import json, os, sys
import numpy as np
import keras
import tensorflow as tf
keras.utils.set_random_seed(0)
inputs = keras.Input((32, 32, 3))
features = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="features")(inputs)
strided = keras.layers.Conv2D(16, 1, strides=2, name="pointwise")(features)
pooled = keras.layers.GlobalAveragePooling2D()(strided)
model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(pooled))
images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)

def reference_gradient(target):
    pointwise = np.asarray(model.get_layer("pointwise").kernel)[0, 0].astype(np.float64)  # (3, 16)
    dense = np.asarray(model.get_layer("dense").kernel).astype(np.float64)  # (16, 3)
    gradient = np.zeros((32, 32, 3))
    gradient[::2, ::2, :] = pointwise @ dense[:, target] / 16**2
    return gradient

def relative_error(found, expected):
    return float(np.abs(np.asarray(found, dtype=np.float64) - expected).max() / np.abs(expected).max())

modes = {"eager": 0, "graph": 0}
_gradient = tf.GradientTape.gradient
def recorded_gradient(self, *args, **kwargs):
    modes["eager" if tf.executing_eagerly() else "graph"] += 1
    return _gradient(self, *args, **kwargs)
tf.GradientTape.gradient = recorded_gradient
"""

_NAIVE_EAGER_GRADIENT = """
batch = tf.constant(images[:1].astype(np.float32) / 255.0)
for _ in range(20):
    with tf.GradientTape() as tape:
        tape.watch(batch)
        score = tf.reduce_sum(model(batch)[:, 0])
    gradient = tape.gradient(score, batch)
head = [model.get_layer(name) for name in ("pointwise",)] + model.layers[3:]
with tf.GradientTape() as tape:
    explained = model.get_layer("features")(batch)
    tape.watch(explained)
    output = explained
    for layer in head:
        output = layer(output)
    score = tf.reduce_sum(output[:, 1])
error = relative_error(tape.gradient(score, explained)[0], reference_gradient(1))
print("RESULT naive", json.dumps({"finite": bool(np.all(np.isfinite(gradient.numpy()))), "error": error, **modes}), flush=True)
"""

_ENGINE = """
from gradcam_audit.core.engine.explain import engine_for, explain
from gradcam_audit.core.engine.methods import get_method
engine = engine_for(model, layer="features")
errors, heatmaps = [], []
for count in (1, 2):
    targets = np.arange(count, dtype=np.int32) % 3
    found = engine.run_batch(images[:count].astype(np.float32) / 255.0, targets, get_method("gradcam"))
    errors += [relative_error(found.gradients[index], reference_gradient(int(target))) for index, target in enumerate(targets)]
for _ in range(20):  # repeated: the heap corruption does not show on every backward pass
    for count in (1, 2):
        heatmaps += [e.heatmap_full for e in explain(model, list(images[:count]), layer="features", preprocess="scale01")]
print("RESULT", PART, json.dumps({"error": max(errors), "finite": all(bool(np.all(np.isfinite(h))) for h in heatmaps),
                                  "nonzero": all(float(h.max()) > 0 for h in heatmaps), **modes}), flush=True)
"""

# Each part starts with fresh counts of the modes; "eager engine" is the engine with tf.functions run eagerly.
PARTS = {
    "engine": 'PART = "engine"\n' + _ENGINE,
    "naive": _NAIVE_EAGER_GRADIENT,
    "eager engine": 'PART = "eager engine"\ntf.config.run_functions_eagerly(True)\n' + _ENGINE,
}
_RESET_MODES = 'modes["eager"] = modes["graph"] = 0\n'


GRADIENT_RTOL = 1e-5  # float32 gradients against the float64 reference, relative to its largest value


def _run_isolated(*parts: str) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    """One process running the named parts in turn, and the JSON each printed on its RESULT line (a part missing there
    did not finish: its process died in it or before it)."""
    environment = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CRASH_SHAPE_MODEL + "".join(_RESET_MODES + PARTS[part] for part in parts))],
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    results = {}
    for line in process.stdout.splitlines():
        if line.startswith("RESULT "):
            label, _, document = line.removeprefix("RESULT ").rpartition(" {")
            results[label] = json.loads("{" + document)
    return process, results


@pytest.fixture(scope="module")
def all_parts() -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    return _run_isolated(*PARTS)


def _part(all_parts: tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]],
          name: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    """The part's result and the process that ran it: the shared one, unless it died in an earlier part (where this CPU
    has the bug, an eager part may crash), in which case the part runs again in a process of its own."""
    process, results = all_parts
    names = list(PARTS)
    if name in results or all(earlier in results for earlier in names[:names.index(name)]):
        return process, results.get(name)
    alone, results = _run_isolated(name)
    return alone, results.get(name)


def _assert_died_of_the_heap_corruption(process: subprocess.CompletedProcess[str]) -> None:
    """The crash is a signal (SIGABRT from malloc's checks, SIGSEGV), never a Python error in our script."""
    assert process.returncode < 0, f"exit code {process.returncode}, not a signal:\n{process.stderr[-2000:]}"


def test_premise_the_naive_eager_gradient_crashes_or_equals_the_hand_computed_one(
    all_parts: tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]],
) -> None:
    """Where this CPU has the oneDNN bug the eager backward pass kills the process; elsewhere it is right. Either
    way the reference the engine tests use is checked against TensorFlow's own gradient."""
    process, result = _part(all_parts, "naive")
    if result is None:
        _assert_died_of_the_heap_corruption(process)
        return
    assert result["eager"] > 0 and result["graph"] == 0, result
    assert result["finite"] and result["error"] <= GRADIENT_RTOL, result


def test_engine_differentiates_the_crash_shape_in_graph_mode_only_and_gets_the_exact_gradient(
    all_parts: tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]],
) -> None:
    """The guard itself, on every CPU: every gradient the engine takes is taken while tracing its tf.function (none
    eagerly), the gradients through the 1×1 stride-2 conv equal the hand-computed ones, and 40 explanations of
    batches of 1 and 2 all come back finite and non-zero (no crash). It runs first in the shared process, so nothing
    eager ran before it."""
    process, result = _part(all_parts, "engine")
    assert result is not None, f"engine subprocess died with exit code {process.returncode}:\n{process.stderr[-2000:]}"
    assert result["graph"] > 0 and result["eager"] == 0, result
    assert result["error"] <= GRADIENT_RTOL, result
    assert result["finite"] and result["nonzero"], result


def test_the_compiled_step_is_what_protects_the_engine(
    all_parts: tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]],
) -> None:
    """The same engine run eagerly (tf.config.run_functions_eagerly) differentiates eagerly, which the recorder sees
    (so the engine test's "no eager gradient" is an observation, not a blind spot); where this CPU has the bug it
    crashes like the naive loop (the heap corruption is random, so it may crash here and not there), so a refactor
    that moved the gradient out of the tf.function brings the crash back."""
    process, result = _part(all_parts, "eager engine")
    if result is None:
        _assert_died_of_the_heap_corruption(process)
        return
    assert result["eager"] > 0 and result["graph"] == 0, result
    assert result["error"] <= GRADIENT_RTOL and result["finite"] and result["nonzero"], result
