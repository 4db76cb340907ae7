"""Explaining more images with the same input shape reuses the compiled step: no retracing."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcam_audit.core.engine.explain import engine_for, explain


def _model() -> Any:
    import keras

    inputs = keras.Input((24, 24, 3), name="image")
    features = keras.layers.Conv2D(4, 3, activation="relu", name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(pooled), name="retrace_probe")


def _images(count: int, size: int = 24) -> list[np.ndarray]:
    generator = np.random.default_rng(count)
    return [generator.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


def test_second_and_later_calls_do_not_retrace() -> None:
    model = _model()
    explain(model, _images(2))
    engine = engine_for(model)
    assert engine._with_gradients.experimental_get_tracing_count() == 1
    # Same shapes again, other batch sizes, other targets, photos of other sizes resized to the input.
    explain(model, _images(2))
    explain(model, _images(5), batch_size=2)
    explain(model, _images(3), targets=[0, 1, 2])
    explain(model, _images(2, size=40))
    assert engine_for(model) is engine
    assert engine._with_gradients.experimental_get_tracing_count() == 1


def test_forward_only_methods_trace_once_too() -> None:
    model = _model()
    for _ in range(3):
        explain(model, _images(2), method="scorecam")
        explain(model, _images(3), method="eigencam")
    engine = engine_for(model)
    assert engine._forward_only.experimental_get_tracing_count() == 1
    assert engine._with_gradients.experimental_get_tracing_count() == 0
