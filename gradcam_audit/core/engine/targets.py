"""What a segmentation or detection case explains: its target (pixels or a box) and the score it reduces the output to.

A classifier's score is one logit per class. For the other tasks the engine first reduces the model's raw output to
one (B, C) row of logits and probabilities per image, so everything downstream (the gathered score, causal checks,
the report) stays as it is: a segmenter's class logits summed over the target pixels (pytorch-grad-cam's
SemanticSegmentationTarget), a detector's class logits of the candidate that matches the target box.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcam_audit.core.engine.mapping import Geometry
from gradcam_audit.errors import ModelError

TASKS: tuple[str, ...] = ("classification", "segmentation", "detection")
DEFAULT_MATCH_IOU = 0.5
# A candidate with an objectness is confident when sigmoid(objectness) reaches this (the usual YOLO/RPN cut-off).
CONFIDENT_OBJECTNESS = 0.5
# One row of a detection target: the box (model-input pixels, xyxy), the fixed candidate (-1: match now), match_iou.
DETECTION_ROW = 6
CANDIDATE_COLUMN = 4


@dataclass(frozen=True, eq=False)
class PixelTarget:
    """Segmentation: the original image's pixels whose class logits are summed. ``mask`` is (H, W) booleans."""

    mask: np.ndarray


@dataclass(frozen=True)
class BoxTarget:
    """Detection: the box (original-image pixels, xyxy) a detection must match, at least ``match_iou``.

    ``candidate`` is -1 until the candidate was chosen on the unmodified image; causal checks then keep it.
    """

    box: tuple[float, float, float, float]
    match_iou: float = DEFAULT_MATCH_IOU
    candidate: int = -1


TaskTarget = PixelTarget | BoxTarget


@dataclass(frozen=True)
class DetectionMatch:
    """The candidate a detection case explains, chosen once on the unmodified image.

    ``box`` is in original-image pixels (xyxy); ``iou`` is its IoU with the target box; ``best_iou`` the best IoU of
    any confident candidate; ``matched`` whether it reached ``match_iou``.
    """

    candidate: int
    box: tuple[float, float, float, float]
    iou: float
    best_iou: float
    match_iou: float
    confident: int

    @property
    def matched(self) -> bool:
        return self.best_iou >= self.match_iou


# -- NumPy: targets as rows of the compiled step's extra input ----------------------------------------------------


def output_pixel_weights(mask: np.ndarray, geometry: Geometry, grid: tuple[int, int]) -> np.ndarray:
    """(h, w) 0/1 weights: the output pixels whose centre, mapped back to the original image, falls in ``mask``.

    A region smaller than one output pixel still selects the output pixels its own pixels fall in, so a target is
    never empty while it lies in the part of the image the model saw.
    """
    height, width = grid
    input_width, input_height = geometry.input_size
    (scale_x, scale_y), (offset_x, offset_y) = geometry.scale, geometry.offset
    original_height, original_width = mask.shape
    centres_x = ((np.arange(width) + 0.5) * input_width / width - offset_x) / scale_x
    centres_y = ((np.arange(height) + 0.5) * input_height / height - offset_y) / scale_y
    columns = np.floor(centres_x).astype(np.int64)
    rows = np.floor(centres_y).astype(np.int64)
    valid_columns = (columns >= 0) & (columns < original_width)
    valid_rows = (rows >= 0) & (rows < original_height)
    weights = np.zeros((height, width), dtype=np.float32)
    inside = mask[np.ix_(np.clip(rows, 0, original_height - 1), np.clip(columns, 0, original_width - 1))]
    weights[np.ix_(valid_rows, valid_columns)] = inside[np.ix_(valid_rows, valid_columns)]
    if weights.any():
        return weights
    pixel_rows, pixel_columns = np.nonzero(mask)
    output_x = ((pixel_columns + 0.5) * scale_x + offset_x) * width / input_width
    output_y = ((pixel_rows + 0.5) * scale_y + offset_y) * height / input_height
    seen = (output_x >= 0) & (output_x < width) & (output_y >= 0) & (output_y < height)
    weights[output_y[seen].astype(np.int64), output_x[seen].astype(np.int64)] = 1.0
    return weights


def box_to_input(box: tuple[float, float, float, float], geometry: Geometry) -> tuple[float, float, float, float]:
    (scale_x, scale_y), (offset_x, offset_y) = geometry.scale, geometry.offset
    x0, y0, x1, y1 = box
    return (x0 * scale_x + offset_x, y0 * scale_y + offset_y, x1 * scale_x + offset_x, y1 * scale_y + offset_y)


def box_to_original(box: tuple[float, float, float, float], geometry: Geometry) -> tuple[float, float, float, float]:
    (scale_x, scale_y), (offset_x, offset_y) = geometry.scale, geometry.offset
    x0, y0, x1, y1 = box
    return ((x0 - offset_x) / scale_x, (y0 - offset_y) / scale_y, (x1 - offset_x) / scale_x, (y1 - offset_y) / scale_y)


