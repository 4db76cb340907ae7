"""Naming heatmaps that say nothing: they become an explained failure, never NaN, never a pass."""

from __future__ import annotations

import numpy as np


def degenerate_reason(raw_map: np.ndarray) -> str | None:
    """Why a (h, w) map before ReLU cannot be scored, or None if it can."""
    if not np.all(np.isfinite(raw_map)):
        return "non-finite heatmap (NaN or infinity): the model's activations or gradients overflowed at this layer"
    maximum = float(raw_map.max())
    minimum = float(raw_map.min())
    if maximum == 0.0 and minimum == 0.0:
        return "all-zero heatmap: the target's gradient (or activation) at this layer is zero everywhere (dead layer or saturated score)"
    if maximum <= 0.0:
        return "all-negative heatmap before ReLU: every position of the layer argues against the target class"
    # Relative, not absolute: a randomly initialised or badly scaled network gives maps of magnitude 1e-12
    # that still vary across the image, and mass and lift do not depend on the scale.
    if maximum - minimum <= 1e-9 * max(abs(maximum), abs(minimum)):
        return "constant heatmap: the map is flat, so it cannot say where the model looked"
    return None
