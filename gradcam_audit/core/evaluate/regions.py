"""Rasterising a region (box, polygon, mask) onto the original image's pixel grid."""

from __future__ import annotations

import math

import numpy as np

from gradcam_audit.core.files.images import read_mask
from gradcam_audit.core.spec.model import Shape


def pixel_box(shape: Shape, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box's pixel index range [x0, x1) × [y0, y1): pixel i is inside when its centre i + 0.5 is."""
    assert shape.box is not None
    width, height = size
    x_min, y_min, x_max, y_max = shape.box
    if shape.normalized:
        x_min, x_max, y_min, y_max = x_min * width, x_max * width, y_min * height, y_max * height
    x0 = max(0, math.ceil(x_min - 0.5))
    x1 = min(width, math.ceil(x_max - 0.5))
    y0 = max(0, math.ceil(y_min - 0.5))
    y1 = min(height, math.ceil(y_max - 0.5))
    return x0, y0, max(x0, x1), max(y0, y1)


def region_mask(shape: Shape, size: tuple[int, int]) -> np.ndarray:
    """(H, W) booleans for a region on an image of ``size`` = (width, height)."""
    width, height = size
    if shape.kind == "box":
        mask = np.zeros((height, width), dtype=bool)
        x0, y0, x1, y1 = pixel_box(shape, size)
        mask[y0:y1, x0:x1] = True
        return mask
    if shape.kind == "polygon":
        points = np.array([(x * width, y * height) if shape.normalized else (x, y) for x, y in shape.polygon], dtype=np.float64)
        return _polygon_mask(points, width, height)
    assert shape.mask_path is not None
    return read_mask(shape.mask_path, size)


def _polygon_mask(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels whose centre lies inside the polygon (even-odd rule), the same centre rule boxes use.

    PIL's polygon fill includes both end pixels, which would make a polygon one pixel larger per side
    than the identical box.
    """
    from matplotlib.path import Path as PolygonPath

    mask = np.zeros((height, width), dtype=bool)
    x0 = max(0, math.floor(points[:, 0].min()))
    x1 = min(width, math.ceil(points[:, 0].max()))
    y0 = max(0, math.floor(points[:, 1].min()))
    y1 = min(height, math.ceil(points[:, 1].max()))
    if x0 >= x1 or y0 >= y1:
        return mask
    columns, rows = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)
    centres = np.column_stack([columns.ravel(), rows.ravel()])
    inside = PolygonPath(points).contains_points(centres)
    mask[y0:y1, x0:x1] = inside.reshape(y1 - y0, x1 - x0)
    return mask


def region_outline(shape: Shape, size: tuple[int, int], mask: np.ndarray) -> tuple[tuple[float, float], ...]:
    """A polygon to draw for the region, in pixels: box corners, the polygon, or a mask's bounding box."""
    width, height = size
    if shape.kind == "box":
        x0, y0, x1, y1 = pixel_box(shape, size)
        return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    if shape.kind == "polygon":
        return tuple((x * width, y * height) if shape.normalized else (x, y) for x, y in shape.polygon)
    rows, columns = np.nonzero(mask)
    if rows.size == 0:
        return ()
    left, right, top, bottom = float(columns.min()), float(columns.max() + 1), float(rows.min()), float(rows.max() + 1)
    return ((left, top), (right, top), (right, bottom), (left, bottom))