def task_row(target: TaskTarget | None, geometry: Geometry, grid: tuple[int, int] | None) -> np.ndarray:
    """One image's row of the step's task input: flattened pixel weights, or (box in input pixels, candidate, match_iou)."""
    if isinstance(target, PixelTarget):
        if grid is None:
            raise ModelError("a segmentation target needs the model's output grid (B, h, w, C)")
        mask = target.mask
        if mask.shape != (geometry.original_size[1], geometry.original_size[0]):
            raise ModelError(f"the target's pixel mask is {mask.shape[1]}×{mask.shape[0]}, the image "
                             f"{geometry.original_size[0]}×{geometry.original_size[1]}")
        return output_pixel_weights(mask, geometry, grid).ravel()
    if isinstance(target, BoxTarget):
        return np.array([*box_to_input(target.box, geometry), float(target.candidate), target.match_iou], dtype=np.float32)
    raise ModelError("a segmentation or detection case needs `target: {class: ..., region|box|polygon: ...}`")


def task_rows(rows: list[np.ndarray]) -> np.ndarray:
    """The batch's task input (B, D) float32."""
    return np.stack(rows).astype(np.float32)


# -- TensorFlow: the reductions inside the compiled step ------------------------------------------------------------


class TaskHead:
    """How a task turns the model's raw output into (B, C) logits, probabilities, the predicted class and extras."""

    name = "classification"

    def key(self) -> tuple[Any, ...]:
        return (self.name,)

    def scores(self, engine: Any, raw_output: Any, recorded_logits: Any, task_inputs: Any,
               images: Any = None) -> tuple[Any, Any, Any, tuple[Any, ...]]:
        raise NotImplementedError

    def rows_kept(self, task_inputs: np.ndarray, extras: tuple[np.ndarray, ...]) -> np.ndarray:
        """The batch's (B, D) rows for passes on edited inputs (Score-CAM's masked images): the same target as explained.

        ``extras``: what ``scores`` returned besides the class row, as NumPy, for the unmodified batch.
        """
        return task_inputs


class SegmentationHead(TaskHead):
    """Sums the class logits over the target pixels; the probability is the class's mean softmax over them."""

    name = "segmentation"

    def pixel_logits(self, engine: Any, raw_output: Any, recorded_logits: Any) -> Any:
        import tensorflow as tf

        output = tf.cast(engine.select_output(raw_output), tf.float32)
        if output.shape.rank != 4:
            raise ModelError(f"a segmenter's output must be (batch, height, width, classes); output {engine.output_index} is "
                             f"{tuple(output.shape)}: choose the per-pixel output with `output:`")
        # A final softmax/sigmoid the engine can see: its input is the logit (the score pytorch-grad-cam explains).
        logits = tf.cast(recorded_logits, tf.float32) if recorded_logits is not None else output
        if logits.shape[-1] == 1:  # one sigmoid unit per pixel: background (−logit) and foreground
            logits = tf.concat([-logits, logits], axis=-1)
        return logits

    def scores(self, engine: Any, raw_output: Any, recorded_logits: Any, task_inputs: Any,
               images: Any = None) -> tuple[Any, Any, Any, tuple[Any, ...]]:
        import tensorflow as tf

        logits = self.pixel_logits(engine, raw_output, recorded_logits)
        shape = tf.shape(logits)
        weights = tf.reshape(task_inputs, shape[:3])
        summed = tf.einsum("bhw,bhwc->bc", weights, logits)
        count = tf.maximum(tf.reduce_sum(weights, axis=[1, 2]), 1e-12)[:, tf.newaxis]
        probabilities = tf.einsum("bhw,bhwc->bc", weights, tf.nn.softmax(logits)) / count
        votes = tf.einsum("bhw,bhwc->bc", weights, tf.one_hot(tf.argmax(logits, axis=-1), shape[3]))
        return summed, probabilities, tf.argmax(votes, axis=-1, output_type=tf.int32), ()


def box_iou(boxes: Any, box: Any) -> Any:
    """(B, K) IoU of each candidate (B, K, 4) with each image's box (B, 4), all xyxy."""
    import tensorflow as tf

    target = box[:, tf.newaxis, :]
    width = tf.nn.relu(tf.minimum(boxes[..., 2], target[..., 2]) - tf.maximum(boxes[..., 0], target[..., 0]))
    height = tf.nn.relu(tf.minimum(boxes[..., 3], target[..., 3]) - tf.maximum(boxes[..., 1], target[..., 1]))
    intersection = width * height

    def area(corners: Any) -> Any:
        return tf.nn.relu(corners[..., 2] - corners[..., 0]) * tf.nn.relu(corners[..., 3] - corners[..., 1])

    union = area(boxes) + area(target) - intersection
    return tf.math.divide_no_nan(intersection, union)


