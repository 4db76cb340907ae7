"""Exact geometry between the original photo and the model's input, and heatmap upsampling through it.

Every resize mode (stretch, center_crop, letterbox) is an axis-aligned affine map
``model = original * scale + offset`` per axis. Images are resized through that map and heatmaps are
sampled back through its inverse, so a box drawn on the photo lands where the model saw it.

The resampling filter (bilinear, nearest, bicubic, area) changes only how neighbouring source pixels are weighted,
never where an output pixel samples: PIL places output pixel centre ``(i + 0.5)`` at source point
``(i + 0.5 − offset) / scale`` for every filter. So the one affine map serves every filter, for fitting images and
for mapping regions and heatmaps alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from gradcam_audit.core.engine.method_names import DEFAULT_RESIZE_FILTER


@dataclass(frozen=True)
class Geometry:
    """How an original image of ``original_size`` was fitted into a model input of ``input_size``.

    Sizes are (width, height). A model-input coordinate is ``original * scale + offset`` per axis.
    """

    mode: str
    original_size: tuple[int, int]
    input_size: tuple[int, int]
    scale: tuple[float, float]
    offset: tuple[float, float]
    resize_filter: str = DEFAULT_RESIZE_FILTER

    def visible_mask(self) -> np.ndarray:
        """(H, W) booleans: original pixels whose centre the model saw (False outside a centre crop)."""
        rows = _inside(self.original_size[1], self.scale[1], self.offset[1], self.input_size[1])
        columns = _inside(self.original_size[0], self.scale[0], self.offset[0], self.input_size[0])
        return cast(np.ndarray, rows[:, np.newaxis] & columns[np.newaxis, :])

    @property
    def sees_everything(self) -> bool:
        return bool(self.visible_mask().all())


def _inside(count: int, scale: float, offset: float, limit: int) -> np.ndarray:
    centres = (np.arange(count) + 0.5) * scale + offset
    return (centres >= 0) & (centres < limit)


def plan_geometry(original_size: tuple[int, int], input_size: tuple[int, int], mode: str,
                  resize_filter: str = DEFAULT_RESIZE_FILTER) -> Geometry:
    """The affine map of a resize mode. Letterbox content sizes are whole pixels so the map stays exact."""
    if resize_filter not in _PIL_FILTERS:
        raise ValueError(f"unknown resize filter {resize_filter!r}")
    original_width, original_height = original_size
    input_width, input_height = input_size
    if mode == "stretch":
        scale = (input_width / original_width, input_height / original_height)
        return Geometry(mode, original_size, input_size, scale, (0.0, 0.0), resize_filter)
    if mode == "center_crop":
        factor = max(input_width / original_width, input_height / original_height)
        offset = ((input_width - original_width * factor) / 2, (input_height - original_height * factor) / 2)
        return Geometry(mode, original_size, input_size, (factor, factor), offset, resize_filter)
    if mode == "letterbox":
        factor = min(input_width / original_width, input_height / original_height)
        content_width = max(1, round(original_width * factor))
        content_height = max(1, round(original_height * factor))
        offset = (float((input_width - content_width) // 2), float((input_height - content_height) // 2))
        return Geometry(mode, original_size, input_size, (content_width / original_width, content_height / original_height), offset,
                        resize_filter)
    raise ValueError(f"unknown resize mode {mode!r}")


# PIL's names for our filters (the Resampling enum's values, so PIL is imported only when an image is fitted).
_PIL_FILTERS: dict[str, int] = {"bilinear": 2, "nearest": 0, "bicubic": 3, "area": 4}


def fit_image(image: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Resize an (H, W, C) uint8 image into the model's input size as the geometry says (float32, 0–255)."""
    from PIL import Image

    if geometry.original_size == geometry.input_size and geometry.mode != "letterbox":
        return image.astype(np.float32)
    channels = image.shape[2]
    pil_image = Image.fromarray(image[:, :, 0] if channels == 1 else image)
    input_width, input_height = geometry.input_size
    resample = Image.Resampling(_PIL_FILTERS[geometry.resize_filter])
    if geometry.mode == "letterbox":
        content_size = (round(geometry.original_size[0] * geometry.scale[0]), round(geometry.original_size[1] * geometry.scale[1]))
        canvas = Image.new(pil_image.mode, (input_width, input_height), 0)
        canvas.paste(pil_image.resize(content_size, resample), (int(geometry.offset[0]), int(geometry.offset[1])))
        resized = canvas
    else:
        # The source box in original coordinates that maps onto the whole input: inverse of the affine map.
        box = (
            -geometry.offset[0] / geometry.scale[0],
            -geometry.offset[1] / geometry.scale[1],
            (input_width - geometry.offset[0]) / geometry.scale[0],
            (input_height - geometry.offset[1]) / geometry.scale[1],
        )
        resized = pil_image.resize((input_width, input_height), resample, box=box)
    array = np.asarray(resized, dtype=np.float32)
    return array[:, :, np.newaxis] if array.ndim == 2 else array


def interpolation_matrix(original_count: int, scale: float, offset: float, input_count: int, feature_count: int) -> np.ndarray:
    """(original_count, feature_count) bilinear weights; rows of pixels the model never saw are zero."""
    centres = (np.arange(original_count) + 0.5) * scale + offset
    seen = (centres >= 0) & (centres < input_count)
    feature_position = centres * feature_count / input_count - 0.5
    lower = np.floor(feature_position)
    fraction = feature_position - lower
    lower_index = np.clip(lower.astype(np.int64), 0, feature_count - 1)
    upper_index = np.clip(lower.astype(np.int64) + 1, 0, feature_count - 1)
    matrix = np.zeros((original_count, feature_count), dtype=np.float64)
    rows = np.arange(original_count)
    np.add.at(matrix, (rows, lower_index), 1.0 - fraction)
    np.add.at(matrix, (rows, upper_index), fraction)
    matrix[~seen] = 0.0
    return matrix


def upsample_heatmap(heatmap: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Bilinear upsampling of an (h, w) map to the original (H, W) image through the geometry.

    Weights are convex combinations, so a non-negative map stays non-negative (unlike bicubic).
    """
    feature_height, feature_width = heatmap.shape
    rows = interpolation_matrix(geometry.original_size[1], geometry.scale[1], geometry.offset[1], geometry.input_size[1], feature_height)
    columns = interpolation_matrix(geometry.original_size[0], geometry.scale[0], geometry.offset[0], geometry.input_size[0], feature_width)
    return cast(np.ndarray, rows @ heatmap.astype(np.float64) @ columns.T)
