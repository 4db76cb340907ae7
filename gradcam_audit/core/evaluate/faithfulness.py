"""Deletion and insertion curves (Petsiuk et al., BMVC 2018, "RISE"): does the heatmap rank the pixels the model needs?

* deletion: the heatmap's hottest pixels are blacked out in K equal steps (1/K, 2/K, … of the image) and the
  explained class's probability is read after each; a faithful map makes it fall fast, so a *low* area under the
  curve is good (``max_deletion_auc``);
* insertion: starting from a blurred copy, the hottest pixels are put back in K steps; a faithful map makes the
  probability rise fast, so a *high* area is good (``min_insertion_auc``).

Edits are made on the original image, before it is fitted to the model, like region removal. Both curves of every
case of a batch go through one batched forward pass (2·K images per case, no gradients). The checks that compare
the areas with limits are made in ``core/evaluate/case_evaluation.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcam_audit.core.engine.targets import TaskHead, TaskTarget
from gradcam_audit.core.records.evidence import FaithfulnessCurves
from gradcam_audit.core.spec.model import Case, Spec

DEFAULT_STEPS = 10
# Petsiuk et al. blur with sigma 5 at 224 px; scaled with the image so the blurred start keeps as little detail.
BLUR_SIGMA_AT_224 = 5.0


def pixel_order(heatmap: np.ndarray) -> np.ndarray:
    """Flat pixel indices from the hottest to the coldest; ties keep reading order, so the order is reproducible."""
    return np.argsort(-np.asarray(heatmap, dtype=np.float64).ravel(), kind="stable")


def blurred(image: np.ndarray) -> np.ndarray:
    """The insertion curve's start: the image Gaussian-blurred (sigma 5 px per 224 px of its larger side)."""
    from PIL import Image, ImageFilter

    sigma = BLUR_SIGMA_AT_224 * max(image.shape[0], image.shape[1]) / 224
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[:, :, index])).filter(ImageFilter.GaussianBlur(sigma)))
                for index in range(image.shape[2])]
    return np.stack(channels, axis=2).astype(np.uint8)


def curve_images(image: np.ndarray, heatmap: np.ndarray, steps: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The K deleted images (steps 1..K) and the K inserted images (steps 0..K−1) of one case.

    The missing ends are the unedited image itself (deletion step 0, insertion step K), whose probability is known.
    """
    height, width = image.shape[:2]
    order = pixel_order(heatmap)
    total = height * width
    start = blurred(image)
    deleted, inserted = [], []
    for step in range(steps + 1):
        chosen = np.zeros(total, dtype=bool)
        chosen[order[: round(step * total / steps)]] = True
        mask = chosen.reshape(height, width)[:, :, np.newaxis]
        if step > 0:
            deleted.append(np.where(mask, 0, image).astype(np.uint8))
        if step < steps:
            inserted.append(np.where(mask, image, start).astype(np.uint8))
    return deleted, inserted


def measure_faithfulness(
    model: Any,
    spec: Spec,
    cases: Sequence[Case],
    images: Sequence[np.ndarray],
    heatmaps: Sequence[np.ndarray],
    targets: Sequence[int],
    before: Sequence[float],
    *,
    layer: str,
    batch_size: int = 32,
    task: TaskHead | None = None,
    task_targets: Sequence[TaskTarget | None] | None = None,
) -> list[FaithfulnessCurves | None]:
    """Both curves of every case that asks for them (None for the others), all edited images in one batched pass.

    ``heatmaps``: each case's map on its original image; ``targets`` / ``before``: the explained class and its
    probability on the unedited image.
    """
    from gradcam_audit.core.engine.forward import forward_probabilities

    edited: list[np.ndarray] = []
    owners: list[int] = []
    edited_targets: list[TaskTarget | None] = []  # a segmentation / detection case's target, once per edited image
    for position, (case, image, heatmap) in enumerate(zip(cases, images, heatmaps)):
        if not case.has_faithfulness_check:
            continue
        deleted, inserted = curve_images(image, heatmap, case.faithfulness_steps)
        edited.extend([*deleted, *inserted])
        owners.append(position)
        edited_targets.extend([task_targets[position] if task_targets is not None else None] * (len(deleted) + len(inserted)))
    curves: list[FaithfulnessCurves | None] = [None] * len(cases)
    if not edited:
        return curves
    probabilities = forward_probabilities(model, edited, **spec.engine.forward_options(layer), batch_size=batch_size, task=task,
                                          task_targets=edited_targets if task is not None else None)
    row = 0
    for position in owners:
        steps = cases[position].faithfulness_steps
        target = targets[position]
        after_deletion = [float(value) for value in probabilities[row : row + steps, target]]
        after_insertion = [float(value) for value in probabilities[row + steps : row + 2 * steps, target]]
        row += 2 * steps
        curves[position] = FaithfulnessCurves(steps, (float(before[position]), *after_deletion),
                                              (*after_insertion, float(before[position])))
    return curves