class DetectionHead(TaskHead):
    """The class logits of the candidate that best matches the target box (see ``BoxTarget``)."""

    name = "detection"

    def __init__(self, decoder: Callable[..., Any], reference: str) -> None:
        self.decoder = decoder
        self.reference = reference

    def key(self) -> tuple[Any, ...]:
        return (self.name, self.reference)

    def decode(self, raw_output: Any, images: Any = None) -> tuple[Any, Any, Any]:
        import tensorflow as tf

        # keras-hub's decoder also reads the batch (its anchors follow the input size); a user's reads the output only.
        decoded = self.decoder(raw_output, images) if getattr(self.decoder, "reads_images", False) else self.decoder(raw_output)
        if not isinstance(decoded, dict) or "boxes" not in decoded or "class_logits" not in decoded:
            raise ModelError(f"detections {self.reference!r} must return a dict with 'boxes' (B, K, 4) and 'class_logits' (B, K, C), "
                             f"and optionally 'objectness' (B, K); got {type(decoded).__name__}"
                             f"{' with keys ' + ', '.join(map(str, decoded)) if isinstance(decoded, dict) else ''}")
        boxes = tf.cast(decoded["boxes"], tf.float32)
        class_logits = tf.cast(decoded["class_logits"], tf.float32)
        objectness = decoded.get("objectness")
        if boxes.shape.rank != 3 or boxes.shape[-1] != 4 or class_logits.shape.rank != 3:
            raise ModelError(f"detections {self.reference!r}: 'boxes' must be (B, K, 4) and 'class_logits' (B, K, C); got "
                             f"{tuple(boxes.shape)} and {tuple(class_logits.shape)}")
        if objectness is not None:
            objectness = tf.cast(objectness, tf.float32)
            if objectness.shape.rank == 3:
                objectness = objectness[..., 0]
        return boxes, class_logits, objectness

    def scores(self, engine: Any, raw_output: Any, recorded_logits: Any, task_inputs: Any,
               images: Any = None) -> tuple[Any, Any, Any, tuple[Any, ...]]:
        import tensorflow as tf

        boxes, class_logits, objectness = self.decode(raw_output, images)
        iou = box_iou(boxes, task_inputs[:, :4])
        if objectness is not None:
            confident = tf.sigmoid(objectness) >= CONFIDENT_OBJECTNESS
        else:
            confident = tf.ones_like(iou, dtype=tf.bool)
        candidate_iou = tf.where(confident, iou, -1.0)
        best = tf.argmax(candidate_iou, axis=1, output_type=tf.int32)
        best_iou = tf.reduce_max(candidate_iou, axis=1)
        fixed = tf.cast(tf.round(task_inputs[:, CANDIDATE_COLUMN]), tf.int32)
        matched = tf.where(fixed >= 0, fixed, best)
        logits = tf.gather(class_logits, matched, batch_dims=1)
        probabilities = tf.nn.softmax(logits)
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        extras = (matched, best_iou, tf.gather(iou, matched, batch_dims=1), tf.gather(boxes, matched, batch_dims=1),
                  tf.reduce_sum(tf.cast(confident, tf.int32), axis=1))
        return logits, probabilities, predicted, extras

    def rows_kept(self, task_inputs: np.ndarray, extras: tuple[np.ndarray, ...]) -> np.ndarray:
        """Each row's candidate fixed to the one matched on the unmodified image (extras[0]), as causal checks keep it."""
        rows = np.array(task_inputs, dtype=np.float32, copy=True)
        rows[:, CANDIDATE_COLUMN] = np.asarray(extras[0], dtype=np.float32)
        return rows


def detection_match(extras: tuple[np.ndarray, ...], position: int, target: BoxTarget, geometry: Geometry) -> DetectionMatch:
    """One image's match from the step's extras (matched, best IoU, its IoU, its box, confident count)."""
    matched, best_iou, iou, boxes, confident = extras
    box = tuple(float(value) for value in boxes[position])
    return DetectionMatch(int(matched[position]), box_to_original((box[0], box[1], box[2], box[3]), geometry),
                          _finite(iou[position]), _finite(best_iou[position]), target.match_iou, int(confident[position]))


def _finite(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0


def no_match_reason(match: DetectionMatch, class_name: str) -> str:
    """The plain sentence of a detection case whose box no confident candidate matches."""
    if match.confident == 0:
        return f"no detection of {class_name} overlaps the box: the detector has no confident candidate (objectness ≥ {CONFIDENT_OBJECTNESS})"
    best = max(match.best_iou, 0.0)
    return f"no detection of {class_name} overlaps the box: best IoU {best:.2f} (match_iou {match.match_iou:g})"
