"""Shared pieces of the causal-evidence tests: a hand-made model whose output is known exactly."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SIDE = 32  # the model's input is SIDE × SIDE
CROP = 10  # the model reads the mean grey of input pixels [CROP, SIDE - CROP) in both axes
SLOPE = 4.0
CENTRE = 0.5
BACKGROUND = 50
INSIDE = 200


def probability_high(mean_grey: float) -> float:
    """p("high") of the hand-made model for a window whose mean grey (0–1) is ``mean_grey``: a two-class softmax."""
    return 1.0 / (1.0 + math.exp(-2.0 * SLOPE * (mean_grey - CENTRE)))


def window_mean(model_input: np.ndarray) -> float:
    """Mean grey (0–1) of the window the model reads, from a (SIDE, SIDE, 3) 0–255 model input."""
    window = model_input[CROP : SIDE - CROP, CROP : SIDE - CROP].astype(np.float64) / 255.0
    return float(window.mean())


def build_window_model():  # type: ignore[no-untyped-def]
    """Input → grey (1×1 conv, weights 1/3) → crop to the window → mean → logits [−k(m−c), k(m−c)]."""
    import keras

    inputs = keras.Input((SIDE, SIDE, 3), name="image")
    grey = keras.layers.Conv2D(1, 1, use_bias=False, name="conv")(inputs)
    window = keras.layers.Cropping2D(((CROP, CROP), (CROP, CROP)), name="window")(grey)
    mean = keras.layers.GlobalAveragePooling2D(name="mean")(window)
    logits = keras.layers.Dense(2, name="logits")(mean)
    model = keras.Model(inputs, logits, name="window_reader")
    model.get_layer("conv").set_weights([np.full((1, 1, 3, 1), 1.0 / 3.0, dtype=np.float32)])
    model.get_layer("logits").set_weights([np.array([[-SLOPE, SLOPE]], dtype=np.float32),
                                           np.array([SLOPE * CENTRE, -SLOPE * CENTRE], dtype=np.float32)])
    return model


def square_image(size: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """A ``size``² picture of grey BACKGROUND with the box (x0, y0, x1, y1) grey INSIDE."""
    picture = np.full((size, size, 3), BACKGROUND, dtype=np.uint8)
    x0, y0, x1, y1 = box
    picture[y0:y1, x0:x1] = INSIDE
    return picture


@pytest.fixture(scope="session")
def window_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("window-model") / "window.keras"
    build_window_model().save(path)
    return path


def save_png(path: Path, picture: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(path)
    return path
