"""Shared fixtures for the engine tests: a session-wide nested MobileNetV2 (built once, it is the slow one)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def nested_mobilenet() -> Any:
    """Input(96, 96, 3) → MobileNetV2 backbone (weights=None) → GAP → Dense(4): the nested-backbone shape."""
    import keras

    keras.utils.set_random_seed(7)
    backbone = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(96, 96, 3))
    inputs = keras.Input((96, 96, 3), name="image")
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(inputs))
    outputs = keras.layers.Dense(4, activation="softmax", name="head")(pooled)
    return keras.Model(inputs, outputs, name="nested_classifier")
